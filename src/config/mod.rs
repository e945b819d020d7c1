//! Stage 1, configuration: `clientpulse.yaml` and the benchmarks file it
//! names, parsed raw (serde, `deny_unknown_fields`) and then validated into
//! the richer types the other stages take.
//!
//! Every problem of both files is collected before anything fails, so a data
//! team fixing a pull request sees the whole list at once. Relative paths in
//! the config are relative to the config file, not to the working directory,
//! so a run behaves the same wherever CI starts it.

pub mod benchmarks;
mod yaml;

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use serde::Deserialize;

pub use benchmarks::{Benchmark, Benchmarks, Direction, SegmentTarget};
pub use yaml::{line_containing, line_of_entry, line_of_top_level_key};

use crate::calendar::BusinessCalendar;
use crate::diagnostic::{self, Diagnostic};
use crate::metrics::udf::UdfSettings;
use crate::metrics::{QueryNumber, QuerySettings};
use crate::period::Window;
pub use crate::report::render::Layout;
use crate::storage::{Addressing, S3Settings};

/// The largest number of retries `delivery.retries` may ask for: each
/// waits longer than the last, up to [`MAX_RETRY_PAUSE_SECONDS`].
pub const MAX_RETRIES: u32 = 10;
/// The ceiling of the pause between two delivery attempts.
pub const MAX_RETRY_PAUSE_SECONDS: u64 = 60;

// ---------------------------------------------------------------------------
// Raw: exactly what the YAML says. Every section optional so that each can be
// parsed alone; required ones are enforced in validation.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    warehouse: Option<RawWarehouse>,
    reporting: Option<RawReporting>,
    queries: Option<String>,
    benchmarks: Option<String>,
    templates: Option<String>,
    out: Option<String>,
    metrics: Option<Vec<RawMetric>>,
    audiences: Option<Vec<RawAudience>>,
    delivery: Option<RawDelivery>,
    business_calendar: Option<RawCalendar>,
    s3: Option<RawS3>,
    archive: Option<String>,
    data_gate: Option<RawDataGate>,
    schedule: Option<RawSchedule>,
    at_risk: Option<RawAtRisk>,
    engine: Option<RawEngine>,
}

impl RawConfig {
    fn merge(&mut self, other: RawConfig) {
        self.warehouse = self.warehouse.take().or(other.warehouse);
        self.reporting = self.reporting.take().or(other.reporting);
        self.queries = self.queries.take().or(other.queries);
        self.benchmarks = self.benchmarks.take().or(other.benchmarks);
        self.templates = self.templates.take().or(other.templates);
        self.out = self.out.take().or(other.out);
        self.metrics = self.metrics.take().or(other.metrics);
        self.audiences = self.audiences.take().or(other.audiences);
        self.delivery = self.delivery.take().or(other.delivery);
        self.business_calendar = self.business_calendar.take().or(other.business_calendar);
        self.s3 = self.s3.take().or(other.s3);
        self.archive = self.archive.take().or(other.archive);
        self.data_gate = self.data_gate.take().or(other.data_gate);
        self.schedule = self.schedule.take().or(other.schedule);
        self.at_risk = self.at_risk.take().or(other.at_risk);
        self.engine = self.engine.take().or(other.engine);
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarehouse {
    root: String,
    #[serde(default)]
    generate_demo_if_missing: bool,
}

/// How to reach S3-compatible storage (warehouse and archive); every key
/// optional, over the standard AWS variables. Never a secret.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawS3 {
    endpoint: Option<String>,
    region: Option<String>,
    addressing: Option<Addressing>,
    allow_http: Option<bool>,
    timeout_seconds: Option<u64>,
    connect_timeout_seconds: Option<u64>,
    retries: Option<u32>,
    retry_timeout_seconds: Option<u64>,
}

/// Where and how queries run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEngine {
    /// `local` (the default) or `ballista`.
    kind: Option<String>,
    /// The Ballista scheduler (`df://host:50050`, or `standalone`).
    scheduler: Option<String>,
    /// The most memory queries may hold at once (`2GiB`, `512MiB`).
    memory_limit: Option<String>,
    /// Where queries spill what does not fit (relative to the config).
    spill_dir: Option<String>,
    /// The longest one query may run before the run stops (seconds).
    query_timeout_seconds: Option<u64>,
}

/// What must hold of the data before a report goes out.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataGate {
    /// The audience that gets an alert instead of the report when the gate
    /// fails.
    alert_audience: Option<String>,
    /// Per event table: `3d` (the newest row at most 3 days before the
    /// week's end) or `off`; over the defaults.
    #[serde(default)]
    freshness: std::collections::BTreeMap<String, String>,
    /// Tables allowed to hold no rows.
    #[serde(default)]
    may_be_empty: Vec<String>,
}

/// How clients are found at risk: the weights and thresholds of the
/// signals the at-risk query computes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAtRisk {
    /// The metric whose items are the report's at-risk list.
    metric: Option<String>,
    /// The score (sum of the weights of a client's signals) from which a
    /// client is at risk.
    min_score: f64,
    #[serde(default)]
    signals: std::collections::BTreeMap<String, RawSignal>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignal {
    weight: f64,
    threshold: Option<RawThreshold>,
}

/// A number (a share such as 0.5) or a number of days (`14d`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawThreshold {
    Number(f64),
    Text(String),
}

/// When `clientpulse schedule` starts a run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    /// 5 fields (minute hour day-of-month month day-of-week), or 6 with
    /// seconds first.
    cron: String,
    /// IANA zone of the expression; default `reporting.timezone`.
    timezone: Option<String>,
    #[serde(default)]
    catch_up: bool,
}

