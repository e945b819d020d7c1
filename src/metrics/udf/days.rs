//! Day sets and day tallies: a client's or a user's whole history of local
//! days folded into a few bytes, so that every window of a run becomes a
//! count over one small row per client or user instead of a distinct count
//! over millions of events.
//!
//! - `day_set(day)` (aggregate, DATE in): the set of days seen, as BINARY
//!   (a bitmap); over BINARY day sets it is their union.
//! - `days_in(set, from, to)`: how many of the set's days fall in
//!   `[from, to)`.
//! - `sets_in_each(set, froms, tos)` and `days_in_each(set, froms, tos)`
//!   (aggregates, a set and two lists of DATEs in): every window at once,
//!   in one pass over the rows, where pairing each row with each window
//!   made a row per pair; for each place `i` of the lists, how many rows'
//!   sets have a day in `[froms[i], tos[i])`, or the sum of their days
//!   there, as a list of BIGINTs.
//! - `day_tally(day)` (aggregate, DATE in): how many rows fell on each day,
//!   as BINARY.
//! - `tally_in(tally, from, to)`: the rows counted on the days of
//!   `[from, to)`.
//! - `day_sets_by(key, day)` (aggregate, a string key and a DATE in): a
//!   day set per key, all in one BINARY value (a user's days per feature,
//!   in one row per user rather than a row per user and feature); over
//!   such values, their union key by key. NULL keys are ignored.
//! - `day_set_of(sets, key)`: the day set of the key named `key` in a
//!   `day_sets_by` value, as `day_set` makes one, for `days_in`; NULL when
//!   it has none.
//!
//! NULL days are ignored; a group with none gives NULL, and `days_in` or
//! `tally_in` of NULL is NULL. The bytes are a plain little-endian layout
//! (an `i32` first cell, then the cells), never read by anything but these
//! functions, and checked when read: a value that is not one is an error,
//! not a wrong count. Sets and tallies are order-independent (a union, a
//! sum of integers), so a figure made from them is the same whatever order
//! the rows arrive in.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayAccessor, ArrayRef, AsArray, BinaryArray, BinaryBuilder, BooleanArray, Int64Array,
    ListArray, PrimitiveArray, StringViewArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};

use smallvec::{SmallVec, smallvec};

use super::fold::{Fold, FoldAccumulator, FoldGroups};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, ColumnarValue, EmitTo, GroupsAccumulator, ScalarFunctionArgs,
    ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

/// Cells a set or tally holds in place, before it takes memory of its own.
const INLINE_CELLS: usize = 4;

/// Cells a [`KeyedSets`] holds in place: two or three cells per key.
const INLINE_KEYED_CELLS: usize = 8;

/// The memory `cells` takes beyond its own place: none while its cells
/// are held in place.
fn heap_bytes_of<A: smallvec::Array>(cells: &SmallVec<A>) -> usize {
    if cells.spilled() {
        cells.capacity() * std::mem::size_of::<A::Item>()
    } else {
        0
    }
}

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
/// A few cells are held in place (a user's day set over a run's 17 weeks
/// is two or three): a group's span is then read where the group is,
/// without a second, likely missed, cache line per row.
#[derive(Debug, Clone, Default, PartialEq)]
struct Span<C> {
    first: i64,
    cells: SmallVec<[C; INLINE_CELLS]>,
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
                .insert_many(0, std::iter::repeat_n(C::default(), before));
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
        // Straight to the cells that hold `[from, to)`: a tally has a cell
        // a day, and a client's spans every week of the trend and more,
        // while a window is four weeks of it.
        let count = (cells.len() / C::BYTES) as i64;
        let low = (from.div_euclid(C::DAYS) - first).clamp(0, count);
        let high = ((to - 1).div_euclid(C::DAYS) - first + 1).clamp(low, count);
        let mut total = 0;
        for offset in low..high {
            let day = (first + offset) * C::DAYS;
            let start = offset as usize * C::BYTES;
            total += C::read(cells.get(start..start + C::BYTES)?)?.count_in(day, from, to);
        }
        Some(total)
    }

    fn heap_bytes(&self) -> usize {
        heap_bytes_of(&self.cells)
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
    type Shared = ();

    fn fold(
        target: &mut [Span<C>],
        _shared: &mut (),
        values: &[ArrayRef],
        groups: impl Iterator<Item = usize>,
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        let [values] = values else {
            return exec_err!("{}() takes 1 argument", C::NAME);
        };
        fold(target, values, groups, filter)
    }

    fn encode(&mut self, _shared: &(), out: &mut Vec<u8>) -> bool {
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
        Ok(super::fold::state_fields(&args, self.name()))
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

/// `sets_in_each(set, froms, tos)` or `days_in_each(set, froms, tos)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct InEach {
    signature: Signature,
    /// Counts the sets with a day in each window, rather than their days.
    sets: bool,
}

impl InEach {
    /// `sets_in_each(set, froms, tos)`: for each position `i` of the
    /// lists, how many rows' sets have a day in `[froms[i], tos[i])`.
    pub fn sets() -> Self {
        InEach {
            signature: Signature::any(3, Volatility::Immutable),
            sets: true,
        }
    }

    /// `days_in_each(set, froms, tos)`: for each position `i`, the sum over
    /// the rows of `days_in(set, froms[i], tos[i])`.
    pub fn days() -> Self {
        InEach {
            sets: false,
            ..InEach::sets()
        }
    }

    fn function(&self) -> &'static str {
        if self.sets {
            "sets_in_each"
        } else {
            "days_in_each"
        }
    }

    fn groups(&self) -> InEachGroups {
        InEachGroups {
            sets: self.sets,
            name: self.function(),
            totals: Vec::new(),
        }
    }
}

