//! The order of the stages, and the only place that knows it.
//!
//! `run`: config → query library → warehouse catalog → data checks →
//! metrics (current week, its trend, and the week per segment of clients)
//! → benchmark evaluation → report
//! (report.json, report.html) → delivery (outbox, SMTP). `check` walks the
//! same path up to planning, without running or sending anything.
//!
//! Each stage takes and returns plain data; this file only wires them and
//! turns their errors into one [`RunError`] whose exit code the CLI uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use thiserror::Error;

use crate::catalog::{self, CatalogError, NeededBy, Warehouse};
use crate::checks::{self, DataError};
use crate::config::{self, Config, MetricSelection};
use crate::delivery::{self, DeliveryError, DeliveryOutcome, Letter};
use crate::demo::{self, DemoError};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::evaluate;
use crate::fault::Fault;
use crate::metrics::{self, MetricValue, MetricsError, QueryFile, QueryLibrary};
use crate::period::{Period, PeriodError};
use crate::report::render::{RenderError, Templates};
use crate::report::{self, MetricReport, PeriodInfo, Report, TrendPoint};
use crate::state;

/// Weeks in a metric's trend, the current one included (metrics.md).
pub const TREND_WEEKS: usize = 12;
/// Metric queries run at once; DataFusion parallelises inside each too.
const CONCURRENT_QUERIES: usize = 4;

