//! Time UDFs that depend on the report's settings:
//!
//! - `business_seconds(start, end)`: seconds between two timestamps that
//!   fall in the config's business calendar (working days, hours, time
//!   zone, holidays); with no calendar configured, plain calendar seconds.
//!   NULL if either side is NULL.
//! - `local_date(ts)`: the date of an instant in the report's time zone,
//!   for "days in the config's time zone" (stickiness).
//!
//! Both carry their settings in the struct, so two sessions with different
//! configs never share hidden state.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use datafusion::arrow::array::{Array, AsArray, Date32Array, Float64Array};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::calendar::{BusinessCalendar, calendar_seconds};

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn instant(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BusinessSeconds {
    signature: Signature,
    calendar: Option<BusinessCalendar>,
}

impl BusinessSeconds {
    pub fn new(calendar: Option<BusinessCalendar>) -> Self {
        BusinessSeconds {
            signature: Signature::uniform(2, vec![utc_micros()], Volatility::Immutable),
            calendar,
        }
    }

    /// The business hours it counts; `None` for every second.
    pub fn calendar(&self) -> Option<&BusinessCalendar> {
        self.calendar.as_ref()
    }
}

impl ScalarUDFImpl for BusinessSeconds {
    fn name(&self) -> &str {
        "business_seconds"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [start, end] = arrays.as_slice() else {
            return exec_err!("business_seconds(start, end) takes 2 arguments");
        };
        let start = start.as_primitive::<TimestampMicrosecondType>();
        let end = end.as_primitive::<TimestampMicrosecondType>();
        let mut out = Vec::with_capacity(start.len());
        for row in 0..start.len() {
            if start.is_null(row) || end.is_null(row) {
                out.push(None);
                continue;
            }
            let (Some(from), Some(to)) = (instant(start.value(row)), instant(end.value(row)))
            else {
                return exec_err!("business_seconds(): a timestamp is out of range");
            };
            out.push(Some(match &self.calendar {
                Some(calendar) => calendar.seconds_between(from, to),
                None => calendar_seconds(from, to),
            }));
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LocalDate {
    signature: Signature,
    timezone: Tz,
}

impl LocalDate {
    pub fn new(timezone: Tz) -> Self {
        LocalDate {
            signature: Signature::uniform(1, vec![utc_micros()], Volatility::Immutable),
            timezone,
        }
    }

    /// The zone whose calendar days it gives.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }
}

impl ScalarUDFImpl for LocalDate {
    fn name(&self) -> &str {
        "local_date"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Date32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(ts) = arrays.first() else {
            return exec_err!("local_date(ts) takes 1 argument");
        };
        let ts = ts.as_primitive::<TimestampMicrosecondType>();
        let mut days = LocalDays::new(self.timezone);
        // The dates straight into their buffer, with the timestamps' own
        // NULLs (a NULL row's slot holds 0): it runs for every event of
        // the shared tables' passes, twice over the events.
        let mut out = Vec::with_capacity(ts.len());
        for (row, micros) in ts.values().iter().enumerate() {
            if ts.is_null(row) {
                out.push(0);
                continue;
            }
            let Some(day) = days.of(*micros) else {
                return exec_err!("local_date(): a timestamp is out of range");
            };
            out.push(day);
        }
        Ok(ColumnarValue::Array(Arc::new(Date32Array::new(
            out.into(),
            ts.nulls().cloned(),
        ))))
    }
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Local dates (days since 1970-01-01) of instants in one time zone. The
/// zone's offset is looked up once per UTC day, not once per row (the
/// lookup was a tenth of a run's time at scale 1600): where the offset is
/// the same at the UTC day's first and last microsecond, the day holds no
/// change of offset and every instant of it is shifted by that offset;
/// on a day with a change, each instant is looked up. The days are kept
/// in a small table, not only the last one: the events of a batch are in
/// no order of time, and a run reads a few months of days.
struct LocalDays {
    timezone: Tz,
    /// For each UTC day seen, at its place `day mod CACHED_DAYS`: the day,
    /// and its offset in microseconds when the offset holds all day.
    cached: Box<[CachedDay; CACHED_DAYS]>,
}

/// A UTC day, and its offset in microseconds when it holds all day.
type CachedDay = Option<(i64, Option<i64>)>;

/// How many UTC days [`LocalDays`] keeps: more than a run's trend reads.
const CACHED_DAYS: usize = 512;

impl LocalDays {
    fn new(timezone: Tz) -> Self {
        LocalDays {
            timezone,
            cached: Box::new([None; CACHED_DAYS]),
        }
    }

    /// The local date of `micros` (since the epoch, UTC); `None` out of
    /// chrono's range.
    fn of(&mut self, micros: i64) -> Option<i32> {
        let utc_day = micros.div_euclid(MICROS_PER_DAY);
        let place = utc_day.rem_euclid(CACHED_DAYS as i64) as usize;
        let offset = match self.cached.get(place).copied().flatten() {
            Some((day, offset)) if day == utc_day => offset,
            _ => {
                let first = self.offset_at(utc_day.checked_mul(MICROS_PER_DAY)?)?;
                let last = self.offset_at(
                    utc_day
                        .checked_add(1)?
                        .checked_mul(MICROS_PER_DAY)?
                        .checked_sub(1)?,
                )?;
                let offset = (first == last).then_some(first);
                if let Some(slot) = self.cached.get_mut(place) {
                    *slot = Some((utc_day, offset));
                }
                offset
            }
        };
        let local = match offset {
            Some(offset) => micros.checked_add(offset)?,
            None => micros.checked_add(self.offset_at(micros)?)?,
        };
        i32::try_from(local.div_euclid(MICROS_PER_DAY)).ok()
    }

    /// The zone's offset from UTC at `micros`, in microseconds.
    fn offset_at(&self, micros: i64) -> Option<i64> {
        use chrono::{Offset, TimeZone};
        let at = instant(micros)?;
        let offset = self.timezone.offset_from_utc_datetime(&at.naive_utc());
        Some(i64::from(offset.fix().local_minus_utc()) * 1_000_000)
    }
}

/// `add_days(ts, days)`: the instant `days` whole days (of 24 hours) after
/// `ts`, for deadlines such as `started_at + target_days`. NULL in, NULL
/// out.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AddDays {
    signature: Signature,
}

impl Default for AddDays {
    fn default() -> Self {
        AddDays {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AddDays {
    fn name(&self) -> &str {
        "add_days"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(utc_micros())
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(vec![utc_micros(), DataType::Int64]
            .into_iter()
            .take(arg_types.len())
            .collect())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::array::TimestampMicrosecondArray;
        use datafusion::arrow::datatypes::Int64Type;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [ts, days] = arrays.as_slice() else {
            return exec_err!("add_days(ts, days) takes 2 arguments");
        };
        let ts = ts.as_primitive::<TimestampMicrosecondType>();
        let days = days.as_primitive::<Int64Type>();
        let out: TimestampMicrosecondArray = (0..ts.len())
            .map(|row| {
                (ts.is_valid(row) && days.is_valid(row)).then(|| {
                    ts.value(row)
                        .saturating_add(days.value(row).saturating_mul(86_400_000_000))
                })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out.with_timezone("UTC"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The date chrono gives, one lookup per instant.
    fn looked_up(timezone: Tz, micros: i64) -> i32 {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let date = instant(micros)
            .unwrap()
            .with_timezone(&timezone)
            .date_naive();
        (date - epoch).num_days() as i32
    }

    #[test]
    fn local_days_equal_a_lookup_per_instant_in_every_zone() {
        // Every zone, over two years of instants 2 h 37 min 11 s apart
        // (every hour and minute of the day, across every change of offset
        // of 2025-2026), visited from both ends at once so that the cached
        // UTC day keeps changing.
        let start = 1_735_689_600_000_000_i64; // 2025-01-01T00:00:00Z
        let step = (2 * 3600 + 37 * 60 + 11) * 1_000_000_i64;
        let instants: Vec<i64> = (0..6700).map(|i| start + i * step).collect();
        for timezone in chrono_tz::TZ_VARIANTS {
            let mut days = LocalDays::new(timezone);
            for (i, &micros) in instants.iter().enumerate() {
                for micros in [micros, instants[instants.len() - 1 - i]] {
                    assert_eq!(
                        days.of(micros),
                        Some(looked_up(timezone, micros)),
                        "{timezone} at {micros}"
                    );
                }
            }
        }
    }

    #[test]
    fn local_days_around_a_change_of_offset() {
        // Paris, 2026-10-25: 01:00Z the clocks go back from +2 to +1.
        let paris = chrono_tz::Europe::Paris;
        let mut days = LocalDays::new(paris);
        let change = 1_792_890_000_000_000_i64; // 2026-10-25T01:00:00Z
        for minutes in -1500..1500 {
            let micros = change + minutes * 60_000_000;
            assert_eq!(days.of(micros), Some(looked_up(paris, micros)), "{minutes}");
        }
        // 2026-10-24T22:30Z is already the 25th in Paris (+2).
        let evening = change - 150 * 60_000_000;
        assert_eq!(days.of(evening), Some(looked_up(paris, change)));
        assert_eq!(days.of(i64::MAX), None);
    }
}
