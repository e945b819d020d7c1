//! Sums and means of floating-point values that do not depend on the
//! order the rows arrive in.
//!
//! DataFusion adds `DOUBLE`s in whatever order its partitions deliver
//! them, and floating-point addition is not associative: the same query
//! over the same files gave 66978.8441437771 one run and 66978.84414377708
//! the next (CLV at scale 160). A report must be bit-identical run to run,
//! so [`ExactFloat`] takes the place of the built-in `sum` and `avg`: for
//! `DOUBLE` input it adds every value exactly (in a fixed-point integer
//! wide enough for any `f64`) and rounds once at the end, which gives the
//! correctly rounded sum whatever the order. Every other input type
//! (integers, decimals, intervals) and `DISTINCT` go to the built-in
//! function unchanged.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, ReversedUDAF, Signature,
};

/// `sum` or `avg`: exact over `DOUBLE`, the built-in otherwise.
#[derive(Debug)]
pub struct ExactFloat {
    /// The built-in function this one stands in for.
    builtin: Arc<dyn AggregateUDFImpl>,
    /// `avg` (the exact sum over the count) rather than `sum`.
    mean: bool,
}

impl ExactFloat {
    /// Stands in for the built-in `sum`.
    pub fn sum() -> Self {
        ExactFloat {
            builtin: Arc::clone(datafusion::functions_aggregate::sum::sum_udaf().inner()),
            mean: false,
        }
    }

    /// Stands in for the built-in `avg` (and its alias `mean`).
    pub fn avg() -> Self {
        ExactFloat {
            builtin: Arc::clone(datafusion::functions_aggregate::average::avg_udaf().inner()),
            mean: true,
        }
    }

    /// Whether these arguments take the exact path.
    fn exact(&self, args: &AccumulatorArgs) -> bool {
        takes_exact(
            args.is_distinct,
            args.expr_fields,
            args.return_field.data_type(),
        )
    }
}

/// DOUBLE in and out, without DISTINCT: the calls summed exactly.
fn takes_exact(is_distinct: bool, inputs: &[FieldRef], output: &DataType) -> bool {
    !is_distinct
        && output == &DataType::Float64
        && inputs
            .first()
            .is_some_and(|field| field.data_type() == &DataType::Float64)
}

impl PartialEq for ExactFloat {
    fn eq(&self, other: &Self) -> bool {
        self.mean == other.mean
    }
}

impl Eq for ExactFloat {}

impl std::hash::Hash for ExactFloat {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.mean.hash(state);
    }
}

impl AggregateUDFImpl for ExactFloat {
    fn name(&self) -> &str {
        self.builtin.name()
    }
    fn aliases(&self) -> &[String] {
        self.builtin.aliases()
    }
    fn signature(&self) -> &Signature {
        self.builtin.signature()
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.builtin.coerce_types(arg_types)
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.builtin.return_type(arg_types)
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if self.exact(&args) {
            Ok(Box::new(ExactAccumulator::new(self.mean)))
        } else {
            self.builtin.accumulator(args)
        }
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        if takes_exact(
            args.is_distinct,
            args.input_fields,
            args.return_field.data_type(),
        ) {
            Ok(vec![Arc::new(Field::new(
                format_state_name(args.name, "exact_sum"),
                DataType::Binary,
                true,
            ))])
        } else {
            self.builtin.state_fields(args)
        }
    }
    fn groups_accumulator_supported(&self, args: AccumulatorArgs) -> bool {
        self.exact(&args) || self.builtin.groups_accumulator_supported(args)
    }
    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        if self.exact(&args) {
            Ok(Box::new(ExactGroups::new(self.mean)))
        } else {
            self.builtin.create_groups_accumulator(args)
        }
    }
    fn create_sliding_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        if self.exact(&args) {
            Ok(Box::new(ExactAccumulator::new(self.mean)))
        } else {
            self.builtin.create_sliding_accumulator(args)
        }
    }
    fn reverse_expr(&self) -> ReversedUDAF {
        ReversedUDAF::Identical
    }
    fn default_value(&self, data_type: &DataType) -> Result<ScalarValue> {
        self.builtin.default_value(data_type)
    }
}

