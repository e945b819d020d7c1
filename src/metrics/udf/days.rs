//! Day sets and day tallies: a client's or a user's whole history of local
//! days folded into a few bytes, so that every window of a run becomes a
//! count over one small row per client or user instead of a distinct count
//! over millions of events.
//!
//! - `day_set(day)` (aggregate, DATE in): the set of days seen, as BINARY
//!   (a bitmap); over BINARY day sets it is their union.
//! - `days_in(set, from, to)`: how many of the set's days fall in
//!   `[from, to)`.
//! - `day_tally(day)` (aggregate, DATE in): how many rows fell on each day,
//!   as BINARY.
//! - `tally_in(tally, from, to)`: the rows counted on the days of
//!   `[from, to)`.
//!
//! NULL days are ignored; a group with none gives NULL, and `days_in` or
//! `tally_in` of NULL is NULL. The bytes are a plain little-endian layout
//! (an `i32` first cell, then the cells), never read by anything but these
//! functions, and checked when read: a value that is not one is an error,
//! not a wrong count. Sets and tallies are order-independent (a union, a
//! sum of integers), so a figure made from them is the same whatever order
//! the rows arrive in.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Int64Array};
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, FieldRef};
use datafusion::common::{Result, exec_err};

use super::fold::{Fold, FoldAccumulator, FoldGroups};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, GroupsAccumulator, ScalarFunctionArgs,
    ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

/// The widest span of days one set or tally may cover (about 200 years):
/// beyond it a stray date (year 1 beside 2026) would make every group's
/// value huge, so it is an error instead.
const MAX_SPAN_DAYS: i64 = 73_000;

/// What a set or a tally holds per cell: a set 64 days per `u64` (one bit
/// a day), a tally one day per `u32` (its count).
trait Cell: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    const BYTES: usize;
    /// Days per cell.
    const DAYS: i64;
    /// The function's name, for errors.
    const NAME: &'static str;
    /// The cell holding `day`, and what one row on that day adds to it.
    fn locate(day: i32) -> (i64, Self);
    /// Adds `other` into `self`; an error if a count overflows.
    fn combine(&mut self, other: Self) -> Result<()>;
    fn write(self, out: &mut Vec<u8>);
    fn read(bytes: &[u8]) -> Option<Self>;
    /// What the cell counts of the days `first..first + DAYS` that lie in
    /// `[from, to)`.
    fn count_in(self, first: i64, from: i64, to: i64) -> i64;
}

/// 64 days a cell, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bits(u64);

impl Cell for Bits {
    const BYTES: usize = 8;
    const DAYS: i64 = 64;
    const NAME: &'static str = "day_set";
    fn locate(day: i32) -> (i64, Self) {
        let day = i64::from(day);
        (day.div_euclid(64), Bits(1 << day.rem_euclid(64)))
    }
    fn combine(&mut self, other: Self) -> Result<()> {
        self.0 |= other.0;
        Ok(())
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(Bits(u64::from_le_bytes(bytes.try_into().ok()?)))
    }
    fn count_in(self, first: i64, from: i64, to: i64) -> i64 {
        let low = (from - first).clamp(0, 64);
        let high = (to - first).clamp(0, 64);
        if low >= high {
            return 0;
        }
        // Bits low..high: all ones shifted into place (64 is the whole word).
        let width = high - low;
        let mask = if width == 64 {
            u64::MAX
        } else {
            ((1u64 << width) - 1) << low
        };
        i64::from((self.0 & mask).count_ones())
    }
}

/// One day a cell, its count of rows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Count(u32);

impl Cell for Count {
    const BYTES: usize = 4;
    const DAYS: i64 = 1;
    const NAME: &'static str = "day_tally";
    fn locate(day: i32) -> (i64, Self) {
        (i64::from(day), Count(1))
    }
    fn combine(&mut self, other: Self) -> Result<()> {
        match self.0.checked_add(other.0) {
            Some(sum) => {
                self.0 = sum;
                Ok(())
            }
            None => exec_err!("day_tally(): more than {} rows on one day", u32::MAX),
        }
    }
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
    fn read(bytes: &[u8]) -> Option<Self> {
        Some(Count(u32::from_le_bytes(bytes.try_into().ok()?)))
    }
    fn count_in(self, first: i64, from: i64, to: i64) -> i64 {
        if from <= first && first < to {
            i64::from(self.0)
        } else {
            0
        }
    }
}

