//! Report periods (ISO weeks in the config's time zone) and metric windows.
//!
//! A period is `[start, end)` from Monday 00:00 to the next Monday 00:00 in
//! the report's time zone, kept as UTC instants. Windows are counted in
//! calendar days of that time zone, so a 28-day window is always four whole
//! local weeks, across daylight-saving changes too.

use std::fmt;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PeriodError {
    #[error("invalid period `{0}`: expected an ISO week such as 2026-W47")]
    Malformed(String),
    #[error("invalid period `{label}`: {year} has no ISO week {week}")]
    NoSuchWeek { label: String, year: i32, week: u32 },
    #[error("invalid range: {from} comes after {to}")]
    BackwardsRange { from: String, to: String },
    #[error(
        "week {label} has not ended: it ends {end}; a report of it would count part of the week and stand as the week's report"
    )]
    NotEnded { label: String, end: String },
}

/// One report week.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// ISO week label, e.g. `2026-W47`.
    pub label: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub timezone: Tz,
    /// The Monday that starts the week, in the report's time zone.
    monday: NaiveDate,
}

impl Period {
    /// The week whose Monday is `monday`, in `timezone`.
    fn from_monday(monday: NaiveDate, timezone: Tz) -> Period {
        let iso = monday.iso_week();
        let next = monday + Days::new(7);
        Period {
            label: format!("{}-W{:02}", iso.year(), iso.week()),
            start: local_midnight(monday, timezone),
            end: local_midnight(next, timezone),
            timezone,
            monday,
        }
    }

    /// Parses an ISO week label such as `2026-W47`.
    pub fn parse(label: &str, timezone: Tz) -> Result<Period, PeriodError> {
        let malformed = || PeriodError::Malformed(label.to_string());
        let (year, week) = label.split_once("-W").ok_or_else(malformed)?;
        if year.len() != 4 || week.len() != 2 {
            return Err(malformed());
        }
        let year: i32 = year.parse().map_err(|_| malformed())?;
        let week: u32 = week.parse().map_err(|_| malformed())?;
        let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(|| {
            PeriodError::NoSuchWeek {
                label: label.to_string(),
                year,
                week,
            }
        })?;
        Ok(Period::from_monday(monday, timezone))
    }

    /// The last week that ended at or before `now`.
    pub fn last_complete(now: DateTime<Utc>, timezone: Tz) -> Period {
        let today = now.with_timezone(&timezone).date_naive();
        let this_monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
        let candidate = Period::from_monday(this_monday, timezone);
        if candidate.end <= now {
            candidate
        } else {
            candidate.previous()
        }
    }

    /// The week, when it has ended at `now`. A week still under way has
    /// only part of its data: its figures would look like a bad week, and
    /// once sent its report would stand in the ledger as the week's, so
    /// the run at the week's end would not send the whole one.
    pub fn ended_by(self, now: DateTime<Utc>) -> Result<Period, PeriodError> {
        if self.end <= now {
            Ok(self)
        } else {
            Err(PeriodError::NotEnded {
                end: self.end.with_timezone(&self.timezone).to_rfc3339(),
                label: self.label,
            })
        }
    }

    /// Every week from `from` to `to`, both included, oldest first.
    pub fn range(from: &Period, to: &Period) -> Result<Vec<Period>, PeriodError> {
        if from.monday > to.monday {
            return Err(PeriodError::BackwardsRange {
                from: from.label.clone(),
                to: to.label.clone(),
            });
        }
        let mut weeks = vec![from.clone()];
        while let Some(last) = weeks.last().filter(|last| last.monday < to.monday) {
            let next = Period::from_monday(last.monday + Days::new(7), from.timezone);
            weeks.push(next);
        }
        Ok(weeks)
    }

    /// The week before this one.
    pub fn previous(&self) -> Period {
        Period::from_monday(self.monday - Days::new(7), self.timezone)
    }

    /// This week and the `count - 1` weeks before it, oldest first.
    pub fn trailing(&self, count: usize) -> Vec<Period> {
        let mut weeks = Vec::with_capacity(count);
        let mut week = self.clone();
        for _ in 0..count {
            let previous = week.previous();
            weeks.push(week);
            week = previous;
        }
        weeks.reverse();
        weeks
    }

    /// The window of the same length that ends where `window` starts.
    pub fn window_before(&self, window: Window) -> WindowBounds {
        let current = self.window(window);
        match window {
            Window::AsOfEnd => current,
            Window::Days(days) => {
                let end_date = self.monday + Days::new(7) - Days::new(u64::from(days));
                WindowBounds {
                    start: local_midnight(end_date - Days::new(u64::from(days)), self.timezone),
                    end: current.start,
                }
            }
        }
    }

    /// The bounds `[a, b)` of `window` ending at this period's end.
    pub fn window(&self, window: Window) -> WindowBounds {
        match window {
            Window::AsOfEnd => WindowBounds {
                start: self.end,
                end: self.end,
            },
            Window::Days(days) => {
                let end_date = self.monday + Days::new(7);
                let start_date = end_date - Days::new(u64::from(days));
                WindowBounds {
                    start: local_midnight(start_date, self.timezone),
                    end: self.end,
                }
            }
        }
    }
}

