//! The aggregate machinery that folds each group's rows into one BINARY
//! value of fixed-size records, shared by `mrr_rows` (a client's
//! subscription rows) and `ticket_spans` (a client's tickets).
//!
//! A value is its records sorted and written one after another, so it is
//! the same whatever order the rows arrived in; over BINARY values (when
//! DataFusion merges partial states, or a query folds values together)
//! the records are put together. A record type says how its rows are read
//! from the argument columns and how it is written and read back; the
//! scalar functions that answer questions of a value read it with
//! [`records_of`], which checks every byte: bytes that are not such a
//! value are an error, never a wrong figure.

use std::fmt::Debug;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// One fixed-size record of a folded value.
pub(super) trait Record: Copy + Ord + Debug + Send + Sync + 'static {
    /// The aggregate that makes such values, for errors.
    const NAME: &'static str;
    /// The bytes of one record.
    const SIZE: usize;

    fn write(&self, out: &mut Vec<u8>);

    /// The record in `bytes` (`SIZE` of them); `None` when they are not one.
    fn read(bytes: &[u8]) -> Option<Self>;

    /// Adds the rows of the aggregate's own argument columns to their
    /// groups; `kept(row)` is false for a row the aggregate's filter drops.
    fn fold_rows(
        target: &mut [Vec<Self>],
        columns: &[ArrayRef],
        groups: impl Iterator<Item = usize>,
        kept: impl Fn(usize) -> bool,
    ) -> Result<()>;
}

/// The records of a value, each checked; `None` when `bytes` is not one.
pub(super) fn records_of<R: Record>(bytes: &[u8]) -> Option<impl Iterator<Item = Option<R>> + '_> {
    (!bytes.is_empty() && bytes.len().is_multiple_of(R::SIZE))
        .then(|| bytes.chunks(R::SIZE).map(R::read))
}

/// The error of `function` given bytes that are not a value of `R`.
pub(super) fn not_a_value<R: Record>(function: &str) -> DataFusionError {
    DataFusionError::Execution(format!("{function}(): a value is not one {} made", R::NAME))
}

/// Writes `records`, sorted, to `out`.
pub(super) fn encode<R: Record>(records: &mut [R], out: &mut Vec<u8>) {
    records.sort_unstable();
    for record in records.iter() {
        record.write(out);
    }
}

/// One value per group; NULL for a group without records.
fn encode_all<R: Record>(groups: &mut [Vec<R>]) -> ArrayRef {
    let mut builder = BinaryBuilder::with_capacity(groups.len(), groups.len() * R::SIZE * 2);
    let mut buffer = Vec::new();
    for records in groups.iter_mut() {
        if records.is_empty() {
            builder.append_null();
        } else {
            buffer.clear();
            encode(records, &mut buffer);
            builder.append_value(&buffer);
        }
    }
    Arc::new(builder.finish())
}

/// Adds a batch's rows (the aggregate's argument columns) or values (one
/// BINARY column, when merging) to the groups of `target`.
fn fold<R: Record>(
    target: &mut [Vec<R>],
    values: &[ArrayRef],
    groups: impl Iterator<Item = usize>,
    filter: Option<&BooleanArray>,
) -> Result<()> {
    let kept = |row: usize| filter.is_none_or(|f| f.is_valid(row) && f.value(row));
    match values {
        [merged] if merged.data_type() == &DataType::Binary => {
            let merged = merged.as_binary::<i32>();
            for (row, group) in groups.enumerate() {
                if merged.is_null(row) || !kept(row) {
                    continue;
                }
                let other: Vec<R> = records_of(merged.value(row))
                    .and_then(|records| records.collect())
                    .ok_or_else(|| not_a_value::<R>(R::NAME))?;
                if let Some(records) = target.get_mut(group) {
                    records.extend(other);
                }
            }
            Ok(())
        }
        columns => R::fold_rows(target, columns, groups, kept),
    }
}

/// One group's records (an aggregate without GROUP BY).
#[derive(Debug)]
pub(super) struct RecordsAccumulator<R> {
    records: Vec<R>,
}

impl<R> Default for RecordsAccumulator<R> {
    fn default() -> Self {
        RecordsAccumulator {
            records: Vec::new(),
        }
    }
}

impl<R: Record> Accumulator for RecordsAccumulator<R> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let len = values.first().map_or(0, |v| v.len());
        fold(
            std::slice::from_mut(&mut self.records),
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
        Ok(if self.records.is_empty() {
            ScalarValue::Binary(None)
        } else {
            let mut bytes = Vec::new();
            encode(&mut self.records, &mut bytes);
            ScalarValue::Binary(Some(bytes))
        })
    }
    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.records.capacity() * std::mem::size_of::<R>()
    }
}

/// Every group's records, side by side.
#[derive(Debug)]
pub(super) struct RecordsGroups<R> {
    groups: Vec<Vec<R>>,
    /// Records held, kept up to date rather than summed on every `size()`.
    held: usize,
}

impl<R> Default for RecordsGroups<R> {
    fn default() -> Self {
        RecordsGroups {
            groups: Vec::new(),
            held: 0,
        }
    }
}

impl<R: Record> RecordsGroups<R> {
    fn add(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.groups.resize_with(total_num_groups, Vec::new);
        let held = |groups: &[Vec<R>]| -> usize {
            group_indices
                .iter()
                .filter_map(|&g| groups.get(g))
                .map(Vec::len)
                .sum()
        };
        let before = held(&self.groups);
        fold(
            &mut self.groups,
            values,
            group_indices.iter().copied(),
            filter,
        )?;
        // A group twice in the batch counts twice on both sides, so the
        // difference is still what it grew by.
        self.held = (self.held + held(&self.groups)).saturating_sub(before);
        Ok(())
    }

    fn emit(&mut self, emit_to: EmitTo) -> ArrayRef {
        let mut taken = emit_to.take_needed(&mut self.groups);
        self.held = self.groups.iter().map(Vec::len).sum();
        encode_all(&mut taken)
    }
}

impl<R: Record> GroupsAccumulator for RecordsGroups<R> {
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
        Ok(self.emit(emit_to))
    }
    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.emit(emit_to)])
    }
    /// Each row as a group of its own: lets DataFusion skip the partial
    /// aggregation where it does not reduce the rows.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let len = values.first().map_or(0, |v| v.len());
        let mut groups: Vec<Vec<R>> = vec![Vec::new(); len];
        fold(&mut groups, values, 0..len, opt_filter)?;
        Ok(vec![encode_all(&mut groups)])
    }
    fn size(&self) -> usize {
        self.groups.capacity() * std::mem::size_of::<Vec<R>>()
            + self.held * std::mem::size_of::<R>()
    }
}