/// The most retries `s3.retries` may ask for.
pub const MAX_S3_RETRIES: u32 = 20;
/// The longest `s3.*_seconds` may be.
pub const MAX_S3_SECONDS: u64 = 900;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReporting {
    currency: String,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default = "default_title")]
    title: String,
    /// Onboarding deadline when a row has no `target_days`.
    #[serde(default = "default_target_days")]
    onboarding_target_days: u32,
    /// Client columns every client metric is broken down by.
    #[serde(default = "default_breakdowns")]
    breakdowns: Vec<String>,
    /// Features whose adoption is reported.
    #[serde(default)]
    features: Vec<String>,
    /// Comments of each kind that `feedback` lists.
    #[serde(default = "default_feedback_count")]
    feedback_count: u32,
    /// The order of the report's sections; a section a query names that is
    /// not listed comes after these.
    #[serde(default = "default_sections")]
    sections: Vec<String>,
}

fn default_sections() -> Vec<String> {
    [
        "Revenue",
        "Clients",
        "Satisfaction",
        "Support and delivery",
        "Engagement",
    ]
    .map(String::from)
    .to_vec()
}

fn default_feedback_count() -> u32 {
    5
}

fn default_target_days() -> u32 {
    30
}

fn default_breakdowns() -> Vec<String> {
    vec!["segment".to_string()]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    timezone: Option<String>,
    working_days: Vec<String>,
    /// `09:00-17:30`.
    hours: String,
    #[serde(default)]
    holidays: Vec<chrono::NaiveDate>,
}

fn default_timezone() -> String {
    "UTC".to_string()
}

fn default_title() -> String {
    "Client pulse".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetric {
    id: String,
    window: Option<String>,
    version: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudience {
    name: String,
    #[serde(default)]
    recipients: Vec<String>,
    /// A client column whose values are addresses: each gets the report
    /// over the clients that carry it (e.g. `account_manager`).
    per: Option<String>,
    /// `List-Unsubscribe` target: `mailto:…` or `https://…`.
    unsubscribe: Option<String>,
    metrics: Option<Vec<String>>,
    /// `detailed` (the default) or `summary`.
    #[serde(default)]
    layout: Layout,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    mode: DeliveryMode,
    from: String,
    reply_to: Option<String>,
    #[serde(default = "default_retries")]
    retries: u32,
    smtp: Option<RawSmtp>,
}

fn default_retries() -> u32 {
    3
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: Option<String>,
    port: Option<u16>,
    #[serde(default)]
    tls: SmtpTls,
    username_env: Option<String>,
    password_env: Option<String>,
    /// A PEM file of the certificate authority of a relay with a private
    /// one, trusted beside the system's.
    ca_file: Option<String>,
    #[serde(default = "default_smtp_timeout")]
    timeout_seconds: u64,
}

fn default_smtp_timeout() -> u64 {
    30
}

/// The longest `delivery.smtp.timeout_seconds` may be.
pub const MAX_SMTP_TIMEOUT_SECONDS: u64 = 600;

// ---------------------------------------------------------------------------
// Validated.

/// The whole, validated configuration of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, for messages.
    pub source: PathBuf,
    /// The config file's text, to position later cross-file problems.
    pub source_text: String,
    pub warehouse: WarehouseConfig,
    pub reporting: Reporting,
    pub queries_dir: PathBuf,
    pub benchmarks_file: PathBuf,
    pub benchmarks: Benchmarks,
    /// The report templates' folder; `None` for the built-in defaults.
    pub templates_dir: Option<PathBuf>,
    pub out_dir: PathBuf,
    pub metrics: Vec<MetricSelection>,
    pub audiences: Vec<Audience>,
    pub delivery: Delivery,
    /// Business hours for durations; `None` for calendar time.
    pub calendar: Option<BusinessCalendar>,
    /// How to reach `s3://` places.
    pub s3: S3Settings,
    /// Where every run's artefacts and ledger are kept beyond the out
    /// folder (a folder or `s3://bucket/prefix`); `None` for nowhere.
    pub archive: Option<String>,
    pub data_gate: DataGate,
    /// When `clientpulse schedule` runs; `None` when the config has none.
    pub schedule: Option<crate::schedule::Schedule>,
    pub at_risk: AtRisk,
    pub engine: EngineSettings,
}

/// Where and how queries run (`engine`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EngineSettings {
    /// In this process, or on a Ballista cluster.
    pub kind: EngineKind,
    /// The most bytes the run's queries may hold at once; above it,
    /// sorts and aggregations spill to disk. `None`: no limit.
    pub memory_limit: Option<u64>,
    /// Where spilled data goes; `None`: the system's temporary folder.
    pub spill_dir: Option<PathBuf>,
    /// How long one query may run (`query_timeout_seconds`); `None`:
    /// [`DEFAULT_QUERY_TIMEOUT_SECONDS`].
    pub query_timeout_seconds: Option<u64>,
}

/// How long one query may run by default: 30 minutes. The slowest query
/// of the shipped report over 100 M events takes about 10 s; a query
/// still running after this is taken for lost (a Ballista scheduler that
/// dropped its job's statuses waits for ever), and the run stops with an
/// error that names it rather than hang an unattended schedule.
pub const DEFAULT_QUERY_TIMEOUT_SECONDS: u64 = 30 * 60;