/// The list of counts `sets_in_each` and `days_in_each` return, and
/// their one state field.
fn counts_type() -> DataType {
    DataType::new_list(DataType::Int64, true)
}

impl AggregateUDFImpl for InEach {
    fn name(&self) -> &str {
        self.function()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let dates = |kind: &DataType| matches!(kind, DataType::List(item) if item.data_type() == &DataType::Date32);
        match arg_types {
            [DataType::Binary, froms, tos] if dates(froms) && dates(tos) => Ok(counts_type()),
            _ => datafusion::common::plan_err!(
                "{}(set, froms, tos) takes a day set and two lists of DATEs, not {arg_types:?}",
                self.name()
            ),
        }
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            datafusion::logical_expr::utils::format_state_name(args.name, self.name()),
            counts_type(),
            true,
        ))])
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(InEachAccumulator(self.groups())))
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.groups()))
    }
}

/// Each group's counts so far, a place per window (as many places as the
/// longest lists seen).
#[derive(Debug)]
struct InEachGroups {
    sets: bool,
    name: &'static str,
    totals: Vec<Vec<i64>>,
}

impl InEachGroups {
    /// Group `group`'s totals, with at least `places` places.
    fn group_totals(&mut self, group: usize, places: usize) -> Result<&mut [i64]> {
        let Some(totals) = self.totals.get_mut(group) else {
            return exec_err!("{}(): a row of an unknown group", self.name);
        };
        if totals.len() < places {
            totals.resize(places, 0);
        }
        Ok(totals)
    }

    /// The groups `emit_to` takes, as a list of counts each.
    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        Ok(Arc::new(counts_list(emit_to.take_needed(&mut self.totals))))
    }
}

/// One list of counts per group, as `sets_in_each` and `days_in_each`
/// return them.
fn counts_list(groups: Vec<Vec<i64>>) -> ListArray {
    let lengths: Vec<usize> = groups.iter().map(Vec::len).collect();
    let values = Int64Array::from(groups.into_iter().flatten().collect::<Vec<i64>>());
    ListArray::new(
        Arc::new(Field::new_list_field(DataType::Int64, true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(values),
        None,
    )
}

/// Where row `row`'s values lie in `list.values()`.
fn places(list: &ListArray, row: usize) -> Option<std::ops::Range<usize>> {
    let offsets = list.value_offsets();
    let start = usize::try_from(*offsets.get(row)?).ok()?;
    let end = usize::try_from(*offsets.get(row + 1)?).ok()?;
    Some(start..end)
}

impl GroupsAccumulator for InEachGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let [sets, froms, tos] = values else {
            return exec_err!("{}(set, froms, tos) takes 3 arguments", self.name);
        };
        self.totals.resize_with(total_num_groups, Vec::new);
        let sets = sets.as_binary::<i32>();
        let (froms, tos) = (froms.as_list::<i32>(), tos.as_list::<i32>());
        // The lists' dates, reached through their offsets: a row's lists
        // are not made into arrays of their own.
        let (from_days, to_days) = (
            froms.values().as_primitive::<Date32Type>(),
            tos.values().as_primitive::<Date32Type>(),
        );
        for (row, group) in group_indices.iter().enumerate() {
            if sets.is_null(row)
                || froms.is_null(row)
                || tos.is_null(row)
                || !super::fold::kept(opt_filter, row)
            {
                continue;
            }
            let bytes = sets.value(row);
            let (Some(from_range), Some(to_range)) = (places(froms, row), places(tos, row)) else {
                return exec_err!("{}(): a list without its bounds", self.name);
            };
            if from_range.len() != to_range.len() {
                return exec_err!(
                    "{}(set, froms, tos): froms has {} dates and tos {}",
                    self.name,
                    from_range.len(),
                    to_range.len()
                );
            }
            let (sets_only, name) = (self.sets, self.name);
            let totals = self.group_totals(*group, from_range.len())?;
            for (total, (from, to)) in totals.iter_mut().zip(from_range.zip(to_range)) {
                if from_days.is_null(from) || to_days.is_null(to) {
                    continue;
                }
                let (low, high) = (
                    i64::from(from_days.value(from)),
                    i64::from(to_days.value(to)),
                );
                let days = Span::<Bits>::count_bytes(bytes, low, high)
                    .ok_or_else(|| not_a_value::<Bits>(name))?;
                let counted = if sets_only { i64::from(days > 0) } else { days };
                *total = add_count(*total, counted, name)?;
            }
        }
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let [states] = values else {
            return exec_err!("{}(): one state column expected", self.name);
        };
        self.totals.resize_with(total_num_groups, Vec::new);
        let states = states.as_list::<i32>();
        for (row, group) in group_indices.iter().enumerate() {
            if states.is_null(row) {
                continue;
            }
            let state = states.value(row);
            let state = state.as_primitive::<Int64Type>();
            let name = self.name;
            let totals = self.group_totals(*group, state.len())?;
            for (total, count) in totals.iter_mut().zip(state.iter()) {
                *total = add_count(*total, count.unwrap_or(0), name)?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.emit(emit_to)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(emit_to)?])
    }

    /// Each row as a group of its own: lets DataFusion skip the partial
    /// aggregation where it does not reduce the rows.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = values.first().map_or(0, |v| v.len());
        let mut each = InEachGroups {
            totals: Vec::new(),
            ..*self
        };
        let groups: Vec<usize> = (0..rows).collect();
        each.update_batch(values, &groups, opt_filter, rows)?;
        Ok(vec![each.emit(EmitTo::All)?])
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self.totals.capacity() * std::mem::size_of::<Vec<i64>>()
            + self
                .totals
                .iter()
                .map(|t| t.capacity() * std::mem::size_of::<i64>())
                .sum::<usize>()
    }
}

