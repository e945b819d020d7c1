//! Stage 3, metrics: the query library, the UDFs, and running one metric's
//! SQL for one window.
//!
//! A metric is pure SQL over the tables the catalog registered, plus the
//! UDFs of [`udf::register_udfs`]. Window bounds are bound parameters
//! (`$window_start`, `$window_end`), never text pasted into the SQL, so a
//! query is planned the same way for every week and no warehouse value can
//! change what it means. Results leave this module as plain numbers
//! ([`MetricValue`]): no Arrow type goes further.

pub mod library;
mod plans;
pub mod series;
pub mod udf;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::catalog::MemoryCatalogProviderList;
use datafusion::common::ParamValues;
use datafusion::common::config::Dialect;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use thiserror::Error;

pub use library::{Composition, Format, Presentation, QueryFile, QueryLibrary, Unit};

use chrono::{DateTime, Utc};

use crate::config::{EngineKind, EngineSettings};
use crate::fault::Fault;
use crate::period::{Period, Window, WindowBounds};

#[derive(Debug, Error)]
pub enum MetricsError {
    /// The SQL does not parse or plan: the query is at fault (exit 2).
    #[error("{file}: {message}")]
    Query { file: PathBuf, message: String },
    /// The result does not have the shape every metric query must have.
    #[error("{file}: {message}")]
    Shape { file: PathBuf, message: String },
    /// The query planned but failed on the data (exit 3).
    #[error("{file}: failed on the warehouse data: {message}")]
    Execution { file: PathBuf, message: String },
    /// The catalog could not list a breakdown's segments or restrict the
    /// tables to one.
    #[error("{0}")]
    Catalog(#[from] crate::catalog::CatalogError),
    /// A `DATAFUSION_*` environment variable has a value DataFusion refuses.
    #[error("a DataFusion setting from the environment is invalid: {message}")]
    Environment { message: String },
    /// The warehouse could not be read while the query ran (network,
    /// credentials): neither the query nor the data is known to be wrong.
    #[error("{file}: cannot read the warehouse: {message}")]
    WarehouseAccess { file: PathBuf, message: String },
    /// The query needed more memory than `engine.memory_limit` leaves it,
    /// even spilling: neither the query nor the data is wrong (exit 1).
    #[error(
        "{file}: ran out of the memory engine.memory_limit allows, even spilling to disk (raise it): {message}"
    )]
    OutOfMemory { file: PathBuf, message: String },
    /// The engine's cluster could not be reached or started (exit 1).
    #[error("{message}")]
    Cluster { message: String },
    /// A query failed on the cluster: a lost executor, a task that failed
    /// too often. The cluster reports every cause as text, so none is
    /// blamed on the data (exit 1; nothing is sent).
    #[error("{file}: failed on the Ballista cluster: {message}")]
    ClusterQuery { file: PathBuf, message: String },
    /// A query still ran after `engine.query_timeout_seconds`: it was
    /// stopped, and so was the run (exit 1; nothing is sent).
    #[error(
        "{file}: still running after {seconds} s (engine.query_timeout_seconds), stopped; on a Ballista cluster the scheduler may have lost the job"
    )]
    TimedOut { file: PathBuf, seconds: u64 },
    /// Splitting the tables among the segments or books of a column still
    /// ran after `engine.query_timeout_seconds` (it reads every table the
    /// metrics read): stopped, and so was the run (exit 1; nothing is
    /// sent).
    #[error(
        "the slices of the tables for each {column}: still running after {seconds} s (engine.query_timeout_seconds), stopped"
    )]
    SlicesTimedOut { column: String, seconds: u64 },
    /// The task a query or a slice ran in was cancelled before it ended
    /// (the runtime shutting down): a bug or the machine, not the data
    /// (exit 1).
    #[error("{what}: its task stopped before it ended: {message}")]
    TaskStopped { what: String, message: String },
}

/// How long a session's queries may run (`engine.query_timeout_seconds`),
/// kept in its config so that every session made from it keeps it.
#[derive(Debug)]
struct QueryTimeout(std::time::Duration);

/// How long one query of `ctx` may run; `None` for a session made
/// elsewhere (a test's).
pub fn query_timeout(ctx: &SessionContext) -> Option<std::time::Duration> {
    ctx.state()
        .config()
        .get_extension::<QueryTimeout>()
        .map(|timeout| timeout.0)
}

/// Runs `work`, one query of `file` in `ctx`, within the session's query
/// timeout.
async fn within_timeout<T>(
    ctx: &SessionContext,
    file: &std::path::Path,
    work: impl std::future::Future<Output = Result<T, MetricsError>>,
) -> Result<T, MetricsError> {
    within(query_timeout(ctx), work, |seconds| MetricsError::TimedOut {
        file: file.to_path_buf(),
        seconds,
    })
    .await
}

/// Runs `work` for at most `limit` (no limit: `None`); past it, the error
/// `late` makes from the limit in seconds. Dropping the work on timeout
/// stops its tasks (and, on a cluster, the client's wait for the job).
pub(crate) async fn within<T>(
    limit: Option<std::time::Duration>,
    work: impl std::future::Future<Output = Result<T, MetricsError>>,
    late: impl FnOnce(u64) -> MetricsError,
) -> Result<T, MetricsError> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, work)
            .await
            .unwrap_or_else(|_| Err(late(limit.as_secs()))),
        None => work.await,
    }
}

/// Marks the config of a session whose queries run on a cluster.
#[derive(Debug)]
pub struct OnCluster;

/// Whether `ctx`'s queries run on a cluster.
pub fn on_cluster(ctx: &SessionContext) -> bool {
    ctx.state().config().get_extension::<OnCluster>().is_some()
}

/// Metric queries a session runs at once. Locally three: DataFusion
/// parallelises inside each, and more than one overlap one query's
/// planning (on one core) and small scans with another's work (one at a
/// time was a third slower at scale 16). Each runs in a task of its own
/// (`series::in_task`); with that, three rather than two took the report
/// at scale 160 from 3.7-3.95 s to 3.5-3.8 s (the segments and books are
/// small queries over slices, a good part of each planning), and left
/// scale 1600 as it was (31-32 s, peak 1.8-1.9 GiB; under
/// `memory_limit: 128MiB` 40 s against 42 s, the same 9 queries run
/// again alone). On a cluster four: a query there spends most of its time
/// waiting on round trips (job submitted, stages polled for by the
/// executors, status polled for by the run), about 0.2 s even for a tiny
/// one, so more in flight keep the executors busy; but with sixteen jobs
/// in flight on the 2-core standalone cluster, Ballista 55's scheduler
/// now and then refused a batch of task statuses ("task metrics array
/// size 8 does not equal with the stage metrics array size 7") and the job
/// never ended: 4 of 6 runs of the shipped report over a day-partitioned
/// warehouse hung under load, none of 3 with four (each 45-60 s instead
/// of 30 s).
pub(crate) fn queries_at_once(ctx: &SessionContext) -> usize {
    if on_cluster(ctx) { 4 } else { 3 }
}

