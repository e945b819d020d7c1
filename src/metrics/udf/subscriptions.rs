//! A client's subscription rows folded into one value, so that a run reads
//! every client's MRR at every window's ends from one small row per client
//! instead of joining and summing the subscriptions table once per window
//! and per metric.
//!
//! - `mrr_rows(started_at, ended_at, mrr)` (aggregate): a client's rows
//!   (their span and monthly MRR, `monthly_mrr`'s DECIMAL(38, 10)) as
//!   BINARY; over BINARY values, their rows together.
//! - `mrr_at(rows, t)`: the sum of the MRR of the rows active at `t`
//!   (`started_at <= t` and `ended_at` NULL or after `t`), exactly as
//!   `SUM(mrr)` over them gives it (DECIMAL(38, 10)); NULL when no row is
//!   active at `t`, as a `GROUP BY client_id` over the active rows has no
//!   group for such a client.
//! - `paid_before(rows, t)`: whether a row with positive MRR started
//!   before `t` and lasted a moment (`ended_at` NULL or after its start).
//! - `started_paying_in(rows, a, b)`: whether a row with positive MRR
//!   started in `(a, b]`.
//!
//! The bytes are a plain little-endian layout, one 33-byte record per row
//! (`started_at` and `ended_at` in microseconds, `i64::MAX` for an open
//! end; a byte saying whether MRR is set; MRR as the decimal's `i128`),
//! sorted, so a value is the same whatever order the rows arrived in. Only
//! these functions read them, and they check what they read: bytes that
//! are not such a value are an error, never a wrong figure. Sums are of
//! integers, exact in any order; one that overflows is an error.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Decimal128Array,
};
use datafusion::arrow::datatypes::{DataType, Decimal128Type, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::records::{Record, not_a_value, records_of};
use super::revenue::{MONEY_PRECISION, MONEY_SCALE};

const NAME: &str = "mrr_rows";

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn money() -> DataType {
    DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE)
}

/// One subscription row: its span `[started, ended)` and its MRR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    started: i64,
    /// `i64::MAX` for a row with no end.
    ended: i64,
    mrr: Option<i128>,
}

impl Row {
    fn active_at(&self, t: i64) -> bool {
        self.started <= t && self.ended > t
    }

    fn paying(&self) -> bool {
        self.mrr.is_some_and(|mrr| mrr > 0)
    }
}

impl Record for Row {
    const NAME: &'static str = NAME;
    const CALL: &'static str = "mrr_rows(started_at, ended_at, mrr)";
    const SIZE: usize = 33;

    fn argument_types() -> Vec<DataType> {
        vec![utc_micros(), utc_micros(), money()]
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.started.to_le_bytes());
        out.extend_from_slice(&self.ended.to_le_bytes());
        out.push(u8::from(self.mrr.is_some()));
        out.extend_from_slice(&self.mrr.unwrap_or(0).to_le_bytes());
    }

    fn read(bytes: &[u8]) -> Option<Row> {
        let (started, rest) = bytes.split_first_chunk::<8>()?;
        let (ended, rest) = rest.split_first_chunk::<8>()?;
        let (set, rest) = rest.split_first()?;
        let mrr: [u8; 16] = rest.try_into().ok()?;
        let mrr = match set {
            0 => None,
            1 => Some(i128::from_le_bytes(mrr)),
            _ => return None,
        };
        Some(Row {
            started: i64::from_le_bytes(*started),
            ended: i64::from_le_bytes(*ended),
            mrr,
        })
    }

    fn fold_rows(
        target: &mut [Vec<Row>],
        columns: &[ArrayRef],
        groups: impl Iterator<Item = usize>,
        kept: impl Fn(usize) -> bool,
    ) -> Result<()> {
        let [started, ended, mrr] = columns else {
            return exec_err!("{} takes 3 arguments", Self::CALL);
        };
        let started = started.as_primitive::<TimestampMicrosecondType>();
        let ended = ended.as_primitive::<TimestampMicrosecondType>();
        let mrr = mrr.as_primitive::<Decimal128Type>();
        for (row, group) in groups.enumerate() {
            // A row with no start is never active: it adds nothing.
            if started.is_null(row) || !kept(row) {
                continue;
            }
            let value = Row {
                started: started.value(row),
                ended: if ended.is_null(row) {
                    i64::MAX
                } else {
                    ended.value(row)
                },
                mrr: mrr.is_valid(row).then(|| mrr.value(row)),
            };
            if let Some(rows) = target.get_mut(group) {
                rows.push(value);
            }
        }
        Ok(())
    }
}