/// `total + count`; an error where it passes 2^63.
fn add_count(total: i64, count: i64, name: &str) -> Result<i64> {
    match total.checked_add(count) {
        Some(sum) => Ok(sum),
        None => exec_err!("{name}(): a count passes 2^63"),
    }
}

/// The same counts for a query without GROUP BY: one group.
#[derive(Debug)]
struct InEachAccumulator(InEachGroups);

impl Accumulator for InEachAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values.first().map_or(0, |v| v.len());
        self.0.update_batch(values, &vec![0; rows], None, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states.first().map_or(0, |v| v.len());
        self.0.merge_batch(states, &vec![0; rows], 1)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        // Evaluated without emptying: a group with no rows has no counts.
        let totals = self.0.totals.first().cloned().unwrap_or_default();
        Ok(ScalarValue::List(Arc::new(counts_list(vec![totals]))))
    }

    fn size(&self) -> usize {
        self.0.size()
    }
}

/// `day_sets_by`'s name, for errors.
const KEYED_NAME: &str = "day_sets_by";
/// The most keys one accumulator may see: keys are names from a short
/// list (the configured features); thousands would make every group's
/// value huge, so it is an error instead.
const MAX_KEYS: usize = 1024;

/// The keys an accumulator of `day_sets_by` has seen, in the order seen:
/// a group holds a key's set at the key's place here, not its name.
#[derive(Debug, Default)]
pub(super) struct KeyNames(Vec<Box<str>>);

impl KeyNames {
    /// The place of `key`, added if new.
    fn place(&mut self, key: &str) -> Result<usize> {
        if let Some(place) = self.0.iter().position(|known| known.as_ref() == key) {
            return Ok(place);
        }
        if self.0.len() >= MAX_KEYS {
            return exec_err!("{KEYED_NAME}(): more than {MAX_KEYS} keys");
        }
        if u16::try_from(key.len()).is_err() {
            return exec_err!("{KEYED_NAME}(): a key is longer than {} bytes", u16::MAX);
        }
        self.0.push(key.into());
        Ok(self.0.len() - 1)
    }
}

/// A group's day sets, one per key (`day_sets_by`), as one block of
/// bitmaps over a common span of cells: the set of the key at place `k`
/// of the accumulator's [`KeyNames`] is `cells[k * width ..][.. width]`,
/// from cell index `first` on. One allocation per group, whatever its
/// number of keys, and no name in it: the fold touches 100 M rows, and
/// every pointer a row follows is a likely cache miss.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct KeyedSets {
    first: i64,
    width: usize,
    cells: SmallVec<[u64; INLINE_KEYED_CELLS]>,
}

/// A written value: the first cell index, the cells per key, each key's
/// name in name order and the cells, key by key in the same order.
struct Written<'a> {
    first: i64,
    width: usize,
    names: Vec<&'a str>,
    cells: &'a [u8],
}

