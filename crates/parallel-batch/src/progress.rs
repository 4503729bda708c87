//! Progress display: bars on a terminal, periodic plain lines otherwise, JSON lines with
//! `--json`. Everything goes to stderr so stdout stays clean for summaries.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::counts::Counts;

/// `--json`: every line on stderr is a JSON object.
static JSON_MESSAGES: AtomicBool = AtomicBool::new(false);

/// Makes [`notice`] write JSON lines (`--json`).
pub(crate) fn set_json_messages(json: bool) {
    JSON_MESSAGES.store(json, Ordering::Relaxed);
}

/// A message for the user on stderr: a line of text, or with `--json` a JSON object
/// `{"event": event, "message": message}`.
pub(crate) fn notice(event: &str, message: &str) {
    if JSON_MESSAGES.load(Ordering::Relaxed) {
        let line = serde_json::json!({"event": event, "message": message});
        eprintln!("{line}");
    } else {
        eprintln!("{message}");
    }
}

/// Like [`notice`], with more members in the JSON object (`--json`) than the message.
pub(crate) fn notice_with(
    event: &str,
    message: &str,
    mut members: serde_json::Map<String, serde_json::Value>,
) {
    if JSON_MESSAGES.load(Ordering::Relaxed) {
        members.insert("event".into(), event.into());
        members.insert("message".into(), message.into());
        eprintln!("{}", serde_json::Value::Object(members));
    } else {
        eprintln!("{message}");
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressMode {
    /// indicatif bars (stderr is a terminal).
    Bars,
    /// A plain line every `interval`.
    Lines(Duration),
    /// A JSON object per line every `interval`.
    Json(Duration),
    /// Nothing.
    Quiet,
}

impl ProgressMode {
    /// Bars when stderr is a terminal, else lines; JSON lines when `json`.
    pub(crate) fn detect(json: bool, quiet: bool, interval: Duration) -> Self {
        if quiet {
            Self::Quiet
        } else if json {
            Self::Json(interval)
        } else if std::io::stderr().is_terminal() {
            Self::Bars
        } else {
            Self::Lines(interval)
        }
    }
}

/// The live display.
#[derive(Debug)]
pub(crate) struct Progress {
    mode: ProgressMode,
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    started: Instant,
    /// Rows in the job (runs in the group).
    total: u64,
    /// Rows already done when the display started (excluded from the rate); `None` until
    /// the first update.
    done_at_start: Option<u64>,
    last_line: Instant,
    /// `429` answers the batch met so far (from the engine's progress), and those already
    /// told about, and when last.
    throttled: u64,
    throttled_told: u64,
    throttle_notice: Option<Instant>,
}

/// The least time between two notices about throttling.
const THROTTLE_NOTICE_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    /// Starts the display of a job of `total` rows; the first [`Progress::update`] says how
    /// many were done already (shown, not counted in the rate).
    pub(crate) fn new(mode: ProgressMode, total: u64) -> Self {
        let bars = (mode == ProgressMode::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let style = |template: &str| {
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ")
            };
            let submitted = multi.add(ProgressBar::new(total));
            submitted.set_style(style(
                "submitted [{bar:40.cyan/blue}] {pos:>8}/{len:8} {per_sec:>12}",
            ));
            let done = multi.add(ProgressBar::new(total));
            done.set_style(style(
                "finished  [{bar:40.green/blue}] {pos:>8}/{len:8} {per_sec:>12} ETA {eta:<5} {msg}",
            ));
            (multi, submitted, done)
        });
        Self {
            mode,
            bars,
            started: Instant::now(),
            total,
            done_at_start: None,
            last_line: Instant::now(),
            throttled: 0,
            throttled_told: 0,
            throttle_notice: None,
        }
    }

    /// The `429 Too Many Requests` answers the batch has met so far, as the engine's
    /// progress reports them; shown as throttling.
    pub(crate) fn set_throttled(&mut self, throttled: u64) {
        self.throttled = throttled;
    }

    /// The `429` answers the batch has met so far.
    pub(crate) fn throttled(&self) -> u64 {
        self.throttled
    }

    /// A new total (the runs of a group grow while it is watched).
    pub(crate) fn set_total(&mut self, total: u64) {
        self.total = total;
        if let Some((_, submitted, done)) = &self.bars {
            submitted.set_length(total);
            done.set_length(total);
        }
    }

    /// Shows new counts: `submitted` rows accepted by the API, and how the written rows
    /// stand (lines are printed at most once per interval).
    pub(crate) fn update(&mut self, submitted: u64, counts: &Counts) {
        if self.done_at_start.is_none() {
            self.done_at_start = Some(counts.done());
            if let Some((_, submitted_bar, done)) = &self.bars {
                submitted_bar.set_position(submitted);
                done.set_position(counts.done());
                submitted_bar.reset_elapsed();
                done.reset_eta();
            }
        }
        match self.mode {
            ProgressMode::Bars => {
                if let Some((_, submitted_bar, done)) = &self.bars {
                    submitted_bar.set_position(submitted);
                    done.set_position(counts.done());
                    let throttled = self.throttled;
                    let note = if throttled > 0 {
                        format!(" · throttled (429) {throttled}")
                    } else {
                        String::new()
                    };
                    done.set_message(format!(
                        "completed {} · failed {} · rejected {}{note}",
                        counts.completed, counts.failed, counts.rejected
                    ));
                }
            }
            ProgressMode::Lines(interval) | ProgressMode::Json(interval) => {
                if self.last_line.elapsed() >= interval {
                    self.last_line = Instant::now();
                    self.print_line(submitted, counts);
                }
            }
            ProgressMode::Quiet => {}
        }
    }

    fn print_line(&self, submitted: u64, counts: &Counts) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let fresh = counts
            .done()
            .saturating_sub(self.done_at_start.unwrap_or_default());
        #[allow(clippy::cast_precision_loss)]
        let rate = if elapsed > 0.0 {
            fresh as f64 / elapsed
        } else {
            0.0
        };
        let remaining = self.total.saturating_sub(counts.done());
        #[allow(clippy::cast_precision_loss)]
        let eta = (rate > 0.0).then(|| remaining as f64 / rate);
        let throttled = self.throttled;
        let mut err = std::io::stderr().lock();
        if let ProgressMode::Json(_) = self.mode {
            let line = serde_json::json!({
                "event": "progress",
                "total": self.total,
                "submitted": submitted,
                "completed": counts.completed,
                "failed": counts.failed,
                "rejected": counts.rejected,
                "rows_per_second": (rate * 10.0).round() / 10.0,
                "eta_seconds": eta.map(f64::round),
                "throttled": throttled,
            });
            let _ = writeln!(err, "{line}");
        } else {
            let eta = eta.map_or_else(|| "-".to_owned(), format_duration);
            let throttled = if throttled > 0 {
                format!(", throttled (429) {throttled} times")
            } else {
                String::new()
            };
            let _ = writeln!(
                err,
                "progress: submitted {}/{}, completed {}, failed {}, rejected {}, {rate:.0} rows/s, ETA {eta}{throttled}",
                submitted, self.total, counts.completed, counts.failed, counts.rejected
            );
        }
    }

    /// Says so when the API has throttled the batch (`429`) since the last notice; at most one
    /// notice every [`THROTTLE_NOTICE_EVERY`].
    pub(crate) fn note_throttling(&mut self) {
        let throttled = self.throttled;
        if throttled <= self.throttled_told
            || self
                .throttle_notice
                .is_some_and(|at| at.elapsed() < THROTTLE_NOTICE_EVERY)
        {
            return;
        }
        self.throttled_told = throttled;
        self.throttle_notice = Some(Instant::now());
        let message = format!(
            "throttled by the API (429 Too Many Requests, {throttled} so far): submitting more \
             slowly and retrying; no row is lost"
        );
        match (&self.bars, self.mode) {
            (Some((multi, _, _)), _) => {
                let _ = multi.println(&message);
            }
            (None, ProgressMode::Quiet) => {}
            (None, _) => notice("throttled", &message),
        }
    }

    /// Prints a message above the bars (or as a line).
    pub(crate) fn println(&self, message: &str) {
        if self.mode != ProgressMode::Quiet {
            self.advise(message);
        }
    }

    /// A message about what to do next (how to resume after a stop): shown with `--quiet`
    /// too, which hides progress, not advice that goes with an error.
    pub(crate) fn advise(&self, message: &str) {
        match &self.bars {
            Some((multi, _, _)) => {
                let _ = multi.println(message);
            }
            None => notice("message", message),
        }
    }

    /// Stops the display, leaving the final state on screen (or printing a last line).
    pub(crate) fn finish(&mut self, submitted: u64, counts: &Counts) {
        if self.bars.is_some() {
            self.update(submitted, counts);
            if let Some((_, submitted, done)) = &self.bars {
                submitted.abandon();
                done.abandon();
            }
        } else if matches!(self.mode, ProgressMode::Lines(_) | ProgressMode::Json(_)) {
            self.print_line(submitted, counts);
        }
    }
}

/// `1h02m`, `3m05s`, `12s`.
pub(crate) fn format_duration(seconds: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let s = seconds.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(12.4), "12s");
        assert_eq!(format_duration(185.0), "3m05s");
        assert_eq!(format_duration(3720.0), "1h02m");
        assert_eq!(format_duration(-1.0), "0s");
    }
}