/// `mrr_rows(started_at, ended_at, mrr)`.
pub(super) fn mrr_rows() -> AggregateUDF {
    super::records::aggregate::<Row>()
}

/// What a scalar function asks of a client's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Question {
    /// `mrr_at(rows, t)`
    MrrAt,
    /// `paid_before(rows, t)`
    PaidBefore,
    /// `started_paying_in(rows, a, b)`
    StartedPayingIn,
}

/// `mrr_at`, `paid_before` or `started_paying_in`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RowsAt {
    signature: Signature,
    question: Question,
}

impl RowsAt {
    fn new(question: Question) -> Self {
        RowsAt {
            signature: Signature::user_defined(Volatility::Immutable),
            question,
        }
    }

    /// `mrr_at(rows, t)`: the MRR of the rows active at `t`.
    pub fn mrr_at() -> Self {
        RowsAt::new(Question::MrrAt)
    }

    /// `paid_before(rows, t)`: a paying row started before `t`.
    pub fn paid_before() -> Self {
        RowsAt::new(Question::PaidBefore)
    }

    /// `started_paying_in(rows, a, b)`: a paying row started in `(a, b]`.
    pub fn started_paying_in() -> Self {
        RowsAt::new(Question::StartedPayingIn)
    }

    fn instants(&self) -> usize {
        match self.question {
            Question::StartedPayingIn => 2,
            _ => 1,
        }
    }

    /// `mrr_at` of one client's rows: the sum of the MRR set on the rows
    /// active at `t`; NULL when there is none, as SUM gives.
    fn sum_active(&self, bytes: &[u8], t: i64) -> Result<Option<i128>> {
        let mut sum: Option<i128> = None;
        for row in records_of::<Row>(bytes).ok_or_else(|| not_a_value::<Row>(self.name()))? {
            let row = row.ok_or_else(|| not_a_value::<Row>(self.name()))?;
            let Some(mrr) = row.mrr.filter(|_| row.active_at(t)) else {
                continue;
            };
            match sum.unwrap_or(0).checked_add(mrr) {
                Some(total) => sum = Some(total),
                None => return exec_err!("mrr_at(): the sum overflows"),
            }
        }
        Ok(sum)
    }

