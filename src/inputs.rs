//! Stage 1, the inputs: everything a run reads before the warehouse (the
//! config and its benchmarks, every query file and header, the lock, the
//! templates), loaded and cross-validated together.
//!
//! Every problem of every file is collected before anything fails, so one
//! `check` lists them all, each at its file and line; the other stages get
//! [`Inputs`] only when there is none.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::catalog;
use crate::config::{self, Config, MetricSelection};
use crate::delivery;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::evaluate;
use crate::metrics::{self, QueryFile, QueryLibrary};
use crate::report::render::Templates;
use crate::storage::{self, Role};

/// Which command the inputs are prepared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    /// `check` also wants every query version published.
    Check,
    Lock,
}

/// What the command line overrides of the config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--warehouse`: the warehouse root.
    pub warehouse: Option<String>,
    /// `--out`: the out folder.
    pub out: Option<PathBuf>,
    /// `--archive`: where every run's artefacts and ledger are kept.
    pub archive: Option<String>,
    /// `--engine`: where the queries run.
    pub engine: Option<crate::config::EngineKind>,
}

/// Config, queries and templates, validated together.
pub struct Inputs {
    pub config: Config,
    /// The query of each metric the config runs, in config order.
    pub selected: Vec<(MetricSelection, QueryFile)>,
    pub library: QueryLibrary,
    pub templates: Templates,
    /// Whether the warehouse root came from `--warehouse`: then it is never
    /// the demo warehouse, whatever the config says.
    pub warehouse_overridden: bool,
}

impl Inputs {
    /// Loads and cross-validates every input, with the command line's
    /// overrides of the config.
    pub fn load(
        config_path: &Path,
        overrides: &Overrides,
        purpose: Purpose,
    ) -> Result<Inputs, Diagnostics> {
        prepare(config_path, overrides, purpose)
    }

    /// The folder `run` may make the demo warehouse in: the config's own
    /// local root when it asks for a demo, never a `--warehouse` root.
    pub fn demo_root(&self) -> Option<PathBuf> {
        if self.warehouse_overridden || !self.config.warehouse.generate_demo_if_missing {
            return None;
        }
        catalog::local_root(&self.config.warehouse.root)
    }

    /// Benchmarks that set a target for a segment no client belongs to,
    /// given the segments the warehouse has, each at its line.
    pub fn segment_problems(&self, segments: &BTreeSet<String>) -> Vec<Diagnostic> {
        let config = &self.config;
        evaluate::unknown_segments(&config.benchmarks, segments)
            .into_iter()
            .map(|(metric, segment)| {
                Diagnostic::at_line(
                    &config.benchmarks_file,
                    config.benchmarks.lines.get(&metric).copied(),
                    format!(
                        "benchmark `{metric}` sets a target for segment `{segment}`, which no client has in {} (segments: {})",
                        config.reporting.breakdowns.join(", "),
                        segments.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })
            .collect()
    }

    /// The selected metrics an audience sees, in config order.
    pub fn selected_for(
        &self,
        audience: &crate::config::Audience,
    ) -> Vec<(MetricSelection, QueryFile)> {
        self.selected
            .iter()
            .filter(|(selection, _)| {
                audience
                    .metrics
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&selection.id))
            })
            .cloned()
            .collect()
    }

    /// The window a query runs with: the config's for a selected metric,
    /// else the query's own.
    pub fn window_of(&self, query: &QueryFile) -> crate::period::Window {
        self.selected
            .iter()
            .find(|(_, q)| q.path == query.path)
            .and_then(|(selection, _)| selection.window)
            .unwrap_or(query.window)
    }

    /// Whether the config selects this query file (this version).
    pub fn selects(&self, query: &QueryFile) -> bool {
        self.selected.iter().any(|(_, q)| q.path == query.path)
    }
}

/// Loads and cross-validates every input a run reads before the
/// warehouse: the config and its benchmarks, every query file and header,
/// the lock, and the templates. Every problem of every file is collected
/// before failing, so one `check` lists them all.
fn prepare(
    config_path: &Path,
    overrides: &Overrides,
    purpose: Purpose,
) -> Result<Inputs, Diagnostics> {
    let loaded = config::load(config_path);
    let mut problems: Vec<Diagnostic> = loaded.problems;
    let Some(files) = loaded.files else {
        return Err(Diagnostics(problems));
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
        return Err(Diagnostics(problems));
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(root) = &overrides.warehouse {
        config.warehouse.root = config::resolve_root(&cwd, root);
    }
    if let Some(out) = &overrides.out {
        config.out_dir = out.clone();
    }
    if let Some(archive) = &overrides.archive {
        config.archive = Some(config::resolve_root(&cwd, archive));
    }
    if let Some(engine) = &overrides.engine {
        config.engine.kind = engine.clone();
    }
    problems.extend(out_inside_warehouse(&config));
    problems.extend(archive_inside_warehouse(&config));
    problems.extend(spill_inside_warehouse(&config));
    if let Some(archive) = &config.archive
        && let Err(error) = storage::open(archive, Role::Archive, &config.s3)
    {
        let line = config::line_of_top_level_key(&config.source_text, "archive");
        problems.push(Diagnostic::at_line(&config.source, line, error.to_string()));
    }
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
        Some(templates) if problems.is_empty() => Ok(Inputs {
            config,
            selected,
            library,
            templates,
            warehouse_overridden: overrides.warehouse.is_some(),
        }),
        _ => Err(Diagnostics(problems)),
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

/// Nor does the archive: an archive at or under the warehouse root (the
/// same folder, or the same bucket and prefix) is refused.
fn archive_inside_warehouse(config: &Config) -> Option<Diagnostic> {
    let archive = config.archive.as_deref()?;
    let within = |url: &str| {
        let root = config.warehouse.root.trim_end_matches('/');
        let url = url.trim_end_matches('/');
        url == root || url.starts_with(&format!("{root}/"))
    };
    let local_within = || {
        let root = std::path::absolute(catalog::local_root(&config.warehouse.root)?).ok()?;
        let archive = std::path::absolute(catalog::local_root(archive)?).ok()?;
        Some(archive.starts_with(root))
    };
    (within(archive) || local_within() == Some(true)).then(|| {
        Diagnostic::at_line(
            &config.source,
            config::line_of_top_level_key(&config.source_text, "archive"),
            format!(
                "the archive {archive} is inside the warehouse {}: clientpulse never writes into the warehouse it reads; choose another `archive` or `--archive`",
                config.warehouse.root
            ),
        )
    })
}

/// Nor do the spill files: sorts, aggregations and shared tables that
/// outgrow `engine.memory_limit` write to `engine.spill_dir`, which must
/// not lie in a local warehouse root (a listed table would read them).
fn spill_inside_warehouse(config: &Config) -> Option<Diagnostic> {
    let dir = std::path::absolute(config.engine.spill_dir.as_deref()?).ok()?;
    let root = std::path::absolute(catalog::local_root(&config.warehouse.root)?).ok()?;
    dir.starts_with(&root).then(|| {
        Diagnostic::at_line(
            &config.source,
            config::line_of_top_level_key(&config.source_text, "engine"),
            format!(
                "engine.spill_dir {} is inside the warehouse {}: clientpulse never writes into the warehouse it reads; choose a spill folder outside it",
                dir.display(),
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
