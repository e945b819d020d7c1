//! The same queries on an Apache Ballista cluster (feature `ballista`):
//! the client session a run plans in, the codec that carries clientpulse's
//! functions and tables inside every plan, and the scheduler and executor
//! processes (`clientpulse scheduler`, `clientpulse executor`).
//!
//! Nothing else changes between engines: the run plans each query's SQL
//! in its own session as it does locally; the session's query planner
//! sends the logical plan to the scheduler, which splits it into stages
//! for the executors and streams the result back. What a plan names must
//! be rebuilt on the other side, so:
//!
//! - clientpulse's functions travel with their settings ([`udf::encode_scalar`]):
//!   `local_date` with the report's time zone, `business_seconds` with its
//!   calendar. A node has no zone or calendar of its own, and a node
//!   without this codec (stock Ballista) refuses the plan rather than use
//!   its own `sum` in place of the exact one;
//! - a date-partitioned table travels as its listing table plus the event
//!   column its `date` folders stand for, so the cluster prunes folders too;
//! - nodes open the warehouse read-only, from their own environment
//!   ([`NodeStores`]); the run's in-memory tables (shared tables, segment
//!   slices) are never built on a cluster (`EngineSettings::slice_bytes`).
//!
//! File-stream work stealing is off on every node: a Ballista task runs
//! one partition alone, and a partition that steals its idle siblings'
//! files would read them again in every task (rows counted twice).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use ballista_core::{ConfigProducer, RuntimeProducer};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::provider_as_source;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{SessionState, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{
    AggregateUDF, Extension, LogicalPlan, LogicalPlanBuilder, ScalarUDF,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::{AsLogicalPlan, LogicalExtensionCodec};
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use datafusion_proto::protobuf::LogicalPlanNode;
use prost::Message;

use crate::catalog::node_stores::NodeStores;
use crate::catalog::partitions::DatePartitionedTable;
use crate::config::EngineKind;
use crate::metrics::udf::{self, UdfSettings};

/// Ballista's own log lines (it logs through the `log` facade), to stderr:
/// `CLIENTPULSE_LOG` sets the level (`error`, `warn`, `info`, `debug`,
/// `trace`; default `default`), for Ballista's modules only.
pub fn init_logging(default: log::LevelFilter) {
    let level = std::env::var("CLIENTPULSE_LOG")
        .ok()
        .and_then(|level| level.parse::<log::LevelFilter>().ok())
        .unwrap_or(default);
    // A second call (a test, say) keeps the first logger.
    if log::set_boxed_logger(Box::new(StderrLog { level })).is_ok() {
        log::set_max_level(level);
    }
}

struct StderrLog {
    level: log::LevelFilter,
}

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= self.level && metadata.target().starts_with("ballista")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "{} {:5} {}: {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// What went wrong reaching or running a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "cannot reach the Ballista scheduler at {scheduler}: {reason} (is `clientpulse scheduler` running there?)"
    )]
    Unreachable { scheduler: String, reason: String },
    #[error("cannot start {what}: {reason}")]
    Start { what: &'static str, reason: String },
}

/// Task slots of the in-process cluster's executor.
const STANDALONE_TASKS: usize = 16;

/// How long a run waits for the scheduler to answer before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The DataFusion settings every session and node of a cluster run with:
/// Ballista's, with its static planner (its adaptive planner, the default
/// in 55.0.0, re-plans a finished stage of `revenue_growth_per_client`'s
/// sorted union into a plan that fails DataFusion's sanity check, and the
/// job then never ends), hash joins as on the local engine (Ballista
/// prefers sort-merge joins, whose join filter in DataFusion 55.2 panics
/// on the at-risk queries' plans: index out of bounds in
/// `sort_merge_join/filter.rs`), no broadcast (collect-left) joins (the
/// scheduler turns a broadcast left join back into a partitioned one
/// without re-planning what sits above it: a `SUM` over all rows above
/// such a join then came back once per partition, four totals instead of
/// one), and the work stealing of the module's doc off.
pub fn cluster_config(config: SessionConfig) -> SessionConfig {
    config
        .upgrade_for_ballista()
        .with_ballista_adaptive_query_planner(false)
        // The in-process cluster's task slots (read by `standalone` only):
        // its executor polls for work, so a stage's tasks wait on a poll
        // rather than on the cores, and more slots keep more in flight.
        .with_ballista_standalone_parallelism(STANDALONE_TASKS)
        .with_ballista_broadcast_join_threshold_bytes(0)
        .with_ballista_broadcast_join_threshold_rows(0)
        .set_bool("datafusion.optimizer.prefer_hash_join", true)
        .set_u64(
            "datafusion.optimizer.hash_join_single_partition_threshold",
            0,
        )
        .set_u64(
            "datafusion.optimizer.hash_join_single_partition_threshold_rows",
            0,
        )
        .set_bool(
            "datafusion.execution.enable_file_stream_work_stealing",
            false,
        )
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()))
}

