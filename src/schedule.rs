//! `clientpulse schedule`: the job's own scheduler, for machines without
//! a cron or CI of their own. It stays running and starts `run` for the
//! week just completed at each start of the config's cron expression in its
//! IANA time zone; a failed run is logged and the next start awaited.
//!
//! The cron expression is parsed and stepped by the `croner` crate, which
//! is DST-correct: a start in a spring-forward gap runs at the first valid
//! time after it, and a fixed start in a fall-back hour runs once. Each
//! start taken is recorded in `<out>/schedule.json`, so after downtime a
//! missed start is caught up (one run, for the last complete week) only
//! when the config says `catch_up: true`. SIGTERM or Ctrl-C while waiting
//! stops the scheduler at once; during a run, once the run has finished
//! (its ledger makes a half-done delivery safe to resume anyway).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::progress::Progress;

/// When to run: a cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// As written in the config, for messages.
    pub expression: String,
    cron: Cron,
    pub timezone: Tz,
    /// Run once at start-up when a start was missed while down.
    pub catch_up: bool,
}

impl Schedule {
    /// `expression` is a cron expression of 5 fields (minute hour
    /// day-of-month month day-of-week) or 6 (seconds first).
    pub fn parse(expression: &str, timezone: Tz, catch_up: bool) -> Result<Schedule, String> {
        let cron = expression
            .parse::<Cron>()
            .map_err(|error| format!("`{expression}` is not a cron expression: {error}"))?;
        Ok(Schedule {
            expression: expression.to_string(),
            cron,
            timezone,
            catch_up,
        })
    }

    /// The next `count` starts after `after`, in the schedule's zone. A
    /// start whose wall-clock time repeats the one before it (a fall-back
    /// hour) is not a second start.
    pub fn next_starts(&self, after: DateTime<Utc>, count: usize) -> Vec<DateTime<Tz>> {
        let mut starts: Vec<DateTime<Tz>> = Vec::with_capacity(count);
        let mut cursor = whole_seconds(after).with_timezone(&self.timezone);
        // Bounded: each step moves forward; a pattern that never matches
        // (30 February) ends with croner's error.
        for _ in 0..count.saturating_mul(4).max(4) {
            if starts.len() == count {
                break;
            }
            let Ok(next) = self.cron.find_next_occurrence(&cursor, false) else {
                break;
            };
            cursor = next;
            let repeated = starts
                .last()
                .is_some_and(|last| last.naive_local() == next.naive_local());
            if !repeated {
                starts.push(next);
            }
        }
        starts
    }

    /// The latest start at or before `at`.
    pub fn previous_start(&self, at: DateTime<Utc>) -> Option<DateTime<Tz>> {
        self.cron
            .find_previous_occurrence(&whole_seconds(at).with_timezone(&self.timezone), true)
            .ok()
    }
}

/// croner keeps the fraction of a second of the time it starts from: a
/// start is a whole second.
fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike;
    at.with_nanosecond(0).unwrap_or(at)
}

/// What the scheduler remembers between starts.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ScheduleState {
    /// The scheduled time of the last start taken (RFC 3339).
    last_start: Option<DateTime<Utc>>,
}

/// `<out>/schedule.json`.
pub fn state_file(out_dir: &Path) -> PathBuf {
    out_dir.join("schedule.json")
}

