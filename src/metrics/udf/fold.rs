//! The accumulators of every aggregate that folds each group's rows into
//! one BINARY value: `day_set` and `day_tally` (a group's days,
//! `days.rs`), `mrr_rows` (a client's subscription rows,
//! `subscriptions.rs`), `ticket_spans` (a client's tickets,
//! `tickets.rs`) and `day_values` (a client's amounts by day,
//! `day_values.rs`).
//!
//! What a group holds, how rows and values are added to it and how it is
//! written is the [`Fold`] of each; what DataFusion asks of an aggregate
//! (one group or many, partial states merged, memory accounted without
//! summing every group after each batch) is written once, here.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BinaryArray, BooleanArray, BooleanBufferBuilder};
use datafusion::arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::StateFieldsArgs;
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// What one group of a folding aggregate holds.
pub(super) trait Fold: Default + Clone + Debug + Send + Sync + 'static {
    /// What an accumulator keeps once for all its groups (`day_sets_by`'s
    /// key names, so that a group holds a small number per key, not the
    /// name); `()` for a fold that needs nothing.
    type Shared: Default + Debug + Send + Sync + 'static;

    /// Adds a batch's rows (the aggregate's argument columns) or values
    /// (one BINARY column, when merging) to the groups of `target`, row
    /// `i` to group `groups[i]`, leaving out the rows `filter` drops.
    fn fold(
        target: &mut [Self],
        shared: &mut Self::Shared,
        values: &[ArrayRef],
        groups: impl Iterator<Item = usize>,
        filter: Option<&BooleanArray>,
    ) -> Result<()>;

    /// Writes the group's value to `out`; `false`, writing nothing, for a
    /// group that saw nothing (its value is NULL).
    fn encode(&mut self, shared: &Self::Shared, out: &mut Vec<u8>) -> bool;

    /// The bytes it holds on the heap.
    fn heap_bytes(&self) -> usize;
}

/// The one state field of a folding aggregate named `name`: its value so
/// far, BINARY, as the aggregate itself returns.
pub(super) fn state_fields(args: &StateFieldsArgs, name: &str) -> Vec<FieldRef> {
    vec![Arc::new(Field::new(
        format_state_name(args.name, name),
        DataType::Binary,
        true,
    ))]
}

/// Whether row `row` is kept by an aggregate's `filter`.
pub(super) fn kept(filter: Option<&BooleanArray>, row: usize) -> bool {
    filter.is_none_or(|f| f.is_valid(row) && f.value(row))
}

/// One value per group, in buffers no larger than the values: a shared
/// table holds these for the whole run, and a builder's doubling would
/// leave up to half of each buffer empty.
fn encode_all<F: Fold>(groups: &mut [F], shared: &F::Shared) -> Result<ArrayRef> {
    let mut offsets: Vec<i32> = Vec::with_capacity(groups.len() + 1);
    let mut valid = BooleanBufferBuilder::new(groups.len());
    let mut values = Vec::new();
    offsets.push(0);
    for group in groups.iter_mut() {
        valid.append(group.encode(shared, &mut values));
        let Ok(end) = i32::try_from(values.len()) else {
            return exec_err!("the values of one batch of groups pass 2 GiB");
        };
        offsets.push(end);
    }
    values.shrink_to_fit();
    let nulls = Some(NullBuffer::new(valid.finish())).filter(|nulls| nulls.null_count() > 0);
    let array = BinaryArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(values),
        nulls,
    )?;
    Ok(Arc::new(array))
}

/// One group's fold (an aggregate without GROUP BY, or a window).
#[derive(Debug, Default)]
pub(super) struct FoldAccumulator<F: Fold> {
    group: F,
    shared: F::Shared,
}

impl<F: Fold> Accumulator for FoldAccumulator<F> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let len = values.first().map_or(0, |v| v.len());
        F::fold(
            std::slice::from_mut(&mut self.group),
            &mut self.shared,
            values,
            std::iter::repeat_n(0, len),
            None,
        )
    }
    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }
    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut bytes = Vec::new();
        Ok(ScalarValue::Binary(
            self.group.encode(&self.shared, &mut bytes).then_some(bytes),
        ))
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.group.heap_bytes()
    }
}

/// Every group's fold, side by side: one `F` per group, no allocation per
/// row.
#[derive(Debug, Default)]
pub(super) struct FoldGroups<F: Fold> {
    groups: Vec<F>,
    shared: F::Shared,
    /// The groups' heap bytes, kept up to date rather than summed on every
    /// `size()` (which DataFusion asks after each batch).
    heap: usize,
}

impl<F: Fold> FoldGroups<F> {
    fn add(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, F::default);
        let held = |groups: &[F]| -> usize {
            group_indices
                .iter()
                .filter_map(|&g| groups.get(g))
                .map(F::heap_bytes)
                .sum()
        };
        let before = held(&self.groups);
        F::fold(
            &mut self.groups,
            &mut self.shared,
            values,
            group_indices.iter().copied(),
            filter,
        )?;
        // A group that appears twice in the batch is counted twice on both
        // sides, so the difference is still its growth.
        self.heap = (self.heap + held(&self.groups)).saturating_sub(before);
        Ok(())
    }

    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let mut taken = emit_to.take_needed(&mut self.groups);
        self.heap = self.groups.iter().map(F::heap_bytes).sum();
        encode_all(&mut taken, &self.shared)
    }
}

impl<F: Fold> GroupsAccumulator for FoldGroups<F> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(values, group_indices, opt_filter, total_num_groups)
    }
    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(values, group_indices, None, total_num_groups)
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
        let len = values.first().map_or(0, |v| v.len());
        let mut groups = vec![F::default(); len];
        let mut shared = F::Shared::default();
        F::fold(&mut groups, &mut shared, values, 0..len, opt_filter)?;
        Ok(vec![encode_all(&mut groups, &shared)?])
    }
    fn size(&self) -> usize {
        self.groups.capacity() * std::mem::size_of::<F>() + self.heap
    }
}