#[derive(Debug, Error)]
pub enum RunError {
    /// Problems of the user's files (config, benchmarks, queries, lock,
    /// templates) or the command line, all of them.
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error("{0}")]
    Period(#[from] PeriodError),
    #[error("{}", join_lines(.0))]
    Catalog(Vec<CatalogError>),
    #[error("{}", join_lines(.0))]
    Data(Vec<DataError>),
    #[error("{0}")]
    Metrics(#[from] MetricsError),
    #[error("{}", join_lines(.0))]
    Plans(Vec<MetricsError>),
    #[error("{0}")]
    Render(#[from] RenderError),
    #[error("{0}")]
    Delivery(#[from] DeliveryError),
    #[error(
        "cannot write {path}: {source} (a local fault: check the folder's permissions and free space)"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Demo(#[from] DemoError),
}

fn join_lines<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl RunError {
    /// Whose fault it is; [`Fault::exit_code`] is the process's exit code.
    pub fn fault(&self) -> Fault {
        let worst = |faults: Vec<Fault>| Fault::worst(faults).unwrap_or(Fault::Internal);
        match self {
            RunError::Invalid(_) | RunError::Period(_) | RunError::Render(_) => Fault::Input,
            RunError::Catalog(errors) => worst(errors.iter().map(CatalogError::fault).collect()),
            RunError::Data(_) => Fault::Data,
            RunError::Metrics(error) => error.fault(),
            RunError::Plans(errors) => worst(errors.iter().map(MetricsError::fault).collect()),
            RunError::Delivery(error) => error.fault(),
            RunError::Write { .. } => Fault::Internal,
            RunError::Demo(error) => error.fault(),
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.fault().exit_code()
    }
}

/// Which weeks to run.
#[derive(Debug, Clone)]
pub enum PeriodChoice {
    /// The last complete week before now.
    LastComplete,
    One(String),
    Range {
        from: String,
        to: String,
    },
}

/// Everything `run` takes from the command line.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    pub periods: PeriodChoice,
    pub warehouse: Option<String>,
    pub out: Option<PathBuf>,
    pub dry_run: bool,
    /// The clock, injected so that runs and tests are reproducible.
    pub now: DateTime<Utc>,
}

/// What one week's run left behind.
#[derive(Debug, Clone)]
pub struct WeekOutcome {
    pub period: String,
    pub dir: PathBuf,
    pub report: Report,
    pub delivery: DeliveryOutcome,
}

/// Which command inputs are prepared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Run,
    Check,
    Lock,
}

/// Config, queries and templates, validated together.
struct Prepared {
    config: Config,
    selected: Vec<(MetricSelection, QueryFile)>,
    library: QueryLibrary,
    templates: Templates,
    /// Whether the warehouse root came from `--warehouse`: then it is never
    /// the demo warehouse, whatever the config says.
    warehouse_overridden: bool,
}

/// Loads and cross-validates every input a run reads before the
/// warehouse: the config and its benchmarks, every query file and header,
/// the lock, and the templates. Every problem of every file is collected
/// before failing, so one `check` lists them all.
fn prepare(
    config_path: &Path,
    warehouse: Option<&str>,
    out: Option<&Path>,
    purpose: Purpose,
) -> Result<Prepared, RunError> {
    let loaded = config::load(config_path);
    let mut problems: Vec<Diagnostic> = loaded.problems;
    let Some(files) = loaded.files else {
        return Err(RunError::Invalid(Diagnostics(problems)));
    };
    let (library, mut found) = QueryLibrary::load(&files.queries_dir);
    let unreadable: BTreeSet<PathBuf> = found.iter().map(|p| p.file.clone()).collect();
    problems.append(&mut found);
    // A published version must run exactly as published; `check` also
    // wants every version published.
    problems.extend(library.verify_lock(&files.queries_dir));
    if purpose == Purpose::Check {
        problems.extend(library.unpublished(&files.queries_dir).into_iter().map(|query| {
            Diagnostic::in_file(
                &query.path,
                format!(
                    "metric `{}` version {} is not published in {}: run `clientpulse lock` and commit it",
                    query.id,
                    query.version,
                    metrics::library::LOCK_FILE
                ),
            )
        }));
    }
    let templates = match Templates::load(files.templates_dir.as_deref()) {
        Ok(templates) => Some(templates),
        Err(mut found) => {
            problems.append(&mut found);
            None
        }
    };
    let selected = select_metrics(&files, &library, &unreadable, &mut problems);
    let Some(mut config) = loaded.config else {
        return Err(RunError::Invalid(Diagnostics(problems)));
    };
    if let Some(root) = warehouse {
        let cwd = std::env::current_dir().unwrap_or_default();
        config.warehouse.root = config::resolve_root(&cwd, root);
    }
    if let Some(out) = out {
        config.out_dir = out.to_path_buf();
    }
    problems.extend(out_inside_warehouse(&config));
    for id in config.benchmarks.by_metric.keys() {
        if !library.contains(id) && !metrics::SPEC_METRIC_IDS.contains(&id.as_str()) {
            problems.push(Diagnostic::at_line(
                &config.benchmarks_file,
                config.benchmarks.lines.get(id).copied(),
                format!("benchmark for unknown metric `{id}`"),
            ));
        }
    }
    let recipients = config
        .audiences
        .iter()
        .flat_map(|a| a.recipients.iter().map(String::as_str));
    for (address, problem) in delivery::validate_addresses(&config.delivery.from, recipients) {
        let line = config::line_containing(&config.source_text, &address);
        problems.push(Diagnostic::at_line(&config.source, line, problem));
    }
    match templates {
        Some(templates) if problems.is_empty() => Ok(Prepared {
            config,
            selected,
            library,
            templates,
            warehouse_overridden: warehouse.is_some(),
        }),
        _ => Err(RunError::Invalid(Diagnostics(problems))),
    }
}

/// The query of each metric the config asks for, in config order; every
/// metric without one (or whose window does not fit it) is a problem at
/// its line of the config.
fn select_metrics(
    files: &config::InputFiles,
    library: &QueryLibrary,
    unreadable: &BTreeSet<PathBuf>,
    problems: &mut Vec<Diagnostic>,
) -> Vec<(MetricSelection, QueryFile)> {
    let mut selected = Vec::new();
    if unreadable.contains(&files.queries_dir) {
        return selected; // the folder's own problem says it all
    }
    for selection in &files.metrics {
        let line = config::line_of_entry(&files.source_text, "id", &selection.id);
        match library.select(&selection.id, selection.version) {
            Some(query) => {
                if let Some(message) = window_problem(selection, query) {
                    problems.push(Diagnostic::at_line(&files.source, line, message));
                }
                selected.push((selection.clone(), query.clone()));
            }
            None if library.contains(&selection.id) => problems.push(Diagnostic::at_line(
                &files.source,
                line,
                format!(
                    "metric `{}` has no version {} in {} (versions: {:?})",
                    selection.id,
                    selection.version.unwrap_or_default(),
                    files.queries_dir.display(),
                    library.versions(&selection.id)
                ),
            )),
            // A file that failed to load has already been reported.
            None if unreadable.iter().any(|file| {
                file.file_stem()
                    .is_some_and(|stem| stem == selection.id.as_str())
            }) => {}
            None => problems.push(Diagnostic::at_line(
                &files.source,
                line,
                format!(
                    "unknown metric `{}`: no query in {} has this id",
                    selection.id,
                    files.queries_dir.display()
                ),
            )),
        }
    }
    selected
}

/// A report never goes into the warehouse it reads: an out folder inside
/// a local warehouse root is refused.
fn out_inside_warehouse(config: &Config) -> Option<Diagnostic> {
    let root = catalog::local_root(&config.warehouse.root)?;
    let root = std::path::absolute(&root).ok()?;
    let out = std::path::absolute(&config.out_dir).ok()?;
    out.starts_with(&root).then(|| {
        Diagnostic::in_file(
            &config.source,
            format!(
                "the out folder {} is inside the warehouse {}: clientpulse never writes into the warehouse it reads; choose another `out` or `--out`",
                out.display(),
                root.display()
            ),
        )
    })
}

/// A query's window is part of its meaning: a stock (`as_of_end`) has no
/// trailing window, and a flow over days cannot be measured at an instant.
fn window_problem(selection: &MetricSelection, query: &QueryFile) -> Option<String> {
    use crate::period::Window;
    match (query.window, selection.window?) {
        (Window::AsOfEnd, Window::Days(days)) => Some(format!(
            "metric `{}`: window `{days}d` does not apply: {} is measured at the week's end (as_of_end), a stock with no window",
            selection.id,
            query.path.display()
        )),
        (Window::Days(days), Window::AsOfEnd) => Some(format!(
            "metric `{}`: window `as_of_end` is refused: {} is a flow over a window of days (default {days}d); give a number of days such as `{days}d`",
            selection.id,
            query.path.display()
        )),
        _ => None,
    }
}

/// A session with the UDFs, and the config's warehouse registered in it.
fn open_warehouse(
    config: &Config,
) -> Result<(datafusion::prelude::SessionContext, Warehouse), RunError> {
    let ctx = metrics::new_session(&config.udf_settings())?;
    let warehouse = Warehouse::open(
        &ctx,
        &config.warehouse.root,
        config.warehouse.endpoint.as_deref(),
    )
    .map_err(|e| RunError::Catalog(vec![e]))?;
    Ok((ctx, warehouse))
}

/// The tables the given queries read, each with the files that need it;
/// `clients` too when the config breaks metrics down by a client column.
fn tables_needed<'a>(
    ctx: &datafusion::prelude::SessionContext,
    config: &Config,
    queries: impl IntoIterator<Item = &'a QueryFile>,
) -> Result<Vec<(String, NeededBy)>, Vec<MetricsError>> {
    let mut needed: BTreeMap<String, NeededBy> = BTreeMap::new();
    if !config.reporting.breakdowns.is_empty() {
        needed.insert(
            "clients".to_string(),
            NeededBy(vec![format!(
                "{} (reporting.breakdowns)",
                config.source.display()
            )]),
        );
    }
    let mut errors = Vec::new();
    for query in queries {
        match metrics::tables_read(ctx, query) {
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

/// Makes the demo warehouse when the config asks for it and it is missing:
/// only at the config's own root, never at a root given by `--warehouse`,
/// and only into a folder that is empty or already the demo's own (the
/// demo module refuses anything else).
fn ensure_demo_warehouse(prepared: &Prepared, now: DateTime<Utc>) -> Result<(), RunError> {
    let config = &prepared.config;
    if prepared.warehouse_overridden || !config.warehouse.generate_demo_if_missing {
        return Ok(());
    }
    let Some(root) = catalog::local_root(&config.warehouse.root) else {
        return Ok(());
    };
    if demo::is_complete(&root) {
        return Ok(());
    }
    eprintln!(
        "clientpulse: no demo warehouse at {}; generating one (scale 1, ending {})",
        root.display(),
        now.date_naive()
    );
    let options = demo::DemoOptions {
        scale: 1,
        seed: demo::DEFAULT_SEED,
        end: now.date_naive(),
    };
    Ok(demo::generate(&root, &options)?)
}

/// `clientpulse run`: every week asked for, in turn; stops at the first
/// week that fails.
pub async fn run(options: &RunOptions) -> Result<Vec<WeekOutcome>, RunError> {
    let prepared = prepare(
        &options.config,
        options.warehouse.as_deref(),
        options.out.as_deref(),
        Purpose::Run,
    )?;
    let timezone = prepared.config.reporting.timezone;
    let periods = match &options.periods {
        PeriodChoice::LastComplete => vec![Period::last_complete(options.now, timezone)],
        PeriodChoice::One(label) => vec![Period::parse(label, timezone)?],
        PeriodChoice::Range { from, to } => Period::range(
            &Period::parse(from, timezone)?,
            &Period::parse(to, timezone)?,
        )?,
    };
    ensure_demo_warehouse(&prepared, options.now)?;

    let (ctx, warehouse) = open_warehouse(&prepared.config)?;
    let needed = tables_needed(
        &ctx,
        &prepared.config,
        prepared.selected.iter().map(|(_, q)| q),
    )
    .map_err(RunError::Plans)?;
    warehouse
        .register_tables(&ctx, &needed)
        .await
        .map_err(RunError::Catalog)?;
    let tables: BTreeSet<String> = needed.into_iter().map(|(table, _)| table).collect();
    checks::run_checks(&ctx, &tables, &prepared.config.reporting.currency)
        .await
        .map_err(RunError::Data)?;

    let mut outcomes = Vec::new();
    for period in &periods {
        outcomes.push(run_week(&ctx, &tables, &prepared, period, options).await?);
    }
    Ok(outcomes)
}

async fn run_week(
    ctx: &datafusion::prelude::SessionContext,
    tables: &BTreeSet<String>,
    prepared: &Prepared,
    period: &Period,
    options: &RunOptions,
) -> Result<WeekOutcome, RunError> {
    let config = &prepared.config;
    let weeks = period.trailing(TREND_WEEKS);
    // Every (metric, week) pair; results come back in this order.
    let jobs: Vec<(usize, &Period)> = (0..prepared.selected.len())
        .flat_map(|metric| weeks.iter().map(move |week| (metric, week)))
        .collect();
    let values: Vec<MetricValue> = futures::stream::iter(jobs.iter().map(|&(metric, week)| {
        let (selection, query) = &prepared.selected[metric];
        let window = selection.window.unwrap_or(query.window);
        let parameters = metrics::Parameters::new(week, window, &config.query_settings());
        async move { metrics::run(ctx, query, &parameters).await }
    }))
    .buffered(CONCURRENT_QUERIES)
    .try_collect()
    .await?;

    let mut segments = segment_figures(ctx, tables, prepared, period).await?;
    let mut reports = Vec::with_capacity(prepared.selected.len());
    for (index, (selection, query)) in prepared.selected.iter().enumerate() {
        let series = &values[index * weeks.len()..(index + 1) * weeks.len()];
        let mut report = metric_report(config, selection, query, period, &weeks, series);
        report.segments = std::mem::take(&mut segments[index]);
        reports.push(report);
    }
    let report = Report {
        title: config.reporting.title.clone(),
        currency: config.reporting.currency.clone(),
        period: PeriodInfo {
            label: period.label.clone(),
            start: report::instant(period.start),
            end: report::instant(period.end),
            timezone: period.timezone.name().to_string(),
        },
        generated_at: report::instant(options.now),
        metrics: reports,
    };

    let dir = config.out_dir.join(&period.label);
    let json = report.to_json().map_err(|e| RunError::Write {
        path: dir.join("report.json"),
        source: std::io::Error::other(e),
    })?;
    write(&dir.join("report.json"), json.as_bytes())?;
    let html = prepared.templates.html(&report)?;
    write(&dir.join("report.html"), html.as_bytes())?;

    let mut letters = Vec::new();
    for audience in &config.audiences {
        let view = report.for_audience(audience.metrics.as_deref());
        let html = prepared.templates.html(&view)?;
        let text = prepared.templates.text(&view)?;
        for recipient in &audience.recipients {
            letters.push(Letter {
                audience: audience.name.clone(),
                recipient: recipient.clone(),
                subject: subject(&view),
                html: html.clone(),
                text: text.clone(),
            });
        }
    }
    let delivery = delivery::deliver(
        &config.delivery,
        &letters,
        &period.label,
        options.now,
        &dir,
        options.dry_run,
    )
    .await?;
    Ok(WeekOutcome {
        period: period.label.clone(),
        dir,
        report,
        delivery,
    })
}

/// Every metric of the week over each segment of clients, for every
/// breakdown column of the config; by metric, in config order.
async fn segment_figures(
    ctx: &datafusion::prelude::SessionContext,
    tables: &BTreeSet<String>,
    prepared: &Prepared,
    period: &Period,
) -> Result<Vec<Vec<report::SegmentReport>>, RunError> {
    let config = &prepared.config;
    let mut by_metric = vec![Vec::new(); prepared.selected.len()];
    for dimension in &config.reporting.breakdowns {
        let values = catalog::segment_values(ctx, dimension)
            .await
            .map_err(|e| RunError::Catalog(vec![e]))?;
        for value in values {
            let segment_ctx = metrics::sibling_session(ctx, &config.udf_settings());
            catalog::register_segment(ctx, &segment_ctx, tables, dimension, &value)
                .await
                .map_err(|e| RunError::Catalog(vec![e]))?;
            let figures: Vec<MetricValue> =
                futures::stream::iter(prepared.selected.iter().map(|(selection, query)| {
                    let window = selection.window.unwrap_or(query.window);
                    let parameters =
                        metrics::Parameters::new(period, window, &config.query_settings());
                    let segment_ctx = &segment_ctx;
                    async move { metrics::run(segment_ctx, query, &parameters).await }
                }))
                .buffered(CONCURRENT_QUERIES)
                .try_collect()
                .await?;
            let label = value.clone().unwrap_or_else(|| "(none)".to_string());
            for (index, figure) in figures.into_iter().enumerate() {
                let query = &prepared.selected[index].1;
                let additive = matches!(query.unit, metrics::Unit::Money | metrics::Unit::Count);
                by_metric[index].push(report::SegmentReport {
                    dimension: dimension.clone(),
                    segment: label.clone(),
                    value: figure.value,
                    sample_size: figure.sample_size,
                    status: evaluate::segment_status(
                        figure.value,
                        figure.sample_size,
                        config.benchmarks.get(&query.id),
                        &label,
                        additive,
                    ),
                });
            }
        }
    }
    Ok(by_metric)
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    state::write_atomically(path, bytes).map_err(|source| RunError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// "Client pulse 2026-W47: 4 on target, 1 to watch, 1 off target".
/// Made only of the config's title, the period and counts: no warehouse
/// text ever reaches a header.
fn subject(report: &Report) -> String {
    let count = |status| report.metrics.iter().filter(|m| m.status == status).count();
    format!(
        "{} {}: {} on target, {} to watch, {} off target",
        report.title,
        report.period.label,
        count(evaluate::Status::OnTarget),
        count(evaluate::Status::Watch),
        count(evaluate::Status::OffTarget)
    )
}

fn metric_report(
    config: &Config,
    selection: &MetricSelection,
    query: &QueryFile,
    period: &Period,
    weeks: &[Period],
    series: &[MetricValue],
) -> MetricReport {
    let window = selection.window.unwrap_or(query.window);
    let bounds = period.window(window);
    let current = series.last().cloned().unwrap_or(MetricValue {
        value: None,
        sample_size: 0,
        extras: BTreeMap::new(),
        items: Vec::new(),
    });
    let previous = series.len().checked_sub(2).and_then(|i| series[i].value);
    let benchmark = config.benchmarks.get(&query.id);
    MetricReport {
        id: query.id.clone(),
        version: query.version,
        sql_sha256: query.sha256.clone(),
        description: query.description.clone(),
        unit: query.unit,
        value: current.value,
        window: window.to_string(),
        window_start: report::instant(bounds.start),
        window_end: report::instant(bounds.end),
        sample_size: current.sample_size,
        previous,
        target: benchmark.map(|b| b.target),
        direction: benchmark.map(|b| b.direction),
        status: evaluate::metric_status(
            current.value,
            current.sample_size,
            benchmark,
            !current.items.is_empty(),
        ),
        trend: weeks
            .iter()
            .zip(series)
            .map(|(week, value)| TrendPoint {
                period: week.label.clone(),
                value: value.value,
            })
            .collect(),
        segments: Vec::new(),
        items: current.items,
        extras: current.extras,
    }
}

/// `clientpulse lock`: publishes every query version not in the lock yet.
/// Published versions are never rewritten: a changed one is an error.
pub fn lock(config_path: &Path) -> Result<usize, RunError> {
    let prepared = prepare(config_path, None, None, Purpose::Lock)?;
    prepared
        .library
        .publish(&prepared.config.queries_dir)
        .map_err(|problem| RunError::Invalid(Diagnostics(vec![problem])))
}

/// What `check` found: a summary line when all is well.
#[derive(Debug)]
pub struct CheckSummary {
    pub queries_planned: usize,
    pub tables: usize,
}

/// `clientpulse check`: config, benchmarks, query headers, and a plan of
/// every query in the library against the warehouse's schema.
pub async fn check(
    config_path: &Path,
    warehouse: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CheckSummary, RunError> {
    let prepared = prepare(config_path, warehouse, None, Purpose::Check)?;
    let (ctx, warehouse) = open_warehouse(&prepared.config)?;
    let queries: Vec<&QueryFile> = prepared.library.all().collect();
    let needed =
        tables_needed(&ctx, &prepared.config, queries.iter().copied()).map_err(RunError::Plans)?;
    if let Err(errors) = warehouse.register_tables(&ctx, &needed).await {
        if prepared.config.warehouse.generate_demo_if_missing
            && !prepared.warehouse_overridden
            && errors
                .iter()
                .all(|e| matches!(e, CatalogError::MissingTable { .. }))
        {
            // The demo warehouse is made by the first run, not by check.
            return Err(RunError::Catalog(vec![CatalogError::MissingTable {
                table: "(every table)".to_string(),
                location: format!(
                    "{}: the demo warehouse is made by the first `clientpulse run` (or `clientpulse demo-data --out`)",
                    prepared.config.warehouse.root
                ),
                needed_by: NeededBy::default(),
            }]));
        }
        return Err(RunError::Catalog(errors));
    }
    // Every breakdown column must exist in `clients`, and every segment a
    // benchmark sets a target for must be one of theirs.
    let mut missing = Vec::new();
    let mut segments: BTreeSet<String> = BTreeSet::new();
    for dimension in &prepared.config.reporting.breakdowns {
        match catalog::segment_values(&ctx, dimension).await {
            Ok(values) => segments.extend(values.into_iter().flatten()),
            Err(error) => missing.push(error),
        }
    }
    if !missing.is_empty() {
        return Err(RunError::Catalog(missing));
    }
    let unknown = evaluate::unknown_segments(&prepared.config.benchmarks, &segments);
    if !unknown.is_empty() {
        let benchmarks = &prepared.config.benchmarks;
        let problems = unknown
            .into_iter()
            .map(|(metric, segment)| {
                Diagnostic::at_line(
                    &prepared.config.benchmarks_file,
                    benchmarks.lines.get(&metric).copied(),
                    format!(
                        "benchmark `{metric}` sets a target for segment `{segment}`, which no client has in {} (segments: {})",
                        prepared.config.reporting.breakdowns.join(", "),
                        segments.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })
            .collect();
        return Err(RunError::Invalid(Diagnostics(problems)));
    }
    let period = Period::last_complete(now, prepared.config.reporting.timezone);
    let mut errors = Vec::new();
    for query in &queries {
        let window = prepared
            .selected
            .iter()
            .find(|(_, q)| q.path == query.path)
            .and_then(|(selection, _)| selection.window)
            .unwrap_or(query.window);
        let parameters =
            metrics::Parameters::new(&period, window, &prepared.config.query_settings());
        if let Err(error) = metrics::plan(&ctx, query, &parameters).await {
            errors.push(error);
        }
    }
    if errors.is_empty() {
        Ok(CheckSummary {
            queries_planned: queries.len(),
            tables: needed.len(),
        })
    } else {
        Err(RunError::Plans(errors))
    }
}