impl KeyedSets {
    fn keys(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    /// ORs `bits` into cell `index` of the set at `place`, growing the
    /// span or the places as needed.
    fn add(&mut self, place: usize, index: i64, bits: u64) -> Result<()> {
        if self.width == 0 {
            self.first = index;
            self.width = 1;
        }
        let last = self.first + self.width as i64 - 1;
        if index < self.first || index > last {
            let (low, high) = (self.first.min(index), last.max(index));
            if (high - low + 1) * Bits::DAYS > MAX_SPAN_DAYS {
                return exec_err!(
                    "{KEYED_NAME}(): the days of one group span more than {MAX_SPAN_DAYS} days"
                );
            }
            let width = usize::try_from(high - low + 1).unwrap_or(0);
            let shift = usize::try_from(self.first - low).unwrap_or(0);
            let mut cells: SmallVec<[u64; INLINE_KEYED_CELLS]> = smallvec![0; self.keys() * width];
            for (row, old) in self.cells.chunks(self.width).enumerate() {
                let at = row * width + shift;
                if let Some(target) = cells.get_mut(at..at + old.len()) {
                    target.copy_from_slice(old);
                }
            }
            self.first = low;
            self.width = width;
            self.cells = cells;
        }
        if place >= self.keys() {
            self.cells.resize((place + 1) * self.width, 0);
        }
        let at = place * self.width + usize::try_from(index - self.first).unwrap_or(0);
        match self.cells.get_mut(at) {
            Some(cell) => {
                *cell |= bits;
                Ok(())
            }
            None => exec_err!("{KEYED_NAME}(): a day fell outside its own span"),
        }
    }

    /// Adds a batch's (key, day) rows to the groups of `target`.
    fn fold_rows<'a>(
        target: &mut [KeyedSets],
        names: &mut KeyNames,
        keys: impl ArrayAccessor<Item = &'a str>,
        days: &PrimitiveArray<Date32Type>,
        groups: impl Iterator<Item = usize>,
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        // Rows of one key often come together: look the last one up once.
        let mut last: Option<(&str, usize)> = None;
        let place = |row: usize| -> Result<Option<usize>> {
            if keys.is_null(row) {
                return Ok(None);
            }
            let key = keys.value(row);
            match last {
                Some((known, place)) if known == key => Ok(Some(place)),
                _ => {
                    let place = names.place(key)?;
                    last = Some((key, place));
                    Ok(Some(place))
                }
            }
        };
        Self::fold_placed(target, place, days, groups, filter)
    }

    /// [`Self::fold_rows`] over a string-view column. A key of at most 12
    /// bytes is held whole in its row's view, so rows are matched to the
    /// keys seen by their view (one `u128`), not by their text: the
    /// configured features are short, and come in no order.
    fn fold_views(
        target: &mut [KeyedSets],
        names: &mut KeyNames,
        keys: &StringViewArray,
        days: &PrimitiveArray<Date32Type>,
        groups: impl Iterator<Item = usize>,
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        let views = keys.views();
        let mut seen: Vec<(u128, usize)> = Vec::new();
        let place = |row: usize| -> Result<Option<usize>> {
            let Some(&view) = views.get(row).filter(|_| keys.is_valid(row)) else {
                return Ok(None);
            };
            // The view's low 32 bits are the key's length.
            if view as u32 > 12 {
                return names.place(keys.value(row)).map(Some);
            }
            if let Some(&(_, place)) = seen.iter().find(|(known, _)| *known == view) {
                return Ok(Some(place));
            }
            let place = names.place(keys.value(row))?;
            seen.push((view, place));
            Ok(Some(place))
        };
        Self::fold_placed(target, place, days, groups, filter)
    }

    /// Adds a batch's rows to the groups of `target`: row `i`'s day to the
    /// set at the place `place(i)` gives (none for a NULL key).
    fn fold_placed(
        target: &mut [KeyedSets],
        mut place: impl FnMut(usize) -> Result<Option<usize>>,
        days: &PrimitiveArray<Date32Type>,
        groups: impl Iterator<Item = usize>,
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        for (row, group) in groups.enumerate() {
            if days.is_null(row) || !super::fold::kept(filter, row) {
                continue;
            }
            let Some(place) = place(row)? else {
                continue;
            };
            let (index, Bits(bits)) = Bits::locate(days.value(row));
            if let Some(sets) = target.get_mut(group) {
                sets.add(place, index, bits)?;
            }
        }
        Ok(())
    }

