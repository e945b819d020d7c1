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

use chrono::{DateTime, NaiveDate, Utc};
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
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let mut out = Vec::with_capacity(ts.len());
        for row in 0..ts.len() {
            if ts.is_null(row) {
                out.push(None);
                continue;
            }
            let Some(at) = instant(ts.value(row)) else {
                return exec_err!("local_date(): a timestamp is out of range");
            };
            let date = at.with_timezone(&self.timezone).date_naive();
            out.push(Some((date - epoch).num_days() as i32));
        }
        Ok(ColumnarValue::Array(Arc::new(Date32Array::from(out))))
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