impl MetricsError {
    pub fn fault(&self) -> Fault {
        match self {
            MetricsError::Query { .. }
            | MetricsError::Shape { .. }
            | MetricsError::Environment { .. } => Fault::Input,
            MetricsError::Execution { .. } => Fault::Data,
            MetricsError::WarehouseAccess { .. } => Fault::WarehouseAccess,
            MetricsError::OutOfMemory { .. }
            | MetricsError::Cluster { .. }
            | MetricsError::ClusterQuery { .. }
            | MetricsError::TimedOut { .. }
            | MetricsError::SlicesTimedOut { .. }
            | MetricsError::TaskStopped { .. } => Fault::Internal,
            MetricsError::Catalog(error) => error.fault(),
        }
    }

    /// An error of running `query`, by its [`Cause`].
    fn execution(
        ctx: &SessionContext,
        file: &std::path::Path,
        error: &datafusion::error::DataFusionError,
    ) -> Self {
        let file = file.to_path_buf();
        let message = one_line(&error.to_string());
        match cause_of(ctx, error) {
            Cause::WarehouseAccess => MetricsError::WarehouseAccess { file, message },
            Cause::OutOfMemory => MetricsError::OutOfMemory { file, message },
            Cause::Cluster => MetricsError::ClusterQuery { file, message },
            Cause::Data => MetricsError::Execution { file, message },
        }
    }
}

/// Why a query over the warehouse failed, as far as the engine can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// An object store failed to fetch: the way to the warehouse.
    WarehouseAccess,
    /// A query did not fit in `engine.memory_limit`, even spilling.
    OutOfMemory,
    /// A query failed on the cluster, which reports every cause as text:
    /// none is blamed on the data.
    Cluster,
    /// Anything else: the data the query read.
    Data,
}

/// The [`Cause`] of `error`, from a query run in `ctx`; the metrics and
/// the data gate both classify their failures by it.
pub fn cause_of(ctx: &SessionContext, error: &datafusion::error::DataFusionError) -> Cause {
    use datafusion::error::DataFusionError;
    match error.find_root() {
        DataFusionError::ObjectStore(store) if crate::storage::is_access_fault(store) => {
            Cause::WarehouseAccess
        }
        DataFusionError::ResourcesExhausted(_) => Cause::OutOfMemory,
        _ if on_cluster(ctx) => Cause::Cluster,
        _ => Cause::Data,
    }
}

/// What a metric's SQL may do: read. DDL (`CREATE`, `DROP`), DML
/// (`INSERT`, `COPY … TO`) and statements (`SET`) are refused by the
/// planner too, behind the query library's own check.
pub fn read_only_sql() -> datafusion::execution::context::SQLOptions {
    datafusion::execution::context::SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Every metric id of metrics.md, whether or not `queries/` has SQL for it
/// yet: a benchmark may name any of them.
pub const SPEC_METRIC_IDS: &[&str] = &[
    "mrr",
    "arr",
    "paying_clients",
    "arpc",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "net_new_mrr",
    "gross_mrr_churn_rate",
    "net_mrr_churn_rate",
    "nrr",
    "grr",
    "revenue_growth_per_client",
    "clv",
    "new_clients",
    "churned_clients",
    "client_churn_rate",
    "client_retention_rate",
    "repeat_purchase_rate",
    "nps",
    "nps_margin",
    "csat",
    "csat_average",
    "ces",
    "ces_average",
    "feedback",
    "first_response_time",
    "time_to_resolution",
    "open_tickets",
    "project_on_time_rate",
    "overdue_projects",
    "onboarding_completion_rate",
    "active_client_rate",
    "stickiness",
    "feature_adoption",
];

/// One metric's figures for one window, as plain numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricValue {
    /// `None` where metrics.md says null (a zero denominator, no data).
    pub value: Option<f64>,
    /// The count the value's denominator is made of.
    pub sample_size: u64,
    /// Further numeric columns of the query (p90, mean, unanswered, …).
    pub extras: BTreeMap<String, Option<f64>>,
    /// Rows of a list-valued metric (feature adoption, feedback, movers).
    pub items: Vec<Item>,
}

impl MetricValue {
    /// The figure without its items: for the weeks of a trend before the
    /// report's own, and for segments, whose items no report shows. At
    /// scale 1600 the at-risk list of one week is about 100 k items, and
    /// keeping eleven weeks of them (and a book's) grew a run by 3 GiB.
    pub fn without_items(self) -> MetricValue {
        MetricValue {
            items: Vec::new(),
            ..self
        }
    }
}

/// One row of a list-valued metric: a feature, a comment, a client.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    pub label: String,
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_size: Option<u64>,
    /// Text columns (client name, comment, kind…): warehouse data, to be
    /// escaped wherever it is shown.
    #[serde(flatten)]
    pub texts: BTreeMap<String, Option<String>>,
    /// Further numeric columns (a client's MRR, a risk score…).
    #[serde(flatten)]
    pub numbers: BTreeMap<String, Option<f64>>,
}

/// DataFusion's settings from its standard `DATAFUSION_*` environment
/// variables (`DATAFUSION_EXECUTION_TARGET_PARTITIONS`, say), then ours.
fn session_config() -> Result<SessionConfig, MetricsError> {
    let base = SessionConfig::from_env().map_err(|error| {
        let names: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .filter(|name| name.starts_with("DATAFUSION_"))
            .collect();
        MetricsError::Environment {
            message: format!("{} ({})", one_line(&error.to_string()), names.join(", ")),
        }
    })?;
    Ok(base
        .with_information_schema(true)
        // Timestamps compare as UTC instants whatever the warehouse stored.
        .set_str("datafusion.execution.time_zone", "UTC"))
}

/// A new DataFusion session in this process with every clientpulse UDF
/// registered, its queries' memory bounded by `engine.memory_limit`: each
/// sort and aggregation may hold its fair share of the pool and spills to
/// disk beyond it. (A greedy pool, first come first served, was faster at
/// scale 160 but failed at 1600: an aggregation that had spilled all it
/// held still found the pool taken by the other queries running at once.)
/// An error only when a `DATAFUSION_*` environment variable is invalid.
pub fn new_session(
    settings: &udf::UdfSettings,
    engine: &EngineSettings,
) -> Result<SessionContext, MetricsError> {
    // The run's sessions (the segments' and books', made from this one)
    // share its plans. Not on a cluster, whose planner is its own.
    let config = session_config()?.with_extension(Arc::new(plans::PlanCache::default()));
    session_with(config, settings, engine)
}