/// The exact sum of the values seen (and how many), `avg` or `sum`.
#[derive(Debug)]
struct ExactAccumulator {
    sum: ExactSum,
    mean: bool,
}

impl ExactAccumulator {
    fn new(mean: bool) -> Self {
        ExactAccumulator {
            sum: ExactSum::default(),
            mean,
        }
    }

    fn each(values: &[ArrayRef], mut apply: impl FnMut(f64)) -> Result<()> {
        let Some(values) = values.first() else {
            return exec_err!("sum()/avg() takes 1 argument");
        };
        let values = values.as_primitive::<Float64Type>();
        if values.null_count() == 0 {
            values.values().iter().for_each(|&value| apply(value));
        } else {
            values.iter().flatten().for_each(apply);
        }
        Ok(())
    }
}

impl Accumulator for ExactAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        Self::each(values, |value| self.sum.add(value))
    }
    fn retract_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        Self::each(values, |value| self.sum.remove(value))
    }
    fn supports_retract_batch(&self) -> bool {
        true
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first() else {
            return exec_err!("sum()/avg(): no state to merge");
        };
        for state in states.as_binary::<i32>().iter().flatten() {
            let Some(other) = ExactSum::from_bytes(state) else {
                return exec_err!("sum()/avg(): a partial sum is malformed");
            };
            self.sum.merge(&other);
        }
        Ok(())
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.sum.to_bytes()))])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.sum.count == 0 {
            return Ok(ScalarValue::Float64(None));
        }
        let total = self.sum.value();
        Ok(ScalarValue::Float64(Some(if self.mean {
            total / self.sum.count as f64
        } else {
            total
        })))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.sum.chunks.capacity() * std::mem::size_of::<i64>()
    }
}

/// The exact sums of every group side by side. DataFusion's fallback (a
/// boxed accumulator per group, fed a slice of the batch per group) made
/// a `GROUP BY client_id` over 192 k clients spend its time in the
/// allocator: `revenue_growth_per_client` took 1.5 s a week at scale 1600.
#[derive(Debug)]
struct ExactGroups {
    sums: Vec<ExactSum>,
    mean: bool,
    /// The sums' heap bytes, kept up to date rather than summed on every
    /// `size()` (which DataFusion asks after each batch).
    heap: usize,
}

impl ExactGroups {
    fn new(mean: bool) -> Self {
        ExactGroups {
            sums: Vec::new(),
            mean,
            heap: 0,
        }
    }

    /// Applies `apply` to the sum of each row's group, keeping `heap` up
    /// to date.
    fn each(
        &mut self,
        group_indices: &[usize],
        total_num_groups: usize,
        mut apply: impl FnMut(usize, &mut ExactSum) -> Result<()>,
    ) -> Result<()> {
        self.sums.resize_with(total_num_groups, ExactSum::default);
        for (row, &group) in group_indices.iter().enumerate() {
            let Some(sum) = self.sums.get_mut(group) else {
                return exec_err!("sum()/avg(): group {group} of {total_num_groups}");
            };
            let before = sum.heap_bytes();
            apply(row, sum)?;
            self.heap = (self.heap + sum.heap_bytes()).saturating_sub(before);
        }
        Ok(())
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<ExactSum> {
        let taken = emit_to.take_needed(&mut self.sums);
        self.heap = self.sums.iter().map(ExactSum::heap_bytes).sum();
        taken
    }
}

/// Each row's value, `None` where it is NULL or filtered out.
fn kept_values<'a>(
    values: &'a [ArrayRef],
    filter: Option<&'a BooleanArray>,
) -> Result<impl Fn(usize) -> Option<f64> + 'a> {
    let Some(values) = values.first() else {
        return exec_err!("sum()/avg() takes 1 argument");
    };
    let values = values.as_primitive::<Float64Type>();
    Ok(move |row: usize| {
        let kept = filter.is_none_or(|f| f.is_valid(row) && f.value(row));
        (kept && values.is_valid(row)).then(|| values.value(row))
    })
}

