//! Revenue UDFs: `monthly_mrr(amount, discount_pct, billing_period_months)`,
//! the monthly-normalised recurring revenue of one subscription row:
//! `amount * (1 - coalesce(discount_pct, 0)) / billing_period_months`.
//!
//! Money may be DECIMAL or DOUBLE in the warehouse; both are read as
//! DOUBLE. The result is DECIMAL(38, 10): each row's revenue rounded once
//! to 10 decimal places, so that sums over rows are exact and the same in
//! any order. Float sums are not: three unchanged rows summed at the two
//! ends of a window in different orders can differ in the last bit, a
//! phantom expansion; and a figure would change with the number of
//! partitions. 10 places keep every figure of metrics.md exact to far
//! below a cent (rounding happens only when rendering).
//!
//! A NULL amount or period gives NULL; a NULL discount is 0; a period that
//! is not positive is an error, not a division by zero.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Decimal128Array};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

/// Digits of the money decimal, and digits after the point.
pub const MONEY_PRECISION: u8 = 38;
pub const MONEY_SCALE: i8 = 10;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MonthlyMrr {
    signature: Signature,
}

impl Default for MonthlyMrr {
    fn default() -> Self {
        MonthlyMrr {
            signature: Signature::uniform(3, vec![DataType::Float64], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MonthlyMrr {
    fn name(&self) -> &str {
        "monthly_mrr"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [amount, discount, months] = arrays.as_slice() else {
            return exec_err!(
                "monthly_mrr(amount, discount_pct, billing_period_months) takes 3 arguments"
            );
        };
        let (amount, discount, months) = (
            amount.as_primitive::<Float64Type>(),
            discount.as_primitive::<Float64Type>(),
            months.as_primitive::<Float64Type>(),
        );
        let mut out = Vec::with_capacity(amount.len());
        for row in 0..amount.len() {
            if amount.is_null(row) || months.is_null(row) {
                out.push(None);
                continue;
            }
            let period = months.value(row);
            if period <= 0.0 {
                return exec_err!(
                    "monthly_mrr(): billing_period_months is {period}, not a positive number of months"
                );
            }
            let discount = if discount.is_null(row) {
                0.0
            } else {
                discount.value(row)
            };
            let monthly = amount.value(row) * (1.0 - discount) / period;
            let scaled = (monthly * 10f64.powi(i32::from(MONEY_SCALE))).round();
            // Below 10^18 a month, 38 digits leave room to sum 10^10 rows.
            if !scaled.is_finite() || monthly.abs() >= 1e18 {
                return exec_err!(
                    "monthly_mrr(): {monthly} is not a sum of money clientpulse can add up exactly"
                );
            }
            out.push(Some(scaled as i128));
        }
        let array =
            Decimal128Array::from(out).with_precision_and_scale(MONEY_PRECISION, MONEY_SCALE)?;
        Ok(ColumnarValue::Array(Arc::new(array)))
    }
}