impl EngineSettings {
    /// What segments' and books' sessions may hold in memory of their
    /// slices of the tables: a quarter of `memory_limit`, or
    /// [`DEFAULT_SLICE_BYTES`] without one.
    /// On a cluster, nothing: a table held in this process's memory would
    /// have to travel inside every query plan sent to the scheduler.
    pub fn query_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.query_timeout_seconds
                .unwrap_or(DEFAULT_QUERY_TIMEOUT_SECONDS),
        )
    }

    pub fn slice_bytes(&self) -> usize {
        if self.kind != EngineKind::Local {
            return 0;
        }
        let bytes = self
            .memory_limit
            .map_or(DEFAULT_SLICE_BYTES, |limit| limit / 4);
        usize::try_from(bytes).unwrap_or(usize::MAX)
    }

    /// What the queries running at once may hold: `memory_limit` less the
    /// slices' share, so that the two together stay within it.
    pub fn query_bytes(&self) -> Option<usize> {
        self.memory_limit
            .map(|limit| usize::try_from(limit - limit / 4).unwrap_or(usize::MAX))
    }
}

/// Where the queries run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// In-process DataFusion.
    #[default]
    Local,
    /// A Ballista cluster: the scheduler at `df://host:port`.
    Ballista { host: String, port: u16 },
    /// Ballista's in-process cluster: a scheduler and an executor started
    /// in this process, over loopback gRPC (for trying the cluster path).
    BallistaStandalone,
}

/// The port of a `df://` URL that names none (Ballista's default).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

impl EngineKind {
    /// `local`, `standalone` or a scheduler's `df://host[:port]`, as
    /// `--engine` takes it.
    pub fn parse(text: &str) -> Result<EngineKind, String> {
        let text = text.trim();
        match text {
            "local" => return Ok(EngineKind::Local),
            "standalone" => return Ok(EngineKind::BallistaStandalone),
            _ => {}
        }
        let Some(rest) = text.strip_prefix("df://") else {
            return Err(format!(
                "`{text}` is not an engine: use `local`, `standalone` or a Ballista scheduler's `df://host:port`"
            ));
        };
        let authority = rest.trim_end_matches('/');
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host,
                port.parse::<u16>()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| format!("`{text}`: `{port}` is not a port"))?,
            ),
            None => (authority, DEFAULT_SCHEDULER_PORT),
        };
        if host.is_empty() || host.contains(['/', '@', '?', '#']) {
            return Err(format!("`{text}`: a scheduler URL is `df://host:port`"));
        }
        Ok(EngineKind::Ballista {
            host: host.to_string(),
            port,
        })
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineKind::Local => write!(f, "local"),
            EngineKind::Ballista { host, port } => write!(f, "df://{host}:{port}"),
            EngineKind::BallistaStandalone => write!(f, "standalone"),
        }
    }
}

/// An error unless this build can run `kind`.
pub fn engine_available(kind: &EngineKind) -> Result<(), String> {
    if *kind == EngineKind::Local || cfg!(feature = "ballista") {
        Ok(())
    } else {
        Err(format!(
            "engine `{kind}` needs a clientpulse built with Ballista: `cargo build --release --features ballista`"
        ))
    }
}

/// The slices' memory when the config sets no `engine.memory_limit`.
pub const DEFAULT_SLICE_BYTES: u64 = 512 << 20;

/// The smallest `engine.memory_limit`: below it, no query of the catalogue
/// can run.
pub const MIN_MEMORY_LIMIT: u64 = 64 << 20;

/// The metric of the at-risk list when the config names none.
pub const DEFAULT_AT_RISK_METRIC: &str = "at_risk_clients";

/// How clients are found at risk (`at_risk`).
#[derive(Debug, Clone, PartialEq)]
pub struct AtRisk {
    /// The metric whose items are the report's at-risk list.
    pub metric: String,
    /// The signals' weights and thresholds and the score from which a
    /// client is at risk, as the query parameters they become.
    pub parameters: Vec<(String, QueryNumber)>,
}

impl Default for AtRisk {
    fn default() -> AtRisk {
        AtRisk {
            metric: DEFAULT_AT_RISK_METRIC.to_string(),
            parameters: Vec::new(),
        }
    }
}

/// What must hold of the data before a report goes out, and who hears
/// when it does not.
#[derive(Debug, Clone, Default)]
pub struct DataGate {
    pub settings: crate::checks::GateSettings,
    /// The audience alerted instead; `None` for nobody.
    pub alert_audience: Option<String>,
}

impl Config {
    /// What the queries take from this config as parameters.
    pub fn query_settings(&self) -> QuerySettings {
        QuerySettings {
            onboarding_target_days: self.reporting.onboarding_target_days,
            features: self.reporting.features.clone(),
            feedback_count: self.reporting.feedback_count,
            numbers: self.at_risk.parameters.clone(),
        }
    }

