//! Stage between catalog and metrics, the data gate: checks that must pass
//! before any figure is trusted.
//!
//! Each rule check counts the rows of one table that break a rule of
//! warehouse.md or metrics.md; the gate also wants every table it reads
//! non-empty, the newest row of each event table recent enough for the
//! week (the config's freshness limits), and no row dated after the run.
//! The warehouse is surveyed once per run ([`survey`]); each week is judged
//! against it ([`judge`], no IO). Any failure stops the week with exit 3
//! and names the table, the column and the row count, so a report built on
//! broken or stale data never reaches leadership. A check that could not
//! run for a reason that is not the data's (the memory limit, the cluster,
//! the way to the warehouse) stops the run instead, with that fault's exit
//! code (1 or 5) and no alert to the data team. The reporting currency
//! reaches the SQL as a bound parameter.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::ParamValues;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;
use thiserror::Error;

use crate::fault::Fault;
use crate::metrics::{Cause, cause_of};

#[derive(Debug, Clone, Error, PartialEq, Eq)]
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
    /// A check's query did not fit in `engine.memory_limit`, even spilling:
    /// the run's fault, not the data's (exit 1).
    #[error(
        "table `{table}`: the data check ran out of the memory engine.memory_limit allows, even spilling to disk (raise it): {message}; nothing was sent"
    )]
    OutOfMemory {
        table: &'static str,
        message: String,
    },
    /// A check's query could not fetch from the warehouse (exit 5).
    #[error(
        "table `{table}`: the data check could not read the warehouse: {message}; nothing was sent"
    )]
    WarehouseAccess {
        table: &'static str,
        message: String,
    },
    /// A check's query failed on a Ballista cluster (a lost executor, say):
    /// neither the data nor the config is known to be at fault (exit 1).
    #[error(
        "table `{table}`: the data check failed on the Ballista cluster: {message}; nothing was sent"
    )]
    ClusterFailed {
        table: &'static str,
        message: String,
    },
    /// A check's query still ran after `engine.query_timeout_seconds`
    /// (exit 1).
    #[error(
        "table `{table}`: the data check still ran after {seconds} s (engine.query_timeout_seconds), stopped; nothing was sent"
    )]
    TimedOut { table: &'static str, seconds: u64 },
    #[error("table `{table}` has no rows; nothing was sent")]
    Empty { table: String },
    #[error(
        "table `{table}` is stale: its newest `{column}` is {newest}, more than {limit_days} day(s) before the week's end {end} (data_gate.freshness); nothing was sent"
    )]
    Stale {
        table: String,
        column: String,
        newest: String,
        limit_days: u32,
        end: String,
    },
    /// The gate failed and the alert to the data team could not be sent
    /// or recorded either.
    #[error("the data team's alert was not sent: {reason}")]
    AlertNotSent { reason: String },
    #[error(
        "table `{table}` has rows dated after the run: its newest `{column}` is {newest}, after {now}; nothing was sent"
    )]
    FromTheFuture {
        table: String,
        column: String,
        newest: String,
        now: String,
    },
}

impl DataError {
    /// Whose fault it is: the data's, unless the check could not run for
    /// a reason of the run's own (the cluster, the memory limit) or of the
    /// way to the warehouse.
    pub fn fault(&self) -> Fault {
        match self {
            DataError::ClusterFailed { .. }
            | DataError::OutOfMemory { .. }
            | DataError::TimedOut { .. } => Fault::Internal,
            DataError::WarehouseAccess { .. } => Fault::WarehouseAccess,
            _ => Fault::Data,
        }
    }
}

/// What the gate wants besides the rules: from the config's `data_gate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSettings {
    /// How many days before the week's end the newest row of each event
    /// table may be; a table not listed (or `off`) is not held to one.
    pub freshness_days: BTreeMap<String, u32>,
    /// Tables allowed to hold no rows.
    pub may_be_empty: BTreeSet<String>,
}

impl Default for GateSettings {
    fn default() -> Self {
        GateSettings {
            freshness_days: default_freshness(),
            may_be_empty: BTreeSet::new(),
        }
    }
}