/// Midnight of `date` in `timezone`. Where midnight falls in a DST gap (as
/// in a few zones), the first instant of the day that exists.
fn local_midnight(date: NaiveDate, timezone: Tz) -> DateTime<Utc> {
    let mut time = NaiveTime::MIN;
    // DST gaps are at most a few hours: step a quarter-hour at a time, for
    // at most one day, until the clock exists.
    for _ in 0..96 {
        if let Some(instant) = timezone
            .from_local_datetime(&date.and_time(time))
            .earliest()
        {
            return instant.with_timezone(&Utc);
        }
        time += chrono::Duration::minutes(15);
    }
    // No zone has a day without a valid quarter-hour; UTC midnight is the
    // least wrong answer if one ever does.
    date.and_time(NaiveTime::MIN).and_utc()
}

/// How far back a metric looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// A stock measured at the instant `end`.
    AsOfEnd,
    /// A flow over the trailing calendar days before `end`.
    Days(u32),
}

impl Window {
    /// Parses `90d` or `as_of_end`.
    pub fn parse(text: &str) -> Option<Window> {
        let text = text.trim();
        if text == "as_of_end" {
            return Some(Window::AsOfEnd);
        }
        let days: u32 = text.strip_suffix('d')?.parse().ok()?;
        (1..=3660).contains(&days).then_some(Window::Days(days))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Window::AsOfEnd => write!(f, "as_of_end"),
            Window::Days(days) => write!(f, "{days}d"),
        }
    }
}

/// Concrete window bounds `[start, end)`; equal for stock metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowBounds {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iso_week() {
        let week = Period::parse("2026-W47", Tz::UTC).unwrap();
        assert_eq!(week.start.to_rfc3339(), "2026-11-16T00:00:00+00:00");
        assert_eq!(week.end.to_rfc3339(), "2026-11-23T00:00:00+00:00");
    }

    #[test]
    fn rejects_bad_labels() {
        assert!(matches!(
            Period::parse("2026-W99", Tz::UTC),
            Err(PeriodError::NoSuchWeek { week: 99, .. })
        ));
        assert!(matches!(
            Period::parse("2026-47", Tz::UTC),
            Err(PeriodError::Malformed(_))
        ));
        // 2026 has 53 ISO weeks, 2025 only 52.
        assert!(Period::parse("2026-W53", Tz::UTC).is_ok());
        assert!(Period::parse("2025-W53", Tz::UTC).is_err());
    }

    #[test]
    fn last_complete_week() {
        let now = "2026-11-25T13:00:00Z".parse().unwrap();
        assert_eq!(Period::last_complete(now, Tz::UTC).label, "2026-W47");
        // Exactly at Monday midnight the week just ended is complete.
        let monday = "2026-11-23T00:00:00Z".parse().unwrap();
        assert_eq!(Period::last_complete(monday, Tz::UTC).label, "2026-W47");
    }

    #[test]
    fn a_week_is_reported_once_it_has_ended() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let week = Period::parse("2026-W48", paris).unwrap();
        // It ends on Monday 30 November at midnight in Paris, 23:00 UTC the
        // day before.
        let before = "2026-11-29T22:59:59Z".parse().unwrap();
        assert_eq!(
            week.clone().ended_by(before),
            Err(PeriodError::NotEnded {
                label: "2026-W48".to_string(),
                end: "2026-11-30T00:00:00+01:00".to_string(),
            })
        );
        let at_end = "2026-11-29T23:00:00Z".parse().unwrap();
        assert_eq!(week.clone().ended_by(at_end), Ok(week));
        assert_eq!(
            Period::last_complete(at_end, paris)
                .ended_by(at_end)
                .map(|w| w.label),
            Ok("2026-W48".to_string())
        );
    }

    #[test]
    fn weeks_in_a_zone_with_dst() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // The week of the October change back to winter time has 169 hours.
        // (Sunday 25 October 2026).
        let week = Period::parse("2026-W43", berlin).unwrap();
        assert_eq!(week.start.to_rfc3339(), "2026-10-18T22:00:00+00:00");
        assert_eq!(week.end.to_rfc3339(), "2026-10-25T23:00:00+00:00");
        assert_eq!((week.end - week.start).num_hours(), 169);
        let window = week.window(Window::Days(28));
        assert_eq!(window.start.to_rfc3339(), "2026-09-27T22:00:00+00:00");
    }

    #[test]
    fn windows_and_trends() {
        let week = Period::parse("2026-W47", Tz::UTC).unwrap();
        let bounds = week.window(Window::Days(30));
        assert_eq!(bounds.start.to_rfc3339(), "2026-10-24T00:00:00+00:00");
        let trend = week.trailing(12);
        assert_eq!(trend.len(), 12);
        assert_eq!(trend[0].label, "2026-W36");
        assert_eq!(trend[11].label, "2026-W47");
        let range = Period::range(&trend[0], &week).unwrap();
        assert_eq!(range, trend);
        assert_eq!(Window::parse("90d"), Some(Window::Days(90)));
        assert_eq!(Window::parse("0d"), None);
    }
}