    /// What the UDFs of a session need from this config.
    pub fn udf_settings(&self) -> UdfSettings {
        UdfSettings {
            timezone: self.reporting.timezone,
            calendar: self.calendar.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WarehouseConfig {
    /// `s3://bucket/prefix`, `file:///abs/path` or a path (made absolute).
    pub root: String,
    pub generate_demo_if_missing: bool,
}

#[derive(Debug, Clone)]
pub struct Reporting {
    pub currency: String,
    pub timezone: Tz,
    pub title: String,
    pub onboarding_target_days: u32,
    pub breakdowns: Vec<String>,
    pub features: Vec<String>,
    pub feedback_count: u32,
    /// The report's sections, in order.
    pub sections: Vec<String>,
}

/// A metric the config asks for, with optional window and version pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSelection {
    pub id: String,
    pub window: Option<Window>,
    pub version: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct Audience {
    pub name: String,
    pub recipients: Vec<String>,
    /// The metrics this audience sees; `None` for all.
    pub metrics: Option<Vec<String>>,
    /// A client column: one report per address it holds, over that
    /// address's clients, sent to that address (`recipients` is empty).
    pub per: Option<String>,
    /// The `List-Unsubscribe` target of its messages.
    pub unsubscribe: Option<String>,
    /// Which templates render its e-mail.
    pub layout: Layout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// Write the messages to the outbox folder only; nothing leaves.
    Outbox,
    /// Send through SMTP (and keep a copy in the outbox).
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// STARTTLS, required.
    #[default]
    Required,
    /// TLS from the first byte (port 465).
    Wrapper,
    /// Plain text: only for a relay on the same host.
    None,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub mode: DeliveryMode,
    pub from: String,
    pub reply_to: Option<String>,
    pub retries: u32,
    pub smtp: Option<SmtpSettings>,
}

/// Where to send. Credentials are named by environment variable only.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `None` when `CLIENTPULSE_SMTP_URL` is to name the server.
    pub host: Option<String>,
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    /// A private certificate authority to trust, as PEM.
    pub ca_file: Option<PathBuf>,
    /// Connecting and each command.
    pub timeout: std::time::Duration,
}

/// Where the config says the other inputs are, known as soon as the file
/// parses, even when other sections are broken: `check` then reads the
/// queries and templates too, and lists their problems with the config's.
#[derive(Debug, Clone)]
pub struct InputFiles {
    pub queries_dir: PathBuf,
    /// `None` for the built-in templates.
    pub templates_dir: Option<PathBuf>,
    /// The metrics the config asks for, as far as they parsed: checked
    /// against the query library even when another section is broken.
    pub metrics: Vec<MetricSelection>,
    /// The config file and its text, to position those checks.
    pub source: PathBuf,
    pub source_text: String,
}

/// What loading the config found: the validated config when there was no
/// problem, the places of the other inputs when they could be told, and
/// every problem of the config and benchmarks files.
#[derive(Debug)]
pub struct Loaded {
    pub config: Option<Config>,
    pub files: Option<InputFiles>,
    pub problems: Vec<Diagnostic>,
}

/// Reads and validates the config file and the benchmarks file it names,
/// collecting every problem of both.
pub fn load(path: &Path) -> Loaded {
    let text = match diagnostic::read_text(path) {
        Ok(text) => text,
        Err(problem) => {
            return Loaded {
                config: None,
                files: None,
                problems: vec![problem],
            };
        }
    };
    let mut problems = Vec::new();
    let Some(raw) = yaml::load_sections(path, &text, RawConfig::merge, &mut problems) else {
        // Not YAML: nothing further can be told, not even where the
        // queries are.
        return Loaded {
            config: None,
            files: None,
            problems,
        };
    };
    let (config, files) = validate(path, &text, raw, &mut problems);
    Loaded {
        config: config.filter(|_| problems.is_empty()),
        files: Some(files),
        problems,
    }
}

fn validate(
    path: &Path,
    text: &str,
    raw: RawConfig,
    problems: &mut Vec<Diagnostic>,
) -> (Option<Config>, InputFiles) {
    let base = &normalize(
        &std::path::absolute(path.parent().unwrap_or(Path::new("."))).unwrap_or_default(),
    );
    let base = relative_to_cwd(base);
    let base = base.as_path();
    let mut files = InputFiles {
        queries_dir: normalize(&base.join(raw.queries.as_deref().unwrap_or("../queries"))),
        templates_dir: raw
            .templates
            .as_deref()
            .map(|dir| normalize(&base.join(dir))),
        metrics: Vec::new(),
        source: path.to_path_buf(),
        source_text: text.to_string(),
    };
    // A section that is in the file but did not parse has its own problem
    // already; only a section that is not there at all is "missing".
    let missing = |problems: &mut Vec<Diagnostic>, key: &str| {
        if !yaml::has_top_level_key(text, key) {
            problems.push(Diagnostic::in_file(
                path,
                format!("missing required key `{key}`"),
            ))
        }
    };

    let warehouse = match raw.warehouse {
        Some(warehouse) => {
            let root = resolve_root(base, &warehouse.root);
            if warehouse.generate_demo_if_missing
                && root.contains("://")
                && !root.starts_with("file://")
            {
                problems.push(Diagnostic::at_line(
                    path,
                    yaml::line_of_top_level_key(text, "warehouse"),
                    format!(
                        "warehouse.generate_demo_if_missing needs a local root, not `{root}`: make a demo warehouse elsewhere with `clientpulse demo-data --out`"
                    ),
                ));
            }
            Some(WarehouseConfig {
                root,
                generate_demo_if_missing: warehouse.generate_demo_if_missing,
            })
        }
        None => {
            missing(problems, "warehouse");
            None
        }
    };

    let reporting = match raw.reporting {
        Some(reporting) => {
            let line = yaml::line_of_top_level_key(text, "reporting");
            let timezone = reporting.timezone.parse::<Tz>().map_err(|_| {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!(
                        "reporting.timezone `{}` is not an IANA time zone name (e.g. Europe/Paris)",
                        reporting.timezone
                    ),
                ))
            });
            // The title goes into every subject line: one line of text.
            if reporting.title.chars().any(char::is_control) || reporting.title.trim().is_empty() {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    "reporting.title must be one line of text (it is every e-mail's subject)",
                ));
            }
            let currency = reporting.currency.trim().to_ascii_uppercase();
            if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!(
                        "reporting.currency `{}` is not an ISO 4217 code such as EUR",
                        reporting.currency
                    ),
                ));
            }
            for column in &reporting.breakdowns {
                if !is_identifier(column) {
                    problems.push(Diagnostic::at_line(
                        path,
                        line,
                        format!("reporting.breakdowns: `{column}` is not a column name"),
                    ));
                }
            }
            timezone.ok().map(|timezone| Reporting {
                currency,
                timezone,
                title: reporting.title,
                onboarding_target_days: reporting.onboarding_target_days,
                breakdowns: reporting.breakdowns,
                features: reporting.features,
                feedback_count: reporting.feedback_count,
                sections: reporting.sections,
            })
        }
        None => {
            missing(problems, "reporting");
            None
        }
    };

    let mut metrics = Vec::new();
    let metrics_parsed = raw.metrics.is_some();
    for metric in raw.metrics.unwrap_or_default() {
        let line = yaml::line_of_entry(text, "id", &metric.id);
        let window = match metric.window.as_deref().map(|w| (w, Window::parse(w))) {
            None => None,
            Some((_, Some(window))) => Some(window),
            Some((text, None)) => {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!(
                        "metric `{}`: window `{text}` is neither `as_of_end` nor a number of days such as `30d`",
                        metric.id
                    ),
                ));
                None
            }
        };
        if metrics.iter().any(|m: &MetricSelection| m.id == metric.id) {
            problems.push(Diagnostic::at_line(
                path,
                line,
                format!("metric `{}` is listed twice", metric.id),
            ));
        }
        metrics.push(MetricSelection {
            id: metric.id,
            window,
            version: metric.version,
        });
    }
    files.metrics = metrics.clone();
    if metrics.is_empty() && (metrics_parsed || !yaml::has_top_level_key(text, "metrics")) {
        problems.push(Diagnostic::in_file(
            path,
            "`metrics` lists no metric to run",
        ));
    }

    let mut audiences: Vec<Audience> = Vec::new();
    for audience in raw.audiences.unwrap_or_default() {
        let line = yaml::line_of_entry(text, "name", &audience.name);
        if audience.name.trim().is_empty() {
            problems.push(Diagnostic::at_line(
                path,
                line,
                "an audience has an empty name",
            ));
        }
        if audiences.iter().any(|a| a.name == audience.name) {
            problems.push(Diagnostic::at_line(
                path,
                line,
                format!("audience `{}` is listed twice", audience.name),
            ));
        }
        match &audience.per {
            None if audience.recipients.is_empty() => problems.push(Diagnostic::at_line(
                path,
                line,
                format!("audience `{}` has no recipients (and no `per`)", audience.name),
            )),
            Some(column) if !audience.recipients.is_empty() => problems.push(Diagnostic::at_line(
                path,
                line,
                format!(
                    "audience `{}` has both `per: {column}` and recipients: its recipients are the addresses in the clients' `{column}` column",
                    audience.name
                ),
            )),
            Some(column) if !is_identifier(column) => problems.push(Diagnostic::at_line(
                path,
                line,
                format!("audience `{}`: per `{column}` is not a column name", audience.name),
            )),
            _ => {}
        }
        if let Some(target) = &audience.unsubscribe {
            let well_formed = (target.starts_with("mailto:") || target.starts_with("https://"))
                && !target
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
            if !well_formed {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!(
                        "audience `{}`: unsubscribe `{target}` must be one mailto: or https:// URL",
                        audience.name
                    ),
                ));
            }
        }
        for recipient in &audience.recipients {
            if !plausible_address(recipient) {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!(
                        "audience `{}`: `{recipient}` is not an e-mail address",
                        audience.name
                    ),
                ));
            }
        }
        if let Some(selected) = &audience.metrics {
            for id in selected {
                if !metrics.iter().any(|m| &m.id == id) {
                    problems.push(Diagnostic::at_line(
                        path,
                        line,
                        format!(
                            "audience `{}` names metric `{id}`, which `metrics` does not run",
                            audience.name
                        ),
                    ));
                }
            }
        }
        audiences.push(Audience {
            name: audience.name,
            recipients: audience.recipients,
            metrics: audience.metrics,
            per: audience.per,
            unsubscribe: audience.unsubscribe,
            layout: audience.layout,
        });
    }

    let delivery = match raw.delivery {
        Some(delivery) => {
            let line = yaml::line_of_top_level_key(text, "delivery");
            if !plausible_address(strip_display_name(&delivery.from)) {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!("delivery.from `{}` is not an e-mail address", delivery.from),
                ));
            }
            if delivery.retries > MAX_RETRIES {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!(
                        "delivery.retries is {}; at most {MAX_RETRIES} (each retry waits longer, up to {MAX_RETRY_PAUSE_SECONDS} s)",
                        delivery.retries
                    ),
                ));
            }
            if let Some(reply_to) = &delivery.reply_to
                && !plausible_address(strip_display_name(reply_to))
            {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!("delivery.reply_to `{reply_to}` is not an e-mail address"),
                ));
            }
            if let Some(smtp) = &delivery.smtp
                && !(1..=MAX_SMTP_TIMEOUT_SECONDS).contains(&smtp.timeout_seconds)
            {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!(
                        "delivery.smtp.timeout_seconds is {}; it must be between 1 and {MAX_SMTP_TIMEOUT_SECONDS}",
                        smtp.timeout_seconds
                    ),
                ));
            }
            Some(Delivery {
                mode: delivery.mode,
                from: delivery.from,
                reply_to: delivery.reply_to,
                retries: delivery.retries,
                smtp: delivery.smtp.map(|smtp| SmtpSettings {
                    host: smtp.host,
                    port: smtp.port,
                    tls: smtp.tls,
                    username_env: smtp.username_env,
                    password_env: smtp.password_env,
                    ca_file: smtp.ca_file.map(|file| normalize(&base.join(file))),
                    timeout: std::time::Duration::from_secs(smtp.timeout_seconds),
                }),
            })
        }
        None => {
            missing(problems, "delivery");
            None
        }
    };

    let calendar = raw.business_calendar.and_then(|raw| {
        let line = yaml::line_of_top_level_key(text, "business_calendar");
        let default_zone = reporting.as_ref().map(|r| r.timezone).unwrap_or(Tz::UTC);
        calendar(raw, default_zone)
            .map_err(|message| {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!("business_calendar: {message}"),
                ))
            })
            .ok()
    });

    let s3 = raw
        .s3
        .map(|raw| s3_settings(raw, path, yaml::line_of_top_level_key(text, "s3"), problems))
        .unwrap_or_default();
    let archive = raw.archive.map(|archive| resolve_root(base, &archive));
    let schedule = raw.schedule.and_then(|raw| {
        let line = yaml::line_of_top_level_key(text, "schedule");
        let zone = match &raw.timezone {
            Some(name) => name.parse::<Tz>().map_err(|_| {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!("schedule.timezone `{name}` is not an IANA time zone name"),
                ))
            }),
            None => Ok(reporting.as_ref().map_or(Tz::UTC, |r| r.timezone)),
        };
        let zone = zone.ok()?;
        crate::schedule::Schedule::parse(&raw.cron, zone, raw.catch_up)
            .map_err(|message| {
                problems.push(Diagnostic::at_line(
                    path,
                    line,
                    format!("schedule.cron: {message}"),
                ))
            })
            .ok()
    });
    let at_risk = raw
        .at_risk
        .map(|raw| {
            at_risk(
                raw,
                path,
                yaml::line_of_top_level_key(text, "at_risk"),
                problems,
            )
        })
        .unwrap_or_default();
    let engine = raw
        .engine
        .map(|raw| {
            let line = yaml::line_of_top_level_key(text, "engine");
            let memory_limit = raw.memory_limit.and_then(|size| {
                parse_size(&size)
                    .and_then(|bytes| {
                        if bytes < MIN_MEMORY_LIMIT {
                            Err(format!("it must be at least {}MiB", MIN_MEMORY_LIMIT >> 20))
                        } else {
                            Ok(bytes)
                        }
                    })
                    .map_err(|message| {
                        problems.push(Diagnostic::at_line(
                            path,
                            line,
                            format!("engine.memory_limit `{size}`: {message}"),
                        ))
                    })
                    .ok()
            });
            let kind = engine_kind(raw.kind.as_deref(), raw.scheduler.as_deref())
                .and_then(|kind| engine_available(&kind).map(|()| kind))
                .map_err(|message| problems.push(Diagnostic::at_line(path, line, message)))
                .unwrap_or_default();
            let query_timeout_seconds = raw.query_timeout_seconds.filter(|&seconds| {
                let valid = seconds >= 1;
                if !valid {
                    problems.push(Diagnostic::at_line(
                        path,
                        line,
                        "engine.query_timeout_seconds must be at least 1".to_string(),
                    ));
                }
                valid
            });
            EngineSettings {
                kind,
                memory_limit,
                spill_dir: raw.spill_dir.map(|dir| normalize(&base.join(dir))),
                query_timeout_seconds,
            }
        })
        .unwrap_or_default();
    let data_gate = raw
        .data_gate
        .map(|gate| {
            data_gate(
                gate,
                &audiences,
                path,
                yaml::line_of_top_level_key(text, "data_gate"),
                problems,
            )
        })
        .unwrap_or_default();

    let benchmarks_file =
        normalize(&base.join(raw.benchmarks.as_deref().unwrap_or("benchmarks.yaml")));
    let benchmarks = match diagnostic::read_text(&benchmarks_file) {
        Ok(text) => benchmarks::parse(&benchmarks_file, &text, problems),
        Err(problem) => {
            problems.push(problem);
            Benchmarks::default()
        }
    };

    let config = (|| {
        Some(Config {
            source: path.to_path_buf(),
            source_text: text.to_string(),
            warehouse: warehouse?,
            reporting: reporting?,
            queries_dir: files.queries_dir.clone(),
            benchmarks_file,
            benchmarks,
            templates_dir: files.templates_dir.clone(),
            out_dir: normalize(&base.join(raw.out.as_deref().unwrap_or("../out"))),
            metrics,
            audiences,
            delivery: delivery?,
            calendar,
            s3,
            archive,
            data_gate,
            schedule,
            at_risk,
            engine,
        })
    })();
    (config, files)
}

