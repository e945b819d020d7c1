//! Each group's rows folded into one BINARY value of fixed-size records,
//! the [`Fold`] of `mrr_rows` (a client's subscription rows),
//! `ticket_spans` (a client's tickets) and `day_values` (a client's
//! amounts by day).
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
use std::marker::PhantomData;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, GroupsAccumulator, Signature, Volatility,
};

use super::fold::{Fold, FoldAccumulator, FoldGroups, kept};

/// One fixed-size record of a folded value.
pub(super) trait Record: Copy + Ord + Debug + Send + Sync + 'static {
    /// The aggregate that makes such values, for errors.
    const NAME: &'static str;
    /// How the aggregate is called, for errors: `day_values(day, x)`.
    const CALL: &'static str;
    /// The bytes of one record.
    const SIZE: usize;

    /// The types the aggregate's arguments are cast to, in order.
    fn argument_types() -> Vec<DataType>;

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

/// A group's records, in the order they arrived until written.
impl<R: Record> Fold for Vec<R> {
    type Shared = ();

    /// Adds a batch's rows (the aggregate's argument columns) or values
    /// (one BINARY column, when merging) to the groups of `target`.
    fn fold(
        target: &mut [Vec<R>],
        _shared: &mut (),
        values: &[ArrayRef],
        groups: impl Iterator<Item = usize>,
        filter: Option<&BooleanArray>,
    ) -> Result<()> {
        match values {
            [merged] if merged.data_type() == &DataType::Binary => {
                let merged = merged.as_binary::<i32>();
                for (row, group) in groups.enumerate() {
                    if merged.is_null(row) || !kept(filter, row) {
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
            columns => R::fold_rows(target, columns, groups, |row| kept(filter, row)),
        }
    }

    fn encode(&mut self, _shared: &(), out: &mut Vec<u8>) -> bool {
        if self.is_empty() {
            return false;
        }
        encode(self, out);
        true
    }

    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<R>()
    }
}

/// The aggregate `R::NAME`: each group's rows as one value of `R` records;
/// over BINARY values (one argument), their records together.
#[derive(Debug)]
struct FoldRecords<R> {
    signature: Signature,
    records: PhantomData<fn() -> R>,
}

/// The aggregate that folds rows into values of `R` records.
pub(super) fn aggregate<R: Record>() -> AggregateUDF {
    AggregateUDF::from(FoldRecords::<R> {
        signature: Signature::user_defined(Volatility::Immutable),
        records: PhantomData,
    })
}

impl<R> PartialEq for FoldRecords<R> {
    fn eq(&self, other: &Self) -> bool {
        self.signature == other.signature
    }
}

impl<R> Eq for FoldRecords<R> {}

impl<R> std::hash::Hash for FoldRecords<R> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.signature.hash(state);
    }
}

impl<R: Record> AggregateUDFImpl for FoldRecords<R> {
    fn name(&self) -> &str {
        R::NAME
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let types = R::argument_types();
        match arg_types.len() {
            n if n == types.len() => Ok(types),
            // Values to fold together.
            1 => Ok(vec![DataType::Binary]),
            _ => exec_err!("{} takes {} arguments", R::CALL, types.len()),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(super::fold::state_fields(&args, R::NAME))
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(FoldAccumulator::<Vec<R>>::default()))
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(FoldGroups::<Vec<R>>::default()))
    }
}
