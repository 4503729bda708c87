//! Bounds on durations: every duration the emulator is given (by a request, the control API,
//! a flag or the builder) is at most [`Limits::max_duration`](crate::Limits::max_duration),
//! and a deadline is never computed in a way that can overflow.

use std::time::Duration;

use crate::clock::CEILING;
use crate::config::{EmulatorBuilder, Faults};

/// Seconds from a number given by a client (`field` names it): at least zero and at most
/// `max`, or a message that says which bound it broke.
pub(crate) fn seconds(field: &str, value: f64, max: Duration) -> Result<Duration, String> {
    if value.is_nan() || value < 0.0 {
        return Err(format!(
            "`{field}` is {value}; it must be a number of seconds >= 0"
        ));
    }
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| *duration <= max)
        .ok_or_else(|| too_long(field, value, max))
}

/// `Ok` when `duration` is at most `max`; else a message naming `field` and the limit.
pub(crate) fn within(field: &str, duration: Duration, max: Duration) -> Result<(), String> {
    if duration > max {
        return Err(too_long(field, duration.as_secs_f64(), max));
    }
    Ok(())
}

fn too_long(field: &str, secs: f64, max: Duration) -> String {
    format!(
        "`{field}` is {secs} s; the longest accepted is {} s (Limits::max_duration)",
        max.as_secs_f64()
    )
}

impl Faults {
    /// Every delay of the faults is at most `max`.
    pub(crate) fn check_durations(&self, max: Duration) -> Result<(), String> {
        within("retry_after", self.retry_after, max)?;
        if let Some(drip) = self.drip {
            within("drip pause", drip.pause, max)?;
        }
        if let Some(open_for) = self.close_streams_after {
            within("close_streams_after", open_for, max)?;
        }
        Ok(())
    }
}

impl EmulatorBuilder {
    /// Every duration of the settings is at most `limits.max_duration`, itself at most a
    /// century.
    pub(crate) fn check_durations(&self) -> Result<(), String> {
        let max = self.limits.max_duration;
        within("max_duration", max, CEILING)?;
        for (field, duration) in [
            ("keep_alive_interval", self.keep_alive),
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("webhook_timeout", self.webhook_timeout),
            ("group_events_max", self.limits.group_events_max),
            ("run_events_max", self.limits.run_events_max),
            ("default_result_timeout", self.limits.default_result_timeout),
        ] {
            within(field, duration, max)?;
        }
        for planned in &self.outages {
            within("outage start", planned.start_after, max)?;
            within("outage duration", planned.duration, max)?;
        }
        self.faults.check_durations(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_beyond_the_limit_are_refused_by_name() {
        let max = Duration::from_secs(60);
        assert_eq!(seconds("t", 1.5, max), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds("t", 60.0, max), Ok(max));
        for bad in [60.5, 1e19, f64::INFINITY] {
            let e = seconds("timeout", bad, max).unwrap_err();
            assert!(e.contains("`timeout`") && e.contains("60 s"), "{e}");
        }
        for bad in [-1.0, f64::NAN] {
            let e = seconds("timeout", bad, max).unwrap_err();
            assert!(e.contains(">= 0"), "{e}");
        }
    }

    #[test]
    fn deadlines_never_overflow() {
        let far = crate::clock::deadline(Duration::MAX);
        assert!(far > tokio::time::Instant::now() + Duration::from_secs(50 * 365 * 24 * 3600));
        let near = crate::clock::deadline(Duration::from_secs(1));
        assert!(near <= tokio::time::Instant::now() + Duration::from_secs(1));
    }
}