    /// Reads a written value; `None` for bytes that are not one.
    fn read(bytes: &[u8]) -> Option<Written<'_>> {
        let (first, rest) = bytes.split_first_chunk::<4>()?;
        let (width, rest) = rest.split_first_chunk::<4>()?;
        let (keys, mut rest) = rest.split_first_chunk::<4>()?;
        let width = usize::try_from(u32::from_le_bytes(*width)).ok()?;
        let keys = usize::try_from(u32::from_le_bytes(*keys)).ok()?;
        if width == 0 || keys == 0 || keys > MAX_KEYS {
            return None;
        }
        let mut names = Vec::with_capacity(keys);
        for _ in 0..keys {
            let (len, after) = rest.split_first_chunk::<2>()?;
            let (name, after) = after.split_at_checked(usize::from(u16::from_le_bytes(*len)))?;
            names.push(std::str::from_utf8(name).ok()?);
            rest = after;
        }
        let expected = width.checked_mul(keys)?.checked_mul(Bits::BYTES)?;
        if rest.len() != expected {
            return None;
        }
        Some(Written {
            first: i64::from(i32::from_le_bytes(*first)),
            width,
            names,
            cells: rest,
        })
    }

    /// Key `key`'s set in a written value, as `day_set` writes one (its
    /// empty cells at either end left out); `Ok(false)`, writing nothing,
    /// when the key has no day; `Err` for bytes that are not such a value.
    fn set_of(bytes: &[u8], key: &str, out: &mut Vec<u8>) -> std::result::Result<bool, ()> {
        let written = Self::read(bytes).ok_or(())?;
        let Some(at) = written.names.iter().position(|name| *name == key) else {
            return Ok(false);
        };
        let row = written.width * Bits::BYTES;
        let own = written.cells.get(at * row..(at + 1) * row).ok_or(())?;
        let words: Vec<&[u8]> = own.chunks(Bits::BYTES).collect();
        let used = |word: &&[u8]| word.iter().any(|&byte| byte != 0);
        let (Some(low), Some(high)) = (words.iter().position(used), words.iter().rposition(used))
        else {
            return Ok(false);
        };
        out.extend_from_slice(&((written.first + low as i64) as i32).to_le_bytes());
        for word in &words[low..=high] {
            out.extend_from_slice(word);
        }
        Ok(true)
    }
}

fn not_keyed_sets(function: &str) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!(
        "{function}(): a value is not one {KEYED_NAME} made"
    ))
}

/// A group's day sets by key: (key, DATE) rows, or the values of the same
/// function to merge.
impl Fold for KeyedSets {
    type Shared = KeyNames;

    fn fold(
        target: &mut [KeyedSets],
        names: &mut KeyNames,
        values: &[ArrayRef],
        groups: impl Iterator<Item = usize>,
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        match values {
            [keys, days] => {
                let Some(days) = days.as_primitive_opt::<Date32Type>() else {
                    return exec_err!("{KEYED_NAME}(key, day) takes a DATE day");
                };
                match keys.data_type() {
                    DataType::Utf8View => {
                        let keys = keys.as_string_view();
                        Self::fold_views(target, names, keys, days, groups, filter)
                    }
                    DataType::Utf8 => {
                        let keys = keys.as_string::<i32>();
                        Self::fold_rows(target, names, keys, days, groups, filter)
                    }
                    DataType::LargeUtf8 => {
                        let keys = keys.as_string::<i64>();
                        Self::fold_rows(target, names, keys, days, groups, filter)
                    }
                    other => exec_err!("{KEYED_NAME}(key, day) takes a string key, not {other}"),
                }
            }
            [merged] => {
                let Some(bytes) = merged.as_binary_opt::<i32>() else {
                    return exec_err!("{KEYED_NAME}() merges BINARY values");
                };
                for (row, group) in groups.enumerate() {
                    if bytes.is_null(row) || !super::fold::kept(filter, row) {
                        continue;
                    }
                    let Some(sets) = target.get_mut(group) else {
                        continue;
                    };
                    let written = KeyedSets::read(bytes.value(row))
                        .ok_or_else(|| not_keyed_sets(KEYED_NAME))?;
                    let places = written
                        .names
                        .iter()
                        .map(|name| names.place(name))
                        .collect::<Result<Vec<usize>>>()?;
                    for (at, cell) in written.cells.chunks(Bits::BYTES).enumerate() {
                        let Some(Bits(bits)) = Bits::read(cell) else {
                            return Err(not_keyed_sets(KEYED_NAME));
                        };
                        let Some(&place) = places.get(at / written.width) else {
                            return Err(not_keyed_sets(KEYED_NAME));
                        };
                        if bits != 0 {
                            sets.add(place, written.first + (at % written.width) as i64, bits)?;
                        }
                    }
                }
                Ok(())
            }
            _ => exec_err!("{KEYED_NAME}(key, day) takes 2 arguments"),
        }
    }