fn session_with(
    config: SessionConfig,
    settings: &udf::UdfSettings,
    engine: &EngineSettings,
) -> Result<SessionContext, MetricsError> {
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = engine.query_bytes() {
        // The five largest consumers are named when the limit is hit.
        let top = std::num::NonZeroUsize::new(5).unwrap_or(std::num::NonZeroUsize::MIN);
        runtime = runtime.with_memory_pool(Arc::new(TrackConsumersPool::new(
            FairSpillPool::new(limit),
            top,
        )));
    }
    if let Some(dir) = &engine.spill_dir {
        runtime = runtime.with_temp_file_path(dir);
    }
    let runtime = runtime
        .build_arc()
        .map_err(|error| MetricsError::Environment {
            message: one_line(&error.to_string()),
        })?;
    let config = config.with_extension(Arc::new(QueryTimeout(engine.query_timeout())));
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    udf::register_udfs(&ctx, settings);
    Ok(ctx)
}

/// The session the run's queries go to: [`new_session`] for the local
/// engine, a Ballista cluster's for `engine.kind: ballista`.
pub async fn engine_session(
    settings: &udf::UdfSettings,
    engine: &EngineSettings,
) -> Result<SessionContext, MetricsError> {
    match &engine.kind {
        EngineKind::Local => new_session(settings, engine),
        #[cfg(feature = "ballista")]
        kind => {
            let config = crate::cluster::cluster_config(session_config()?)
                .with_extension(Arc::new(OnCluster));
            let ctx = session_with(config, settings, engine)?;
            crate::cluster::connect(ctx, kind, settings)
                .await
                .map_err(|error| MetricsError::Cluster {
                    message: error.to_string(),
                })
        }
        #[cfg(not(feature = "ballista"))]
        kind => Err(MetricsError::Cluster {
            message: crate::config::engine_available(kind)
                .err()
                .unwrap_or_default(),
        }),
    }
}

/// A new, empty session (own tables) that shares `base`'s runtime, and so
/// its object stores, and its engine (a cluster session's siblings run on
/// the same cluster): for running the same queries over a restricted view
/// of the same warehouse (one segment of clients).
pub fn sibling_session(base: &SessionContext, settings: &udf::UdfSettings) -> SessionContext {
    let state = base.state();
    let config = state
        .config()
        .clone()
        .with_create_default_catalog_and_schema(true);
    let state = SessionStateBuilder::new_from_existing(state)
        .with_catalog_list(Arc::new(MemoryCatalogProviderList::new()))
        .with_config(config)
        .build();
    let ctx = SessionContext::new_with_state(state);
    udf::register_udfs(&ctx, settings);
    ctx
}

/// `base` planning every query on one partition: the same tables,
/// functions, engine and memory pool, with far fewer of the sorts and
/// aggregations that each take an equal share of that pool. For a query
/// that ran out of memory even alone: slower, the same figures.
pub fn one_partition(base: &SessionContext) -> SessionContext {
    reconfigured(base, |config| config.with_target_partitions(1))
}

/// `base` planning every join as a sort-merge join instead of a hash join:
/// the last resort for a query that ran out of memory even on one
/// partition. A hash join holds its whole build side in memory and cannot
/// spill (at scale 1600, `active_client_rate`'s paying clients of twelve
/// windows are a 128 MB table); a sort-merge join reads both sides sorted,
/// and the sorts spill. Slower again, the same figures. (DataFusion plans
/// sort-merge joins only over more than one partition, with joins
/// repartitioned.)
pub fn spilling_joins(base: &SessionContext) -> SessionContext {
    reconfigured(base, |config| {
        let partitions = config.target_partitions().max(2);
        let mut config = config
            .with_target_partitions(partitions)
            .with_repartition_joins(true);
        config.options_mut().optimizer.prefer_hash_join = false;
        config
    })
}

/// `base` with its config changed by `change`: the same tables, functions,
/// engine and memory pool. Its catalogs are `base`'s own (the same list):
/// a fresh default catalog would replace the one that holds the tables, in
/// both.
fn reconfigured(
    base: &SessionContext,
    change: impl FnOnce(SessionConfig) -> SessionConfig,
) -> SessionContext {
    let state = base.state();
    let config = change(state.config().clone()).with_create_default_catalog_and_schema(false);
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    SessionContext::new_with_state(state)
}