/// The cells from cell index `first` on; empty when no day was seen.
#[derive(Debug, Clone, Default, PartialEq)]
struct Span<C> {
    first: i64,
    cells: Vec<C>,
}

impl<C: Cell> Span<C> {
    /// Adds `value` into cell `index`, growing the span either way.
    fn add(&mut self, index: i64, value: C) -> Result<()> {
        if self.cells.is_empty() {
            self.first = index;
        }
        let last = self.first + self.cells.len() as i64 - 1;
        let (low, high) = (self.first.min(index), last.max(index));
        if (high - low + 1) * C::DAYS > MAX_SPAN_DAYS {
            return exec_err!(
                "{}(): the days of one group span more than {MAX_SPAN_DAYS} days",
                C::NAME
            );
        }
        if index < self.first {
            let before = usize::try_from(self.first - index).unwrap_or(0);
            self.cells
                .splice(0..0, std::iter::repeat_n(C::default(), before));
            self.first = index;
        } else if index > last || self.cells.is_empty() {
            let len = usize::try_from(index - self.first + 1).unwrap_or(0);
            self.cells.resize(len, C::default());
        }
        let at = usize::try_from(index - self.first).unwrap_or(0);
        match self.cells.get_mut(at) {
            Some(cell) => cell.combine(value),
            None => exec_err!("{}(): a day fell outside its own span", C::NAME),
        }
    }

    fn merge(&mut self, other: &Span<C>) -> Result<()> {
        for (offset, cell) in other.cells.iter().enumerate() {
            self.add(other.first + offset as i64, *cell)?;
        }
        Ok(())
    }

    /// The layout: `first` as an `i32`, then each cell.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.first as i32).to_le_bytes());
        for cell in &self.cells {
            cell.write(out);
        }
    }

    /// `None` when `bytes` is not a value of this kind.
    fn decode(bytes: &[u8]) -> Option<Span<C>> {
        let (first, cells) = bytes.split_first_chunk::<4>()?;
        if cells.is_empty() || cells.len() % C::BYTES != 0 {
            return None;
        }
        Some(Span {
            first: i64::from(i32::from_le_bytes(*first)),
            cells: cells.chunks(C::BYTES).map(C::read).collect::<Option<_>>()?,
        })
    }

    /// What the value counts in the days `[from, to)`, straight from its
    /// bytes.
    fn count_bytes(bytes: &[u8], from: i64, to: i64) -> Option<i64> {
        let (first, cells) = bytes.split_first_chunk::<4>()?;
        if cells.is_empty() || cells.len() % C::BYTES != 0 {
            return None;
        }
        let first = i64::from(i32::from_le_bytes(*first));
        let mut total = 0;
        for (offset, cell) in cells.chunks(C::BYTES).enumerate() {
            let day = (first + offset as i64) * C::DAYS;
            if day + C::DAYS <= from {
                continue;
            }
            if day >= to {
                break;
            }
            total += C::read(cell)?.count_in(day, from, to);
        }
        Some(total)
    }

    fn heap_bytes(&self) -> usize {
        self.cells.capacity() * std::mem::size_of::<C>()
    }
}

/// The error for bytes that are not a value `C::NAME` made, in `function`.
fn not_a_value<C: Cell>(function: &str) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!(
        "{function}(): a value is not one {} made",
        C::NAME
    ))
}

