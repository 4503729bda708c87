//! Wall-clock timestamps tied to a monotonic clock.
//!
//! Every time the emulator shows (`created_at`, progress timestamps) and every timer it sets
//! comes from one [`Clock`], so a run's planned completion time and the instant its timer fires
//! are the same moment, and timestamps never go backwards when the system clock is adjusted.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Microseconds since the Unix epoch.
pub(crate) type Micros = i64;

/// Maps monotonic instants to wall-clock microseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    start_wall: Micros,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let start_wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Clock {
            start: Instant::now(),
            start_wall,
        }
    }

    /// The current time in wall-clock microseconds.
    pub(crate) fn now(&self) -> Micros {
        self.start_wall
            .saturating_add(duration_micros(self.start.elapsed()))
    }

    /// The monotonic instant at which the wall clock shows `at`.
    pub(crate) fn instant_at(&self, at: Micros) -> Instant {
        let offset = at.saturating_sub(self.start_wall).max(0);
        self.start + Duration::from_micros(offset.unsigned_abs())
    }
}

/// The largest `Limits::max_duration` accepted: a century, far from the overflow of an
/// `Instant` anywhere.
pub(crate) const CEILING: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The instant `after` from now. A duration no bound was applied to (one given straight to
/// the handle) that would overflow ends a century from now instead.
pub(crate) fn deadline(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .or_else(|| now.checked_add(CEILING))
        .unwrap_or(now)
}

/// A duration in whole microseconds, saturating.
pub(crate) fn duration_micros(d: Duration) -> Micros {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Formats microseconds since the epoch as RFC 3339 UTC with six fractional digits and `Z`,
/// the shape the API uses (`2026-03-02T14:04:59.871002Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp(pub(crate) Micros);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.div_euclid(1_000_000);
        let micros = self.0.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); Howard Hinnant's
/// `civil_from_days`, valid for the whole `i64` range the emulator can produce.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both values are small and positive by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000Z");
        // 2026-03-02T14:04:59.871002Z, computed independently: 20514 days after the epoch.
        let micros = (20_514 * 86_400 + 14 * 3600 + 4 * 60 + 59) * 1_000_000 + 871_002;
        assert_eq!(Timestamp(micros).to_string(), "2026-03-02T14:04:59.871002Z");
        // A leap day.
        let leap = (19_417 * 86_400) * 1_000_000;
        assert_eq!(Timestamp(leap).to_string(), "2023-03-01T00:00:00.000000Z");
        let feb29 = (19_782 * 86_400) * 1_000_000;
        assert_eq!(Timestamp(feb29).to_string(), "2024-02-29T00:00:00.000000Z");
    }
}