/// Waits, a second at most, until nothing holds memory of `ctx`'s pool: a
/// query that failed for lack of memory may still be releasing it (its
/// other partitions' tasks stop at their next step), and one run again at
/// once would find the pool still taken. For a query run alone, when no
/// other query holds any.
pub async fn memory_released(ctx: &SessionContext) {
    let pool = &ctx.runtime_env().memory_pool;
    for _ in 0..100 {
        if pool.reserved() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The tables a query reads (CTE names excluded); an error if the SQL does
/// not parse.
pub fn tables_read(
    ctx: &SessionContext,
    query: &QueryFile,
) -> Result<BTreeSet<String>, MetricsError> {
    references(
        ctx,
        query,
        &with_windows(query.windowed, &query.path, &query.sql, 1)?,
    )
}

/// The tables `sql` (one of `query`'s texts) reads, CTE names excluded.
fn references(
    ctx: &SessionContext,
    query: &QueryFile,
    sql: &str,
) -> Result<BTreeSet<String>, MetricsError> {
    let references = tables_named(ctx, sql).map_err(|e| query_error(&query.path, &e))?;
    Ok(references
        .into_iter()
        .map(|reference| reference.table().to_string())
        .collect())
}

/// The tables `sql` names, CTE names excluded; an error if it does not
/// parse.
fn tables_named(
    ctx: &SessionContext,
    sql: &str,
) -> datafusion::error::Result<Vec<datafusion::common::TableReference>> {
    let state = ctx.state();
    let statement = state.sql_to_statement(sql, &Dialect::Generic)?;
    state.resolve_table_references(&statement)
}

/// The tables the queries read in `ctx`: the warehouse tables they read
/// themselves, and the shared tables the run registered there. A
/// segment's or a book's session holds these, restricted to its clients.
pub fn tables_read_in_run<'a>(
    ctx: &SessionContext,
    queries: impl IntoIterator<Item = &'a QueryFile>,
) -> Result<BTreeSet<String>, MetricsError> {
    let mut tables = BTreeSet::new();
    for query in queries {
        tables.extend(references(ctx, query, &runnable_sql(ctx, query, 1)?)?);
    }
    Ok(tables)
}

/// The tables `queries` read, each with the files that need it; `clients`
/// too when metrics are broken down by a client column (`breakdowns_in`
/// names where the config asks for that). Every query that does not parse
/// is an error.
pub fn tables_needed<'a>(
    ctx: &SessionContext,
    queries: impl IntoIterator<Item = &'a QueryFile>,
    breakdowns_in: Option<String>,
) -> Result<Vec<(String, crate::catalog::NeededBy)>, Vec<MetricsError>> {
    let mut needed: BTreeMap<String, crate::catalog::NeededBy> = BTreeMap::new();
    if let Some(source) = breakdowns_in {
        needed.insert(
            "clients".to_string(),
            crate::catalog::NeededBy(vec![source]),
        );
    }
    let mut errors = Vec::new();
    for query in queries {
        match tables_read(ctx, query) {
            Ok(tables) => {
                for table in tables {
                    needed
                        .entry(table)
                        .or_default()
                        .0
                        .push(query.path.display().to_string());
                }
            }
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(needed.into_iter().collect())
    } else {
        Err(errors)
    }
}

fn query_error(file: &std::path::Path, error: &datafusion::error::DataFusionError) -> MetricsError {
    MetricsError::Query {
        file: file.to_path_buf(),
        message: one_line(&error.to_string()),
    }
}

/// Says which config keys set the parameters a query uses but no setting
/// provides (`missing`, sorted names without `$`).
fn unset_parameters(missing: &[String]) -> String {
    let mut keys = Vec::new();
    let mut unknown = Vec::new();
    for name in missing {
        match crate::config::key_of_parameter(name) {
            Some(key) => keys.push(format!("`{key}`")),
            None => unknown.push(format!("`${name}`")),
        }
    }
    let mut parts = Vec::new();
    if !keys.is_empty() {
        parts.push(format!(
            "uses parameters the config does not set: add {}",
            keys.join(", ")
        ));
    }
    if !unknown.is_empty() {
        parts.push(format!(
            "uses {}, which clientpulse does not bind (README, \"Queries\", lists the parameters)",
            unknown.join(", ")
        ));
    }
    parts.join("; ")
}

/// DataFusion messages can span lines; a CI log wants one: `message` with
/// its whitespace runs as single spaces.
pub(crate) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The values a query's placeholders are bound to. Every query gets all of
/// them and uses the ones it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameters {
    /// `$window_start`, `$window_end`: the window `[a, b)`.
    pub window: WindowBounds,
    /// `$previous_window_start`: the start of the window of the same length
    /// just before this one (which ends at `a`).
    pub previous_window_start: DateTime<Utc>,
    /// `$churn_window_start`: `b` less 30 days, for monthly churn inside
    /// longer windows (CLV's lifespan).
    pub churn_window_start: DateTime<Utc>,
    /// `$window_days`: the window's length in days (0 for `as_of_end`).
    pub window_days: i64,
    /// `$run_start`, `$run_end`: the instants a shared table covers. For a
    /// query on its own, from the earliest bound it is given to the
    /// window's end; for a shared table the run materialises, every window
    /// of every metric of the run that reads it.
    pub run: WindowBounds,
    /// The rows of the table `windows` that a windowed query (`-- windows:
    /// table`) reads, oldest first: every week it computes at once, the
    /// last being `window`. One row, `window`'s own, unless
    /// [`Parameters::over_weeks`] made them.
    pub windows: Vec<WindowRow>,
    /// Settings of the config the queries read.
    pub settings: QuerySettings,
    /// Bind a placeholder no setting provides to NULL instead of refusing
    /// the query: for `check` planning a query the config does not select,
    /// whose settings (at-risk weights, say) the config need not have.
    pub unset_as_null: bool,
}

/// One window of a windowed query: a row of its table `windows`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRow {
    /// `window_start`, `window_end`: the window `[a, b)`.
    pub bounds: WindowBounds,
    /// `previous_window_start`: the start of the window of the same length
    /// just before it.
    pub previous_start: DateTime<Utc>,
    /// `churn_window_start`: `b` less 30 days, as `$churn_window_start`.
    pub churn_start: DateTime<Utc>,
}

/// Settings from the config that queries take as parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuerySettings {
    /// `$onboarding_target_days`.
    pub onboarding_target_days: u32,
    /// `$features`: the features whose adoption is reported.
    pub features: Vec<String>,
    /// `$feedback_count`: comments of each kind in `feedback`.
    pub feedback_count: u32,
    /// Further named numbers (`$usage_drop_weight`, `$old_ticket_threshold`,
    /// `$at_risk_min_score`…): the at-risk signals' settings.
    pub numbers: Vec<(String, QueryNumber)>,
}

/// A number a query takes from the config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QueryNumber {
    /// Bound as a DOUBLE.
    Number(f64),
    /// A number of days (`14d`), bound as a BIGINT for `add_days`.
    Days(u32),
}

impl Parameters {
    /// The parameters of `window` ending at `period`'s end.
    pub fn new(period: &Period, window: Window, settings: &QuerySettings) -> Parameters {
        let bounds = period.window(window);
        let days = match window {
            Window::AsOfEnd => 0,
            Window::Days(days) => days,
        };
        let previous_window_start = period.window_before(window).start;
        let churn_window_start = period.window(Window::Days(30)).start;
        Parameters {
            run: WindowBounds {
                start: bounds
                    .start
                    .min(previous_window_start)
                    .min(churn_window_start),
                end: bounds.end,
            },
            windows: vec![WindowRow {
                bounds,
                previous_start: previous_window_start,
                churn_start: churn_window_start,
            }],
            window: bounds,
            previous_window_start,
            churn_window_start,
            window_days: i64::from(days),
            settings: settings.clone(),
            unset_as_null: false,
        }
    }

    /// The parameters of a windowed query computing `window` for each of
    /// `weeks` (oldest first) at once: those of the last week, with one
    /// row of `windows` per week and `$run_start` at the earliest bound
    /// of any of them. `None` when `weeks` is empty.
    pub fn over_weeks(
        weeks: &[&Period],
        window: Window,
        settings: &QuerySettings,
    ) -> Option<Parameters> {
        let each: Vec<Parameters> = weeks
            .iter()
            .map(|week| Parameters::new(week, window, settings))
            .collect();
        let mut last = each.last()?.clone();
        last.windows = each
            .iter()
            .flat_map(|parameters| parameters.windows.iter().cloned())
            .collect();
        last.run.start = each
            .iter()
            .map(|parameters| parameters.run.start)
            .min()
            .unwrap_or(last.run.start);
        Some(last)
    }

    /// The values for a plan that uses the placeholders `used` (`$name`);
    /// or the names (without `$`, sorted) of those nothing binds. Under
    /// `unset_as_null`, those a config could set are bound to NULL.
    fn bind(&self, used: &std::collections::HashSet<String>) -> Result<ParamValues, Vec<String>> {
        let mut values = self.values();
        let mut missing = Vec::new();
        for name in used {
            let name = name.trim_start_matches('$');
            if values.iter().any(|(bound, _)| bound == name) {
                continue;
            }
            if self.unset_as_null && crate::config::key_of_parameter(name).is_some() {
                values.push((name.to_string(), ScalarValue::Null));
            } else {
                missing.push(name.to_string());
            }
        }
        if missing.is_empty() {
            Ok(ParamValues::from(values))
        } else {
            missing.sort();
            Err(missing)
        }
    }