/// Folds a batch of DATE (or BINARY values to merge) into the spans of
/// `group` per row.
fn fold<C: Cell>(
    spans: &mut [Span<C>],
    values: &ArrayRef,
    groups: impl Iterator<Item = usize>,
    filter: Option<&BooleanArray>,
) -> Result<()> {
    let kept = |row: usize| super::fold::kept(filter, row);
    match values.data_type() {
        DataType::Date32 => {
            let days = values.as_primitive::<Date32Type>();
            for (row, group) in groups.enumerate() {
                if days.is_null(row) || !kept(row) {
                    continue;
                }
                let (index, value) = C::locate(days.value(row));
                if let Some(span) = spans.get_mut(group) {
                    span.add(index, value)?;
                }
            }
        }
        DataType::Binary => {
            let bytes = values.as_binary::<i32>();
            for (row, group) in groups.enumerate() {
                if bytes.is_null(row) || !kept(row) {
                    continue;
                }
                let other =
                    Span::<C>::decode(bytes.value(row)).ok_or_else(|| not_a_value::<C>(C::NAME))?;
                if let Some(span) = spans.get_mut(group) {
                    span.merge(&other)?;
                }
            }
        }
        other => return exec_err!("{}() takes a DATE, not {other}", C::NAME),
    }
    Ok(())
}

/// A group's days: DATEs, or the values of the same function to merge.
impl<C: Cell> Fold for Span<C> {
    fn fold(
        target: &mut [Span<C>],
        values: &[ArrayRef],
        groups: impl Iterator<Item = usize>,
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        let [values] = values else {
            return exec_err!("{}() takes 1 argument", C::NAME);
        };
        fold(target, values, groups, filter)
    }

    fn encode(&mut self, out: &mut Vec<u8>) -> bool {
        if self.cells.is_empty() {
            return false;
        }
        Span::encode(self, out);
        true
    }

    fn heap_bytes(&self) -> usize {
        Span::heap_bytes(self)
    }
}

/// `day_set(day)` or `day_tally(day)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DayFold {
    signature: Signature,
    tally: bool,
}

impl DayFold {
    /// `day_set(day)`: the set of days; over day sets, their union.
    pub fn set() -> Self {
        DayFold {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Date32]),
                    TypeSignature::Exact(vec![DataType::Binary]),
                ],
                Volatility::Immutable,
            ),
            tally: false,
        }
    }

    /// `day_tally(day)`: rows per day; over tallies, their sum.
    pub fn tally() -> Self {
        DayFold {
            tally: true,
            ..DayFold::set()
        }
    }
}

impl AggregateUDFImpl for DayFold {
    fn name(&self) -> &str {
        if self.tally { Count::NAME } else { Bits::NAME }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, self.name()),
            DataType::Binary,
            true,
        ))])
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(if self.tally {
            Box::new(FoldAccumulator::<Span<Count>>::default())
        } else {
            Box::new(FoldAccumulator::<Span<Bits>>::default())
        })
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(if self.tally {
            Box::new(FoldGroups::<Span<Count>>::default())
        } else {
            Box::new(FoldGroups::<Span<Bits>>::default())
        })
    }
}

/// `days_in(set, from, to)` or `tally_in(tally, from, to)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CountIn {
    signature: Signature,
    tally: bool,
}

impl CountIn {
    /// `days_in(set, from, to)`: the set's days in `[from, to)`.
    pub fn days() -> Self {
        CountIn {
            signature: Signature::exact(
                vec![DataType::Binary, DataType::Date32, DataType::Date32],
                Volatility::Immutable,
            ),
            tally: false,
        }
    }

    /// `tally_in(tally, from, to)`: the rows counted on the days of
    /// `[from, to)`.
    pub fn tally() -> Self {
        CountIn {
            tally: true,
            ..CountIn::days()
        }
    }
}

