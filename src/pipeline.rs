//! The order of the stages, and the only place that knows it.
//!
//! `run`: inputs → (demo warehouse) → warehouse catalog → data checks →
//! shared tables (computed once for the week) → metrics (the week, its
//! trend, and the week per segment of clients) → report (built, judged
//! against the benchmarks, rendered) → artefacts, kept in the archive →
//! the sent-ledger, read back from the archive → delivery → the outbox,
//! kept in the archive. `check` walks the same path up to planning every
//! query, without running or sending anything; `lock` stops after the
//! inputs.
//!
//! This file only calls the stages in order and turns their errors into
//! one [`RunError`]; what each stage does, validation and fan-out
//! included, is in its own module.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use datafusion::prelude::SessionContext;
use thiserror::Error;

use crate::catalog::{self, CatalogError, NeededBy, Warehouse};
use crate::checks::{self, DataError};
use crate::delivery::{self, DeliveryError, DeliveryOutcome, Resend};
use crate::demo::{self, DemoError};
use crate::diagnostic::Diagnostics;
use crate::fault::Fault;
use crate::inputs::{Inputs, Overrides, Purpose};
use crate::metrics::{self, MetricsError, QueryFile, series};
use crate::period::{Period, PeriodError};
use crate::progress::Progress;
use crate::report::Report;
use crate::report::build;
use crate::report::render::RenderError;
use crate::state::{self, Archive, SentLedger, StateError};