    fn values(&self) -> Vec<(String, ScalarValue)> {
        let instant = |t: DateTime<Utc>| {
            ScalarValue::TimestampMicrosecond(Some(t.timestamp_micros()), Some("UTC".into()))
        };
        let values = vec![
            ("window_start", instant(self.window.start)),
            ("window_end", instant(self.window.end)),
            ("previous_window_start", instant(self.previous_window_start)),
            ("churn_window_start", instant(self.churn_window_start)),
            ("run_start", instant(self.run.start)),
            ("run_end", instant(self.run.end)),
            ("window_days", ScalarValue::Int64(Some(self.window_days))),
            (
                "onboarding_target_days",
                ScalarValue::Int64(Some(i64::from(self.settings.onboarding_target_days))),
            ),
            (
                "feedback_count",
                ScalarValue::Int64(Some(i64::from(self.settings.feedback_count))),
            ),
            (
                "features",
                ScalarValue::List(ScalarValue::new_list_nullable(
                    &self
                        .settings
                        .features
                        .iter()
                        .map(|f| ScalarValue::Utf8(Some(f.clone())))
                        .collect::<Vec<_>>(),
                    &DataType::Utf8,
                )),
            ),
        ];
        let mut values: Vec<(String, ScalarValue)> = values
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        for (k, row) in self.windows.iter().enumerate() {
            let k = k + 1;
            values.push((format!("window_{k}_start"), instant(row.bounds.start)));
            values.push((format!("window_{k}_end"), instant(row.bounds.end)));
            values.push((
                format!("window_{k}_previous_start"),
                instant(row.previous_start),
            ));
            values.push((format!("window_{k}_churn_start"), instant(row.churn_start)));
        }
        for (name, number) in &self.settings.numbers {
            values.push((
                name.clone(),
                match number {
                    QueryNumber::Number(n) => ScalarValue::Float64(Some(*n)),
                    QueryNumber::Days(days) => ScalarValue::Int64(Some(i64::from(*days))),
                },
            ));
        }
        values
    }
}

/// Plans a query with its window bound, without running it.
pub async fn plan(
    ctx: &SessionContext,
    query: &QueryFile,
    parameters: &Parameters,
) -> Result<DataFrame, MetricsError> {
    prepare(ctx, query, parameters)
        .await
        .map(|(frame, _)| frame)
}

/// A query's logical plan with its window bound, and the physical plan
/// that runs it (built once: building it also catches type errors the
/// logical plan lets through).
async fn prepare(
    ctx: &SessionContext,
    query: &QueryFile,
    parameters: &Parameters,
) -> Result<(DataFrame, Arc<dyn ExecutionPlan>), MetricsError> {
    let sql = runnable_sql(ctx, query, parameters.windows.len())?;
    prepare_sql(ctx, &sql, &query.path, parameters, |frame| {
        check_columns(query, frame)
    })
    .await
}

/// The SQL `query` runs in `ctx`: over its shared tables where the run
/// registered them all; with them inline otherwise (`check`, a query on
/// its own, a shared table too big to hold): the same figures either way.
/// A windowed query gets its table `windows` of `windows` rows.
fn runnable_sql<'a>(
    ctx: &SessionContext,
    query: &'a QueryFile,
    windows: usize,
) -> Result<std::borrow::Cow<'a, str>, MetricsError> {
    let sql = if registered(ctx, query.shared_tables.iter().map(|table| &table.name)) {
        &query.sql_over_shared_tables
    } else {
        &query.sql
    };
    with_windows(query.windowed, &query.path, sql, windows)
}

/// Whether the run registered every one of the shared tables `names`.
fn registered<'n>(ctx: &SessionContext, mut names: impl Iterator<Item = &'n String>) -> bool {
    names.all(|name| ctx.table_exist(name.as_str()).unwrap_or(false))
}

/// `sql`, a text of the file `file`, with the table `windows` of
/// `windows` rows in front when it is `windowed`; as it is otherwise.
fn with_windows<'a>(
    windowed: bool,
    file: &std::path::Path,
    sql: &'a str,
    windows: usize,
) -> Result<std::borrow::Cow<'a, str>, MetricsError> {
    if !windowed {
        return Ok(std::borrow::Cow::Borrowed(sql));
    }
    library::with_windows(sql, windows)
        .map(std::borrow::Cow::Owned)
        .map_err(|message| MetricsError::Query {
            file: file.to_path_buf(),
            message,
        })
}

/// `sql` (of the file `file`) planned with `parameters` bound, its logical
/// plan accepted by `check`, and the physical plan that runs it. Where
/// another of the run's sessions optimised the same SQL with the same
/// values, its plan is taken over `ctx`'s tables ([`plans`]).
async fn prepare_sql(
    ctx: &SessionContext,
    sql: &str,
    file: &std::path::Path,
    parameters: &Parameters,
    check: impl FnOnce(&DataFrame) -> Result<(), MetricsError>,
) -> Result<(DataFrame, Arc<dyn ExecutionPlan>), MetricsError> {
    let state = ctx.state();
    let cache = state.config().get_extension::<plans::PlanCache>();
    let bind = |used: &std::collections::HashSet<String>| {
        parameters
            .bind(used)
            .map_err(|missing| MetricsError::Query {
                file: file.to_path_buf(),
                message: unset_parameters(&missing),
            })
    };
    if let Some(cache) = &cache
        && let Some(used) = cache.parameters(sql)
    {
        let values = bind(&used)?;
        if let Some(plan) = cache.take(ctx, sql, &values).await {
            let frame = DataFrame::new(state.clone(), plan);
            check(&frame)?;
            let physical = state
                .query_planner()
                .create_physical_plan(frame.logical_plan(), &state)
                .await
                .map_err(|e| query_error(file, &e))?;
            return Ok((frame, physical));
        }
    }
    let frame = ctx
        .sql_with_options(sql, read_only_sql())
        .await
        .map_err(|e| query_error(file, &e))?;
    let used = frame
        .logical_plan()
        .get_parameter_names()
        .map_err(|e| query_error(file, &e))?;
    let values = bind(&used)?;
    let frame = frame
        .with_param_values(values.clone())
        .map_err(|e| query_error(file, &e))?;
    check(&frame)?;
    // Building the physical plan catches type errors the logical plan lets
    // through (a comparison of a timestamp with a string, say).
    let optimised = state
        .optimize(frame.logical_plan())
        .map_err(|e| query_error(file, &e))?;
    let physical = state
        .query_planner()
        .create_physical_plan(&optimised, &state)
        .await
        .map_err(|e| query_error(file, &e))?;
    if let Some(cache) = &cache {
        cache
            .keep(ctx, sql, used, &values, frame.logical_plan(), &optimised)
            .await;
    }
    Ok((frame, physical))
}