    /// `paid_before` (of `t`) or `started_paying_in` (of `(a, b]`) of one
    /// client's rows, `at` being `[t, _]` or `[a, b]`.
    fn any_row(&self, bytes: &[u8], [a, b]: [i64; 2]) -> Result<bool> {
        for row in records_of::<Row>(bytes).ok_or_else(|| not_a_value::<Row>(self.name()))? {
            let row = row.ok_or_else(|| not_a_value::<Row>(self.name()))?;
            let holds = row.paying()
                && match self.question {
                    Question::PaidBefore => row.started < a && row.ended > row.started,
                    Question::StartedPayingIn => row.started > a && row.started <= b,
                    Question::MrrAt => false,
                };
            if holds {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl ScalarUDFImpl for RowsAt {
    fn name(&self) -> &str {
        match self.question {
            Question::MrrAt => "mrr_at",
            Question::PaidBefore => "paid_before",
            Question::StartedPayingIn => "started_paying_in",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 1 + self.instants() {
            return exec_err!("{}() takes {} arguments", self.name(), 1 + self.instants());
        }
        let mut types = vec![DataType::Binary];
        types.extend(std::iter::repeat_n(utc_micros(), self.instants()));
        Ok(types)
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.question {
            Question::MrrAt => money(),
            _ => DataType::Boolean,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some((values, instants)) = arrays.split_first() else {
            return exec_err!("{}() takes arguments", self.name());
        };
        let values: &BinaryArray = values.as_binary::<i32>();
        let instants: Vec<_> = instants
            .iter()
            .map(|a| a.as_primitive::<TimestampMicrosecondType>())
            .collect();
        // A row's value and instants (at most two, as coerce_types made
        // them); `None` where any of them is NULL.
        let inputs = |row: usize| -> Option<(&[u8], [i64; 2])> {
            if values.is_null(row) || instants.iter().any(|i| i.is_null(row)) {
                return None;
            }
            let mut at = [0; 2];
            for (slot, instant) in at.iter_mut().zip(&instants) {
                *slot = instant.value(row);
            }
            Some((values.value(row), at))
        };
        let array: ArrayRef = match self.question {
            Question::MrrAt => {
                let sums = (0..values.len())
                    .map(|row| {
                        inputs(row).map_or(Ok(None), |(bytes, [t, _])| self.sum_active(bytes, t))
                    })
                    .collect::<Result<Vec<_>>>()?;
                Arc::new(
                    Decimal128Array::from(sums)
                        .with_precision_and_scale(MONEY_PRECISION, MONEY_SCALE)?,
                )
            }
            _ => {
                let answers = (0..values.len())
                    .map(|row| {
                        inputs(row)
                            .map(|(bytes, at)| self.any_row(bytes, at))
                            .transpose()
                    })
                    .collect::<Result<Vec<_>>>()?;
                Arc::new(BooleanArray::from(answers))
            }
        };
        Ok(ColumnarValue::Array(array))
    }
}

#[cfg(test)]
mod tests {
    use super::super::records::encode;
    use super::*;

    fn bytes(rows: &[(i64, Option<i64>, Option<i128>)]) -> Vec<u8> {
        let mut rows: Vec<Row> = rows
            .iter()
            .map(|&(started, ended, mrr)| Row {
                started,
                ended: ended.unwrap_or(i64::MAX),
                mrr,
            })
            .collect();
        let mut out = Vec::new();
        encode(&mut rows, &mut out);
        out
    }

    fn mrr_at(value: &[u8], t: i64) -> Option<i128> {
        RowsAt::mrr_at().sum_active(value, t).unwrap()
    }

    fn yes(question: RowsAt, value: &[u8], at: &[i64]) -> bool {
        let at = [at[0], at.get(1).copied().unwrap_or_default()];
        question.any_row(value, at).unwrap()
    }

    #[test]
    fn mrr_at_sums_the_rows_active_at_an_instant() {
        // 10 over [0, 10), 5 from 10 on, 7 over [5, 20); one row of 0.
        let value = bytes(&[
            (0, Some(10), Some(10)),
            (10, None, Some(5)),
            (5, Some(20), Some(7)),
            (30, Some(40), Some(0)),
        ]);
        assert_eq!(mrr_at(&value, -1), None);
        assert_eq!(mrr_at(&value, 0), Some(10));
        assert_eq!(mrr_at(&value, 5), Some(17));
        // The end is excluded, the start included.
        assert_eq!(mrr_at(&value, 10), Some(12));
        assert_eq!(mrr_at(&value, 20), Some(5));
        assert_eq!(mrr_at(&value, 35), Some(5));
        // Active, but no MRR set: NULL, as SUM over it.
        let unset = bytes(&[(0, None, None)]);
        assert_eq!(mrr_at(&unset, 1), None);
    }

    #[test]
    fn paid_before_and_started_paying_in() {
        let value = bytes(&[
            (10, Some(10), Some(5)),
            (20, None, Some(0)),
            (30, None, Some(3)),
        ]);
        // A row of no length never paid; one of 0 MRR neither.
        assert!(!yes(RowsAt::paid_before(), &value, &[25]));
        assert!(!yes(RowsAt::paid_before(), &value, &[30]));
        assert!(yes(RowsAt::paid_before(), &value, &[31]));
        assert!(yes(RowsAt::started_paying_in(), &value, &[29, 30]));
        assert!(!yes(RowsAt::started_paying_in(), &value, &[30, 40]));
        // The zero-length row paid in (a, b] all the same.
        assert!(yes(RowsAt::started_paying_in(), &value, &[9, 10]));
    }

    #[test]
    fn values_are_the_same_in_any_order_and_checked_when_read() {
        let a = bytes(&[(1, None, Some(1)), (2, Some(3), None)]);
        let b = bytes(&[(2, Some(3), None), (1, None, Some(1))]);
        assert_eq!(a, b);
        assert!(RowsAt::mrr_at().sum_active(&a[1..], 1).is_err());
        assert!(RowsAt::mrr_at().sum_active(&[], 1).is_err());
        let mut bad = a.clone();
        bad[16] = 7;
        assert!(RowsAt::mrr_at().sum_active(&bad, 1).is_err());
        let big = bytes(&[(0, None, Some(i128::MAX)), (0, None, Some(1))]);
        assert!(RowsAt::mrr_at().sum_active(&big, 1).is_err());
    }
}