/// Turns `ctx` (clientpulse's UDFs registered, its config from
/// [`cluster_config`]) into a session whose queries run on the cluster
/// `kind` names.
pub async fn connect(
    ctx: SessionContext,
    kind: &EngineKind,
    settings: &UdfSettings,
) -> Result<SessionContext, ClusterError> {
    init_logging(log::LevelFilter::Warn);
    let state = ctx.state();
    let cluster = match kind {
        EngineKind::Ballista { host, port } => {
            let scheduler = format!("df://{host}:{port}");
            let reachable = tokio::time::timeout(
                CONNECT_TIMEOUT,
                SchedulerGrpcClient::connect(format!("http://{host}:{port}")),
            )
            .await;
            let unreachable = |reason: String| ClusterError::Unreachable {
                scheduler: scheduler.clone(),
                reason,
            };
            match reachable {
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(unreachable(error_chain(&error))),
                Err(_) => {
                    return Err(unreachable(format!(
                        "no answer in {} s",
                        CONNECT_TIMEOUT.as_secs()
                    )));
                }
            }
            SessionContext::remote_with_state(&scheduler, state)
                .await
                .map_err(|e| unreachable(e.to_string()))?
        }
        EngineKind::BallistaStandalone => SessionContext::standalone_with_state(state)
            .await
            .map_err(|e| ClusterError::Start {
                what: "Ballista's in-process cluster",
                reason: e.to_string(),
            })?,
        EngineKind::Local => return Ok(ctx),
    };
    // Ballista's session brings its own function list: ours go back on
    // top, so `sum` and `avg` stay the exact ones.
    udf::register_udfs(&cluster, settings);
    Ok(cluster)
}

/// An error and its causes on one line (tonic's transport errors say
/// little at the top).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A node's session: Ballista's functions, then clientpulse's that read no
/// setting, the warehouse read-only from the node's environment.
fn node_state(config: SessionConfig, stores: &Arc<NodeStores>) -> Result<SessionState> {
    use ballista_core::extension::{
        ballista_aggregate_functions, ballista_scalar_functions, ballista_window_functions,
    };
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::clone(stores) as _)
        .build_arc()?;
    let (scalars, aggregates) = udf::node_functions();
    let mut scalar_functions = ballista_scalar_functions();
    scalar_functions.extend(scalars.into_iter().map(Arc::new));
    let mut aggregate_functions = ballista_aggregate_functions();
    aggregate_functions.extend(aggregates.into_iter().map(Arc::new));
    Ok(SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .with_scalar_functions(scalar_functions)
        .with_aggregate_functions(aggregate_functions)
        .with_window_functions(ballista_window_functions())
        .build())
}

fn node_config() -> SessionConfig {
    cluster_config(SessionConfig::new_with_ballista())
}

/// `clientpulse scheduler`.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Where it listens for runs and executors.
    pub bind: SocketAddr,
    /// The host name executors and runs reach it by.
    pub external_host: String,
    /// An executor not heard from for this long is gone: its tasks run
    /// again elsewhere.
    pub executor_timeout: Duration,
}

/// Runs a Ballista scheduler that knows clientpulse's functions, tables
/// and warehouse, until the process ends.
pub async fn serve_scheduler(options: SchedulerOptions) -> Result<(), ClusterError> {
    init_logging(log::LevelFilter::Info);
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let failed = |reason: String| ClusterError::Start {
        what: "the scheduler",
        reason,
    };
    let stores = Arc::new(NodeStores::new());
    let mut config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        external_host: options.external_host,
        executor_timeout_seconds: options.executor_timeout.as_secs().max(1),
        expire_dead_executor_interval_seconds: options.executor_timeout.as_secs().clamp(1, 15),
        no_executors_grace_period_seconds: options.executor_timeout.as_secs().max(1),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..SchedulerConfig::default()
    };
    let producer: ConfigProducer = Arc::new(node_config);
    config = config
        .with_override_config_producer(producer)
        .with_override_session_builder(Arc::new(move |config: SessionConfig| {
            node_state(cluster_config(config), &stores)
        }));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| failed(e.to_string()))?;
    ballista_scheduler::scheduler_process::start_server(cluster, options.bind, Arc::new(config))
        .await
        .map_err(|e| failed(e.to_string()))
}

/// `clientpulse executor`.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// The address it listens on; its Arrow Flight port (shuffle data)
    /// and its gRPC port.
    pub bind_host: String,
    pub port: u16,
    pub grpc_port: u16,
    /// The host name the scheduler and other executors reach it by.
    pub external_host: Option<String>,
    /// Where shuffle files go; `None`: a temporary folder.
    pub work_dir: Option<String>,
    /// Tasks it runs at once; `None`: one per core.
    pub concurrent_tasks: Option<usize>,
    /// How often it tells the scheduler it is alive.
    pub heartbeat: Duration,
}

