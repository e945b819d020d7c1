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

/// How the session of a segment or a book is made: its UDFs' settings,
/// and the memory its slices of the tables may take (the rest stay views).
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
/// hold at most `room` bytes: one that does not fit in what is left is
/// not kept, and its metrics compute it inline. Tells `progress` what each
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
    let mut tables: Vec<(&super::library::SharedTable, Parameters)> = Vec::new();
    for (selection, query) in selected {
        let window = selection.window.unwrap_or(query.window);
        for week in weeks.iter().chain([&period.previous()]) {
            let reads = Parameters::new(week, window, settings);
            for table in &query.shared_tables {
                match tables
                    .iter_mut()
                    .find(|(known, _)| known.name == table.name)
                {
                    Some((_, covered)) => {
                        covered.run.start = covered.run.start.min(reads.run.start);
                        covered.run.end = covered.run.end.max(reads.run.end);
                    }
                    None => tables.push((table, reads.clone())),
                }
            }
        }
    }
    let mut held = 0;
    for (table, parameters) in &tables {
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
        });
    }
    Ok(held)
}

/// For each selected metric, in order, its figures for the [`TREND_WEEKS`]
/// weeks ending with `period`, oldest first; only `period`'s own figure
/// keeps its items. `scope` names the figures in the costs told to
/// `progress` (`trend`, or a book).
pub async fn weekly(
    ctx: &SessionContext,
    selected: &[(MetricSelection, QueryFile)],
    period: &Period,
    settings: &QuerySettings,
    scope: &str,
    progress: &dyn Progress,
) -> Result<Vec<Vec<MetricValue>>, MetricsError> {
    let weeks = period.trailing(TREND_WEEKS);
    let weeks: Vec<&Period> = weeks.iter().collect();
    // Every query to run, in metric order: one per week, or one for all
    // the weeks of a windowed query.
    let jobs: Vec<(usize, Vec<&Period>)> = selected
        .iter()
        .enumerate()
        .flat_map(|(metric, (_, query))| {
            runs(ctx, query, &weeks)
                .into_iter()
                .map(move |run| (metric, run))
        })
        .collect();
    let lanes = &Lanes::default();
    let report_week = weeks.last().copied();
    let values: Vec<(usize, Vec<MetricValue>)> =
        futures::stream::iter(jobs.iter().map(|(metric, run)| {
            let (selection, query) = &selected[*metric];
            let window = selection.window.unwrap_or(query.window);
            async move {
                let values =
                    measured(ctx, query, run, window, settings, scope, progress, lanes).await?;
                if run.last().copied() == report_week {
                    progress.metric(&query.id, metric + 1, selected.len());
                }
                Ok::<_, MetricsError>((*metric, values))
            }
        }))
        .buffered(super::queries_at_once(ctx))
        .try_collect()
        .await?;
    let mut by_metric: Vec<Vec<MetricValue>> = vec![Vec::new(); selected.len()];
    for (metric, values) in values {
        by_metric[metric].extend(values);
    }
    for values in &mut by_metric {
        // Only the report's own week shows its items.
        let last = values.len().saturating_sub(1);
        for value in values.iter_mut().take(last) {
            *value = std::mem::take(value).without_items();
        }
    }
    Ok(by_metric)
}

