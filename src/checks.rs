//! Stage between catalog and metrics: data checks that must pass before any
//! figure is trusted.
//!
//! Each check counts the rows of one table that break a rule of
//! warehouse.md or metrics.md. Any failure stops the run with exit 3 and
//! names the table, the column and the row count, so a report built on
//! broken data is never sent. The reporting currency reaches the SQL as a
//! bound parameter.

use std::collections::BTreeSet;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ParamValues;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DataError {
    #[error("table `{table}`, column `{column}`: {rows} row(s) {rule}; nothing was sent")]
    RuleBroken {
        table: &'static str,
        column: &'static str,
        rows: u64,
        rule: String,
    },
    #[error("table `{table}`: the data check failed to run: {message}")]
    CheckFailed {
        table: &'static str,
        message: String,
    },
}

struct Check {
    table: &'static str,
    column: &'static str,
    rule: &'static str,
    /// Counts the offending rows; may use `$currency`.
    sql: &'static str,
}

const CHECKS: &[Check] = &[
    Check {
        table: "subscriptions",
        column: "currency",
        rule: "are in a currency other than the reporting currency",
        sql: "SELECT COUNT(*) FROM subscriptions WHERE currency IS NULL OR upper(currency) <> $currency",
    },
    Check {
        table: "orders",
        column: "currency",
        rule: "are in a currency other than the reporting currency",
        sql: "SELECT COUNT(*) FROM orders WHERE currency IS NULL OR upper(currency) <> $currency",
    },
    Check {
        table: "subscriptions",
        column: "ended_at",
        rule: "end before they start (ended_at < started_at)",
        sql: "SELECT COUNT(*) FROM subscriptions WHERE ended_at < started_at",
    },
    Check {
        table: "subscriptions",
        column: "billing_period_months",
        rule: "have a billing period that is not a positive number of months",
        sql: "SELECT COUNT(*) FROM subscriptions WHERE billing_period_months IS NULL OR billing_period_months <= 0",
    },
    Check {
        table: "subscriptions",
        column: "discount_pct",
        rule: "have a discount outside 0..1",
        sql: "SELECT COUNT(*) FROM subscriptions WHERE discount_pct < 0 OR discount_pct > 1",
    },
    Check {
        table: "survey_responses",
        column: "scale_max",
        rule: "have a scale_max the spec does not allow (nps: 10; csat: 5, 7 or 10; ces: 7)",
        sql: "SELECT COUNT(*) FROM survey_responses WHERE \
              (survey = 'nps' AND scale_max <> 10) \
              OR (survey = 'csat' AND scale_max NOT IN (5, 7, 10)) \
              OR (survey = 'ces' AND scale_max <> 7) \
              OR (survey IN ('nps', 'csat', 'ces') AND scale_max IS NULL)",
    },
    Check {
        table: "survey_responses",
        column: "score",
        rule: "have a score outside their scale (nps 0..10, csat and ces 1..scale_max)",
        sql: "SELECT COUNT(*) FROM survey_responses WHERE \
              (survey = 'nps' AND (score < 0 OR score > 10)) \
              OR (survey IN ('csat', 'ces') AND (score < 1 OR score > scale_max)) \
              OR (survey IN ('nps', 'csat', 'ces') AND score IS NULL)",
    },
];

/// Runs every check whose table is among `tables`; returns every failure.
pub async fn run_checks(
    ctx: &SessionContext,
    tables: &BTreeSet<String>,
    currency: &str,
) -> Result<(), Vec<DataError>> {
    let mut failures = Vec::new();
    for check in CHECKS.iter().filter(|c| tables.contains(c.table)) {
        match count(ctx, check, currency).await {
            Ok(0) => {}
            Ok(rows) => failures.push(DataError::RuleBroken {
                table: check.table,
                column: check.column,
                rows,
                rule: check.rule.to_string(),
            }),
            Err(message) => failures.push(DataError::CheckFailed {
                table: check.table,
                message,
            }),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

async fn count(ctx: &SessionContext, check: &Check, currency: &str) -> Result<u64, String> {
    let mut frame = ctx.sql(check.sql).await.map_err(|e| e.to_string())?;
    if check.sql.contains("$currency") {
        frame = frame
            .with_param_values(ParamValues::from(vec![(
                "currency",
                ScalarValue::Utf8(Some(currency.to_string())),
            )]))
            .map_err(|e| e.to_string())?;
    }
    let batches = frame.collect().await.map_err(|e| e.to_string())?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(0);
    };
    let column = cast(batch.column(0), &DataType::Int64).map_err(|e| e.to_string())?;
    Ok(column.as_primitive::<Int64Type>().value(0).max(0) as u64)
}