/// A size in bytes from `512MiB`, `2GiB`, `1.5GB` or a plain number of
/// bytes: binary (KiB, MiB, GiB) and decimal (KB, MB, GB) units.
/// `engine.kind` and `engine.scheduler` together.
fn engine_kind(kind: Option<&str>, scheduler: Option<&str>) -> Result<EngineKind, String> {
    match (kind.map(str::trim), scheduler) {
        (None | Some("local"), None) => Ok(EngineKind::Local),
        (None | Some("local"), Some(_)) => Err(
            "engine.scheduler is for `kind: ballista`; a local engine has no scheduler".to_string(),
        ),
        (Some("ballista"), Some(scheduler)) => match EngineKind::parse(scheduler) {
            Ok(EngineKind::Local) => Err(format!(
                "engine.scheduler `{scheduler}`: a Ballista scheduler is `df://host:port` or `standalone`"
            )),
            Ok(kind) => Ok(kind),
            Err(message) => Err(format!("engine.scheduler {message}")),
        },
        (Some("ballista"), None) => Err(
            "engine.kind ballista needs engine.scheduler: `df://host:50050` (or `standalone`)"
                .to_string(),
        ),
        (Some(other), _) => Err(format!(
            "engine.kind `{other}`: it is `local` or `ballista`"
        )),
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| "not a size like 2GiB or 512MiB".to_string())?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        other => {
            return Err(format!(
                "unknown unit `{other}` (use KiB, MiB, GiB, KB, MB or GB)"
            ));
        }
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err("too large".to_string());
    }
    Ok(bytes.round() as u64)
}

