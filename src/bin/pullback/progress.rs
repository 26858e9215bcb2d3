//! Progress of long work: a bar on stderr once the work has taken a second (never with
//! `--quiet`, never when stderr is not a terminal), and with `--jsonl` a `progress` record on
//! stdout from then on, once a second. `PULLBACK_PROGRESS_AFTER=SECONDS` moves the second (the
//! tests set 0, so that the bar does not depend on how fast the machine is).

use super::cli::Output;
use super::common::{json_line, Failure};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Work shorter than this shows no bar (unless `PULLBACK_PROGRESS_AFTER` says otherwise).
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// [`SHOW_AFTER`], or the seconds in `PULLBACK_PROGRESS_AFTER` when they are a number ≥ 0.
fn show_after() -> Duration {
    std::env::var("PULLBACK_PROGRESS_AFTER")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .unwrap_or(SHOW_AFTER)
}
/// Least time between two JSON Lines progress records.
const JSON_EVERY: Duration = Duration::from_secs(1);
/// Redraw interval of a shown bar.
const TICK: Duration = Duration::from_millis(250);
/// Positions of the bar.
const TICKS: u64 = 1000;

pub struct Progress {
    bar: ProgressBar,
    start: Instant,
    shown: bool,
    after: Duration,
    last_json: Option<Instant>,
    out: Output,
    what: String,
}

impl Progress {
    /// `what` names the work in the JSON records (`run`, `compare`, `sweep`).
    pub fn new(what: &str, out: Output) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(TICKS), ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{elapsed:>4} [{bar:32}] {percent:>3}% {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        let now = Instant::now();
        Progress {
            bar,
            start: now,
            shown: false,
            after: show_after(),
            last_json: None,
            out,
            what: what.into(),
        }
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Reports `fraction ∈ [0, 1]` done; `message` (bar text) and `fields` (JSON object) are
    /// built only when something is shown.
    pub fn update(
        &mut self,
        fraction: f64,
        message: impl FnOnce() -> String,
        fields: impl FnOnce() -> Value,
    ) -> Result<(), Failure> {
        let now = Instant::now();
        let since = now - self.start;
        if since < self.after {
            return Ok(());
        }
        if !self.out.quiet && !self.shown {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            // The elapsed time moves even while one long step or run holds the next update.
            self.bar.enable_steady_tick(TICK);
            self.shown = true;
        }
        if self.shown {
            self.bar
                .set_position((fraction.clamp(0.0, 1.0) * TICKS as f64) as u64);
            self.bar.set_message(message());
        }
        if self.out.jsonl && self.last_json.is_none_or(|t| now - t >= JSON_EVERY) {
            self.last_json = Some(now);
            let mut rec = json!({
                "type": "progress",
                "what": self.what,
                "fraction": fraction,
                "elapsed": since.as_secs_f64(),
            });
            if let (Some(r), Value::Object(f)) = (rec.as_object_mut(), fields()) {
                r.extend(f);
            }
            json_line(&rec)?;
        }
        Ok(())
    }

    /// Prints a line above the bar (or plainly when there is none), unless quiet.
    pub fn println(&self, line: &str) {
        if self.out.quiet {
            return;
        }
        if self.shown {
            self.bar.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if self.shown {
            self.bar.finish_and_clear();
        }
    }
}