fn states_to_array(sums: &[ExactSum]) -> ArrayRef {
    Arc::new(BinaryArray::from_iter_values(
        sums.iter().map(ExactSum::to_bytes),
    ))
}

impl GroupsAccumulator for ExactGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let value = kept_values(values, opt_filter)?;
        self.each(group_indices, total_num_groups, |row, sum| {
            if let Some(value) = value(row) {
                sum.add(value);
            }
            Ok(())
        })
    }
    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let Some(states) = values.first() else {
            return exec_err!("sum()/avg(): no state to merge");
        };
        let states = states.as_binary::<i32>();
        self.each(group_indices, total_num_groups, |row, sum| {
            if states.is_null(row) {
                return Ok(());
            }
            match ExactSum::from_bytes(states.value(row)) {
                Some(other) => {
                    sum.merge(&other);
                    Ok(())
                }
                None => exec_err!("sum()/avg(): a partial sum is malformed"),
            }
        })
    }
    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mean = self.mean;
        let values: Float64Array = self
            .take(emit_to)
            .iter()
            .map(|sum| {
                (sum.count != 0).then(|| {
                    let total = sum.value();
                    if mean {
                        total / sum.count as f64
                    } else {
                        total
                    }
                })
            })
            .collect();
        Ok(Arc::new(values))
    }
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![states_to_array(&self.take(emit_to))])
    }
    /// Each row as a group of its own: lets DataFusion skip the partial
    /// aggregation where it does not reduce the rows.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let value = kept_values(values, opt_filter)?;
        let rows = values.first().map_or(0, |v| v.len());
        let sums: Vec<ExactSum> = (0..rows)
            .map(|row| {
                let mut sum = ExactSum::default();
                if let Some(value) = value(row) {
                    sum.add(value);
                }
                sum
            })
            .collect();
        Ok(vec![states_to_array(&sums)])
    }
    fn size(&self) -> usize {
        self.sums.capacity() * std::mem::size_of::<ExactSum>() + self.heap
    }
}

/// Bits of a value each chunk holds; a chunk is an `i64`, so it can take
/// 2^30 additions of a 32-bit piece before its carries must be moved up.
const CHUNK_BITS: u32 = 32;
const CHUNK_MASK: i64 = (1 << CHUNK_BITS) - 1;
/// Additions between two carry passes.
const ADDS_BEFORE_CARRY: u32 = 1 << 30;

/// An exact sum of `f64`s: a signed integer counted in units of 2^-1074
/// (every finite `f64` is a whole number of them), kept as 32-bit chunks
/// from chunk `low` up. Finite sums are exact; infinities and NaNs are
/// counted apart, so removing a value undoes adding it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExactSum {
    /// Index of `chunks[0]`: chunk `i` is worth 2^(32 i - 1074).
    low: usize,
    chunks: Vec<i64>,
    /// Values in the sum (added less removed).
    count: i64,
    nans: i64,
    plus_infinities: i64,
    minus_infinities: i64,
    /// Additions since the last carry pass.
    since_carry: u32,
}

impl ExactSum {
    /// Adds `value`.
    pub fn add(&mut self, value: f64) {
        self.count += 1;
        self.accumulate(value, 1);
    }

    /// How many values are in the sum (added less removed).
    pub fn count(&self) -> i64 {
        self.count
    }

    /// Removes a `value` added before.
    pub fn remove(&mut self, value: f64) {
        self.count -= 1;
        self.accumulate(value, -1);
    }

