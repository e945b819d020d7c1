//! Running the selected queries: every metric for the week and the weeks
//! of its trend, and for the week over every segment of clients. The
//! fan-out of (metric, week) and (segment, metric) pairs lives here, so
//! the pipeline only asks for figures. A windowed query (`-- windows:
//! table`) is one run for all the weeks a scope needs; any other, one run
//! per week.

use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};

use super::{MetricValue, MetricsError, Parameters, QueryFile, QuerySettings, udf};
use crate::catalog;
use crate::config::MetricSelection;
use crate::period::Period;
use crate::progress::{Progress, QueryCost};

/// Weeks in a metric's trend, the current one included (metrics.md).
pub const TREND_WEEKS: usize = 12;
/// Who runs beside whom (as many at once as `queries_at_once` says; a
/// query that runs out of memory beside another runs again alone).
/// Queries share the lanes; one that runs out of
/// memory takes them all and runs again alone. The hash tables of a
/// query's joins cannot spill, and two at-risk queries at once (a dozen
/// joins each) could leave a sort at scale 1600 too little of a 2 GiB
/// pool, depending on timing: alone it fits. Queries only read, so
/// running one again gives the same figures.
#[derive(Default)]
struct Lanes(tokio::sync::RwLock<()>);

/// How the sessions of segments or books are made: their UDFs' settings,
/// and the memory their slices of the tables may take together (the rest
/// stay views). A stage's sessions exist at once, so that their queries
/// share the lanes; each may hold its share of `memory_bytes`.
pub struct SliceSessions<'a> {
    pub udf_settings: &'a udf::UdfSettings,
    pub memory_bytes: usize,
}

/// One metric's figure for the week over one segment of clients.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentFigure {
    /// The client column the clients are split by (`segment`, `region`…).
    pub dimension: String,
    /// The column's value; `(none)` for clients without one.
    pub segment: String,
    pub figure: MetricValue,
    /// The segment's figure the week before, for a metric whose change
    /// splits over its segments (`-- drivers:`); `None` otherwise.
    pub previous: Option<MetricValue>,
}

/// Computes, once, every shared table (`-- materialise: run`) the selected
/// metrics use, over every window they read from it for `period`, its
/// trend and the week before, and registers it in `ctx`: the metrics of
/// the week, its segments and its books then read it there. Together they
/// hold at most `room` bytes in memory: one that does not fit in what is
/// left goes to the spill folder (or, where there is none, is computed
/// inline by its metrics). Tells `progress` what each
/// cost (scope `shared`). Returns the bytes held.
pub async fn materialise(
    ctx: &SessionContext,
    selected: &[(MetricSelection, QueryFile)],
    period: &Period,
    settings: &QuerySettings,
    room: usize,
    progress: &dyn Progress,
) -> Result<usize, MetricsError> {
    let weeks = period.trailing(TREND_WEEKS);
    let trend: Vec<&Period> = weeks.iter().collect();
    // Each table, what it is computed for, and whether its metrics agree
    // on that (a windowed table is made for one window length).
    let mut tables: Vec<(&super::library::SharedTable, Parameters, bool)> = Vec::new();
    for (selection, query) in selected {
        let window = selection.window.unwrap_or(query.window);
        for table in &query.shared_tables {
            if table.windowed {
                // Every week of the trend: the week before the report's,
                // which segments read for drivers, is one of them.
                let Some(reads) = Parameters::over_weeks(&trend, window, settings) else {
                    continue;
                };
                match tables
                    .iter_mut()
                    .find(|(known, _, _)| known.name == table.name)
                {
                    Some((_, covered, agree)) => *agree &= covered.windows == reads.windows,
                    None => tables.push((table, reads, true)),
                }
                continue;
            }
            for week in weeks.iter().chain([&period.previous()]) {
                let reads = Parameters::new(week, window, settings);
                match tables
                    .iter_mut()
                    .find(|(known, _, _)| known.name == table.name)
                {
                    Some((_, covered, _)) => {
                        covered.run.start = covered.run.start.min(reads.run.start);
                        covered.run.end = covered.run.end.max(reads.run.end);
                    }
                    None => tables.push((table, reads.clone(), true)),
                }
            }
        }
    }
    let mut held = 0;
    for (table, parameters, agree) in &tables {
        if !agree {
            // Metrics that read it over windows of different lengths each
            // compute it inline, for their own windows.
            super::forget(ctx, table)?;
            continue;
        }
        let done = super::materialise(ctx, table, parameters, room.saturating_sub(held)).await?;
        held += done.held.unwrap_or(0);
        progress.query(&QueryCost {
            metric: table.name.clone(),
            scope: "shared".to_string(),
            week: period.label.clone(),
            windows: 0,
            seconds: done.measured.seconds,
            planning_seconds: done.measured.planning_seconds,
            rows_read: done.measured.rows_read,
            ran_again_alone: false,
            held_bytes: Some(done.held.map(|bytes| bytes as u64)),
            on_disk_bytes: done.held.is_none().then_some(done.on_disk),
        });
    }
    Ok(held)
}

