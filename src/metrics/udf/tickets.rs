//! A client's tickets folded into one value, so that the at-risk signal
//! "a ticket still open after so many days" is read for every window from
//! one small row per client, instead of joining every ticket to every
//! window (at demo scale 1600, 3.6 M tickets against 12 windows in a
//! nested-loop join: 40 % of each at-risk query's time).
//!
//! - `ticket_spans(opened_at, resolved_at)` (aggregate): a client's
//!   tickets (when each was opened and resolved) as BINARY; over BINARY
//!   values, their tickets together. A ticket with no `opened_at` is left
//!   out: it is never open before any instant.
//! - `open_tickets_at(spans, t, opened_before)`: how many tickets were
//!   opened before `t` and before `opened_before`, and not resolved by `t`
//!   (`resolved_at` NULL or at or after `t`): what `COUNT(*)` over the
//!   join gave. 0 for none.
//! - `oldest_open_at(spans, t, opened_before)`: the earliest `opened_at`
//!   among those tickets, what `MIN(opened_at)` gave; NULL for none.
//!
//! The bytes are one 16-byte little-endian record per ticket (`opened_at`
//! and `resolved_at` in microseconds, `i64::MAX` for a ticket never
//! resolved), sorted, so a value is the same whatever order the tickets
//! arrived in. Only these functions read them, and they check what they
//! read: bytes that are not such a value are an error, never a wrong count.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, Int64Array, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::records::{Record, not_a_value, records_of};

const NAME: &str = "ticket_spans";

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// One ticket: when it was opened, and resolved (`i64::MAX` if never).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    opened: i64,
    resolved: i64,
}

impl Span {
    /// Opened before `t` and before `opened_before`, not resolved by `t`.
    fn open_at(&self, t: i64, opened_before: i64) -> bool {
        self.opened < t && self.opened < opened_before && self.resolved >= t
    }
}

impl Record for Span {
    const NAME: &'static str = NAME;
    const CALL: &'static str = "ticket_spans(opened_at, resolved_at)";
    const SIZE: usize = 16;

    fn argument_types() -> Vec<DataType> {
        vec![utc_micros(), utc_micros()]
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.opened.to_le_bytes());
        out.extend_from_slice(&self.resolved.to_le_bytes());
    }

    fn read(bytes: &[u8]) -> Option<Span> {
        let (opened, rest) = bytes.split_first_chunk::<8>()?;
        let resolved: [u8; 8] = rest.try_into().ok()?;
        Some(Span {
            opened: i64::from_le_bytes(*opened),
            resolved: i64::from_le_bytes(resolved),
        })
    }

    fn fold_rows(
        target: &mut [Vec<Span>],
        columns: &[ArrayRef],
        groups: impl Iterator<Item = usize>,
        kept: impl Fn(usize) -> bool,
    ) -> Result<()> {
        let [opened, resolved] = columns else {
            return exec_err!("{} takes 2 arguments", Self::CALL);
        };
        let opened = opened.as_primitive::<TimestampMicrosecondType>();
        let resolved = resolved.as_primitive::<TimestampMicrosecondType>();
        for (row, group) in groups.enumerate() {
            // A ticket never opened is never open: it adds nothing.
            if opened.is_null(row) || !kept(row) {
                continue;
            }
            let span = Span {
                opened: opened.value(row),
                resolved: if resolved.is_null(row) {
                    i64::MAX
                } else {
                    resolved.value(row)
                },
            };
            if let Some(spans) = target.get_mut(group) {
                spans.push(span);
            }
        }
        Ok(())
    }
}

/// `ticket_spans(opened_at, resolved_at)`.
pub(super) fn ticket_spans() -> AggregateUDF {
    super::records::aggregate::<Span>()
}

/// What a scalar function asks of a client's open tickets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Question {
    /// `open_tickets_at(spans, t, opened_before)`
    Count,
    /// `oldest_open_at(spans, t, opened_before)`
    Oldest,
}

/// `open_tickets_at` or `oldest_open_at`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct OpenAt {
    signature: Signature,
    question: Question,
}

impl OpenAt {
    fn new(question: Question) -> Self {
        OpenAt {
            signature: Signature::user_defined(Volatility::Immutable),
            question,
        }
    }

    /// `open_tickets_at(spans, t, opened_before)`: how many are open.
    pub fn count() -> Self {
        OpenAt::new(Question::Count)
    }

    /// `oldest_open_at(spans, t, opened_before)`: when the oldest opened.
    pub fn oldest() -> Self {
        OpenAt::new(Question::Oldest)
    }