/// The `data_gate` section over the defaults, every problem reported.
fn data_gate(
    raw: RawDataGate,
    audiences: &[Audience],
    path: &Path,
    line: Option<usize>,
    problems: &mut Vec<Diagnostic>,
) -> DataGate {
    let mut problem = |message: String| problems.push(Diagnostic::at_line(path, line, message));
    let mut settings = crate::checks::GateSettings::default();
    let event_tables: Vec<&str> = crate::catalog::EVENT_TIME.iter().map(|(t, _)| *t).collect();
    for (table, limit) in raw.freshness {
        if !event_tables.contains(&table.as_str()) {
            problem(format!(
                "data_gate.freshness: `{table}` is not an event table ({})",
                event_tables.join(", ")
            ));
            continue;
        }
        match limit.trim() {
            "off" => {
                settings.freshness_days.remove(&table);
            }
            text => match Window::parse(text) {
                Some(Window::Days(days)) => {
                    settings.freshness_days.insert(table, days);
                }
                _ => problem(format!(
                    "data_gate.freshness.{table}: `{limit}` is neither a number of days such as `3d` nor `off`"
                )),
            },
        }
    }
    let tables = crate::catalog::contract_table_names();
    for table in raw.may_be_empty {
        if tables.contains(table.as_str()) {
            settings.may_be_empty.insert(table);
        } else {
            problem(format!(
                "data_gate.may_be_empty: `{table}` is not a table of warehouse.md"
            ));
        }
    }
    if let Some(name) = &raw.alert_audience
        && !audiences.iter().any(|a| &a.name == name)
    {
        problem(format!(
            "data_gate.alert_audience `{name}` is not one of the audiences"
        ));
    }
    DataGate {
        settings,
        alert_audience: raw.alert_audience,
    }
}