/// Takes `table` out of `ctx`, if it was there: its metrics then compute
/// it inline.
pub fn forget(ctx: &SessionContext, table: &library::SharedTable) -> Result<(), MetricsError> {
    ctx.deregister_table(table.name.as_str())
        .map(|_| ())
        .map_err(|e| MetricsError::execution(ctx, &table.path, &e))
}

/// The SQL that computes `table` in `ctx`: over the shared tables it reads
/// where the run registered them all, with them inline otherwise; a
/// windowed one with its table `windows` of `windows` rows in front.
fn shared_table_sql<'a>(
    ctx: &SessionContext,
    table: &'a library::SharedTable,
    windows: usize,
) -> Result<std::borrow::Cow<'a, str>, MetricsError> {
    let sql = if registered(ctx, table.reads.iter()) {
        &table.sql_over_shared_tables
    } else {
        &table.sql
    };
    with_windows(table.windowed, &table.path, sql, windows)
}

fn check_shared_columns(
    table: &library::SharedTable,
    frame: &DataFrame,
) -> Result<(), MetricsError> {
    match frame.schema().field_with_unqualified_name("client_id") {
        Ok(_) => Ok(()),
        Err(_) => Err(MetricsError::Shape {
            file: table.path.clone(),
            message: "a shared table has a `client_id` column, so that a segment or a book can take its clients' rows".to_string(),
        }),
    }
}

/// What computing a shared table took, and what it holds.
pub struct Materialised {
    pub measured: Measured,
    /// The bytes it holds in memory; `None` when it did not fit in the
    /// room it was given.
    pub held: Option<usize>,
    /// The bytes of its file in the spill folder, where it went when it
    /// did not fit in memory; `None` when it is in memory, or when there
    /// is no local spill folder and its metrics compute it inline.
    pub on_disk: Option<u64>,
}

/// Computes a shared table for `parameters.run` and registers it in `ctx`
/// under its name, in place of any earlier one; the metrics that use it
/// then read it there. It is held in memory when it takes at most `room`
/// bytes; otherwise it is written to the spill folder and read from
/// there, so that memory stays within the config's limit and it is still
/// computed once. With no room at all (a cluster run, whose executors
/// cannot read this process's memory or disk), or no local spill folder,
/// nothing is registered: its metrics then compute it inline, slower,
/// with the same figures. Its rows must have a `client_id`, so that a
/// segment or a book can take its own clients' rows. Within the query
/// timeout, as every query.
pub async fn materialise(
    ctx: &SessionContext,
    table: &library::SharedTable,
    parameters: &Parameters,
    room: usize,
) -> Result<Materialised, MetricsError> {
    within_timeout(
        ctx,
        &table.path,
        materialise_now(ctx, table, parameters, room),
    )
    .await
}

async fn materialise_now(
    ctx: &SessionContext,
    table: &library::SharedTable,
    parameters: &Parameters,
    room: usize,
) -> Result<Materialised, MetricsError> {
    use futures::TryStreamExt;
    let started = std::time::Instant::now();
    // Never leave an earlier week's table where this week's did not fit:
    // the metrics would read the wrong weeks.
    forget(ctx, table)?;
    if room == 0 {
        // Nothing may be held (a cluster run): its metrics compute it inline.
        return Ok(Materialised {
            measured: Measured {
                seconds: 0.0,
                planning_seconds: 0.0,
                rows_read: Default::default(),
            },
            held: None,
            on_disk: None,
        });
    }
    let sql = shared_table_sql(ctx, table, parameters.windows.len())?;
    let (frame, physical) = prepare_sql(ctx, &sql, &table.path, parameters, |frame| {
        check_shared_columns(table, frame)
    })
    .await?;
    let planning_seconds = started.elapsed().as_secs_f64();
    let schema = physical.schema();
    let failed =
        |e: datafusion::error::DataFusionError| MetricsError::execution(ctx, &table.path, &e);
    let mut stream = datafusion::physical_plan::execute_stream(
        Arc::clone(&physical),
        Arc::new(frame.task_ctx()),
    )
    .map_err(failed)?;
    let mut batches = Vec::new();
    let mut held = crate::catalog::HeldBytes::default();
    let mut fits = true;
    while let Some(batch) = stream.try_next().await.map_err(failed)? {
        fits = held.add(&batch) <= room;
        batches.push(batch);
        if !fits {
            break;
        }
    }
    let (held, on_disk) = if fits {
        let memory = datafusion::datasource::MemTable::try_new(Arc::clone(&schema), vec![batches])
            .map_err(failed)?;
        ctx.register_table(table.name.as_str(), Arc::new(memory))
            .map_err(failed)?;
        (Some(held.bytes()), None)
    } else {
        // Too large for memory: once to disk, where its metrics read it,
        // rather than computed again by each of them.
        match crate::catalog::spilled::to_disk(ctx, &table.name, schema, batches, stream)
            .await
            .map_err(failed)?
        {
            Some(spilled) => {
                ctx.register_table(table.name.as_str(), spilled.table)
                    .map_err(failed)?;
                (None, Some(spilled.bytes))
            }
            None => (None, None),
        }
    };
    Ok(Materialised {
        measured: Measured {
            seconds: started.elapsed().as_secs_f64(),
            planning_seconds,
            rows_read: crate::catalog::rows_read(&physical),
        },
        held,
        on_disk,
    })
}

/// Plans every query with the parameters `parameters` gives it; returns
/// the problems of all of them.
pub async fn plan_all(
    ctx: &SessionContext,
    queries: &[&QueryFile],
    parameters: impl Fn(&QueryFile) -> Parameters,
) -> Vec<MetricsError> {
    let mut errors = Vec::new();
    let mut shared_tables: Vec<&library::SharedTable> = Vec::new();
    for query in queries {
        let parameters = parameters(query);
        if let Err(error) = plan(ctx, query, &parameters).await {
            errors.push(error);
        }
        for table in &query.shared_tables {
            if shared_tables.contains(&table) {
                continue;
            }
            shared_tables.push(table);
            let planned = match shared_table_sql(ctx, table, parameters.windows.len()) {
                Ok(sql) => prepare_sql(ctx, &sql, &table.path, &parameters, |frame| {
                    check_shared_columns(table, frame)
                })
                .await
                .map(|_| ()),
                Err(error) => Err(error),
            };
            if let Err(error) = planned {
                errors.push(error);
            }
        }
    }
    errors
}