    /// The layout: the first cell index as an `i32`; the cells per key
    /// and the keys as `u32`s; each key's name (its length as a `u16`,
    /// then its UTF-8 bytes) in name order; then each key's cells in the
    /// same order. Only keys with a day are written, so the value is the
    /// same whatever order the rows (and so the keys) arrived in.
    fn encode(&mut self, names: &KeyNames, out: &mut Vec<u8>) -> bool {
        let mut written: Vec<(&str, &[u64])> = self
            .cells
            .chunks(self.width.max(1))
            .enumerate()
            .filter(|(_, row)| row.iter().any(|&cell| cell != 0))
            .filter_map(|(place, row)| Some((names.0.get(place)?.as_ref(), row)))
            .collect();
        if written.is_empty() {
            return false;
        }
        written.sort_unstable_by_key(|(name, _)| *name);
        out.extend_from_slice(&(self.first as i32).to_le_bytes());
        out.extend_from_slice(&(self.width as u32).to_le_bytes());
        out.extend_from_slice(&(written.len() as u32).to_le_bytes());
        for (name, _) in &written {
            // KeyNames::place refused names longer than a u16.
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
        }
        for (_, row) in &written {
            for cell in *row {
                out.extend_from_slice(&cell.to_le_bytes());
            }
        }
        true
    }

    fn heap_bytes(&self) -> usize {
        heap_bytes_of(&self.cells)
    }
}

/// `day_sets_by(key, day)`: a day set per key; over its values, their
/// union key by key.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DaySetsBy {
    signature: Signature,
}

/// The string types a key may be.
const KEY_TYPES: [DataType; 3] = [DataType::Utf8, DataType::Utf8View, DataType::LargeUtf8];

impl Default for DaySetsBy {
    fn default() -> Self {
        let by_key = KEY_TYPES
            .into_iter()
            .map(|key| TypeSignature::Exact(vec![key, DataType::Date32]));
        DaySetsBy {
            signature: Signature::one_of(
                by_key
                    .chain([TypeSignature::Exact(vec![DataType::Binary])])
                    .collect(),
                Volatility::Immutable,
            ),
        }
    }
}

impl AggregateUDFImpl for DaySetsBy {
    fn name(&self) -> &str {
        KEYED_NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(super::fold::state_fields(&args, self.name()))
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(FoldAccumulator::<KeyedSets>::default()))
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(FoldGroups::<KeyedSets>::default()))
    }
}

/// `day_set_of(sets, key)`: the day set of the key named `key` in a
/// `day_sets_by` value, NULL when it has no day.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DaySetOf {
    signature: Signature,
}