/// For each selected metric, in order, its figures for the [`TREND_WEEKS`]
/// weeks ending with `period`, oldest first; only `period`'s own figure
/// keeps its items. `scope` names the figures in the costs told to
/// `progress` (`trend`).
pub async fn weekly(
    ctx: &SessionContext,
    selected: &[(MetricSelection, QueryFile)],
    period: &Period,
    settings: &QuerySettings,
    scope: &str,
    progress: &dyn Progress,
) -> Result<Vec<Vec<MetricValue>>, MetricsError> {
    let sessions = [Session {
        ctx: ctx.clone(),
        scope: scope.to_string(),
        tells_metrics: true,
    }];
    let mut by_session = trends(&sessions, selected, period, settings, progress).await?;
    Ok(by_session.pop().unwrap_or_default())
}

/// For each session, for each selected metric, its figures for the
/// [`TREND_WEEKS`] weeks ending with `period`, oldest first; only
/// `period`'s own figure keeps its items. The queries of every session go
/// through the same lanes, so that the run never waits for the slowest
/// query of one session before starting the next session's.
async fn trends(
    sessions: &[Session],
    selected: &[(MetricSelection, QueryFile)],
    period: &Period,
    settings: &QuerySettings,
    progress: &dyn Progress,
) -> Result<Vec<Vec<Vec<MetricValue>>>, MetricsError> {
    let weeks = period.trailing(TREND_WEEKS);
    let weeks: Vec<&Period> = weeks.iter().collect();
    let mut by_session =
        run_jobs(sessions, selected, |_| weeks.clone(), settings, progress).await?;
    for values in by_session.iter_mut().flatten() {
        // Only the report's own week shows its items.
        let last = values.len().saturating_sub(1);
        for value in values.iter_mut().take(last) {
            *value = std::mem::take(value).without_items();
        }
    }
    Ok(by_session)
}

/// A session the selected metrics run in: the run's own (shared, not
/// copied: a `SessionContext` is a handle), or one whose tables are
/// restricted to a segment's or a book's clients; `scope` names its
/// figures in the costs told to `progress`.
struct Session {
    ctx: SessionContext,
    scope: String,
    /// Whether its queries tell `progress` each metric done (the trend
    /// and books do; a segment's figures come after).
    tells_metrics: bool,
}

