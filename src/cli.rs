//! The command line: parses arguments, runs the pipeline, prints what
//! happened, and maps every failure to the exit codes of outputs.md. This
//! is the edge, where `anyhow`-style reporting would live; errors arrive
//! here already typed and worded.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, EngineKind};
use crate::delivery::Resend;
use crate::demo::{self, DemoOptions};
use crate::fault::Fault;
use crate::inputs::Overrides;
use crate::pipeline::{self, PeriodChoice, RunError, RunOptions};

#[derive(Debug, Parser)]
#[command(
    name = "clientpulse",
    version,
    about = "The weekly client-success report: warehouse, benchmarks, e-mail"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute every configured metric for one week (or a range), render the
    /// report and deliver it.
    Run(RunArgs),
    /// Validate config, benchmarks, query headers and query plans against
    /// the warehouse, without sending anything.
    Check(CheckArgs),
    /// Publish every new query version in queries/queries.lock (published
    /// versions never change).
    Lock(LockArgs),
    /// Write a deterministic, realistic demo warehouse.
    DemoData(DemoArgs),
    /// Stay running and start `run` for the week just completed at each
    /// start of the config's `schedule` (cron expression and time zone).
    Schedule(ScheduleArgs),
    /// Run a Ballista scheduler that knows clientpulse's functions and
    /// reads the warehouse read-only (feature `ballista`).
    #[cfg(feature = "ballista")]
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor that knows clientpulse's functions and
    /// reads the warehouse read-only, with S3 settings and credentials
    /// from its own environment (feature `ballista`).
    #[cfg(feature = "ballista")]
    Executor(ExecutorArgs),
}

#[cfg(feature = "ballista")]
#[derive(Debug, Args)]
struct SchedulerArgs {
    /// Address and port to listen on (runs and executors connect here).
    #[arg(long, default_value = "0.0.0.0:50050")]
    bind: std::net::SocketAddr,
    /// The host name executors and runs reach this scheduler by.
    #[arg(long, default_value = "localhost")]
    external_host: String,
    /// Seconds after which an executor not heard from is gone and its
    /// tasks run elsewhere.
    #[arg(long, value_name = "SECONDS", default_value_t = 180,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    executor_timeout: u64,
}

#[cfg(feature = "ballista")]
#[derive(Debug, Args)]
struct ExecutorArgs {
    /// The scheduler: host:port.
    #[arg(long, default_value = "localhost:50050")]
    scheduler: String,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0")]
    bind_host: String,
    /// Port of its Arrow Flight service (shuffle data between executors).
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// Port of its gRPC service.
    #[arg(long, default_value_t = 50052)]
    grpc_port: u16,
    /// The host name the scheduler and other executors reach it by.
    #[arg(long)]
    external_host: Option<String>,
    /// Where shuffle files go (default: a temporary folder).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Tasks run at once (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    concurrent_tasks: Option<u64>,
    /// Seconds between the heartbeats it sends the scheduler.
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    heartbeat: u64,
}

#[derive(Debug, Args)]
struct ScheduleArgs {
    #[arg(long, default_value = "config/clientpulse.yaml")]
    config: PathBuf,
    /// Print the next N starts (RFC 3339, with offset) and exit.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    next: Option<u32>,
    #[command(flatten)]
    places: PlaceArgs,
    /// The clock for `--next` (RFC 3339); default: now.
    #[arg(long, hide = true, env = "CLIENTPULSE_NOW")]
    now: Option<DateTime<Utc>>,
}

/// Where a run reads and writes, over the config: shared by `run` and
/// `schedule`.
#[derive(Debug, Args)]
struct PlaceArgs {
    /// Warehouse root, overriding the config (path, file://… or s3://bucket/prefix).
    #[arg(long)]
    warehouse: Option<String>,
    /// Where run artefacts (and the scheduler's state) go (default: the
    /// config's `out`, out/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where a copy of every run's artefacts and sent-ledger is kept,
    /// overriding the config's `archive` (a folder or s3://bucket/prefix).
    #[arg(long)]
    archive: Option<String>,
    /// Where the queries run, overriding the config's `engine`: `local`,
    /// a Ballista scheduler `df://host:port`, or `standalone` (Ballista's
    /// in-process cluster).
    #[arg(long, value_name = "URL", value_parser = parse_engine)]
    engine: Option<EngineKind>,
}

fn parse_engine(text: &str) -> Result<EngineKind, String> {
    let kind = EngineKind::parse(text)?;
    config::engine_available(&kind)?;
    Ok(kind)
}