fn check_columns(query: &QueryFile, frame: &DataFrame) -> Result<(), MetricsError> {
    let schema = frame.schema();
    let shape = |message: String| MetricsError::Shape {
        file: query.path.clone(),
        message,
    };
    if query.windowed {
        let field = schema
            .field_with_unqualified_name(WINDOW_END)
            .map_err(|_| {
                shape(format!(
                    "a query over the table `windows` returns a `{WINDOW_END}` column: the window each row is of"
                ))
            })?;
        if !matches!(field.data_type(), DataType::Timestamp(_, _)) {
            return Err(shape(format!(
                "column `{WINDOW_END}` is {}, not the timestamp `windows.window_end`",
                field.data_type()
            )));
        }
    }
    for (column, numeric) in [("value", true), ("sample_size", true)] {
        let field = schema
            .field_with_unqualified_name(column)
            .map_err(|_| shape(format!("the query returns no `{column}` column")))?;
        if numeric && !field.data_type().is_numeric() && field.data_type() != &DataType::Null {
            return Err(shape(format!(
                "column `{column}` is {}, not a number",
                field.data_type()
            )));
        }
    }
    Ok(())
}

/// Runs a query for one window.
pub async fn run(
    ctx: &SessionContext,
    query: &QueryFile,
    parameters: &Parameters,
) -> Result<MetricValue, MetricsError> {
    let (values, _) = run_measured(ctx, query, parameters).await?;
    values
        .into_iter()
        .next_back()
        .ok_or_else(|| MetricsError::Shape {
            file: query.path.clone(),
            message: "the query gave no figure".to_string(),
        })
}

/// What running a query took: wall time from planning to the last row,
/// and the rows each table gave it.
pub struct Measured {
    pub seconds: f64,
    /// Of `seconds`, the time from the SQL to the physical plan.
    pub planning_seconds: f64,
    pub rows_read: BTreeMap<String, u64>,
}

/// Runs a query and measures it (for `run --profile`). Its figures come
/// back one per row of `parameters.windows`, in their order: one, for a
/// query of one window; every week it was given, for a windowed query.
pub async fn run_measured(
    ctx: &SessionContext,
    query: &QueryFile,
    parameters: &Parameters,
) -> Result<(Vec<MetricValue>, Measured), MetricsError> {
    let started = std::time::Instant::now();
    let (frame, physical) = prepare(ctx, query, parameters).await?;
    let planning_seconds = started.elapsed().as_secs_f64();
    let batches = within_timeout(ctx, &query.path, async {
        datafusion::physical_plan::collect(Arc::clone(&physical), Arc::new(frame.task_ctx()))
            .await
            .map_err(|e| MetricsError::execution(ctx, &query.path, &e))
    })
    .await?;
    let values = if query.windowed {
        parameters
            .windows
            .iter()
            .map(|row| read_result(query, &rows_of_window(query, &batches, row)?))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        vec![read_result(query, &batches)?]
    };
    let measured = Measured {
        seconds: started.elapsed().as_secs_f64(),
        planning_seconds,
        rows_read: crate::catalog::rows_read(&physical),
    };
    Ok((values, measured))
}

/// The rows a windowed query returned for the window `row` (its
/// `window_end`), without that column: what a query of that one window
/// would have returned.
fn rows_of_window(
    query: &QueryFile,
    batches: &[RecordBatch],
    row: &WindowRow,
) -> Result<Vec<RecordBatch>, MetricsError> {
    use datafusion::arrow::array::{BooleanArray, TimestampMicrosecondArray};
    use datafusion::arrow::compute::filter_record_batch;
    use datafusion::arrow::datatypes::TimeUnit;
    let failed = |message: String| MetricsError::Shape {
        file: query.path.clone(),
        message,
    };
    let end = row.bounds.end.timestamp_micros();
    batches
        .iter()
        .map(|batch| {
            let index = batch
                .schema()
                .index_of(WINDOW_END)
                .map_err(|_| failed(format!("the query returns no `{WINDOW_END}` column")))?;
            let ends = cast(
                batch.column(index),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )
            .map_err(|e| failed(format!("column `{WINDOW_END}`: {e}")))?;
            let ends = ends
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .ok_or_else(|| failed(format!("column `{WINDOW_END}` is not a timestamp")))?;
            let mine: BooleanArray = ends.iter().map(|e| Some(e == Some(end))).collect();
            let mut batch = filter_record_batch(batch, &mine)
                .map_err(|e| failed(format!("column `{WINDOW_END}`: {e}")))?;
            batch.remove_column(index);
            Ok(batch)
        })
        .collect()
}

/// The column that says which window a windowed query's row is of.
const WINDOW_END: &str = "window_end";

/// One row of a query's result, as plain values.
struct Row {
    item: Option<String>,
    value: Option<f64>,
    sample_size: Option<f64>,
    numbers: BTreeMap<String, Option<f64>>,
    texts: BTreeMap<String, Option<String>>,
}

fn read_rows(query: &QueryFile, batches: &[RecordBatch]) -> Result<Vec<Row>, MetricsError> {
    let shape = |message: String| MetricsError::Shape {
        file: query.path.clone(),
        message,
    };
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        // Each column converted once per batch (not once per row: a list
        // of thousands of at-risk rows made that quadratic).
        let columns: Vec<(&str, Column)> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| {
                Column::read(column.as_ref())
                    .map(|read| (field.name().as_str(), read))
                    .map_err(|message| shape(format!("column `{}`: {message}", field.name())))
            })
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            let mut parsed = Row {
                item: None,
                value: None,
                sample_size: None,
                numbers: BTreeMap::new(),
                texts: BTreeMap::new(),
            };
            for (name, column) in &columns {
                match column {
                    Column::Number(values) => {
                        let number = values.get(row).copied().flatten();
                        match *name {
                            "value" => parsed.value = number,
                            "sample_size" => parsed.sample_size = number,
                            _ => {
                                parsed.numbers.insert(name.to_string(), number);
                            }
                        }
                    }
                    Column::Text(texts) => {
                        let text = (!texts.is_null(row))
                            .then(|| texts.as_string::<i32>().value(row).to_string());
                        if *name == "item" {
                            parsed.item = text;
                        } else {
                            parsed.texts.insert(name.to_string(), text);
                        }
                    }
                }
            }
            rows.push(parsed);
        }
    }
    Ok(rows)
}

/// A result column as plain values: numbers (integers and floats read as
/// f64) or text (anything else, cast to UTF-8).
enum Column {
    Number(Vec<Option<f64>>),
    Text(ArrayRef),
}