/// How `query` computes `weeks` in `ctx`: in one query when it is
/// windowed (reads the table `windows`), in one query per week otherwise.
/// On a cluster a windowed query too runs once per week, over a `windows`
/// of one row: Ballista 55 loses the task statuses of a stage whose plan
/// holds the union of several windows (its scheduler finds more operator
/// metrics than the executor sends back), and the job never ends.
fn runs<'a>(ctx: &SessionContext, query: &QueryFile, weeks: &[&'a Period]) -> Vec<Vec<&'a Period>> {
    if query.windowed && !super::on_cluster(ctx) {
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
/// same pass over the same restricted tables.
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
    let mut by_metric = vec![Vec::new(); selected.len()];
    let previous = period.previous();
    let tables = &super::tables_read_in_run(ctx, selected.iter().map(|(_, query)| query))?;
    for dimension in breakdowns {
        for value in catalog::segment_values(ctx, dimension).await? {
            let segment_ctx = super::sibling_session(ctx, slices.udf_settings);
            catalog::register_segment(
                ctx,
                &segment_ctx,
                tables,
                dimension,
                &value,
                slices.memory_bytes,
            )
            .await?;
            let scope = format!(
                "segment {dimension}={}",
                value.as_deref().unwrap_or("(none)")
            );
            // Every query the segment needs, in metric order: the week,
            // and the week before for a metric whose change splits over
            // segments.
            let jobs: Vec<(usize, Vec<&Period>)> = selected
                .iter()
                .enumerate()
                .flat_map(|(index, (_, query))| {
                    let weeks = match query.presentation.composition {
                        Some(_) => vec![&previous, period],
                        None => vec![period],
                    };
                    runs(&segment_ctx, query, &weeks)
                        .into_iter()
                        .map(move |run| (index, run))
                })
                .collect();
            let lanes = &Lanes::default();
            let figures: Vec<(usize, Vec<MetricValue>)> =
                futures::stream::iter(jobs.iter().map(|(index, run)| {
                    let (selection, query) = &selected[*index];
                    let window = selection.window.unwrap_or(query.window);
                    let segment_ctx = &segment_ctx;
                    let scope = &scope;
                    async move {
                        let values = measured(
                            segment_ctx,
                            query,
                            run,
                            window,
                            settings,
                            scope,
                            progress,
                            lanes,
                        )
                        .await?;
                        // A segment's figure is a number; its items are
                        // never shown.
                        let values = values.into_iter().map(MetricValue::without_items).collect();
                        Ok::<_, MetricsError>((*index, values))
                    }
                }))
                .buffered(super::queries_at_once(ctx))
                .try_collect()
                .await?;
            let mut weekly: Vec<Vec<MetricValue>> = vec![Vec::new(); selected.len()];
            for (index, values) in figures {
                weekly[index].extend(values);
            }
            let label = value.unwrap_or_else(|| "(none)".to_string());
            for (index, mut values) in weekly.into_iter().enumerate() {
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
    }
    Ok(by_metric)
}

/// One address's book: the clients whose column holds it, and the weekly
/// figures over them.
#[derive(Debug, Clone)]
pub struct Book {
    pub address: String,
    pub weekly: Vec<Vec<MetricValue>>,
}

/// The books of a `per: <column>` audience: for each value of the clients'
/// `column` that `is_address` accepts, `selected` over the week and its
/// trend, computed by the same queries over the tables restricted to those
/// clients (as a segment is).
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
) -> Result<Vec<Book>, MetricsError> {
    let mut books = Vec::new();
    let tables = &super::tables_read_in_run(ctx, selected.iter().map(|(_, query)| query))?;
    for value in catalog::segment_values(ctx, column)
        .await?
        .into_iter()
        .flatten()
    {
        if !is_address(&value) {
            continue;
        }
        let book_ctx = super::sibling_session(ctx, slices.udf_settings);
        let address = Some(value.clone());
        catalog::register_segment(
            ctx,
            &book_ctx,
            tables,
            column,
            &address,
            slices.memory_bytes,
        )
        .await?;
        let scope = format!("book {column}={value}");
        let weekly = weekly(&book_ctx, selected, period, settings, &scope, progress).await?;
        books.push(Book {
            address: value,
            weekly,
        });
    }
    Ok(books)
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
        super::run_measured(ctx, query, &parameters).await
    };
    let ran_again_alone = matches!(shared, Err(MetricsError::OutOfMemory { .. }));
    let (values, cost) = if ran_again_alone {
        let _alone = lanes.0.write().await;
        super::run_measured(ctx, query, &parameters).await?
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
    });
    Ok(values)
}