/// Runs every selected metric in every session, for the weeks `weeks`
/// gives each query, as few queries as [`runs`] allows, as many at once
/// as `queries_at_once` says, all sessions through the same lanes.
/// Returns, for each session and each metric, its figures in week order.
async fn run_jobs<'w>(
    sessions: &[Session],
    selected: &[(MetricSelection, QueryFile)],
    weeks: impl Fn(&QueryFile) -> Vec<&'w Period>,
    settings: &QuerySettings,
    progress: &dyn Progress,
) -> Result<Vec<Vec<Vec<MetricValue>>>, MetricsError> {
    let Some(first) = sessions.first() else {
        return Ok(Vec::new());
    };
    // Every query to run, session by session, in metric order: one per
    // week, or one for all the weeks of a windowed query.
    let mut jobs: Vec<(usize, usize, Vec<&Period>, bool)> = Vec::new();
    for (session_index, session) in sessions.iter().enumerate() {
        for (metric, (_, query)) in selected.iter().enumerate() {
            let weeks = weeks(query);
            for run in runs(query, &weeks) {
                let last = session.tells_metrics && run.last() == weeks.last();
                jobs.push((session_index, metric, run, last));
            }
        }
    }
    let lanes = &Lanes::default();
    let values: Vec<(usize, usize, Vec<MetricValue>)> =
        futures::stream::iter(jobs.iter().map(|(session_index, metric, run, last)| {
            let (selection, query) = &selected[*metric];
            let window = selection.window.unwrap_or(query.window);
            let session = &sessions[*session_index];
            async move {
                let values = measured(
                    &session.ctx,
                    query,
                    run,
                    window,
                    settings,
                    &session.scope,
                    progress,
                    lanes,
                )
                .await?;
                if *last {
                    progress.metric(&query.id, metric + 1, selected.len());
                }
                Ok::<_, MetricsError>((*session_index, *metric, values))
            }
        }))
        .buffered(super::queries_at_once(&first.ctx))
        .try_collect()
        .await?;
    let mut by_session = vec![vec![Vec::new(); selected.len()]; sessions.len()];
    for (session_index, metric, values) in values {
        by_session[session_index][metric].extend(values);
    }
    Ok(by_session)
}

/// How `query` computes `weeks`: in one query when it is windowed (reads
/// the table `windows`), in one query per week otherwise. The same on a
/// Ballista cluster: `windows` is one VALUES (a union of one-row SELECTs
/// made Ballista 55's scheduler lose the task statuses of the stage that
/// held it, and the job never ended).
fn runs<'a>(query: &QueryFile, weeks: &[&'a Period]) -> Vec<Vec<&'a Period>> {
    if query.windowed && !weeks.is_empty() {
        vec![weeks.to_vec()]
    } else {
        weeks.iter().map(|week| vec![*week]).collect()
    }
}

/// For each selected metric, in order, its figure (without items) for
/// `period` over every segment of every breakdown column: the same SQL in
/// a session whose tables (those the queries read in `ctx`, shared tables
/// included) are restricted to the segment's clients. Metrics whose change
/// splits over segments (`-- drivers:`) get the week before too, in the
/// same pass over the same restricted tables. Every segment's queries go
/// through the same lanes.
#[allow(clippy::too_many_arguments)]
pub async fn by_segment(
    ctx: &SessionContext,
    selected: &[(MetricSelection, QueryFile)],
    period: &Period,
    breakdowns: &[String],
    slices: &SliceSessions<'_>,
    settings: &QuerySettings,
    progress: &dyn Progress,
) -> Result<Vec<Vec<SegmentFigure>>, MetricsError> {
    let previous = period.previous();
    let mut segments: Vec<(String, catalog::SegmentValue)> = Vec::new();
    for dimension in breakdowns {
        for value in catalog::segment_values(ctx, dimension).await? {
            segments.push((dimension.clone(), value));
        }
    }
    let sessions = slice_sessions(
        ctx,
        selected,
        &segments,
        slices,
        false,
        |dimension, value| {
            format!(
                "segment {dimension}={}",
                value.as_deref().unwrap_or("(none)")
            )
        },
    )
    .await?;
    // The week, and the week before for a metric whose change splits over
    // segments.
    // None for a metric whose figures are its items: its figure over a
    // segment would be NULL.
    let weeks = |query: &QueryFile| match query.presentation.composition {
        _ if query.presentation.items_only => Vec::new(),
        Some(_) => vec![&previous, period],
        None => vec![period],
    };
    let by_session = run_jobs(&sessions, selected, weeks, settings, progress).await?;
    let mut by_metric = vec![Vec::new(); selected.len()];
    for ((dimension, value), weekly) in segments.into_iter().zip(by_session) {
        let label = value.unwrap_or_else(|| "(none)".to_string());
        for (index, values) in weekly.into_iter().enumerate() {
            // A segment's figure is a number; its items are never shown.
            let mut values: Vec<MetricValue> =
                values.into_iter().map(MetricValue::without_items).collect();
            // The week is the last; the week before, when asked for,
            // comes first.
            let Some(figure) = values.pop() else {
                continue;
            };
            by_metric[index].push(SegmentFigure {
                dimension: dimension.clone(),
                segment: label.clone(),
                figure,
                previous: values.pop(),
            });
        }
    }
    Ok(by_metric)
}