    /// The tickets of one value open at `t` and opened before
    /// `opened_before`: how many, and the earliest opening among them.
    fn open(&self, bytes: &[u8], t: i64, opened_before: i64) -> Result<(i64, Option<i64>)> {
        let mut count = 0;
        let mut oldest: Option<i64> = None;
        let spans = records_of::<Span>(bytes).ok_or_else(|| not_a_value::<Span>(self.name()))?;
        for span in spans {
            let span = span.ok_or_else(|| not_a_value::<Span>(self.name()))?;
            if span.open_at(t, opened_before) {
                count += 1;
                oldest = Some(oldest.map_or(span.opened, |o| o.min(span.opened)));
            }
        }
        Ok((count, oldest))
    }
}

impl ScalarUDFImpl for OpenAt {
    fn name(&self) -> &str {
        match self.question {
            Question::Count => "open_tickets_at",
            Question::Oldest => "oldest_open_at",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 3 {
            return exec_err!("{}(spans, t, opened_before) takes 3 arguments", self.name());
        }
        Ok(vec![DataType::Binary, utc_micros(), utc_micros()])
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.question {
            Question::Count => DataType::Int64,
            Question::Oldest => utc_micros(),
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [values, at, opened_before] = arrays.as_slice() else {
            return exec_err!("{}(spans, t, opened_before) takes 3 arguments", self.name());
        };
        let values: &BinaryArray = values.as_binary::<i32>();
        let at = at.as_primitive::<TimestampMicrosecondType>();
        let opened_before = opened_before.as_primitive::<TimestampMicrosecondType>();
        // A NULL value (no ticket) or instant has no open ticket.
        let open = (0..values.len())
            .map(|row| {
                if values.is_null(row) || at.is_null(row) || opened_before.is_null(row) {
                    return Ok((0, None));
                }
                self.open(values.value(row), at.value(row), opened_before.value(row))
            })
            .collect::<Result<Vec<_>>>()?;
        let array: ArrayRef = match self.question {
            Question::Count => Arc::new(Int64Array::from_iter_values(
                open.iter().map(|(count, _)| *count),
            )),
            Question::Oldest => Arc::new(
                TimestampMicrosecondArray::from(
                    open.iter().map(|(_, oldest)| *oldest).collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ),
        };
        Ok(ColumnarValue::Array(array))
    }
}

#[cfg(test)]
mod tests {
    use super::super::records::encode;
    use super::*;

    fn value(tickets: &[(i64, Option<i64>)]) -> Vec<u8> {
        let mut spans: Vec<Span> = tickets
            .iter()
            .map(|&(opened, resolved)| Span {
                opened,
                resolved: resolved.unwrap_or(i64::MAX),
            })
            .collect();
        let mut out = Vec::new();
        encode(&mut spans, &mut out);
        out
    }

    fn open(bytes: &[u8], t: i64, opened_before: i64) -> (i64, Option<i64>) {
        OpenAt::count().open(bytes, t, opened_before).unwrap()
    }

    #[test]
    fn counts_the_tickets_open_at_an_instant_and_opened_before_a_cutoff() {
        // Opened at 0 and never resolved; opened at 5, resolved at 20;
        // opened at 10, resolved at 10; opened at 30, never resolved.
        let bytes = value(&[(0, None), (5, Some(20)), (10, Some(10)), (30, None)]);
        assert_eq!(open(&bytes, 0, 100), (0, None));
        assert_eq!(open(&bytes, 1, 100), (1, Some(0)));
        // Resolved at t is still open at t; opened at t is not yet.
        assert_eq!(open(&bytes, 10, 100), (2, Some(0)));
        assert_eq!(open(&bytes, 20, 100), (2, Some(0)));
        assert_eq!(open(&bytes, 21, 100), (1, Some(0)));
        assert_eq!(open(&bytes, 40, 100), (2, Some(0)));
        // Only those opened before the cutoff (strictly).
        assert_eq!(open(&bytes, 15, 5), (1, Some(0)));
        assert_eq!(open(&bytes, 15, 6), (2, Some(0)));
        assert_eq!(open(&bytes, 40, 31), (2, Some(0)));
        let late = value(&[(30, None), (25, Some(50))]);
        assert_eq!(open(&late, 40, 100), (2, Some(25)));
        assert_eq!(open(&late, 40, 26), (1, Some(25)));
    }

    #[test]
    fn values_are_the_same_in_any_order_and_checked_when_read() {
        let a = value(&[(1, None), (2, Some(3))]);
        let b = value(&[(2, Some(3)), (1, None)]);
        assert_eq!(a, b);
        assert!(OpenAt::count().open(&a[1..], 5, 5).is_err());
        assert!(OpenAt::oldest().open(&[], 5, 5).is_err());
    }
}