impl Column {
    fn read(column: &dyn Array) -> Result<Column, String> {
        let data_type = column.data_type();
        if data_type == &DataType::Null {
            return Ok(Column::Number(vec![None; column.len()]));
        }
        if data_type.is_integer() {
            let column = cast(column, &DataType::Int64).map_err(|e| e.to_string())?;
            let column = column.as_primitive::<Int64Type>();
            return Ok(Column::Number(
                column.iter().map(|n| n.map(|n| n as f64)).collect(),
            ));
        }
        if data_type.is_numeric() {
            let column = cast(column, &DataType::Float64).map_err(|e| e.to_string())?;
            // NaN and infinities become null: metrics.md forbids them in a
            // report.
            return Ok(Column::Number(
                column
                    .as_primitive::<Float64Type>()
                    .iter()
                    .map(|n| n.filter(|n| n.is_finite()))
                    .collect(),
            ));
        }
        Ok(Column::Text(
            cast(column, &DataType::Utf8).map_err(|e| e.to_string())?,
        ))
    }
}

fn whole_count(query: &QueryFile, n: Option<f64>) -> Result<u64, MetricsError> {
    match n {
        None => Ok(0),
        Some(n) if n >= 0.0 && n.fract() == 0.0 => Ok(n as u64),
        Some(n) => Err(MetricsError::Shape {
            file: query.path.clone(),
            message: format!("sample_size must be a whole number ≥ 0, got {n}"),
        }),
    }
}

/// A query returns one row; or, with an `item` column, a row per item
/// (features, comments, clients) and at most one row whose item is NULL
/// with the metric's own value.
fn read_result(query: &QueryFile, batches: &[RecordBatch]) -> Result<MetricValue, MetricsError> {
    let has_items = batches
        .first()
        .is_some_and(|b| b.schema().field_with_name("item").is_ok());
    let rows = read_rows(query, batches)?;
    let (totals, item_rows): (Vec<Row>, Vec<Row>) = if has_items {
        rows.into_iter().partition(|row| row.item.is_none())
    } else {
        (rows, Vec::new())
    };
    if totals.len() > 1 || (!has_items && totals.len() != 1) {
        return Err(MetricsError::Shape {
            file: query.path.clone(),
            message: format!(
                "the query must return exactly one row{}, it returned {}",
                if has_items {
                    " whose `item` is NULL"
                } else {
                    ""
                },
                totals.len()
            ),
        });
    }
    let mut items = Vec::with_capacity(item_rows.len());
    for row in item_rows {
        items.push(Item {
            label: row.item.unwrap_or_default(),
            value: row.value,
            sample_size: row
                .sample_size
                .map(|n| whole_count(query, Some(n)))
                .transpose()?,
            texts: row.texts,
            numbers: row.numbers,
        });
    }
    Ok(match totals.into_iter().next() {
        Some(total) => MetricValue {
            value: total.value,
            sample_size: whole_count(query, total.sample_size)?,
            extras: total.numbers,
            items,
        },
        None => MetricValue {
            value: None,
            sample_size: 0,
            extras: BTreeMap::new(),
            items,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EngineKind, EngineSettings};

    #[tokio::test]
    async fn work_past_its_limit_is_stopped_with_the_error_it_names() {
        let late = |seconds| MetricsError::SlicesTimedOut {
            column: "segment".to_string(),
            seconds,
        };
        let never = futures::future::pending::<Result<(), MetricsError>>();
        let limit = Some(std::time::Duration::from_millis(20));
        let stopped = within(limit, never, late).await.unwrap_err();
        assert!(
            matches!(stopped, MetricsError::SlicesTimedOut { ref column, .. } if column == "segment"),
            "{stopped}"
        );
        assert_eq!(stopped.fault(), Fault::Internal);
        assert!(stopped.to_string().contains("engine.query_timeout_seconds"));
        // Work that ends in time gives its own result, with or without a
        // limit.
        assert_eq!(within(limit, async { Ok(7) }, late).await.unwrap(), 7);
        assert_eq!(within(None, async { Ok(8) }, late).await.unwrap(), 8);
    }

    #[tokio::test]
    async fn one_partition_keeps_the_tables_functions_and_pool() {
        let engine = EngineSettings {
            kind: EngineKind::Local,
            memory_limit: Some(256 << 20),
            ..EngineSettings::default()
        };
        let base = new_session(&udf::UdfSettings::default(), &engine).unwrap();
        base.sql("CREATE TABLE t AS VALUES (1), (2), (3)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let one = one_partition(&base);
        assert_eq!(one.state().config().target_partitions(), 1);
        assert!(base.state().config().target_partitions() > 1 || num_cpus_is_one());
        assert!(Arc::ptr_eq(
            &one.runtime_env().memory_pool,
            &base.runtime_env().memory_pool
        ));
        let batches = one
            .sql("SELECT COUNT(*) AS n, SUM(monthly_mrr(12, 0, 12)) AS m FROM t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("| 3 | 3.0000000000 |"), "{text}");
        // And the base session still reads its tables.
        let still = base.sql("SELECT COUNT(*) FROM t").await.unwrap();
        assert_eq!(still.count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_join_too_large_for_memory_runs_with_spilling_joins() {
        let spill = tempfile::tempdir().unwrap();
        let engine = EngineSettings {
            kind: EngineKind::Local,
            // The smallest limit a config may set: a 48 MiB pool.
            memory_limit: Some(64 << 20),
            spill_dir: Some(spill.path().to_path_buf()),
            ..EngineSettings::default()
        };
        let base = new_session(&udf::UdfSettings::default(), &engine).unwrap();
        // 3 M keys: 24 MB of them, and a hash join's table over them
        // (which cannot spill) takes more than a 48 MiB pool; the sorts of
        // a sort-merge join take 12 MB a side.
        base.sql("CREATE TABLE t AS SELECT value AS k FROM generate_series(1, 3000000)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let sql = "SELECT COUNT(*) AS n, SUM(a.k) AS s FROM t AS a JOIN t AS b ON a.k = b.k";
        let hashed = base.sql(sql).await.unwrap().collect().await;
        assert!(
            matches!(
                hashed,
                Err(ref e) if matches!(cause_of(&base, e), Cause::OutOfMemory)
            ),
            "{hashed:?}"
        );
        memory_released(&base).await;
        assert_eq!(base.runtime_env().memory_pool.reserved(), 0);
        let merged = spilling_joins(&base);
        assert!(Arc::ptr_eq(
            &merged.runtime_env().memory_pool,
            &base.runtime_env().memory_pool
        ));
        let batches = merged.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        // Every row meets itself once: 3 M rows, 1 + ... + 3 000 000.
        assert!(text.contains("| 3000000 | 4500001500000 |"), "{text}");
    }

    fn num_cpus_is_one() -> bool {
        std::thread::available_parallelism().map_or(true, |n| n.get() == 1)
    }
}
