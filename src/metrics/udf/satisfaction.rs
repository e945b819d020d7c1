//! Satisfaction UDFs: the Net Promoter Score aggregate and its margin of
//! error.
//!
//! `nps(score)` is `100 * (promoters - detractors) / answers` over 0..10
//! scores (promoters 9-10, detractors 0-6); `nps_margin(score)` is the 95 %
//! margin of error `1.96 * 100 * sqrt((p + d - (p - d)^2) / n)`. Both are
//! NULL over no answers, ignore NULL scores, and fail on a score outside
//! 0..10 rather than count it silently.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

/// Which figure an NPS aggregate returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum NpsFigure {
    Score,
    Margin,
}

/// `nps(score)`: the Net Promoter Score of 0..10 answers.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NpsScore {
    signature: Signature,
}

/// `nps_margin(score)`: the 95 % margin of error of `nps(score)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct NpsMargin {
    signature: Signature,
}

fn integer_score_signature() -> Signature {
    // Every integer type is coerced to Int64; floats are refused, since an
    // NPS answer is a whole number and 8.5 is a data error.
    Signature::uniform(1, vec![DataType::Int64], Volatility::Immutable)
}

impl Default for NpsScore {
    fn default() -> Self {
        NpsScore {
            signature: integer_score_signature(),
        }
    }
}

impl Default for NpsMargin {
    fn default() -> Self {
        NpsMargin {
            signature: integer_score_signature(),
        }
    }
}

fn nps_state_fields(name: &str) -> Vec<FieldRef> {
    ["promoters", "detractors", "answers"]
        .iter()
        .map(|part| {
            Arc::new(Field::new(
                format_state_name(name, part),
                DataType::Int64,
                true,
            ))
        })
        .collect()
}

impl AggregateUDFImpl for NpsScore {
    fn name(&self) -> &str {
        "nps"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NpsAccumulator::new(NpsFigure::Score)))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(nps_state_fields(args.name))
    }
}

impl AggregateUDFImpl for NpsMargin {
    fn name(&self) -> &str {
        "nps_margin"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }
    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(NpsAccumulator::new(NpsFigure::Margin)))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(nps_state_fields(args.name))
    }
}

/// Counts of promoters, detractors and all answers.
#[derive(Debug)]
struct NpsAccumulator {
    figure: NpsFigure,
    promoters: i64,
    detractors: i64,
    answers: i64,
}

impl NpsAccumulator {
    fn new(figure: NpsFigure) -> Self {
        NpsAccumulator {
            figure,
            promoters: 0,
            detractors: 0,
            answers: 0,
        }
    }
}

/// NPS of the given counts; `None` over no answers.
pub fn nps_of_counts(promoters: i64, detractors: i64, answers: i64) -> Option<f64> {
    (answers > 0).then(|| 100.0 * (promoters - detractors) as f64 / answers as f64)
}

/// The 95 % margin of error of the NPS of the given counts.
pub fn nps_margin_of_counts(promoters: i64, detractors: i64, answers: i64) -> Option<f64> {
    (answers > 0).then(|| {
        let n = answers as f64;
        let p = promoters as f64 / n;
        let d = detractors as f64 / n;
        // p + d - (p - d)^2 is a variance, never negative in exact
        // arithmetic; clamp the rounding error of an all-promoter sample.
        let variance = (p + d - (p - d).powi(2)).max(0.0);
        1.96 * 100.0 * (variance / n).sqrt()
    })
}

impl Accumulator for NpsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(scores) = values.first() else {
            return exec_err!("nps() takes one argument, the score");
        };
        let scores = scores.as_primitive::<Int64Type>();
        for score in scores.iter().flatten() {
            match score {
                0..=6 => self.detractors += 1,
                7..=8 => {}
                9..=10 => self.promoters += 1,
                other => {
                    return exec_err!("nps(): score {other} is outside the 0..10 NPS scale");
                }
            }
            self.answers += 1;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [promoters, detractors, answers] = states else {
            return exec_err!("nps(): expected three state columns");
        };
        let sum = |array: &ArrayRef| -> i64 {
            let array = array.as_primitive::<Int64Type>();
            array.iter().flatten().sum()
        };
        self.promoters += sum(promoters);
        self.detractors += sum(detractors);
        self.answers += sum(answers);
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![
            ScalarValue::Int64(Some(self.promoters)),
            ScalarValue::Int64(Some(self.detractors)),
            ScalarValue::Int64(Some(self.answers)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = match self.figure {
            NpsFigure::Score => nps_of_counts(self.promoters, self.detractors, self.answers),
            NpsFigure::Margin => {
                nps_margin_of_counts(self.promoters, self.detractors, self.answers)
            }
        };
        Ok(ScalarValue::Float64(value))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
    }
}

/// `csat_satisfied(score, scale_max)`: whether a CSAT answer is satisfied:
/// 4-5 of 5, 6-7 of 7, 7-10 of 10. NULL in, NULL out; any other scale is
/// an error (metrics.md calls it a data error).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CsatSatisfied {
    signature: Signature,
}

impl Default for CsatSatisfied {
    fn default() -> Self {
        CsatSatisfied {
            signature: Signature::uniform(2, vec![DataType::Int64], Volatility::Immutable),
        }
    }
}

/// The lowest satisfied score of a CSAT scale, if the scale is allowed.
pub fn satisfied_from(scale_max: i64) -> Option<i64> {
    match scale_max {
        5 => Some(4),
        7 => Some(6),
        10 => Some(7),
        _ => None,
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for CsatSatisfied {
    fn name(&self) -> &str {
        "csat_satisfied"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> Result<datafusion::logical_expr::ColumnarValue> {
        use datafusion::arrow::array::{Array, BooleanArray};
        let arrays = datafusion::logical_expr::ColumnarValue::values_to_arrays(&args.args)?;
        let [score, scale] = arrays.as_slice() else {
            return exec_err!("csat_satisfied(score, scale_max) takes 2 arguments");
        };
        let (score, scale) = (
            score.as_primitive::<Int64Type>(),
            scale.as_primitive::<Int64Type>(),
        );
        let mut out = Vec::with_capacity(score.len());
        for row in 0..score.len() {
            if score.is_null(row) || scale.is_null(row) {
                out.push(None);
                continue;
            }
            let Some(threshold) = satisfied_from(scale.value(row)) else {
                return exec_err!(
                    "csat_satisfied(): scale_max {} is not a CSAT scale (5, 7 or 10)",
                    scale.value(row)
                );
            };
            out.push(Some(score.value(row) >= threshold));
        }
        Ok(datafusion::logical_expr::ColumnarValue::Array(Arc::new(
            BooleanArray::from(out),
        )))
    }
}