fn read_state(path: &Path) -> ScheduleState {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn write_state(path: &Path, state: &ScheduleState) {
    let written = serde_json::to_vec_pretty(state)
        .map_err(std::io::Error::other)
        .and_then(|bytes| crate::state::write_atomically(path, &bytes));
    if let Err(error) = written {
        eprintln!(
            "clientpulse schedule: cannot record the start in {}: {error}",
            path.display()
        );
    }
}

/// One run, as the scheduler starts it: the outcome's line for the log.
pub trait Runner {
    /// Runs the week just completed at `now`; `Ok` with a summary, or
    /// `Err` with the exit code and the error.
    fn run(
        &self,
        now: DateTime<Utc>,
    ) -> impl std::future::Future<Output = Result<String, (u8, String)>>;
}

/// Serves the schedule until SIGTERM or Ctrl-C: every start, one run.
pub async fn serve(
    schedule: &Schedule,
    out_dir: &Path,
    runner: &impl Runner,
    progress: &dyn Progress,
) -> std::io::Result<()> {
    let state_path = state_file(out_dir);
    let mut terminate = terminate_signal()?;
    eprintln!(
        "clientpulse schedule: `{}` in {}{}",
        schedule.expression,
        schedule.timezone.name(),
        if schedule.catch_up {
            ", catching up a missed start"
        } else {
            ""
        }
    );
    if schedule.catch_up {
        let state = read_state(&state_path);
        if let Some(missed) = schedule.previous_start(Utc::now()) {
            let missed = missed.with_timezone(&Utc);
            if state.last_start.is_none_or(|last| last < missed) {
                eprintln!(
                    "clientpulse schedule: catching up the start of {}",
                    missed.with_timezone(&schedule.timezone).to_rfc3339()
                );
                start(runner, &state_path, missed, progress).await;
            }
        }
    }
    loop {
        let Some(next) = schedule.next_starts(Utc::now(), 1).into_iter().next() else {
            eprintln!("clientpulse schedule: the expression has no start ahead; stopping");
            return Ok(());
        };
        eprintln!("clientpulse schedule: next run at {}", next.to_rfc3339());
        let wait = (next.with_timezone(&Utc) - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = terminate.recv() => {
                eprintln!("clientpulse schedule: stopped (SIGTERM)");
                return Ok(());
            }
            _ = tokio::signal::ctrl_c() => {
                eprintln!("clientpulse schedule: stopped (Ctrl-C)");
                return Ok(());
            }
        }
        start(runner, &state_path, next.with_timezone(&Utc), progress).await;
    }
}

/// One start: the run, its line in the log, and the start recorded.
async fn start(
    runner: &impl Runner,
    state_path: &Path,
    scheduled: DateTime<Utc>,
    progress: &dyn Progress,
) {
    progress.stage("scheduled run");
    match runner.run(Utc::now()).await {
        Ok(summary) => eprintln!("clientpulse schedule: run finished: {summary}"),
        Err((code, error)) => eprintln!(
            "clientpulse schedule: run failed (exit {code}); waiting for the next start: {}",
            error.lines().next().unwrap_or_default()
        ),
    }
    write_state(
        state_path,
        &ScheduleState {
            last_start: Some(scheduled),
        },
    );
}

#[cfg(unix)]
fn terminate_signal() -> std::io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an instant")
    }

    #[test]
    fn starts_follow_the_wall_clock_across_both_daylight_saving_changes() {
        let paris: Tz = "Europe/Paris".parse().expect("zone");
        // Sunday 02:30, inside both of Paris's changes of 2026-27.
        let schedule = Schedule::parse("30 2 * * SUN", paris, false).expect("cron");
        let autumn: Vec<String> = schedule
            .next_starts(at("2026-10-17T12:00:00Z"), 3)
            .iter()
            .map(DateTime::to_rfc3339)
            .collect();
        // 25 October: 02:30 happens twice (02:30+02:00, then +01:00): once.
        assert_eq!(
            autumn,
            [
                "2026-10-18T02:30:00+02:00",
                "2026-10-25T02:30:00+02:00",
                "2026-11-01T02:30:00+01:00"
            ]
        );
        let spring: Vec<String> = schedule
            .next_starts(at("2027-03-20T12:00:00Z"), 3)
            .iter()
            .map(DateTime::to_rfc3339)
            .collect();
        // 28 March: 02:30 does not exist; the run starts right after the gap.
        assert_eq!(
            spring,
            [
                "2027-03-21T02:30:00+01:00",
                "2027-03-28T03:00:00+02:00",
                "2027-04-04T02:30:00+02:00"
            ]
        );
    }

    #[test]
    fn a_monday_morning_schedule_and_its_previous_start() {
        let schedule = Schedule::parse("0 6 * * MON", chrono_tz::UTC, true).expect("cron");
        let next = schedule.next_starts(at("2026-11-28T10:00:00Z"), 2);
        assert_eq!(next[0].to_rfc3339(), "2026-11-30T06:00:00+00:00");
        assert_eq!(next[1].to_rfc3339(), "2026-12-07T06:00:00+00:00");
        let previous = schedule.previous_start(at("2026-11-28T10:00:00Z"));
        assert_eq!(
            previous.map(|p| p.to_rfc3339()).as_deref(),
            Some("2026-11-23T06:00:00+00:00")
        );
        assert!(Schedule::parse("61 * * * *", chrono_tz::UTC, false).is_err());
    }
}