/// A session per `(column, value)` of `slices`, whose tables (those the
/// queries read in `ctx`, shared tables included) are restricted to the
/// clients whose `column` holds `value`, its figures named by `scope`.
/// They all exist at once, so they share the memory slices may hold.
async fn slice_sessions(
    ctx: &SessionContext,
    selected: &[(MetricSelection, QueryFile)],
    slices: &[(String, catalog::SegmentValue)],
    sessions: &SliceSessions<'_>,
    tells_metrics: bool,
    scope: impl Fn(&str, &catalog::SegmentValue) -> String,
) -> Result<Vec<Session>, MetricsError> {
    let tables = &super::tables_read_in_run(ctx, selected.iter().map(|(_, query)| query))?;
    let memory_bytes = sessions.memory_bytes / slices.len().max(1);
    let made: Vec<Session> = slices
        .iter()
        .map(|(column, value)| Session {
            ctx: super::sibling_session(ctx, sessions.udf_settings),
            scope: scope(column, value),
            tells_metrics,
        })
        .collect();
    // The slices of one column are made together, each table read once
    // for all of them; the columns, each in a task of its own, as many at
    // once as queries run. Each slice has its own share of the memory, so
    // the order they fill it in does not matter.
    let mut columns: Vec<&String> = Vec::new();
    for (column, _) in slices {
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    futures::stream::iter(columns.into_iter().map(|column| {
        let of_column: Vec<(SessionContext, catalog::SegmentValue)> = slices
            .iter()
            .zip(&made)
            .filter(|((of, _), _)| of == column)
            .map(|((_, value), session)| (session.ctx.clone(), value.clone()))
            .collect();
        let (base, tables, column) = (ctx.clone(), tables.clone(), column.clone());
        async move {
            in_task(ctx, format!("the slices of {column}"), async move {
                // Under the query timeout, as every query: it reads every
                // table the metrics read, and a split that never ends
                // would hold the run with nothing said.
                let split = async {
                    catalog::register_slices(&base, &of_column, &tables, &column, memory_bytes)
                        .await
                        .map_err(MetricsError::from)
                };
                super::within(super::query_timeout(&base), split, |seconds| {
                    MetricsError::SlicesTimedOut {
                        column: column.clone(),
                        seconds,
                    }
                })
                .await
            })
            .await
        }
    }))
    .buffered(super::queries_at_once(ctx))
    .try_collect::<Vec<()>>()
    .await?;
    Ok(made)
}

/// One address's book: the clients whose column holds it, and the weekly
/// figures over them.
#[derive(Debug, Clone)]
pub struct Book {
    pub address: String,
    pub weekly: Vec<Vec<MetricValue>>,
}

/// A value of a `per:` audience's column that is not a bare e-mail
/// address: its clients are in no book. Shown escaped (`"a\r\nb"`), cut
/// at 100 characters: warehouse text, never written raw to a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoBook {
    pub audience: String,
    pub column: String,
    pub value: String,
}

impl std::fmt::Display for NoBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const MOST: usize = 100;
        let shown: String = self.value.chars().take(MOST).collect();
        let cut = if self.value.chars().count() > MOST {
            " (cut)"
        } else {
            ""
        };
        write!(
            f,
            "audience `{}`: clients.{} value {shown:?}{cut} is not a bare e-mail address, so its clients are in no book",
            self.audience, self.column
        )
    }
}