impl PlaceArgs {
    fn overrides(self) -> Overrides {
        Overrides {
            warehouse: self.warehouse,
            out: self.out,
            archive: self.archive,
            engine: self.engine,
        }
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    #[arg(long, default_value = "config/clientpulse.yaml")]
    config: PathBuf,
    /// ISO week to report, e.g. 2026-W47 (default: the last complete week).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    period: Option<String>,
    /// First week of a backfill.
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Last week of a backfill.
    #[arg(long, requires = "from")]
    to: Option<String>,
    #[command(flatten)]
    places: PlaceArgs,
    /// Render everything and write the messages to the outbox, sending nothing.
    #[arg(long)]
    dry_run: bool,
    /// Send again what the ledger says was sent for the week: to everyone,
    /// or only to RECIPIENT.
    #[arg(long, value_name = "RECIPIENT", num_args = 0..=1, default_missing_value = "")]
    resend: Option<String>,
    /// Write what each query cost to FILE, one JSON line per query run
    /// (metric, scope, week, seconds, rows read per table).
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// The clock, for reproducible runs (RFC 3339); default: now.
    #[arg(long, hide = true, env = "CLIENTPULSE_NOW")]
    now: Option<DateTime<Utc>>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[arg(long, default_value = "config/clientpulse.yaml")]
    config: PathBuf,
    #[arg(long)]
    warehouse: Option<String>,
    #[arg(long, hide = true, env = "CLIENTPULSE_NOW")]
    now: Option<DateTime<Utc>>,
}

#[derive(Debug, Args)]
struct LockArgs {
    #[arg(long, default_value = "config/clientpulse.yaml")]
    config: PathBuf,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Where to write the warehouse: a folder or s3://bucket/prefix.
    #[arg(long)]
    out: String,
    /// Size: 1 is about 120 clients; the generator streams at any size.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    scale: u32,
    #[arg(long, default_value_t = demo::DEFAULT_SEED)]
    seed: u64,
    /// The day after the last day with data (default: today, UTC).
    #[arg(long)]
    end: Option<NaiveDate>,
    /// The clock, for reproducible runs (RFC 3339); default: now.
    #[arg(long, hide = true, env = "CLIENTPULSE_NOW")]
    now: Option<DateTime<Utc>>,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("clientpulse: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line per problem, so CI logs and grep see each on its own.
            for line in error.to_string().lines() {
                eprintln!("error: {line}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}

/// A scheduled start: `run` for the week just completed, as the command
/// line would, with the config read afresh (a data team's merged change
/// counts from the next start).
struct ScheduledRun {
    config: PathBuf,
    overrides: Overrides,
}

impl crate::schedule::Runner for ScheduledRun {
    async fn run(&self, now: DateTime<Utc>) -> Result<String, (u8, String)> {
        let options = RunOptions {
            config: self.config.clone(),
            periods: PeriodChoice::LastComplete,
            overrides: self.overrides.clone(),
            dry_run: false,
            resend: Resend::Nothing,
            now,
        };
        let progress = Watch::new();
        let outcome = pipeline::run(&options, &progress).await;
        progress.finish();
        match outcome {
            Ok(weeks) => Ok(weeks
                .iter()
                .map(|week| {
                    let warnings: String = week
                        .no_books
                        .iter()
                        .map(|no_book| format!("; warning: {no_book}"))
                        .collect();
                    format!(
                        "{}: {} metrics, {} message(s) sent, {} already sent{warnings}",
                        week.period,
                        week.report.metrics.len(),
                        week.delivery.sent,
                        week.delivery.already_sent
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")),
            Err(error) => Err((error.exit_code(), error.to_string())),
        }
    }
}

/// The run as its watcher sees it: on a terminal, a live line with the
/// stage and the metric being computed; at the end, each stage's time;
/// with `--profile`, each query's cost in a file.
struct Watch {
    interactive: bool,
    started: std::time::Instant,
    stages: std::sync::Mutex<Vec<(String, std::time::Instant)>>,
    profile: Option<std::sync::Mutex<Profile>>,
}

/// `run --profile FILE`: one JSON line per query, written as it finishes.
struct Profile {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    /// The first write that failed: told at the end, without failing a
    /// run whose report may already be sent.
    failed: Option<std::io::Error>,
}

impl Watch {
    fn new() -> Watch {
        use std::io::IsTerminal;
        Watch {
            interactive: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
            stages: std::sync::Mutex::new(Vec::new()),
            profile: None,
        }
    }

    /// Also writes each query's cost to `path` (created or truncated now,
    /// so a path that cannot be written stops the run before it starts).
    fn with_profile(mut self, path: &std::path::Path) -> Result<Watch, RunError> {
        let file = std::fs::File::create(path).map_err(|source| {
            RunError::State(crate::state::StateError::Write {
                path: path.to_path_buf(),
                source,
            })
        })?;
        self.profile = Some(std::sync::Mutex::new(Profile {
            path: path.to_path_buf(),
            file: std::io::BufWriter::new(file),
            failed: None,
        }));
        Ok(self)
    }

    /// Clears the live line, and flushes the profile.
    fn finish(&self) {
        if self.interactive {
            eprint!("\r\x1b[2K");
        }
        if let Ok(mut stages) = self.stages.lock() {
            stages.push(("end".to_string(), std::time::Instant::now()));
        }
        if let Some(Ok(mut profile)) = self.profile.as_ref().map(|p| p.lock()) {
            use std::io::Write;
            if let Err(error) = profile.file.flush() {
                profile.failed.get_or_insert(error);
            }
            if let Some(error) = &profile.failed {
                eprintln!(
                    "warning: the profile {} is incomplete: {error}",
                    profile.path.display()
                );
            }
        }
    }

    /// "inputs 0.1 s · catalog 0.4 s · … · total 6.2 s".
    fn timings(&self) -> String {
        let Ok(stages) = self.stages.lock() else {
            return String::new();
        };
        let mut words: Vec<String> = stages
            .windows(2)
            .map(|pair| {
                let seconds = pair[1].1.duration_since(pair[0].1).as_secs_f64();
                format!("{} {seconds:.1} s", pair[0].0)
            })
            .collect();
        words.push(format!(
            "total {:.1} s",
            self.started.elapsed().as_secs_f64()
        ));
        words.join(" · ")
    }
}

impl crate::progress::Progress for Watch {
    fn stage(&self, name: &str) {
        if let Ok(mut stages) = self.stages.lock() {
            stages.push((name.to_string(), std::time::Instant::now()));
        }
        if self.interactive {
            eprint!("\r\x1b[2K{name}…");
        }
    }

    fn metric(&self, id: &str, done: usize, total: usize) {
        if self.interactive {
            eprint!("\r\x1b[2Kmetrics [{done}/{total}] {id}");
        }
    }

    fn query(&self, cost: &crate::progress::QueryCost) {
        let Some(Ok(mut profile)) = self.profile.as_ref().map(|p| p.lock()) else {
            return;
        };
        if profile.failed.is_some() {
            return;
        }
        use std::io::Write;
        let written = serde_json::to_writer(&mut profile.file, cost)
            .map_err(std::io::Error::from)
            .and_then(|()| profile.file.write_all(b"\n"));
        if let Err(error) = written {
            profile.failed = Some(error);
        }
    }
}

/// `--help` and `--version` as clap prints them; a usage error as one
/// `error:` line (what is wrong, then where to look), exit 2.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = error.print();
        return if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(Fault::Input.exit_code())
        } else {
            ExitCode::SUCCESS
        };
    }
    let rendered = error.render().to_string();
    let first = rendered
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("invalid usage");
    let first = first.strip_prefix("error: ").unwrap_or(first);
    eprintln!("error: {first} (see `clientpulse --help`)");
    ExitCode::from(Fault::Input.exit_code())
}

/// Serves until `serve` ends or the process is asked to stop (Ctrl-C,
/// SIGTERM): a cluster node stops cleanly when its container does.
#[cfg(feature = "ballista")]
async fn until_stopped(
    serve: impl std::future::Future<Output = Result<(), crate::cluster::ClusterError>>,
) -> Result<(), RunError> {
    let stop = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    tokio::select! {
                        _ = terminate.recv() => {}
                        _ = tokio::signal::ctrl_c() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    tokio::select! {
        served = serve => served.map_err(|error| {
            RunError::Metrics(crate::metrics::MetricsError::Cluster { message: error.to_string() })
        }),
        () = stop => Ok(()),
    }
}

async fn dispatch(command: Command) -> Result<(), RunError> {
    match command {
        Command::Run(args) => {
            let periods = match (args.period, args.from, args.to) {
                (Some(label), _, _) => PeriodChoice::One(label),
                (None, Some(from), Some(to)) => PeriodChoice::Range { from, to },
                _ => PeriodChoice::LastComplete,
            };
            let options = RunOptions {
                config: args.config,
                periods,
                overrides: args.places.overrides(),
                dry_run: args.dry_run,
                resend: match args.resend {
                    None => Resend::Nothing,
                    Some(all) if all.is_empty() => Resend::Everyone,
                    Some(recipient) => Resend::Only(recipient),
                },
                now: args.now.unwrap_or_else(Utc::now),
            };
            let progress = match &args.profile {
                Some(path) => Watch::new().with_profile(path)?,
                None => Watch::new(),
            };
            let outcomes = pipeline::run(&options, &progress).await;
            progress.finish();
            for week in outcomes? {
                for no_book in &week.no_books {
                    eprintln!("warning: {}: {no_book}", week.period);
                }
                let outbox = &week.delivery;
                println!(
                    "{}: {} metrics; report {}; {} message(s) in {}{}",
                    week.period,
                    week.report.metrics.len(),
                    week.dir.join("report.html").display(),
                    outbox.written.len(),
                    week.dir.join("outbox").display(),
                    if outbox.sent + outbox.already_sent > 0 {
                        format!(
                            "; sent {}, already sent before {}",
                            outbox.sent, outbox.already_sent
                        )
                    } else {
                        String::new()
                    }
                );
                for recipient in &outbox.recipients {
                    println!("  {recipient}");
                }
                for id in &week.report.headline {
                    if let Some(metric) = week.report.metrics.iter().find(|m| &m.id == id) {
                        println!(
                            "  {}",
                            crate::report::render::headline_line(metric, &week.report.currency)
                        );
                    }
                }
            }
            eprintln!("timings: {}", progress.timings());
            Ok(())
        }
        Command::Check(args) => {
            let summary = pipeline::check(
                &args.config,
                args.warehouse.as_deref(),
                args.now.unwrap_or_else(Utc::now),
            )
            .await?;
            println!(
                "ok: config, benchmarks and {} queries valid; every query plans against the {} tables they read",
                summary.queries_planned, summary.tables
            );
            Ok(())
        }
        Command::Lock(args) => {
            let added = pipeline::lock(&args.config)?;
            println!("published {added} new query version(s)");
            Ok(())
        }
        Command::Schedule(args) => {
            let overrides = args.places.overrides();
            let inputs =
                crate::inputs::Inputs::load(&args.config, &overrides, crate::inputs::Purpose::Run)?;
            let Some(schedule) = inputs.config.schedule.clone() else {
                return Err(RunError::Invalid(crate::diagnostic::Diagnostics(vec![
                    crate::diagnostic::Diagnostic::in_file(
                        &args.config,
                        "there is no `schedule` section (cron and timezone) to follow",
                    ),
                ])));
            };
            if let Some(count) = args.next {
                let now = args.now.unwrap_or_else(Utc::now);
                for start in schedule.next_starts(now, count as usize) {
                    println!("{}", start.to_rfc3339());
                }
                return Ok(());
            }
            let runner = ScheduledRun {
                config: args.config,
                overrides,
            };
            let progress = Watch::new();
            crate::schedule::serve(&schedule, &inputs.config.out_dir, &runner, &progress)
                .await
                .map_err(|error| {
                    RunError::State(crate::state::StateError::Write {
                        path: inputs.config.out_dir.clone(),
                        source: error,
                    })
                })
        }
        #[cfg(feature = "ballista")]
        Command::Scheduler(args) => {
            let options = crate::cluster::SchedulerOptions {
                bind: args.bind,
                external_host: args.external_host,
                executor_timeout: std::time::Duration::from_secs(args.executor_timeout),
            };
            until_stopped(crate::cluster::serve_scheduler(options)).await
        }
        #[cfg(feature = "ballista")]
        Command::Executor(args) => {
            let (host, port) = args
                .scheduler
                .rsplit_once(':')
                .and_then(|(host, port)| Some((host.to_string(), port.parse::<u16>().ok()?)))
                .ok_or_else(|| {
                    RunError::Metrics(crate::metrics::MetricsError::Cluster {
                        message: format!(
                            "--scheduler `{}`: expected host:port, e.g. localhost:50050",
                            args.scheduler
                        ),
                    })
                })?;
            let options = crate::cluster::ExecutorOptions {
                scheduler_host: host,
                scheduler_port: port,
                bind_host: args.bind_host,
                port: args.port,
                grpc_port: args.grpc_port,
                external_host: args.external_host,
                work_dir: args.work_dir.map(|dir| dir.display().to_string()),
                concurrent_tasks: args
                    .concurrent_tasks
                    .and_then(|tasks| usize::try_from(tasks).ok()),
                heartbeat: std::time::Duration::from_secs(args.heartbeat),
            };
            until_stopped(crate::cluster::serve_executor(options)).await
        }
        Command::DemoData(args) => {
            let options = DemoOptions {
                scale: args.scale,
                seed: args.seed,
                end: args
                    .end
                    .unwrap_or_else(|| args.now.unwrap_or_else(Utc::now).date_naive()),
            };
            match crate::storage::local_path(&args.out) {
                Some(folder) => demo::generate(&folder, &options)?,
                None => {
                    let s3 = crate::storage::S3Settings::default();
                    demo::generate_remote(&args.out, &options, &s3).await?
                }
            }
            println!(
                "demo warehouse written to {} (scale {}, seed {}, data until {})",
                args.out, options.scale, options.seed, options.end
            );
            Ok(())
        }
    }
}