/// The config key that sets query parameter `name` (without `$`), if a
/// config can set it: the inverse of the names [`at_risk`] gives the
/// at-risk settings.
pub fn key_of_parameter(name: &str) -> Option<String> {
    if name == "at_risk_min_score" {
        Some("at_risk.min_score".to_string())
    } else if let Some(signal) = name.strip_suffix("_weight") {
        Some(format!("at_risk.signals.{signal}.weight"))
    } else {
        name.strip_suffix("_threshold")
            .map(|signal| format!("at_risk.signals.{signal}.threshold"))
    }
}

/// The `at_risk` section: each signal's weight and threshold become the
/// parameters `$<signal>_weight` and `$<signal>_threshold` (a number, or
/// whole days for `14d`), and `min_score` becomes `$at_risk_min_score`.
fn at_risk(
    raw: RawAtRisk,
    path: &Path,
    line: Option<usize>,
    problems: &mut Vec<Diagnostic>,
) -> AtRisk {
    let mut problem = |message: String| problems.push(Diagnostic::at_line(path, line, message));
    let mut parameters = Vec::new();
    if raw.min_score.is_finite() && raw.min_score > 0.0 {
        parameters.push((
            "at_risk_min_score".to_string(),
            QueryNumber::Number(raw.min_score),
        ));
    } else {
        problem(format!(
            "at_risk.min_score must be a number above 0, got {}",
            raw.min_score
        ));
    }
    for (name, signal) in raw.signals {
        let lowercase_identifier = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !lowercase_identifier {
            problem(format!(
                "at_risk.signals: `{name}` is not a signal name (lowercase letters, digits and `_`, as the query's parameters spell it)"
            ));
            continue;
        }
        if signal.weight.is_finite() && signal.weight >= 0.0 {
            parameters.push((format!("{name}_weight"), QueryNumber::Number(signal.weight)));
        } else {
            problem(format!(
                "at_risk.signals.{name}.weight must be a number ≥ 0 (0 turns the signal off), got {}",
                signal.weight
            ));
        }
        let threshold = match signal.threshold {
            None => continue,
            Some(RawThreshold::Number(n)) if n.is_finite() => Some(QueryNumber::Number(n)),
            Some(RawThreshold::Number(_)) => None,
            Some(RawThreshold::Text(text)) => match Window::parse(text.trim()) {
                Some(Window::Days(days)) => Some(QueryNumber::Days(days)),
                _ => None,
            },
        };
        match threshold {
            Some(threshold) => parameters.push((format!("{name}_threshold"), threshold)),
            None => problem(format!(
                "at_risk.signals.{name}.threshold must be a number (a share such as 0.5) or a number of days such as `14d`"
            )),
        }
    }
    AtRisk {
        metric: raw
            .metric
            .unwrap_or_else(|| DEFAULT_AT_RISK_METRIC.to_string()),
        parameters,
    }
}

/// Whether `name` can only be a column name (letters, digits, `_`).
fn is_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `s3` section over the defaults, every problem reported.
fn s3_settings(
    raw: RawS3,
    path: &Path,
    line: Option<usize>,
    problems: &mut Vec<Diagnostic>,
) -> S3Settings {
    let defaults = S3Settings::default();
    let mut problem = |message: String| problems.push(Diagnostic::at_line(path, line, message));
    if let Some(endpoint) = &raw.endpoint {
        let scheme = url::Url::parse(endpoint).map(|url| url.scheme().to_string());
        if !matches!(scheme.as_deref(), Ok("http" | "https")) {
            problem(format!(
                "s3.endpoint `{endpoint}` is not an http:// or https:// URL"
            ));
        }
    }
    if raw.retries.is_some_and(|retries| retries > MAX_S3_RETRIES) {
        problem(format!("s3.retries: at most {MAX_S3_RETRIES}"));
    }
    let mut seconds = |key: &str, value: Option<u64>, default: std::time::Duration| match value {
        None => default,
        Some(value) if (1..=MAX_S3_SECONDS).contains(&value) => {
            std::time::Duration::from_secs(value)
        }
        Some(value) => {
            problem(format!(
                "s3.{key} is {value}; it must be between 1 and {MAX_S3_SECONDS}"
            ));
            default
        }
    };
    S3Settings {
        timeout: seconds("timeout_seconds", raw.timeout_seconds, defaults.timeout),
        connect_timeout: seconds(
            "connect_timeout_seconds",
            raw.connect_timeout_seconds,
            defaults.connect_timeout,
        ),
        retry_timeout: seconds(
            "retry_timeout_seconds",
            raw.retry_timeout_seconds,
            defaults.retry_timeout,
        ),
        endpoint: raw.endpoint,
        region: raw.region,
        addressing: raw.addressing,
        allow_http: raw.allow_http,
        retries: raw.retries.unwrap_or(defaults.retries),
    }
}