/// The books of a `per: <column>` audience, and the values of the column
/// that got none.
#[derive(Debug, Clone, Default)]
pub struct Books {
    pub books: Vec<Book>,
    /// The column's values `is_address` refused (a name, a line break),
    /// sorted: their clients are in no book, which the run warns of.
    pub not_addresses: Vec<String>,
}

/// The books of a `per: <column>` audience: for each value of the clients'
/// `column` that `is_address` accepts, `selected` over the week and its
/// trend, computed by the same queries over the tables restricted to those
/// clients (as a segment is). Every book's queries go through the same
/// lanes. Clients with no value are in no book, as they have no manager.
#[allow(clippy::too_many_arguments)]
pub async fn books(
    ctx: &SessionContext,
    selected: &[(MetricSelection, QueryFile)],
    period: &Period,
    column: &str,
    is_address: impl Fn(&str) -> bool,
    slices: &SliceSessions<'_>,
    settings: &QuerySettings,
    progress: &dyn Progress,
) -> Result<Books, MetricsError> {
    let (values, mut not_addresses): (Vec<String>, Vec<String>) =
        catalog::segment_values(ctx, column)
            .await?
            .into_iter()
            .flatten()
            .partition(|value| is_address(value));
    not_addresses.sort();
    let addresses: Vec<(String, catalog::SegmentValue)> = values
        .into_iter()
        .map(|value| (column.to_string(), Some(value)))
        .collect();
    let sessions = slice_sessions(
        ctx,
        selected,
        &addresses,
        slices,
        true,
        |column, address| format!("book {column}={}", address.as_deref().unwrap_or_default()),
    )
    .await?;
    let by_session = trends(&sessions, selected, period, settings, progress).await?;
    let books = addresses
        .into_iter()
        .zip(by_session)
        .map(|((_, address), weekly)| Book {
            address: address.unwrap_or_default(),
            weekly,
        })
        .collect();
    Ok(Books {
        books,
        not_addresses,
    })
}

/// Runs a query that ran out of memory beside another, alone: as planned,
/// then, while it still runs out of memory, in sessions that need less of
/// it, each slower, all with the same figures.
///
/// - On one partition: DataFusion's fair pool gives each sort or
///   aggregation an equal share of it, one per operator and partition,
///   whether or not it has started (the at-risk queries have about 45 at
///   scale 1600), and a sort can be refused the first batch it holds even
///   alone. On one partition there are a quarter as many, each with about
///   four times the share.
/// - With sort-merge joins: a hash join's build side cannot spill (at
///   scale 1600 under `memory_limit: 136MiB`, `active_client_rate`'s
///   paying clients of twelve windows asked for 128 MB of a 102 MB pool);
///   the sorts of a sort-merge join spill.
async fn alone(
    ctx: &SessionContext,
    query: &QueryFile,
    parameters: &Parameters,
) -> Result<(Vec<MetricValue>, super::Measured), MetricsError> {
    let mut outcome = super::run_measured(ctx, query, parameters).await;
    let fallbacks: [fn(&SessionContext) -> SessionContext; 2] =
        [super::one_partition, super::spilling_joins];
    for fallback in fallbacks {
        if !matches!(outcome, Err(MetricsError::OutOfMemory { .. })) {
            break;
        }
        super::memory_released(ctx).await;
        outcome = super::run_measured(&fallback(ctx), query, parameters).await;
    }
    outcome
}