#[derive(Debug, Error)]
pub enum RunError {
    /// Problems of the user's files (config, benchmarks, queries, lock,
    /// templates) or the command line, all of them.
    #[error("{0}")]
    Invalid(#[from] Diagnostics),
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
    State(#[from] StateError),
    #[error("{0}")]
    Delivery(#[from] DeliveryError),
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
            RunError::Data(problems) => {
                Fault::worst(problems.iter().map(DataError::fault)).unwrap_or(Fault::Data)
            }
            RunError::Metrics(error) => error.fault(),
            RunError::Plans(errors) => worst(errors.iter().map(MetricsError::fault).collect()),
            RunError::State(error) => error.fault(),
            RunError::Delivery(error) => error.fault(),
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
    /// `--warehouse`, `--out`, `--archive`.
    pub overrides: Overrides,
    pub dry_run: bool,
    /// What to send again although the ledger says it was sent.
    pub resend: Resend,
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
    /// Values of a `per:` audience's column that got no book.
    pub no_books: Vec<series::NoBook>,
}

/// The weeks asked for, in the config's time zone; only weeks that have
/// ended by `now`.
fn periods(
    choice: &PeriodChoice,
    inputs: &Inputs,
    now: DateTime<Utc>,
) -> Result<Vec<Period>, PeriodError> {
    let timezone = inputs.config.reporting.timezone;
    Ok(match choice {
        PeriodChoice::LastComplete => vec![Period::last_complete(now, timezone)],
        PeriodChoice::One(label) => vec![Period::parse(label, timezone)?.ended_by(now)?],
        PeriodChoice::Range { from, to } => Period::range(
            &Period::parse(from, timezone)?,
            &Period::parse(to, timezone)?.ended_by(now)?,
        )?,
    })
}

/// A session with the UDFs and the warehouse's object store (read-only),
/// with `queries`' tables registered and checked against the contract.
async fn open_warehouse<'a>(
    inputs: &Inputs,
    queries: impl IntoIterator<Item = &'a QueryFile>,
) -> Result<(SessionContext, Vec<(String, NeededBy)>), RunError> {
    let config = &inputs.config;
    let ctx = metrics::engine_session(&config.udf_settings(), &config.engine).await?;
    let warehouse = Warehouse::open(&ctx, &config.warehouse.root, &config.s3)
        .map_err(|e| RunError::Catalog(vec![e]))?;
    let breakdowns_in = (!config.reporting.breakdowns.is_empty())
        .then(|| format!("{} (reporting.breakdowns)", config.source.display()));
    let needed = metrics::tables_needed(&ctx, queries, breakdowns_in).map_err(RunError::Plans)?;
    warehouse
        .register_tables(&ctx, &needed)
        .await
        .map_err(RunError::Catalog)?;
    Ok((ctx, needed))
}

/// `clientpulse run`: every week asked for, in turn; stops at the first
/// week that fails.
pub async fn run(
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<Vec<WeekOutcome>, RunError> {
    progress.stage("inputs");
    let inputs = Inputs::load(&options.config, &options.overrides, Purpose::Run)?;
    let periods = periods(&options.periods, &inputs, options.now)?;
    let archive = match &inputs.config.archive {
        Some(url) => Archive::open(url, &inputs.config.s3)?,
        None => Archive::none(),
    };
    if let Some(root) = inputs.demo_root() {
        demo::ensure(&root, options.now)?;
    }
    progress.stage("catalog");
    let (ctx, needed) = open_warehouse(&inputs, inputs.selected.iter().map(|(_, q)| q)).await?;
    let tables: BTreeSet<String> = needed.into_iter().map(|(table, _)| table).collect();
    progress.stage("data checks");
    let mut survey = checks::survey(&ctx, &tables, &inputs.config.reporting.currency).await;
    let lost = survey.take_run_failures();
    if !lost.is_empty() {
        return Err(RunError::Data(lost));
    }
    let mut outcomes = Vec::new();
    for period in &periods {
        let gate = checks::judge(
            &survey,
            &inputs.config.data_gate.settings,
            period.end,
            options.now,
        );
        if !gate.is_empty() {
            return Err(gate_failed(&inputs, &archive, period, options, gate).await);
        }
        outcomes.push(run_week(&ctx, &inputs, &archive, period, options, progress).await?);
    }
    Ok(outcomes)
}

/// A week whose data failed the gate: report.json says so, the data team's
/// audience gets the alert (once), nobody gets the report; exit 3.
async fn gate_failed(
    inputs: &Inputs,
    archive: &Archive,
    period: &Period,
    options: &RunOptions,
    mut problems: Vec<DataError>,
) -> RunError {
    let config = &inputs.config;
    let report = build::gate_failure(config, period, &problems, options.now);
    let dir = config.out_dir.join(&period.label);
    let alerted = async {
        let json = report.to_json().map_err(|e| e.to_string())?;
        state::write_artefacts(&dir, &[("report.json".to_string(), json.into_bytes())])
            .map_err(|e| e.to_string())?;
        archive
            .keep(&dir, &period.label)
            .await
            .map_err(|e| e.to_string())?;
        let ledger = SentLedger::open(&dir, archive, &period.label)
            .await
            .map_err(|e| e.to_string())?;
        let week = delivery_week(period, &dir, options);
        let alerts = build::gate_alerts(&report, config);
        delivery::deliver(&config.delivery, &alerts, &week, ledger)
            .await
            .map_err(|e| e.to_string())?;
        archive
            .keep(&dir, &period.label)
            .await
            .map_err(|e| e.to_string())
    };
    if let Err(reason) = alerted.await {
        problems.push(DataError::AlertNotSent { reason });
    }
    RunError::Data(problems)
}

async fn run_week(
    ctx: &SessionContext,
    inputs: &Inputs,
    archive: &Archive,
    period: &Period,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<WeekOutcome, RunError> {
    let config = &inputs.config;
    let settings = config.query_settings();
    progress.stage(&format!("shared tables {}", period.label));
    // The shared tables and the slices of segments and books share the
    // memory the config leaves for tables held in memory.
    let udf_settings = config.udf_settings();
    let held = series::materialise(
        ctx,
        &inputs.selected,
        period,
        &settings,
        config.engine.slice_bytes(),
        progress,
    )
    .await?;
    let slices = series::SliceSessions {
        udf_settings: &udf_settings,
        memory_bytes: config.engine.slice_bytes().saturating_sub(held),
    };
    progress.stage(&format!("metrics {}", period.label));
    let weekly =
        series::weekly(ctx, &inputs.selected, period, &settings, "trend", progress).await?;
    progress.stage(&format!("segments {}", period.label));
    let segments = series::by_segment(
        ctx,
        &inputs.selected,
        period,
        &config.reporting.breakdowns,
        &slices,
        &settings,
        progress,
    )
    .await?;
    progress.stage(&format!("report {}", period.label));
    let report = build::build(
        config,
        &inputs.selected,
        period,
        &weekly,
        segments,
        options.now,
    );
    let dir = config.out_dir.join(&period.label);
    state::write_artefacts(&dir, &build::artefacts(&report, &inputs.templates)?)?;
    let mut editions = build::editions(&report, &config.audiences, &inputs.templates)?;
    let mut no_books = Vec::new();
    for audience in config.audiences.iter().filter(|a| a.per.is_some()) {
        progress.stage(&format!("books of {} {}", audience.name, period.label));
        let books =
            account_books(ctx, inputs, audience, period, &slices, options, progress).await?;
        state::write_artefacts(&dir, &books.files)?;
        editions.extend(books.editions);
        no_books.extend(books.no_books);
    }
    progress.stage(&format!("archive {}", period.label));
    archive.keep(&dir, &period.label).await?;
    let ledger = SentLedger::open_or_wait(&dir, archive, &period.label, || {
        progress.stage(&format!(
            "waiting for another run's delivery {}",
            period.label
        ));
    })
    .await?;
    progress.stage(&format!("delivery {}", period.label));
    let week = delivery_week(period, &dir, options);
    let delivery = delivery::deliver(&config.delivery, &editions, &week, ledger).await;
    // The messages as written are history too, whether or not every one
    // went out; a delivery failure is the one to report first.
    let kept = archive.keep(&dir, &period.label).await;
    let delivery = delivery?;
    kept?;
    Ok(WeekOutcome {
        period: period.label.clone(),
        dir,
        report,
        delivery,
        no_books,
    })
}

/// What delivery is asked to do for `period`, from the command line.
fn delivery_week<'a>(
    period: &'a Period,
    dir: &'a Path,
    options: &'a RunOptions,
) -> delivery::Week<'a> {
    delivery::Week {
        label: &period.label,
        date: options.now,
        dir,
        resend: &options.resend,
        dry_run: options.dry_run,
    }
}

/// What a `per:` audience's books left: each address's report (under
/// `books/<audience>/<address>.json`) and edition, and the values that got
/// no book.
struct AccountBooks {
    files: Vec<(String, Vec<u8>)>,
    editions: Vec<delivery::Edition>,
    no_books: Vec<series::NoBook>,
}

/// The books of a `per:` audience: each address's figures, its report
/// and its edition.
async fn account_books(
    ctx: &SessionContext,
    inputs: &Inputs,
    audience: &crate::config::Audience,
    period: &Period,
    slices: &series::SliceSessions<'_>,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<AccountBooks, RunError> {
    let config = &inputs.config;
    let selected = inputs.selected_for(audience);
    let column = audience.per.as_deref().unwrap_or_default();
    let books = series::books(
        ctx,
        &selected,
        period,
        column,
        delivery::is_plain_address,
        slices,
        &config.query_settings(),
        progress,
    )
    .await?;
    let built = build::book_editions(
        config,
        &selected,
        period,
        audience,
        &books.books,
        &inputs.templates,
        options.now,
    )?;
    let mut files = Vec::new();
    let mut editions = Vec::new();
    for (address, report, edition) in built {
        let json = report.to_json().map_err(|error| RenderError::Json {
            message: error.to_string(),
        })?;
        files.push((
            format!(
                "books/{}/{}.json",
                state::file_name(&audience.name),
                state::file_name(&address)
            ),
            json.into_bytes(),
        ));
        editions.push(edition);
    }
    let no_books = books
        .not_addresses
        .into_iter()
        .map(|value| series::NoBook {
            audience: audience.name.clone(),
            column: column.to_string(),
            value,
        })
        .collect();
    Ok(AccountBooks {
        files,
        editions,
        no_books,
    })
}

/// `clientpulse lock`: publishes every query version not in the lock yet.
/// Published versions are never rewritten: a changed one is an error.
pub fn lock(config_path: &Path) -> Result<usize, RunError> {
    let inputs = Inputs::load(config_path, &Overrides::default(), Purpose::Lock)?;
    inputs
        .library
        .publish(&inputs.config.queries_dir)
        .map_err(|problem| RunError::Invalid(Diagnostics(vec![problem])))
}

/// What `check` found: a summary line when all is well.
#[derive(Debug)]
pub struct CheckSummary {
    pub queries_planned: usize,
    pub tables: usize,
}

/// `clientpulse check`: every input, then a plan of every query in the
/// library against the warehouse's schema, and the benchmarks' segments
/// against the warehouse's clients.
pub async fn check(
    config_path: &Path,
    warehouse: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CheckSummary, RunError> {
    let overrides = Overrides {
        warehouse: warehouse.map(str::to_string),
        // Plans are made where the run is, whatever the engine: a pull
        // request's `check` needs no cluster.
        engine: Some(crate::config::EngineKind::Local),
        ..Overrides::default()
    };
    let inputs = Inputs::load(config_path, &overrides, Purpose::Check)?;
    let queries: Vec<&QueryFile> = inputs.library.all().collect();
    // The demo root is the config's own: `check` on a fresh clone makes it
    // as `run` does, so that a data team's first `check` passes.
    if let Some(root) = inputs.demo_root() {
        demo::ensure(&root, now)?;
    }
    let (ctx, needed) = open_warehouse(&inputs, queries.iter().copied()).await?;
    let segments = catalog::all_segments(&ctx, &inputs.config.reporting.breakdowns)
        .await
        .map_err(RunError::Catalog)?;
    let problems = inputs.segment_problems(&segments);
    if !problems.is_empty() {
        return Err(RunError::Invalid(Diagnostics(problems)));
    }
    let period = Period::last_complete(now, inputs.config.reporting.timezone);
    let errors = metrics::plan_all(&ctx, &queries, |query| metrics::Parameters {
        unset_as_null: !inputs.selects(query),
        ..metrics::Parameters::new(
            &period,
            inputs.window_of(query),
            &inputs.config.query_settings(),
        )
    })
    .await;
    if errors.is_empty() {
        Ok(CheckSummary {
            queries_planned: queries.len(),
            tables: needed.len(),
        })
    } else {
        Err(RunError::Plans(errors))
    }
}
