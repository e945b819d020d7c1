//! The business calendar: working days, hours and holidays in a time zone,
//! and the business time between two instants.
//!
//! Plain data and pure functions: the config builds a calendar, the
//! `business_seconds` UDF applies it. Without a calendar every second
//! counts (calendar time), so the same SQL serves both.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// When work happens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BusinessCalendar {
    pub timezone: Tz,
    /// Monday first.
    pub working_days: [bool; 7],
    pub opens: NaiveTime,
    pub closes: NaiveTime,
    pub holidays: BTreeSet<NaiveDate>,
}

impl BusinessCalendar {
    /// Business seconds in `[start, end)`; negative when `end < start`.
    pub fn seconds_between(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
        if end < start {
            return -self.seconds_between(end, start);
        }
        let first = start.with_timezone(&self.timezone).date_naive();
        let last = end.with_timezone(&self.timezone).date_naive();
        let mut total = 0i64;
        let mut day = first;
        while day <= last {
            let weekday = day.weekday().num_days_from_monday() as usize;
            if self.working_days[weekday] && !self.holidays.contains(&day) {
                let open = local_instant(self.timezone, day, self.opens);
                let close = local_instant(self.timezone, day, self.closes);
                let from = open.max(start);
                let to = close.min(end);
                if to > from {
                    total += (to - from).num_milliseconds();
                }
            }
            day = match day.checked_add_days(Days::new(1)) {
                Some(next) => next,
                None => break,
            };
        }
        total as f64 / 1000.0
    }
}

/// `date` at `time` in `timezone`; in a DST gap, the first valid instant
/// after it; in an overlap, the earlier one.
fn local_instant(timezone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut time = time;
    for _ in 0..16 {
        if let Some(instant) = timezone
            .from_local_datetime(&date.and_time(time))
            .earliest()
        {
            return instant.with_timezone(&Utc);
        }
        time += chrono::Duration::minutes(15);
    }
    // Unreachable for real zones (gaps are at most a few hours).
    date.and_time(time).and_utc()
}

/// Calendar seconds in `[start, end)`: what durations are without a
/// business calendar.
pub fn calendar_seconds(start: DateTime<Utc>, end: DateTime<Utc>) -> f64 {
    (end - start).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris_office() -> BusinessCalendar {
        BusinessCalendar {
            timezone: "Europe/Paris".parse().unwrap(),
            working_days: [true, true, true, true, true, false, false],
            opens: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            closes: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            holidays: [NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()].into(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn counts_only_open_hours() {
        let calendar = paris_office();
        // Friday 16:00 Paris (15:00Z) to Monday 10:00 Paris (09:00Z): 1 h + 1 h.
        let seconds =
            calendar.seconds_between(at("2026-11-20T15:00:00Z"), at("2026-11-23T09:00:00Z"));
        assert_eq!(seconds, 7200.0);
        // Christmas is a holiday: Thursday 24 16:00 to Saturday 26 is 1 h.
        let seconds =
            calendar.seconds_between(at("2026-12-24T15:00:00Z"), at("2026-12-26T12:00:00Z"));
        assert_eq!(seconds, 3600.0);
        assert_eq!(
            calendar.seconds_between(at("2026-11-23T09:00:00Z"), at("2026-11-20T15:00:00Z")),
            -7200.0
        );
    }

    #[test]
    fn dst_changes_move_opening_hours_in_utc() {
        let calendar = paris_office();
        // Friday 23 Oct 2026 opens 07:00Z (CEST); Monday 26 Oct opens 08:00Z (CET).
        let seconds =
            calendar.seconds_between(at("2026-10-23T07:00:00Z"), at("2026-10-26T09:00:00Z"));
        assert_eq!(seconds, 8.0 * 3600.0 + 3600.0);
    }
}