/// Runs `work` (for `ctx`) in a task of its own, on whichever worker
/// thread is free, and aborts it if the caller stops waiting (another
/// query failed and the run stops). The lanes' queries are futures of one
/// stream, polled by one task: without a task each, two queries took
/// turns on one core for their planning and for the last operators of
/// their plans (those run in the task that collects the results), and the
/// segments and books, small queries over slices, kept the two cores
/// 100-140 % busy.
///
/// On a cluster `work` runs in place: there a query's work is the
/// executors', this process only plans and waits, and with a task each
/// the standalone cluster's test hung once in the full suite (it passed
/// alone); Ballista 55 has lost a job's task statuses under load before
/// (see `queries_at_once`).
async fn in_task<T: Send + 'static>(
    ctx: &SessionContext,
    what: String,
    work: impl std::future::Future<Output = Result<T, MetricsError>> + Send + 'static,
) -> Result<T, MetricsError> {
    in_task_or(ctx, work, |message| MetricsError::TaskStopped {
        what,
        message,
    })
    .await
}

/// [`in_task`] for work of any error type: `stopped` makes the error of a
/// task stopped (the runtime shutting down) from its message.
pub(crate) async fn in_task_or<T: Send + 'static, E: Send + 'static>(
    ctx: &SessionContext,
    work: impl std::future::Future<Output = Result<T, E>> + Send + 'static,
    stopped: impl FnOnce(String) -> E,
) -> Result<T, E> {
    if super::on_cluster(ctx) {
        return work.await;
    }
    match tokio_util::task::AbortOnDropHandle::new(tokio::spawn(work)).await {
        Ok(outcome) => outcome,
        // A panic is a bug: it goes on as if the work had run here.
        Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
        Err(error) => Err(stopped(error.to_string())),
    }
}

/// Runs a query computing `window` for `weeks` (one, or every week of a
/// windowed query) in its lane (alone, again, if it ran out of memory
/// beside another) and tells `progress` what it cost. Returns a figure
/// per week, in their order.
#[allow(clippy::too_many_arguments)]
async fn measured(
    ctx: &SessionContext,
    query: &QueryFile,
    weeks: &[&Period],
    window: crate::period::Window,
    settings: &QuerySettings,
    scope: &str,
    progress: &dyn Progress,
    lanes: &Lanes,
) -> Result<Vec<MetricValue>, MetricsError> {
    let Some(parameters) = Parameters::over_weeks(weeks, window, settings) else {
        return Ok(Vec::new());
    };
    let shared = {
        let _lane = lanes.0.read().await;
        let (session, query, parameters) = (ctx.clone(), query.clone(), parameters.clone());
        in_task(ctx, query.path.display().to_string(), async move {
            super::run_measured(&session, &query, &parameters).await
        })
        .await
    };
    let ran_again_alone = matches!(shared, Err(MetricsError::OutOfMemory { .. }));
    let (values, cost) = if ran_again_alone {
        let _alone = lanes.0.write().await;
        super::memory_released(ctx).await;
        alone(ctx, query, &parameters).await?
    } else {
        shared?
    };
    progress.query(&QueryCost {
        metric: query.id.clone(),
        scope: scope.to_string(),
        week: weeks
            .last()
            .map(|week| week.label.clone())
            .unwrap_or_default(),
        windows: weeks.len(),
        seconds: cost.seconds,
        planning_seconds: cost.planning_seconds,
        rows_read: cost.rows_read,
        ran_again_alone,
        held_bytes: None,
        on_disk_bytes: None,
    });
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::NoBook;

    #[test]
    fn a_value_with_no_book_is_shown_escaped_and_cut() {
        let no_book = |value: String| NoBook {
            audience: "account-managers".to_string(),
            column: "account_manager".to_string(),
            value,
        };
        let shown = no_book("Jo <jo@example.com>\r\nBcc: x@example.net".to_string()).to_string();
        assert_eq!(
            shown,
            "audience `account-managers`: clients.account_manager value \"Jo <jo@example.com>\\r\\nBcc: x@example.net\" is not a bare e-mail address, so its clients are in no book"
        );
        assert!(!shown.contains(['\r', '\n']));
        let long = no_book("é".repeat(150)).to_string();
        assert!(
            long.contains(&format!("\"{}\" (cut)", "é".repeat(100))),
            "{long}"
        );
        assert!(!long.contains(&"é".repeat(101)));
    }
}