/// Event tables a weekly export keeps current: usage daily, tickets
/// weekly, surveys and orders less often.
pub fn default_freshness() -> BTreeMap<String, u32> {
    [
        ("usage_events", 3),
        ("tickets", 14),
        ("survey_responses", 31),
        ("orders", 92),
    ]
    .into_iter()
    .map(|(table, days)| (table.to_string(), days))
    .collect()
}

/// What the gate learnt of the warehouse, once per run.
#[derive(Debug, Clone, Default)]
pub struct Survey {
    /// Rows breaking a rule, or checks that could not run.
    pub rule_problems: Vec<DataError>,
    /// Rows per table read.
    pub rows: BTreeMap<String, u64>,
    /// The newest event time (seconds since the epoch) of each event
    /// table read, with its column.
    pub newest: BTreeMap<String, (&'static str, Option<i64>)>,
}

/// Surveys `tables`: every rule check, and one row count (and for an
/// event table, its newest event time) per table, all in one batch (see
/// [`cells_of_all`]).
pub async fn survey(ctx: &SessionContext, tables: &BTreeSet<String>, currency: &str) -> Survey {
    let rules: Vec<Check> = checks()
        .into_iter()
        .filter(|check| tables.contains(check.table))
        .collect();
    let surveyed: Vec<(&'static str, Option<&'static str>)> = crate::catalog::CONTRACT
        .iter()
        .map(|t| t.name)
        .filter(|name| tables.contains(*name))
        .map(|table| {
            let event = crate::catalog::EVENT_TIME
                .iter()
                .find(|(name, _)| *name == table)
                .map(|(_, column)| *column);
            (table, event)
        })
        .collect();
    let counts = surveyed.iter().map(|&(table, event)| {
        Check::survey(
            table,
            match event {
                Some(column) => format!(
                    "SELECT COUNT(*), CAST(to_unixtime(MAX({column})) AS BIGINT) FROM {table}"
                ),
                None => format!("SELECT COUNT(*) FROM {table}"),
            },
        )
    });
    let all: Vec<Check> = rules.iter().cloned().chain(counts).collect();
    let mut cells = cells_of_all(ctx, all, currency).await.into_iter();
    let mut survey = Survey::default();
    for (check, outcome) in rules.iter().zip(cells.by_ref()) {
        match outcome {
            Ok(counts) => {
                for (column, cell) in check.columns.iter().zip(counts) {
                    let rows = cell.unwrap_or(0).max(0) as u64;
                    if rows > 0 {
                        survey.rule_problems.push(DataError::RuleBroken {
                            table: check.table,
                            column,
                            rows,
                            rule: check.rule.to_string(),
                        });
                    }
                }
            }
            Err(problem) => survey.rule_problems.push(problem),
        }
    }
    for ((table, event), outcome) in surveyed.into_iter().zip(cells) {
        match outcome {
            Ok(cells) => {
                let rows = cells.first().copied().flatten().unwrap_or(0).max(0) as u64;
                survey.rows.insert(table.to_string(), rows);
                if let Some(column) = event {
                    let newest = cells.get(1).copied().flatten();
                    survey.newest.insert(table.to_string(), (column, newest));
                }
            }
            Err(problem) => survey.rule_problems.push(problem),
        }
    }
    survey
}

/// The cells of every one of `checks`, in their order. They run as many
/// at once as metric queries do, each in a task of its own: one after the
/// other, the thirty small scans of the gate left a core idle for most of
/// its 0.2 s at demo scale 160. A check that ran out of memory beside the
/// others runs again alone, as a metric query does, so that the memory
/// limit fails the run only where one check alone does not fit.
async fn cells_of_all(
    ctx: &SessionContext,
    checks: Vec<Check>,
    currency: &str,
) -> Vec<Result<Vec<Option<i64>>, DataError>> {
    use futures::StreamExt;
    let mut outcomes: Vec<_> = futures::stream::iter(checks.iter().map(|check| {
        let (session, check, currency) = (ctx.clone(), check.clone(), currency.to_string());
        let table = check.table;
        crate::metrics::series::in_task_or(
            ctx,
            async move { count_cells(&session, &check, &currency).await },
            move |message| DataError::CheckFailed { table, message },
        )
    }))
    .buffered(crate::metrics::queries_at_once(ctx))
    .collect()
    .await;
    for (check, outcome) in checks.iter().zip(outcomes.iter_mut()) {
        if matches!(outcome, Err(DataError::OutOfMemory { .. })) {
            crate::metrics::memory_released(ctx).await;
            *outcome = count_cells(ctx, check, currency).await;
        }
    }
    outcomes
}

/// A check of `table` whose query failed with `error`: by its cause, the
/// data's fault or the run's (the memory limit, the cluster) or the way
/// to the warehouse's.
fn not_run(
    ctx: &SessionContext,
    table: &'static str,
    error: &datafusion::error::DataFusionError,
) -> DataError {
    let message = crate::metrics::one_line(&error.to_string());
    match cause_of(ctx, error) {
        Cause::OutOfMemory => DataError::OutOfMemory { table, message },
        Cause::WarehouseAccess => DataError::WarehouseAccess { table, message },
        Cause::Cluster => DataError::ClusterFailed { table, message },
        Cause::Data => DataError::CheckFailed { table, message },
    }
}

impl Survey {
    /// The checks that could not run for a reason other than the data
    /// (the cluster, the memory limit, the way to the warehouse), taken out
    /// of the survey: the run stops on them (exit 1 or 5) before any week
    /// is judged, so no gate alert goes out for what is not the data's
    /// fault.
    pub fn take_run_failures(&mut self) -> Vec<DataError> {
        let (lost, kept) = std::mem::take(&mut self.rule_problems)
            .into_iter()
            .partition(|problem| problem.fault() != Fault::Data);
        self.rule_problems = kept;
        lost
    }
}

/// Whether the week ending at `end` may be reported, run at `now`: every
/// problem, or none. No IO.
pub fn judge(
    survey: &Survey,
    settings: &GateSettings,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<DataError> {
    let mut problems = survey.rule_problems.clone();
    for (table, rows) in &survey.rows {
        if *rows == 0 && !settings.may_be_empty.contains(table) {
            problems.push(DataError::Empty {
                table: table.clone(),
            });
        }
    }
    let instant = |seconds: i64| {
        DateTime::from_timestamp(seconds, 0)
            .map(crate::report::instant)
            .unwrap_or_else(|| seconds.to_string())
    };
    for (table, (column, newest)) in &survey.newest {
        let Some(newest) = *newest else { continue };
        if newest > now.timestamp() {
            problems.push(DataError::FromTheFuture {
                table: table.clone(),
                column: column.to_string(),
                newest: instant(newest),
                now: crate::report::instant(now),
            });
        } else if let Some(days) = settings.freshness_days.get(table) {
            let oldest_allowed = end.timestamp() - i64::from(*days) * 86_400;
            if newest < oldest_allowed {
                problems.push(DataError::Stale {
                    table: table.clone(),
                    column: column.to_string(),
                    newest: instant(newest),
                    limit_days: *days,
                    end: crate::report::instant(end),
                });
            }
        }
    }
    problems
}

impl Check {
    /// A query of `table` whose cells are facts about it (its rows, its
    /// newest event), not rows that break a rule.
    fn survey(table: &'static str, sql: String) -> Check {
        Check {
            table,
            columns: vec!["*"],
            rule: "",
            sql: sql.into(),
        }
    }
}

#[derive(Clone)]
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
    checks.extend(UNIQUE.iter().map(|(table, column)| {
        Check {
            table,
            columns: vec![column],
            rule: "repeat an id that must name one row",
            // The rows beyond the first of each id (every row of a NULL id, as
            // `COUNT(*) - COUNT(DISTINCT id)` counts them), from a grouped
            // aggregation: it spills beyond the memory limit, where a
            // `COUNT(DISTINCT)` holds every id in memory at once (the check of
            // 4.6 M survey answers ran out of a 512 MiB limit).
            sql: format!(
                "SELECT COALESCE(SUM(CASE WHEN {column} IS NULL THEN n ELSE n - 1 END), 0) \
             FROM (SELECT {column}, COUNT(*) AS n FROM {table} GROUP BY {column}) AS ids"
            )
            .into(),
        }
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

/// The integer cells of a check's one row, NULL as `None`.
async fn count_cells(
    ctx: &SessionContext,
    check: &Check,
    currency: &str,
) -> Result<Vec<Option<i64>>, DataError> {
    let failure = |error: datafusion::error::DataFusionError| not_run(ctx, check.table, &error);
    let mut frame = ctx.sql(&check.sql).await.map_err(failure)?;
    if check.sql.contains("$currency") {
        frame = frame
            .with_param_values(ParamValues::from(vec![(
                "currency",
                ScalarValue::Utf8(Some(currency.to_string())),
            )]))
            .map_err(failure)?;
    }
    let batches = match crate::metrics::query_timeout(ctx) {
        Some(limit) => tokio::time::timeout(limit, frame.collect())
            .await
            .map_err(|_| DataError::TimedOut {
                table: check.table,
                seconds: limit.as_secs(),
            })?,
        None => frame.collect().await,
    }
    .map_err(failure)?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(vec![None; batches.first().map_or(1, |b| b.num_columns())]);
    };
    batch
        .columns()
        .iter()
        .map(|column| {
            let column = cast(column, &DataType::Int64).map_err(|e| failure(e.into()))?;
            let column = column.as_primitive::<Int64Type>();
            Ok(column.is_valid(0).then(|| column.value(0)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts of a check's one row, one per column.
    async fn count(
        ctx: &SessionContext,
        check: &Check,
        currency: &str,
    ) -> Result<Vec<u64>, DataError> {
        Ok(count_cells(ctx, check, currency)
            .await?
            .into_iter()
            .map(|cell| cell.unwrap_or(0).max(0) as u64)
            .collect())
    }

    /// A session with `memory_limit` bytes and a table `clients` whose
    /// `client_id`s are `ids`.
    async fn clients(ids: &str, memory_limit: u64) -> SessionContext {
        let engine = crate::config::EngineSettings {
            kind: crate::config::EngineKind::Local,
            memory_limit: Some(memory_limit),
            ..Default::default()
        };
        let ctx =
            crate::metrics::new_session(&crate::metrics::udf::UdfSettings::default(), &engine)
                .unwrap();
        ctx.sql(&format!("CREATE TABLE clients AS {ids}"))
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        ctx
    }

    fn unique_ids_check() -> Check {
        checks()
            .into_iter()
            .find(|c| c.table == "clients" && c.rule.starts_with("repeat"))
            .unwrap()
    }

    #[tokio::test]
    async fn the_unique_check_counts_every_row_beyond_the_first_and_every_null_id() {
        let ctx = clients(
            "SELECT * FROM (VALUES ('a'), ('a'), ('a'), ('b'), (NULL), (NULL)) AS t(client_id)",
            256 << 20,
        )
        .await;
        // As COUNT(*) - COUNT(DISTINCT client_id): 6 - 2.
        let counts = count(&ctx, &unique_ids_check(), "EUR").await.ok().unwrap();
        assert_eq!(counts, vec![4]);
    }

    #[tokio::test]
    async fn a_check_out_of_memory_is_the_runs_fault_not_the_datas() {
        let ctx = clients(
            "SELECT CAST(value AS VARCHAR) AS client_id FROM generate_series(1, 100000)",
            1024,
        )
        .await;
        let problem = count(&ctx, &unique_ids_check(), "EUR").await.err().unwrap();
        assert!(
            matches!(
                problem,
                DataError::OutOfMemory {
                    table: "clients",
                    ..
                }
            ),
            "{problem}"
        );
        assert_eq!(problem.fault(), Fault::Internal);
        assert!(
            problem.to_string().contains("engine.memory_limit"),
            "{problem}"
        );
        let mut survey = Survey {
            rule_problems: vec![problem, empty_table()],
            ..Survey::default()
        };
        let lost = survey.take_run_failures();
        assert!(matches!(&lost[..], [DataError::OutOfMemory { .. }]));
        assert!(matches!(
            &survey.rule_problems[..],
            [DataError::Empty { .. }]
        ));
    }

    #[tokio::test]
    async fn checks_run_together_give_each_its_own_cells_in_order() {
        let ctx = clients(
            "SELECT * FROM (VALUES ('a'), ('a'), ('b'), (NULL)) AS t(client_id)",
            256 << 20,
        )
        .await;
        let counted = |sql: &str| Check::survey("clients", sql.to_string());
        let checks = vec![
            unique_ids_check(),
            counted("SELECT COUNT(*) FROM clients"),
            counted("SELECT COUNT(*) FROM clients WHERE client_id = 'a'"),
            counted("SELECT COUNT(*), COUNT(client_id) FROM clients"),
            counted("SELECT COUNT(*) FROM no_such_table"),
        ];
        let mut alone = Vec::new();
        for check in &checks {
            alone.push(count_cells(&ctx, check, "EUR").await.ok());
        }
        let together: Vec<_> = cells_of_all(&ctx, checks, "EUR")
            .await
            .into_iter()
            .map(Result::ok)
            .collect();
        assert_eq!(
            together,
            vec![
                Some(vec![Some(2)]),
                Some(vec![Some(4)]),
                Some(vec![Some(2)]),
                Some(vec![Some(4), Some(3)]),
                None,
            ]
        );
        assert_eq!(together, alone);
    }

    #[tokio::test]
    async fn a_check_out_of_memory_beside_others_runs_again_alone() {
        // Too little memory for the unique check even alone: it ends out
        // of memory, in its place, and the others still count.
        let ctx = clients(
            "SELECT CAST(value AS VARCHAR) AS client_id FROM generate_series(1, 100000)",
            1024,
        )
        .await;
        let counted = Check::survey("clients", "SELECT COUNT(*) FROM clients".to_string());
        let cells = cells_of_all(
            &ctx,
            vec![counted.clone(), unique_ids_check(), counted],
            "EUR",
        )
        .await;
        assert!(matches!(
            &cells[..],
            [
                Ok(_),
                Err(DataError::OutOfMemory {
                    table: "clients",
                    ..
                }),
                Ok(_)
            ]
        ));
        assert_eq!(cells[2].as_ref().ok(), Some(&vec![Some(100_000)]));
    }

    fn empty_table() -> DataError {
        DataError::Empty {
            table: "orders".to_string(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("an RFC 3339 instant")
    }

    fn survey(newest_usage: &str, rows: u64) -> Survey {
        Survey {
            rule_problems: Vec::new(),
            rows: BTreeMap::from([
                ("usage_events".to_string(), rows),
                ("projects".to_string(), 0),
            ]),
            newest: BTreeMap::from([(
                "usage_events".to_string(),
                ("occurred_at", Some(at(newest_usage).timestamp())),
            )]),
        }
    }

    #[test]
    fn the_gate_holds_freshness_at_its_boundary_and_refuses_the_future() {
        let end = at("2026-11-23T00:00:00Z");
        let now = at("2026-11-23T06:00:00Z");
        let settings = GateSettings {
            may_be_empty: BTreeSet::from(["projects".to_string()]),
            ..GateSettings::default()
        };
        // Exactly 3 days before the week's end: fresh; a second more: stale.
        assert!(judge(&survey("2026-11-20T00:00:00Z", 5), &settings, end, now).is_empty());
        let stale = judge(&survey("2026-11-19T23:59:59Z", 5), &settings, end, now);
        assert!(
            matches!(&stale[..], [DataError::Stale { limit_days: 3, .. }]),
            "{stale:?}"
        );
        // After the run's own clock: refused, whatever the freshness.
        let future = judge(&survey("2026-11-23T06:00:01Z", 5), &settings, end, now);
        assert!(
            matches!(&future[..], [DataError::FromTheFuture { .. }]),
            "{future:?}"
        );
        assert!(judge(&survey("2026-11-23T06:00:00Z", 5), &settings, end, now).is_empty());
        // An empty table, unless the config allows it.
        let empty = judge(&survey("2026-11-22T00:00:00Z", 0), &settings, end, now);
        assert_eq!(
            empty,
            vec![DataError::Empty {
                table: "usage_events".to_string()
            }]
        );
        let strict = GateSettings::default();
        assert_eq!(
            judge(&survey("2026-11-22T00:00:00Z", 1), &strict, end, now).len(),
            1,
            "projects may not be empty by default"
        );
    }
}