/// Runs a Ballista executor that knows clientpulse's functions, tables
/// and warehouse, until the process ends.
pub async fn serve_executor(options: ExecutorOptions) -> Result<(), ClusterError> {
    init_logging(log::LevelFilter::Info);
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    let stores = Arc::new(NodeStores::new());
    let registry_state = node_state(node_config(), &stores).map_err(|e| ClusterError::Start {
        what: "the executor",
        reason: e.to_string(),
    })?;
    let runtime_stores = Arc::clone(&stores);
    let runtime: RuntimeProducer = Arc::new(move |_config: &SessionConfig| {
        RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::clone(&runtime_stores) as _)
            .build_arc()
    });
    let mut config = ExecutorProcessConfig {
        bind_host: options.bind_host,
        external_host: options.external_host,
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host,
        scheduler_port: options.scheduler_port,
        work_dir: options.work_dir,
        executor_heartbeat_interval_seconds: options.heartbeat.as_secs().max(1),
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&registry_state))),
        override_runtime_producer: Some(runtime),
        override_config_producer: Some(Arc::new(node_config)),
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    if let Some(tasks) = options.concurrent_tasks {
        config.vcores = tasks.max(1);
    }
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ClusterError::Start {
            what: "the executor",
            reason: e.to_string(),
        })
}

/// Ballista's logical codec, plus clientpulse's functions and
/// date-partitioned tables.
#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

/// The first bytes of an encoded [`DatePartitionedTable`].
const DATE_PARTITIONED: &[u8] = b"clientpulse.date_partitioned\0";

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let Some(rest) = buf.strip_prefix(DATE_PARTITIONED) else {
            return self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let malformed = || DataFusionError::Internal(format!("table {table_ref}: malformed plan"));
        let (length, rest) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
        let length = usize::try_from(u32::from_le_bytes(*length)).map_err(|_| malformed())?;
        let (event_time, listing) = rest.split_at_checked(length).ok_or_else(malformed)?;
        let event_time = std::str::from_utf8(event_time).map_err(|_| malformed())?;
        let scan = LogicalPlanNode::decode(listing)
            .map_err(|e| DataFusionError::Internal(format!("table {table_ref}: {e}")))?
            .try_into_logical_plan(ctx, self)?;
        let LogicalPlan::TableScan(scan) = scan else {
            return Err(malformed());
        };
        let listing = datafusion::datasource::source_as_provider(&scan.source)?;
        Ok(Arc::new(DatePartitionedTable::new(listing, event_time)))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(dated) = node.downcast_ref::<DatePartitionedTable>() else {
            return self.inner.try_encode_table_provider(table_ref, node, buf);
        };
        // The listing table as DataFusion encodes it in a scan of its own.
        let scan = LogicalPlanBuilder::scan(
            table_ref.clone(),
            provider_as_source(Arc::clone(dated.inner())),
            None,
        )?
        .build()?;
        let listing = LogicalPlanNode::try_from_logical_plan(&scan, self)?.encode_to_vec();
        let event_time = dated.event_time().as_bytes();
        let length = u32::try_from(event_time.len())
            .map_err(|_| DataFusionError::Internal("event column name too long".to_string()))?;
        buf.extend_from_slice(DATE_PARTITIONED);
        buf.extend_from_slice(&length.to_le_bytes());
        buf.extend_from_slice(event_time);
        buf.extend_from_slice(&listing);
        Ok(())
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf);
        Ok(())
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udaf(node, buf);
        Ok(())
    }
}

/// Ballista's physical codec, plus clientpulse's functions.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.try_decode(buf, inputs, ctx, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        self.inner.try_encode(node, buf, proto_converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf);
        Ok(())
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udaf(node, buf);
        Ok(())
    }
}

fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>) {
    if let Some(bytes) = udf::encode_scalar(node) {
        buf.extend_from_slice(&bytes);
    }
}

fn decode_udf(name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
    udf::decode_scalar(name, buf)
        .map(Arc::new)
        .map_err(DataFusionError::Plan)
}

fn encode_udaf(node: &AggregateUDF, buf: &mut Vec<u8>) {
    if let Some(bytes) = udf::encode_aggregate(node) {
        buf.extend_from_slice(&bytes);
    }
}

fn decode_udaf(name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
    if buf.is_empty() {
        return Err(DataFusionError::Plan(format!(
            "aggregate function `{name}` is neither DataFusion's nor clientpulse's"
        )));
    }
    udf::decode_aggregate(name)
        .map(Arc::new)
        .map_err(DataFusionError::Plan)
}