fn calendar(raw: RawCalendar, default_zone: Tz) -> Result<BusinessCalendar, String> {
    let timezone = match raw.timezone {
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| format!("timezone `{name}` is not an IANA time zone name"))?,
        None => default_zone,
    };
    let mut working_days = [false; 7];
    for day in &raw.working_days {
        let index = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .position(|d| day.to_ascii_lowercase().starts_with(d))
            .ok_or_else(|| format!("working day `{day}` is not mon, tue, … sun"))?;
        working_days[index] = true;
    }
    let parse_time = |text: &str| {
        chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map_err(|_| format!("hours `{}` must be like 09:00-17:30", raw.hours))
    };
    let (opens, closes) = raw
        .hours
        .split_once('-')
        .ok_or_else(|| format!("hours `{}` must be like 09:00-17:30", raw.hours))?;
    let (opens, closes) = (parse_time(opens)?, parse_time(closes)?);
    if opens >= closes {
        return Err(format!("hours `{}` close before they open", raw.hours));
    }
    Ok(BusinessCalendar {
        timezone,
        working_days,
        opens,
        closes,
        holidays: raw.holidays.into_iter().collect(),
    })
}

/// A warehouse root as a URL-like string: remote URLs as they are, local
/// paths made absolute against the config's folder.
pub fn resolve_root(base: &Path, root: &str) -> String {
    if root.contains("://") {
        return root.trim_end_matches('/').to_string();
    }
    let path = Path::new(root);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    let absolute = std::path::absolute(&joined).unwrap_or(joined);
    normalize(&absolute).display().to_string()
}

/// `base` relative to the working directory when it lies below it, so that
/// messages name `queries/nps.sql` rather than a long absolute path.
fn relative_to_cwd(base: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| base.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| base.to_path_buf())
}

/// Removes `.` and `..` without touching the disk (the folder may not exist
/// yet when the demo warehouse is still to be made).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                let parent_of_normal = matches!(
                    out.components().next_back(),
                    Some(std::path::Component::Normal(_))
                );
                if parent_of_normal {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `Name <addr@host>` → `addr@host`.
fn strip_display_name(address: &str) -> &str {
    match (address.rfind('<'), address.rfind('>')) {
        (Some(open), Some(close)) if open < close => &address[open + 1..close],
        _ => address,
    }
}

/// A cheap shape check; delivery parses addresses strictly before sending.
fn plausible_address(address: &str) -> bool {
    let address = address.trim();
    match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !address.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ','
                })
                && !domain.contains('@')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(plausible_address("ceo@example.com"));
        assert!(!plausible_address("ceo@example.com\r\nBcc: x@y.z"));
        assert!(!plausible_address("nobody"));
        assert_eq!(strip_display_name("Pulse <p@example.com>"), "p@example.com");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(1_500_000_000));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert!(parse_size("2 parsecs").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn engines() {
        let ballista = |host: &str, port| EngineKind::Ballista {
            host: host.to_string(),
            port,
        };
        assert_eq!(EngineKind::parse("local"), Ok(EngineKind::Local));
        assert_eq!(
            EngineKind::parse("standalone"),
            Ok(EngineKind::BallistaStandalone)
        );
        assert_eq!(
            EngineKind::parse("df://scheduler:50051"),
            Ok(ballista("scheduler", 50051))
        );
        assert_eq!(
            EngineKind::parse("df://10.0.0.7"),
            Ok(ballista("10.0.0.7", DEFAULT_SCHEDULER_PORT))
        );
        for bad in [
            "http://x:1",
            "df://",
            "df://x:port",
            "df://x:0",
            "df://u@x:1",
            "ballista",
        ] {
            assert!(EngineKind::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(engine_kind(None, None), Ok(EngineKind::Local));
        assert_eq!(
            engine_kind(Some("ballista"), Some("df://s:7")),
            Ok(ballista("s", 7))
        );
        assert!(engine_kind(Some("ballista"), None).is_err());
        assert!(engine_kind(Some("ballista"), Some("local")).is_err());
        assert!(engine_kind(Some("local"), Some("df://s:7")).is_err());
        assert!(engine_kind(Some("spark"), None).is_err());
        assert_eq!(
            EngineKind::parse(&ballista("s", 7).to_string()),
            Ok(ballista("s", 7))
        );
        // Nothing is held in memory on a cluster.
        let on_cluster = EngineSettings {
            kind: ballista("s", 7),
            ..EngineSettings::default()
        };
        assert_eq!(on_cluster.slice_bytes(), 0);
        assert!(EngineSettings::default().slice_bytes() > 0);
    }

    #[test]
    fn roots() {
        assert_eq!(resolve_root(Path::new("/a/config"), "../wh"), "/a/wh");
        assert_eq!(resolve_root(Path::new("/a"), "s3://b/p/"), "s3://b/p");
        assert_eq!(
            normalize(Path::new("config/../queries")),
            PathBuf::from("queries")
        );
        assert_eq!(
            normalize(Path::new("../queries")),
            PathBuf::from("../queries")
        );
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
    }
}