impl ScalarUDFImpl for CountIn {
    fn name(&self) -> &str {
        if self.tally { "tally_in" } else { "days_in" }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [values, from, to] = arrays.as_slice() else {
            return exec_err!("{}(value, from, to) takes 3 arguments", self.name());
        };
        let values: &BinaryArray = values.as_binary::<i32>();
        let from = from.as_primitive::<Date32Type>();
        let to = to.as_primitive::<Date32Type>();
        let mut out = Vec::with_capacity(values.len());
        for row in 0..values.len() {
            if values.is_null(row) || from.is_null(row) || to.is_null(row) {
                out.push(None);
                continue;
            }
            let (bytes, low, high) = (
                values.value(row),
                i64::from(from.value(row)),
                i64::from(to.value(row)),
            );
            let counted = if self.tally {
                Span::<Count>::count_bytes(bytes, low, high)
                    .ok_or_else(|| not_a_value::<Count>(self.name()))?
            } else {
                Span::<Bits>::count_bytes(bytes, low, high)
                    .ok_or_else(|| not_a_value::<Bits>(self.name()))?
            };
            out.push(Some(counted));
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(out))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span<C: Cell>(days: &[i32]) -> Span<C> {
        let mut span = Span::default();
        for &day in days {
            let (index, value) = C::locate(day);
            span.add(index, value).unwrap();
        }
        span
    }

    fn count<C: Cell>(span: &Span<C>, from: i64, to: i64) -> i64 {
        let mut bytes = Vec::new();
        span.encode(&mut bytes);
        Span::<C>::count_bytes(&bytes, from, to).unwrap()
    }

    #[test]
    fn sets_count_each_day_once_in_half_open_ranges() {
        // Days on both sides of 0 and of word boundaries, one repeated.
        let days = [-65, -1, 0, 63, 64, 64, 127, 200];
        let set = span::<Bits>(&days);
        assert_eq!(count(&set, -1000, 1000), 7);
        assert_eq!(count(&set, 0, 64), 2);
        assert_eq!(count(&set, 64, 128), 2);
        assert_eq!(count(&set, -65, -64), 1);
        assert_eq!(count(&set, -64, 0), 1);
        assert_eq!(count(&set, 201, 300), 0);
        assert_eq!(count(&set, 10, 10), 0);
        assert_eq!(count(&set, 10, 5), 0);
        // Against a plain count of distinct days, over every range.
        let mut distinct = days.to_vec();
        distinct.dedup();
        for from in -70..210 {
            for to in [from + 1, from + 7, from + 28, from + 90] {
                let expected = distinct
                    .iter()
                    .filter(|&&d| i64::from(d) >= from && i64::from(d) < to)
                    .count() as i64;
                assert_eq!(count(&set, from, to), expected, "[{from}, {to})");
            }
        }
    }

    #[test]
    fn tallies_count_rows_per_day() {
        let tally = span::<Count>(&[5, 5, 5, 3, 9, -2]);
        assert_eq!(count(&tally, 5, 6), 3);
        assert_eq!(count(&tally, 3, 9), 4);
        assert_eq!(count(&tally, -10, 100), 6);
        assert_eq!(count(&tally, 6, 9), 0);
    }

    #[test]
    fn merging_gives_the_same_value_in_any_order() {
        let a = span::<Bits>(&[1, 2, 300]);
        let b = span::<Bits>(&[-50, 2, 70]);
        let mut ab = a.clone();
        ab.merge(&b).unwrap();
        let mut ba = b.clone();
        ba.merge(&a).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(ab, span::<Bits>(&[1, 2, 300, -50, 70]));
        let mut t = span::<Count>(&[1, 1]);
        t.merge(&span::<Count>(&[1, 4])).unwrap();
        assert_eq!(t, span::<Count>(&[1, 1, 1, 4]));
    }

    #[test]
    fn refuses_what_it_cannot_hold_or_read() {
        let mut set = span::<Bits>(&[0]);
        let (index, value) = Bits::locate(80_000);
        assert!(set.add(index, value).is_err());
        let mut full = Span {
            first: 0,
            cells: vec![Count(u32::MAX)],
        };
        assert!(full.add(0, Count(1)).is_err());
        assert!(Span::<Bits>::decode(&[1, 0, 0]).is_none());
        assert!(Span::<Bits>::decode(&[0, 0, 0, 0, 1]).is_none());
        assert!(Span::<Count>::count_bytes(&[0, 0, 0, 0], 0, 1).is_none());
        assert!(Span::<Count>::decode(&[0, 0, 0, 0, 7, 0, 0, 0]).is_some());
    }
}