impl Default for DaySetOf {
    fn default() -> Self {
        let by_key = KEY_TYPES
            .into_iter()
            .map(|key| TypeSignature::Exact(vec![DataType::Binary, key]))
            .collect();
        DaySetOf {
            signature: Signature::one_of(by_key, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DaySetOf {
    fn name(&self) -> &str {
        "day_set_of"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [sets, keys] = arrays.as_slice() else {
            return exec_err!("day_set_of(sets, key) takes 2 arguments");
        };
        let Some(sets) = sets.as_binary_opt::<i32>() else {
            return exec_err!("day_set_of(sets, key) takes BINARY sets");
        };
        // Every string type, as one: keys are a handful of short names.
        let keys = datafusion::arrow::compute::cast(keys, &DataType::Utf8)?;
        let Some(keys) = keys.as_string_opt::<i32>() else {
            return exec_err!("day_set_of(sets, key) takes a string key");
        };
        let mut out = BinaryBuilder::with_capacity(sets.len(), sets.len() * 28);
        let mut set = Vec::new();
        for row in 0..sets.len() {
            set.clear();
            let found = !sets.is_null(row)
                && !keys.is_null(row)
                && KeyedSets::set_of(sets.value(row), keys.value(row), &mut set)
                    .map_err(|()| not_keyed_sets(self.name()))?;
            if found {
                out.append_value(&set);
            } else {
                out.append_null();
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
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

    /// The counts of `sets_in_each` and `days_in_each` per group, as lists.
    fn totals(array: &ArrayRef) -> Vec<Vec<i64>> {
        let lists = array.as_list::<i32>();
        (0..lists.len())
            .map(|row| {
                let counts = lists.value(row);
                counts.as_primitive::<Int64Type>().values().to_vec()
            })
            .collect()
    }

    #[test]
    fn counts_in_each_window_are_the_same_grouped_merged_or_row_by_row() {
        use datafusion::arrow::array::{Date32Array, ListArray};
        let sets = [
            span::<Bits>(&[0, 5, 6, 70]),
            span::<Bits>(&[13, 64]),
            span::<Bits>(&[200]),
        ];
        let mut bytes = BinaryBuilder::new();
        for set in &sets {
            let mut value = Vec::new();
            set.encode(&mut value);
            bytes.append_value(value);
        }
        bytes.append_null();
        let rows = sets.len() + 1;
        let (froms, tos) = ([0, 7, 64], [7, 14, 71]);
        let list = |days: [i32; 3]| -> ArrayRef {
            let values = Date32Array::from(days.repeat(rows));
            Arc::new(ListArray::new(
                Arc::new(Field::new_list_field(DataType::Date32, true)),
                OffsetBuffer::from_lengths(std::iter::repeat_n(3, rows)),
                Arc::new(values),
                None,
            ))
        };
        let values: Vec<ArrayRef> = vec![Arc::new(bytes.finish()), list(froms), list(tos)];
        // The windows [0, 7), [7, 14) and [64, 71): the first set has 3, 0
        // and 1 days in them, the second 0, 1 and 1, the third none; the
        // NULL set is no row.
        for (sets_only, expected) in [(true, vec![1, 1, 2]), (false, vec![3, 1, 2])] {
            let each = if sets_only {
                InEach::sets()
            } else {
                InEach::days()
            };
            // Rows 0 and 2 in group 0, row 1 in group 1.
            let mut grouped = each.groups();
            grouped
                .update_batch(&values, &[0, 1, 0, 0], None, 2)
                .unwrap();
            let by_group = totals(&grouped.evaluate(EmitTo::All).unwrap());
            let mut summed = by_group[0].clone();
            for (total, count) in summed.iter_mut().zip(&by_group[1]) {
                *total += count;
            }
            assert_eq!(summed, expected);
            // Each row's own state, merged into one group.
            let mut merged = each.groups();
            let states = merged.convert_to_state(&values, None).unwrap();
            assert_eq!(totals(&states[0]).len(), rows);
            merged.merge_batch(&states, &[0; 4], 1).unwrap();
            assert_eq!(
                totals(&merged.evaluate(EmitTo::All).unwrap()),
                [expected.as_slice()]
            );
            // One group, without GROUP BY.
            let mut single = InEachAccumulator(each.groups());
            single.update_batch(&values).unwrap();
            let ScalarValue::List(list) = single.evaluate().unwrap() else {
                panic!("a list");
            };
            assert_eq!(totals(&(list as ArrayRef)), [expected]);
        }
    }

    #[test]
    fn tallies_count_rows_per_day() {
        let tally = span::<Count>(&[5, 5, 5, 3, 9, -2]);
        assert_eq!(count(&tally, 5, 6), 3);
        assert_eq!(count(&tally, 3, 9), 4);
        assert_eq!(count(&tally, -10, 100), 6);
        assert_eq!(count(&tally, 6, 9), 0);
        assert_eq!(count(&tally, 9, 9), 0);
        assert_eq!(count(&tally, 9, 3), 0);
        // Against a plain count of rows, over every range: ranges that
        // start before the first day, end after the last, or miss them.
        let rows = [5, 5, 5, 3, 9, -2, 40, 41, 41];
        let tally = span::<Count>(&rows);
        for from in -10..50 {
            for to in [from + 1, from + 2, from + 7, from + 28] {
                let expected = rows
                    .iter()
                    .filter(|&&d| i64::from(d) >= from && i64::from(d) < to)
                    .count() as i64;
                assert_eq!(count(&tally, from, to), expected, "[{from}, {to})");
            }
        }
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

    /// The value of `rows` (key, day), folded in one batch.
    fn encoded(rows: &[(&str, i32)]) -> Vec<u8> {
        let keys: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(
            rows.iter().map(|(key, _)| *key).collect::<Vec<_>>(),
        ));
        let days: ArrayRef = Arc::new(datafusion::arrow::array::Date32Array::from(
            rows.iter().map(|(_, day)| *day).collect::<Vec<_>>(),
        ));
        let mut groups = vec![KeyedSets::default()];
        let mut names = KeyNames::default();
        KeyedSets::fold(
            &mut groups,
            &mut names,
            &[keys, days],
            std::iter::repeat_n(0, rows.len()),
            None,
        )
        .unwrap();
        let mut bytes = Vec::new();
        assert!(groups[0].encode(&names, &mut bytes));
        bytes
    }

    /// Key `key`'s days in `[from, to)`, through `day_set_of`'s bytes;
    /// `None` when it has none.
    fn key_days(bytes: &[u8], key: &str, from: i64, to: i64) -> Option<i64> {
        let mut set = Vec::new();
        KeyedSets::set_of(bytes, key, &mut set)
            .unwrap()
            .then(|| Span::<Bits>::count_bytes(&set, from, to).unwrap())
    }

    #[test]
    fn keyed_sets_hold_each_keys_days_whatever_the_order() {
        // Two keys, days either side of 0 and of a word boundary, one
        // repeated, one far later.
        let rows = [
            ("api", 3),
            ("alerts", 3),
            ("api", 70),
            ("api", 3),
            ("alerts", -5),
            ("api", 300),
        ];
        let mut reversed = rows;
        reversed.reverse();
        let bytes = encoded(&rows);
        assert_eq!(bytes, encoded(&reversed));
        assert_eq!(key_days(&bytes, "alerts", -1000, 1000), Some(2));
        assert_eq!(key_days(&bytes, "alerts", 0, 64), Some(1));
        assert_eq!(key_days(&bytes, "api", -1000, 1000), Some(3));
        assert_eq!(key_days(&bytes, "api", 64, 300), Some(1));
        assert_eq!(key_days(&bytes, "reports", -1000, 1000), None);
        // A key's set is the set day_set makes of its days.
        let mut set = Vec::new();
        assert!(KeyedSets::set_of(&bytes, "api", &mut set).unwrap());
        let mut alone = Vec::new();
        span::<Bits>(&[3, 70, 300]).encode(&mut alone);
        assert_eq!(set, alone);
        // Merging two halves, whose accumulators saw the keys in other
        // orders, gives the value of all the rows.
        let halves: ArrayRef = Arc::new(BinaryArray::from(vec![
            encoded(&rows[3..]).as_slice(),
            encoded(&rows[..3]).as_slice(),
        ]));
        let mut merged = vec![KeyedSets::default()];
        let mut names = KeyNames::default();
        KeyedSets::fold(&mut merged, &mut names, &[halves], [0, 0].into_iter(), None).unwrap();
        let mut again = Vec::new();
        assert!(merged[0].encode(&names, &mut again));
        assert_eq!(again, bytes);
        // A group without rows is NULL.
        assert!(!KeyedSets::default().encode(&KeyNames::default(), &mut Vec::new()));
    }

    #[test]
    fn keyed_sets_of_string_views_match_those_of_strings() {
        // Keys held whole in their views (up to 12 bytes) and not (13 and
        // more, two sharing their first 12), a NULL, in three groups.
        let keys = [
            Some("api"),
            Some("dashboards-v2"),
            None,
            Some("dashboards-v3"),
            Some("api"),
            Some("twelve-bytes"),
            Some("dashboards-v2"),
            Some(""),
        ];
        let days = [3, 4, 5, 70, 71, -2, 300, 9];
        let groups = [0, 1, 2, 0, 1, 2, 0, 1];
        let fold_with = |keys: ArrayRef| {
            let days: ArrayRef =
                Arc::new(datafusion::arrow::array::Date32Array::from(days.to_vec()));
            let mut sets = vec![KeyedSets::default(); 3];
            let mut names = KeyNames::default();
            KeyedSets::fold(
                &mut sets,
                &mut names,
                &[keys, days],
                groups.into_iter(),
                None,
            )
            .unwrap();
            sets.iter_mut()
                .map(|set| {
                    let mut bytes = Vec::new();
                    set.encode(&names, &mut bytes).then_some(bytes)
                })
                .collect::<Vec<_>>()
        };
        let texts = fold_with(Arc::new(datafusion::arrow::array::StringArray::from(
            keys.to_vec(),
        )));
        let views = fold_with(Arc::new(StringViewArray::from(keys.to_vec())));
        assert_eq!(views, texts);
        let first = views[0].as_deref().unwrap();
        assert_eq!(key_days(first, "dashboards-v2", -1000, 1000), Some(1));
        assert_eq!(key_days(first, "dashboards-v3", -1000, 1000), Some(1));
        assert_eq!(key_days(first, "api", -1000, 1000), Some(1));
        let second = views[1].as_deref().unwrap();
        assert_eq!(key_days(second, "", -1000, 1000), Some(1));
    }

    #[test]
    fn keyed_sets_refuse_what_they_cannot_hold_or_read() {
        let mut names = KeyNames::default();
        for key in 0..MAX_KEYS {
            names.place(&key.to_string()).unwrap();
        }
        assert!(names.place("one too many").is_err());
        assert!(names.place("7").is_ok());
        let mut sets = KeyedSets::default();
        assert!(sets.add(0, 0, 1).is_ok());
        assert!(sets.add(0, 80_000 / 64, 1).is_err());
        let bytes = encoded(&[("a", 1), ("b", 100)]);
        for cut in 0..bytes.len() {
            assert!(
                KeyedSets::set_of(&bytes[..cut], "a", &mut Vec::new()).is_err(),
                "{cut}"
            );
        }
        assert!(KeyedSets::set_of(&bytes, "b", &mut Vec::new()).unwrap());
    }

    #[test]
    fn refuses_what_it_cannot_hold_or_read() {
        let mut set = span::<Bits>(&[0]);
        let (index, value) = Bits::locate(80_000);
        assert!(set.add(index, value).is_err());
        let mut full = Span {
            first: 0,
            cells: smallvec![Count(u32::MAX)],
        };
        assert!(full.add(0, Count(1)).is_err());
        assert!(Span::<Bits>::decode(&[1, 0, 0]).is_none());
        assert!(Span::<Bits>::decode(&[0, 0, 0, 0, 1]).is_none());
        assert!(Span::<Count>::count_bytes(&[0, 0, 0, 0], 0, 1).is_none());
        assert!(Span::<Count>::decode(&[0, 0, 0, 0, 7, 0, 0, 0]).is_some());
    }
}