    fn accumulate(&mut self, value: f64, times: i64) {
        if value.is_nan() {
            self.nans += times;
            return;
        }
        if value.is_infinite() {
            if value > 0.0 {
                self.plus_infinities += times;
            } else {
                self.minus_infinities += times;
            }
            return;
        }
        let bits = value.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as usize;
        let fraction = bits & ((1 << 52) - 1);
        // value = mantissa × 2^(shift - 1074)
        let (mantissa, shift) = if exponent == 0 {
            (fraction, 0)
        } else {
            (fraction | (1 << 52), exponent - 1)
        };
        if mantissa == 0 {
            return;
        }
        let sign = if value.is_sign_negative() {
            -times
        } else {
            times
        };
        let index = shift / CHUNK_BITS as usize;
        let wide = u128::from(mantissa) << (shift % CHUNK_BITS as usize);
        self.reach(index, index + 2);
        for piece in 0..3 {
            let part = ((wide >> (piece * CHUNK_BITS)) as i64) & CHUNK_MASK;
            self.chunks[index + piece as usize - self.low] += sign * part;
        }
        self.since_carry += 1;
        if self.since_carry >= ADDS_BEFORE_CARRY {
            self.carry();
        }
    }

    fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<i64>()
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &ExactSum) {
        self.count += other.count;
        self.nans += other.nans;
        self.plus_infinities += other.plus_infinities;
        self.minus_infinities += other.minus_infinities;
        if other.chunks.is_empty() {
            return;
        }
        let mut other = other.clone();
        other.carry();
        self.carry();
        self.reach(other.low, other.low + other.chunks.len() - 1);
        for (offset, chunk) in other.chunks.iter().enumerate() {
            self.chunks[other.low + offset - self.low] += chunk;
        }
        self.carry();
    }

    /// Makes chunks `from..=to` exist (plus one above, for carries).
    fn reach(&mut self, from: usize, to: usize) {
        let to = to + 1;
        if self.chunks.is_empty() {
            self.low = from;
            self.chunks = vec![0; to - from + 1];
            return;
        }
        if from < self.low {
            let mut grown = vec![0; self.low - from];
            grown.append(&mut self.chunks);
            self.chunks = grown;
            self.low = from;
        }
        let high = self.low + self.chunks.len() - 1;
        if to > high {
            self.chunks.resize(self.chunks.len() + (to - high), 0);
        }
    }

    /// Moves every chunk's carry up, so that each chunk but the top one
    /// holds 0..2^32 and the top one holds the sign.
    fn carry(&mut self) {
        self.since_carry = 0;
        for index in 0..self.chunks.len() {
            let carry = self.chunks[index] >> CHUNK_BITS;
            if carry == 0 {
                continue;
            }
            if index + 1 == self.chunks.len() {
                // The top chunk keeps its sign; one more chunk above it
                // only when it no longer fits in 32 bits with its sign.
                if self.chunks[index] > i64::from(i32::MAX)
                    || self.chunks[index] < i64::from(i32::MIN)
                {
                    self.chunks[index] -= carry << CHUNK_BITS;
                    self.chunks.push(carry);
                }
                break;
            }
            self.chunks[index] -= carry << CHUNK_BITS;
            self.chunks[index + 1] += carry;
        }
    }

    /// The sum, correctly rounded to the nearest `f64` (ties to even).
    pub fn value(&self) -> f64 {
        if self.nans > 0 || (self.plus_infinities > 0 && self.minus_infinities > 0) {
            return f64::NAN;
        }
        if self.plus_infinities > 0 {
            return f64::INFINITY;
        }
        if self.minus_infinities > 0 {
            return f64::NEG_INFINITY;
        }
        let mut magnitude = self.clone();
        magnitude.carry();
        let negative = magnitude.chunks.last().is_some_and(|&top| top < 0);
        if negative {
            magnitude
                .chunks
                .iter_mut()
                .for_each(|chunk| *chunk = -*chunk);
            magnitude.carry();
        }
        let rounded = magnitude.round_magnitude();
        if negative { -rounded } else { rounded }
    }

    /// The nearest `f64` to a non-negative, carried sum.
    fn round_magnitude(&self) -> f64 {
        let Some(top) = self.chunks.iter().rposition(|&chunk| chunk != 0) else {
            return 0.0;
        };
        // Bits of the whole number, in units of 2^-1074.
        let length = (self.low + top) as u64 * u64::from(CHUNK_BITS)
            + u64::from(u64::BITS - (self.chunks[top] as u64).leading_zeros());
        if length <= 53 {
            // Exact: fewer than 53 bits, so a subnormal or a small normal.
            return self.bits(0, length as u32) as f64 * f64::from_bits(1);
        }
        // The top 64 bits, and whether any bit below them is set.
        let (head, sticky) = if length < 64 {
            (self.bits(0, length as u32) << (64 - length), false)
        } else {
            let lowest = length - 64;
            (self.bits(lowest, 64), self.any_below(lowest))
        };
        let mut mantissa = head >> 11;
        let rest = head & 0x7ff;
        if rest > 0x400 || (rest == 0x400 && (sticky || mantissa & 1 == 1)) {
            mantissa += 1;
        }
        let mut length = length;
        if mantissa == 1 << 53 {
            mantissa >>= 1;
            length += 1;
        }
        // 1.f × 2^(length - 1075): the biased exponent is length - 52.
        let exponent = length - 52;
        if exponent >= 0x7ff {
            return f64::INFINITY;
        }
        f64::from_bits((exponent << 52) | (mantissa & ((1 << 52) - 1)))
    }

    /// `count` (≤ 64) bits of the carried sum from bit `from` up (bit 0
    /// is worth 2^-1074).
    ///
    /// Read a chunk at a time, not a bit at a time: every figure of a
    /// sum or mean over `DOUBLE`s is rounded here, once per group.
    fn bits(&self, from: u64, count: u32) -> u64 {
        let first = (from / u64::from(CHUNK_BITS)) as usize;
        // Three chunks hold any 64 bits, whatever bit of the first they
        // start at; chunks below `low` or above the top are 0, and each
        // chunk gives its low 32 bits (the top one's sign is not read:
        // the sum is non-negative).
        let window = (0..3).fold(0u128, |window, k| {
            let chunk = first
                .checked_add(k)
                .and_then(|index| index.checked_sub(self.low))
                .and_then(|offset| self.chunks.get(offset))
                .map_or(0, |&value| (value & CHUNK_MASK) as u128);
            window | chunk << (k as u32 * CHUNK_BITS)
        });
        let out = (window >> (from % u64::from(CHUNK_BITS))) as u64;
        if count >= 64 {
            out
        } else {
            out & ((1u64 << count) - 1)
        }
    }

    /// Whether any bit below bit `below` is set.
    fn any_below(&self, below: u64) -> bool {
        let whole = (below / u64::from(CHUNK_BITS)) as usize;
        let partial = below % u64::from(CHUNK_BITS);
        self.chunks.iter().enumerate().any(|(offset, &chunk)| {
            let index = self.low + offset;
            (index < whole && chunk != 0) || (index == whole && chunk & ((1 << partial) - 1) != 0)
        })
    }

    /// The sum as bytes, for a partial aggregate's state: the counts, the
    /// index of the lowest chunk, then the chunks (little-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut carried = self.clone();
        carried.carry();
        let mut bytes = Vec::with_capacity(40 + 8 * carried.chunks.len());
        for number in [
            carried.count,
            carried.nans,
            carried.plus_infinities,
            carried.minus_infinities,
            carried.low as i64,
        ]
        .into_iter()
        .chain(carried.chunks.iter().copied())
        {
            bytes.extend_from_slice(&number.to_le_bytes());
        }
        bytes
    }

    /// The sum [`to_bytes`](Self::to_bytes) wrote; `None` if malformed.
    pub fn from_bytes(bytes: &[u8]) -> Option<ExactSum> {
        if !bytes.len().is_multiple_of(8) || bytes.len() < 40 {
            return None;
        }
        let mut numbers = bytes
            .chunks_exact(8)
            .map(|word| i64::from_le_bytes(word.try_into().unwrap_or_default()));
        let mut next = || numbers.next();
        let count = next()?;
        let nans = next()?;
        let plus_infinities = next()?;
        let minus_infinities = next()?;
        let low = usize::try_from(next()?).ok()?;
        let chunks: Vec<i64> = numbers.collect();
        // No finite sum needs chunks above 70 (2^1024 is chunk 65).
        if low + chunks.len() > 72 {
            return None;
        }
        if chunks
            .iter()
            .rev()
            .skip(1)
            .any(|chunk| !(0..=CHUNK_MASK).contains(chunk))
        {
            return None;
        }
        Some(ExactSum {
            low,
            chunks,
            count,
            nans,
            plus_infinities,
            minus_infinities,
            since_carry: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(values: &[f64]) -> f64 {
        let mut sum = ExactSum::default();
        values.iter().for_each(|&value| sum.add(value));
        sum.value()
    }

    #[test]
    fn the_order_of_the_values_does_not_change_the_sum() {
        // Naive addition gives different results for these orders.
        let values = [0.1, 0.2, 0.3, 1e16, -1e16, 123.456, 7.0e-3, 99_999.99];
        let naive_forward: f64 = values.iter().sum();
        let naive_backward: f64 = values.iter().rev().sum();
        assert_ne!(naive_forward.to_bits(), naive_backward.to_bits());
        let forward = exact(&values);
        let mut reversed = values;
        reversed.reverse();
        assert_eq!(forward.to_bits(), exact(&reversed).to_bits());
        // And the result is the correctly rounded one, as Python's
        // math.fsum (an independent exact summation) gives it.
        assert_eq!(forward, 100124.053);
    }

    #[test]
    fn exact_where_naive_addition_loses_everything() {
        assert_eq!(exact(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(exact(&[f64::MAX, f64::MAX, -f64::MAX]), f64::MAX);
        assert_eq!(exact(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(exact(&[-f64::MAX, -f64::MAX]), f64::NEG_INFINITY);
        let tiny = f64::from_bits(1);
        assert_eq!(exact(&[tiny, tiny, tiny]), 3.0 * tiny);
        assert_eq!(exact(&[0.5, tiny, -0.5]), tiny);
        assert_eq!(exact(&[]), 0.0);
        assert_eq!(exact(&[-2.5, 1.0]), -1.5);
    }

    #[test]
    fn rounds_ties_to_even() {
        // 2^53 + 1 is halfway between 2^53 and 2^53 + 2: rounds to even.
        let two_53 = 9_007_199_254_740_992.0;
        assert_eq!(exact(&[two_53, 1.0]), two_53);
        // 2^53 + 3 is halfway between 2^53 + 2 and 2^53 + 4: rounds up.
        assert_eq!(exact(&[two_53, 2.0, 1.0]), two_53 + 4.0);
        // Just above halfway: up.
        assert_eq!(exact(&[two_53, 1.0, 1e-300]), two_53 + 2.0);
    }

    #[test]
    fn agrees_with_a_wide_reference_on_many_values() {
        // Money-like values summed in i128 cents are the reference.
        let mut state: u64 = 42;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as i64
        };
        let cents: Vec<i64> = (0..10_000)
            .map(|_| next() % 10_000_000 - 3_000_000)
            .collect();
        let values: Vec<f64> = cents.iter().map(|&c| c as f64).collect();
        let total: i64 = cents.iter().sum();
        assert_eq!(exact(&values), total as f64);
    }

    /// Python's `math.fsum` (Shewchuk's exact partials, then rounding half
    /// to even): an independent correctly rounded sum to check against.
    fn shewchuk(values: &[f64]) -> f64 {
        let mut partials: Vec<f64> = Vec::new();
        for &value in values {
            let mut x = value;
            let mut kept = 0;
            for j in 0..partials.len() {
                let mut y = partials[j];
                if x.abs() < y.abs() {
                    std::mem::swap(&mut x, &mut y);
                }
                let high = x + y;
                let low = y - (high - x);
                if low != 0.0 {
                    partials[kept] = low;
                    kept += 1;
                }
                x = high;
            }
            partials.truncate(kept);
            partials.push(x);
        }
        let Some(mut k) = partials.len().checked_sub(1) else {
            return 0.0;
        };
        let mut high = partials[k];
        let mut low = 0.0;
        while k > 0 {
            k -= 1;
            let x = high;
            let y = partials[k];
            high = x + y;
            low = y - (high - x);
            if low != 0.0 {
                break;
            }
        }
        if k > 0 && ((low < 0.0 && partials[k - 1] < 0.0) || (low > 0.0 && partials[k - 1] > 0.0)) {
            let y = low * 2.0;
            let x = high + y;
            if y == x - high {
                high = x;
            }
        }
        high
    }

    #[test]
    fn reads_the_same_bits_a_chunk_at_a_time_as_a_bit_at_a_time() {
        // The bit-by-bit reading bits() replaced, as the reference.
        fn one_by_one(sum: &ExactSum, from: u64, count: u32) -> u64 {
            let mut out: u64 = 0;
            for bit in 0..u64::from(count) {
                let at = from + bit;
                let chunk = (at / u64::from(CHUNK_BITS)) as usize;
                if chunk < sum.low {
                    continue;
                }
                let Some(&value) = sum.chunks.get(chunk - sum.low) else {
                    break;
                };
                if (value >> (at % u64::from(CHUNK_BITS))) & 1 == 1 {
                    out |= 1 << bit;
                }
            }
            out
        }
        let sums: [&[f64]; 5] = [
            &[f64::from_bits(1), f64::from_bits(3)],
            &[1.0, 1e-300, 3.5e-310],
            &[f64::MAX / 2.0, 1.0, 1e-200],
            &[0.1, 0.2, 0.3, 1e20, -1e20],
            &[123456.789, 1e-5, 42.0],
        ];
        for values in sums {
            let mut sum = ExactSum::default();
            values.iter().for_each(|&value| sum.add(value));
            sum.carry();
            let end = (sum.low + sum.chunks.len()) as u64 * u64::from(CHUNK_BITS) + 40;
            for from in 0..end {
                for count in [1, 11, 32, 53, 63, 64] {
                    assert_eq!(
                        sum.bits(from, count),
                        one_by_one(&sum, from, count),
                        "{values:?} from {from} count {count}"
                    );
                }
            }
        }
    }

    #[test]
    fn correctly_rounded_in_any_order_on_values_of_every_size() {
        let mut state: u64 = 7;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..50 {
            let mut values: Vec<f64> = (0..200 + round * 20)
                .map(|_| {
                    let mantissa = (next() >> 11) as f64 / (1u64 << 53) as f64;
                    let exponent = (next() % 121) as i32 - 60;
                    let sign = if next() % 2 == 0 { 1.0 } else { -1.0 };
                    sign * mantissa * 2f64.powi(exponent)
                })
                .collect();
            let want = shewchuk(&values);
            assert_eq!(exact(&values).to_bits(), want.to_bits(), "round {round}");
            // Another order: the same bits.
            for index in (1..values.len()).rev() {
                let other = (next() % (index as u64 + 1)) as usize;
                values.swap(index, other);
            }
            assert_eq!(
                exact(&values).to_bits(),
                want.to_bits(),
                "round {round}, shuffled"
            );
        }
    }

    #[test]
    fn infinities_and_nan() {
        assert!(exact(&[1.0, f64::NAN]).is_nan());
        assert!(exact(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
        assert_eq!(exact(&[f64::INFINITY, 1.0]), f64::INFINITY);
        let mut sum = ExactSum::default();
        sum.add(f64::NAN);
        sum.add(2.0);
        sum.remove(f64::NAN);
        assert_eq!(sum.value(), 2.0);
    }

    #[test]
    fn partial_sums_merge_into_the_same_sum_in_any_order() {
        let parts: Vec<Vec<f64>> = vec![
            vec![0.1, 1e-9, 3.3],
            vec![1e15, 0.7, -2.2],
            vec![-1e15, 5.5e-3],
        ];
        let partial = |part: &Vec<f64>| {
            let mut sum = ExactSum::default();
            part.iter().for_each(|&value| sum.add(value));
            ExactSum::from_bytes(&sum.to_bytes()).unwrap()
        };
        let mut one = ExactSum::default();
        for part in &parts {
            one.merge(&partial(part));
        }
        let mut other = ExactSum::default();
        for part in parts.iter().rev() {
            other.merge(&partial(part));
        }
        assert_eq!(one.value().to_bits(), other.value().to_bits());
        let all: Vec<f64> = parts.concat();
        assert_eq!(one.value().to_bits(), exact(&all).to_bits());
        assert_eq!(one.count, 8);
    }

    #[test]
    fn grouped_sums_equal_each_group_summed_alone() {
        // Rows of three groups (one never seen, one only NULL), with values
        // that lose bits when added naively, a filter, and a split into a
        // partial aggregate merged in another order.
        let values: Vec<Option<f64>> = (0..60)
            .map(|i| match i % 7 {
                0 => None,
                1 => Some(1e16),
                2 => Some(-1e16),
                _ => Some(0.1 * f64::from(i) + 1e-9),
            })
            .collect();
        let groups: Vec<usize> = (0..60)
            .map(|i| if i % 7 == 0 { 3 } else { i % 3 })
            .collect();
        let keep: Vec<bool> = (0..60).map(|i| i % 11 != 0).collect();
        let array: ArrayRef = Arc::new(Float64Array::from(values.clone()));
        let filter = BooleanArray::from(keep.clone());
        for mean in [false, true] {
            let mut whole = ExactGroups::new(mean);
            whole
                .update_batch(&[Arc::clone(&array)], &groups, Some(&filter), 5)
                .unwrap();
            let got = whole.evaluate(EmitTo::All).unwrap();
            let got = got.as_primitive::<Float64Type>();
            // Partial states of two halves, merged second half first.
            let mut merged = ExactGroups::new(mean);
            for (from, to) in [(30, 60), (0, 30)] {
                let mut part = ExactGroups::new(mean);
                part.update_batch(
                    &[array.slice(from, to - from)],
                    &groups[from..to],
                    Some(&filter.slice(from, to - from)),
                    5,
                )
                .unwrap();
                let state = part.state(EmitTo::All).unwrap();
                merged
                    .merge_batch(&state, &(0..5).collect::<Vec<_>>(), 5)
                    .unwrap();
            }
            let again = merged.evaluate(EmitTo::All).unwrap();
            let again = again.as_primitive::<Float64Type>();
            for group in 0..5 {
                let mut alone = ExactAccumulator::new(mean);
                let rows: Vec<f64> = (0..60)
                    .filter(|&row| groups[row] == group && keep[row])
                    .filter_map(|row| values[row])
                    .collect();
                alone
                    .update_batch(&[Arc::new(Float64Array::from(rows)) as ArrayRef])
                    .unwrap();
                let expected = match alone.evaluate().unwrap() {
                    ScalarValue::Float64(value) => value,
                    other => panic!("{other:?}"),
                };
                let got = got.is_valid(group).then(|| got.value(group));
                let again = again.is_valid(group).then(|| again.value(group));
                assert_eq!(got.map(f64::to_bits), expected.map(f64::to_bits), "{group}");
                assert_eq!(
                    again.map(f64::to_bits),
                    expected.map(f64::to_bits),
                    "{group}"
                );
            }
            // Groups 3 (NULLs only) and 4 (no row) have no sum.
            assert!(got.is_null(3) && got.is_null(4));
            assert!(got.is_valid(0) && got.is_valid(1) && got.is_valid(2));
            // Each row as its own state gives the same sums once merged.
            let rows = whole
                .convert_to_state(&[Arc::clone(&array)], Some(&filter))
                .unwrap();
            let mut from_rows = ExactGroups::new(mean);
            from_rows.merge_batch(&rows, &groups, 5).unwrap();
            let from_rows = from_rows.evaluate(EmitTo::All).unwrap();
            assert_eq!(from_rows.as_ref(), got as &dyn Array);
        }
    }

    #[test]
    fn malformed_state_is_refused() {
        assert!(ExactSum::from_bytes(&[1, 2, 3]).is_none());
        let mut bytes = ExactSum::default().to_bytes();
        bytes.extend_from_slice(&(-5i64).to_le_bytes());
        bytes.extend_from_slice(&0i64.to_le_bytes());
        assert!(ExactSum::from_bytes(&bytes).is_none());
    }
}
