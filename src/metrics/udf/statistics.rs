//! Statistics UDFs: `percentile_exact(value, fraction)`, the exact
//! percentile interpolated linearly between closest ranks, as PostgreSQL's
//! `percentile_cont` (metrics.md). DataFusion's own `percentile_cont`
//! interpolates in fixed point and can be off in the fourth decimal; a
//! report that claims exact percentiles needs this one. NULL values are
//! ignored; no values give NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PercentileExact {
    signature: Signature,
}

impl Default for PercentileExact {
    fn default() -> Self {
        PercentileExact {
            signature: Signature::uniform(2, vec![DataType::Float64], Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for PercentileExact {
    fn name(&self) -> &str {
        "percentile_exact"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PercentileAccumulator::default()))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "values"),
                DataType::List(item),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "fraction"),
                DataType::Float64,
                true,
            )),
        ])
    }
}

#[derive(Debug, Default)]
struct PercentileAccumulator {
    values: Vec<f64>,
    fraction: Option<f64>,
}

/// The percentile `fraction` (0..1) of `values`, interpolated linearly
/// between the closest ranks; `None` for no values.
pub fn percentile_of(values: &mut [f64], fraction: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = fraction * (values.len() - 1) as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    Some(values[low] + (values[high] - values[low]) * (rank - low as f64))
}

impl PercentileAccumulator {
    fn set_fraction(&mut self, fraction: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&fraction) {
            return exec_err!("percentile_exact(): the fraction {fraction} is not within 0..1");
        }
        self.fraction = Some(fraction);
        Ok(())
    }
}

impl Accumulator for PercentileAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [value, fraction] = values else {
            return exec_err!("percentile_exact(value, fraction) takes 2 arguments");
        };
        let (value, fraction) = (
            value.as_primitive::<Float64Type>(),
            fraction.as_primitive::<Float64Type>(),
        );
        for row in 0..value.len() {
            if fraction.is_valid(row) && self.fraction.is_none() {
                self.set_fraction(fraction.value(row))?;
            }
            if value.is_valid(row) {
                self.values.push(value.value(row));
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [lists, fractions] = states else {
            return exec_err!("percentile_exact(): expected two state columns");
        };
        let fractions = fractions.as_primitive::<Float64Type>();
        for row in 0..fractions.len() {
            if fractions.is_valid(row) && self.fraction.is_none() {
                self.set_fraction(fractions.value(row))?;
            }
        }
        let lists = lists.as_list::<i32>();
        for row in 0..lists.len() {
            if lists.is_valid(row) {
                let values = lists.value(row);
                self.values
                    .extend(values.as_primitive::<Float64Type>().iter().flatten());
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = self
            .values
            .iter()
            .map(|v| ScalarValue::Float64(Some(*v)))
            .collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Float64)),
            ScalarValue::Float64(self.fraction),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = match self.fraction {
            Some(fraction) => percentile_of(&mut self.values, fraction),
            None => None,
        };
        Ok(ScalarValue::Float64(value))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * std::mem::size_of::<f64>()
    }
}
