//! Stage between catalog and metrics: data checks that must pass before any
//! figure is trusted.
//!
//! Each check counts the rows of one table that break a rule of
//! warehouse.md or metrics.md. Any failure stops the run with exit 3 and
//! names the table, the column and the row count, so a report built on
//! broken data is never sent. The reporting currency reaches the SQL as a
//! bound parameter.

use std::collections::BTreeSet;

use datafusion::arrow::array::{Array, AsArray};
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
    /// The column each count of the query's one row is about.
    columns: Vec<&'static str>,
    rule: &'static str,
    /// Counts the offending rows, one count per column of `columns`; may
    /// use `$currency`.
    sql: std::borrow::Cow<'static, str>,
}

/// Columns warehouse.md does not mark nullable that a metric cannot do
/// without: the ids that join and count, the instants windows are cut by,
/// and money. A NULL there would silently drop rows from a figure.
const NOT_NULL: &[(&str, &str)] = &[
    ("clients", "client_id"),
    ("clients", "created_at"),
    ("subscriptions", "client_id"),
    ("subscriptions", "amount"),
    ("subscriptions", "started_at"),
    ("orders", "order_id"),
    ("orders", "client_id"),
    ("orders", "ordered_at"),
    ("orders", "amount"),
    ("survey_responses", "response_id"),
    ("survey_responses", "client_id"),
    ("survey_responses", "respondent_id"),
    ("survey_responses", "responded_at"),
    ("tickets", "ticket_id"),
    ("tickets", "client_id"),
    ("tickets", "opened_at"),
    ("projects", "project_id"),
    ("projects", "client_id"),
    ("projects", "due_at"),
    ("onboarding", "client_id"),
    ("onboarding", "started_at"),
    ("usage_events", "client_id"),
    ("usage_events", "user_id"),
    ("usage_events", "occurred_at"),
];

/// Ids that name one row each: a repeated one would count a client, an
/// order or an answer twice.
const UNIQUE: &[(&str, &str)] = &[
    ("clients", "client_id"),
    ("orders", "order_id"),
    ("survey_responses", "response_id"),
    ("tickets", "ticket_id"),
    ("projects", "project_id"),
];

/// Every check: the rules of warehouse.md and metrics.md, then the NULL
/// and uniqueness rules. Table and column names are constants of this
/// file, never user text.
fn checks() -> Vec<Check> {
    let mut checks: Vec<Check> = RULES
        .iter()
        .map(|(table, column, rule, sql)| Check {
            table,
            columns: vec![column],
            rule,
            sql: (*sql).into(),
        })
        .collect();
    // One scan per table for all of its NULL rules.
    let mut tables: Vec<&'static str> = NOT_NULL.iter().map(|(table, _)| *table).collect();
    tables.dedup();
    for table in tables {
        let columns: Vec<&'static str> = NOT_NULL
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, column)| *column)
            .collect();
        let counts = columns
            .iter()
            .map(|column| format!("COUNT(*) FILTER (WHERE {column} IS NULL)"))
            .collect::<Vec<_>>()
            .join(", ");
        checks.push(Check {
            table,
            columns,
            rule: "are NULL, which warehouse.md does not allow",
            sql: format!("SELECT {counts} FROM {table}").into(),
        });
    }
    checks.extend(UNIQUE.iter().map(|(table, column)| Check {
        table,
        columns: vec![column],
        rule: "repeat an id that must name one row",
        sql: format!("SELECT COUNT(*) - COUNT(DISTINCT {column}) FROM {table}").into(),
    }));
    checks
}

type Rule = (&'static str, &'static str, &'static str, &'static str);

const RULES: &[Rule] = &[
    (
        "subscriptions",
        "currency",
        "are in a currency other than the reporting currency",
        "SELECT COUNT(*) FROM subscriptions WHERE currency IS NULL OR upper(currency) <> $currency",
    ),
    (
        "orders",
        "currency",
        "are in a currency other than the reporting currency",
        "SELECT COUNT(*) FROM orders WHERE currency IS NULL OR upper(currency) <> $currency",
    ),
    (
        "subscriptions",
        "ended_at",
        "end before they start (ended_at < started_at)",
        "SELECT COUNT(*) FROM subscriptions WHERE ended_at < started_at",
    ),
    (
        "subscriptions",
        "billing_period_months",
        "have a billing period that is not a positive number of months",
        "SELECT COUNT(*) FROM subscriptions WHERE billing_period_months IS NULL OR billing_period_months <= 0",
    ),
    (
        "subscriptions",
        "discount_pct",
        "have a discount outside [0, 1) (0.1 is 10 %; 1 would make the row free)",
        "SELECT COUNT(*) FROM subscriptions WHERE discount_pct < 0 OR discount_pct >= 1",
    ),
    (
        "subscriptions",
        "amount",
        "have a negative amount (a refund is not a subscription price)",
        "SELECT COUNT(*) FROM subscriptions WHERE amount < 0",
    ),
    (
        "survey_responses",
        "scale_max",
        "have a scale_max the spec does not allow (nps: 10; csat: 5, 7 or 10; ces: 7)",
        "SELECT COUNT(*) FROM survey_responses WHERE \
              (survey = 'nps' AND scale_max <> 10) \
              OR (survey = 'csat' AND scale_max NOT IN (5, 7, 10)) \
              OR (survey = 'ces' AND scale_max <> 7) \
              OR (survey IN ('nps', 'csat', 'ces') AND scale_max IS NULL)",
    ),
    (
        "survey_responses",
        "score",
        "have a score outside their scale (nps 0..10, csat and ces 1..scale_max)",
        "SELECT COUNT(*) FROM survey_responses WHERE \
              (survey = 'nps' AND (score < 0 OR score > 10)) \
              OR (survey IN ('csat', 'ces') AND (score < 1 OR score > scale_max)) \
              OR (survey IN ('nps', 'csat', 'ces') AND score IS NULL)",
    ),
];

/// Runs every check whose table is among `tables`; returns every failure.
pub async fn run_checks(
    ctx: &SessionContext,
    tables: &BTreeSet<String>,
    currency: &str,
) -> Result<(), Vec<DataError>> {
    let mut failures = Vec::new();
    for check in checks().iter().filter(|c| tables.contains(c.table)) {
        match count(ctx, check, currency).await {
            Ok(counts) => {
                for (column, rows) in check.columns.iter().zip(counts) {
                    if rows > 0 {
                        failures.push(DataError::RuleBroken {
                            table: check.table,
                            column,
                            rows,
                            rule: check.rule.to_string(),
                        });
                    }
                }
            }
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

/// The counts of a check's one row, one per column.
async fn count(ctx: &SessionContext, check: &Check, currency: &str) -> Result<Vec<u64>, String> {
    let one_line = |e: &dyn std::fmt::Display| {
        e.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut frame = ctx.sql(&check.sql).await.map_err(|e| one_line(&e))?;
    if check.sql.contains("$currency") {
        frame = frame
            .with_param_values(ParamValues::from(vec![(
                "currency",
                ScalarValue::Utf8(Some(currency.to_string())),
            )]))
            .map_err(|e| one_line(&e))?;
    }
    let batches = frame.collect().await.map_err(|e| one_line(&e))?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(vec![0; check.columns.len()]);
    };
    batch
        .columns()
        .iter()
        .map(|column| {
            let column = cast(column, &DataType::Int64).map_err(|e| one_line(&e))?;
            let column = column.as_primitive::<Int64Type>();
            Ok(if column.is_valid(0) {
                column.value(0).max(0) as u64
            } else {
                0
            })
        })
        .collect()
}
