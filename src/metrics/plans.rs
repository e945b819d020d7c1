//! Plans a run has already optimised, for the same query in another of its
//! sessions.
//!
//! Each segment and each book of a run has its own session, whose tables
//! are the main session's restricted to its clients under the same names.
//! Their queries are the same SQL with the same bound values, so planning
//! each from its text again (parsing, resolving, the logical optimiser)
//! repeats the same work: at scale 160 about half of the segments' and
//! books' query time was planning. A [`PlanCache`] keeps each optimised
//! logical plan by its SQL and bound values; another session takes it with
//! its table scans pointed at its own tables of the same names, and only
//! builds the physical plan (which reads the tables' files and sizes).
//!
//! A plan is taken only where its tables are alike in every way the
//! logical optimiser looks at: the same schema and constraints, the same
//! kind of table, the same answer on the filters it pushed into each scan.
//! A view (a slice that did not fit in memory) is inlined by the analyser
//! into the tables it reads, which have other names' data in another
//! session: a plan that read one is never kept, and a session where a
//! scanned table is one plans from the text. The cache belongs to the
//! run's sessions (their config's extension, shared by the sessions made
//! from the same one), not to the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::default_table_source::{provider_as_source, source_as_provider};
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{Constraints, ParamValues, plan_err};
use datafusion::logical_expr::{
    Expr, LogicalPlan, TableProviderFilterPushDown, TableScan, TableSource, TableType,
};
use datafusion::prelude::SessionContext;

/// The most plans a cache holds; when full, it starts again empty.
const MOST_PLANS: usize = 256;

/// Optimised logical plans by SQL text and bound values.
#[derive(Debug, Default)]
pub struct PlanCache(Mutex<HashMap<String, Planned>>);

/// What one SQL text planned to.
#[derive(Debug, Default)]
struct Planned {
    /// The parameters the text reads (`$window_start`…), so that a session
    /// can bind its values before it has a plan of its own.
    parameters: HashSet<String>,
    /// The optimised plan by the values bound and the optimiser's settings,
    /// its scans' tables replaced by what was [`Recorded`] of them.
    by_values: HashMap<String, LogicalPlan>,
}

impl PlanCache {
    /// The parameters `sql` reads, when a session planned it already.
    pub fn parameters(&self, sql: &str) -> Option<HashSet<String>> {
        let plans = self.0.lock().ok()?;
        plans.get(sql).map(|planned| planned.parameters.clone())
    }

    /// The plan of `sql` with `values` bound, as another session optimised
    /// it, pointed at `ctx`'s tables; `None` when there is none, or where
    /// `ctx`'s tables differ from that session's in what the optimiser
    /// looked at.
    pub async fn take(
        &self,
        ctx: &SessionContext,
        sql: &str,
        values: &ParamValues,
    ) -> Option<LogicalPlan> {
        let key = key(ctx, values);
        let plan = {
            let plans = self.0.lock().ok()?;
            plans.get(sql)?.by_values.get(&key)?.clone()
        };
        let mut own: BTreeMap<String, Arc<dyn TableSource>> = BTreeMap::new();
        for scan in scans(&plan) {
            let name = scan.table_name.to_string();
            let source = match own.get(&name) {
                Some(source) => Arc::clone(source),
                None => {
                    let provider = ctx.table_provider(scan.table_name.clone()).await.ok()?;
                    let source = provider_as_source(provider);
                    own.insert(name, Arc::clone(&source));
                    source
                }
            };
            let recorded = scan.source.as_ref().downcast_ref::<Recorded>()?;
            if !recorded.alike(source.as_ref(), &scan.filters) {
                return None;
            }
        }
        let pointed = plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::TableScan(scan) => match own.get(&scan.table_name.to_string()) {
                Some(source) => Ok(Transformed::yes(LogicalPlan::TableScan(TableScan {
                    source: Arc::clone(source),
                    ..scan
                }))),
                None => plan_err!("no table {} to point a kept plan at", scan.table_name),
            },
            other => Ok(Transformed::no(other)),
        });
        pointed.ok().map(|done| done.data)
    }

    /// Keeps `optimised`, the plan of `sql` (which reads `parameters`, and
    /// was `unoptimised` before the analyser and optimiser) with `values`
    /// bound in `ctx`; not when it read anything but `ctx`'s own tables.
    pub async fn keep(
        &self,
        ctx: &SessionContext,
        sql: &str,
        parameters: HashSet<String>,
        values: &ParamValues,
        unoptimised: &LogicalPlan,
        optimised: &LogicalPlan,
    ) {
        if !reads_only_tables(ctx, sql, unoptimised).await {
            return;
        }
        // The plan keeps no table of `ctx`: a segment's slices are let go
        // with its session.
        let detached = optimised
            .clone()
            .transform_up_with_subqueries(|node| match node {
                LogicalPlan::TableScan(scan) => {
                    let source: Arc<dyn TableSource> = Arc::new(Recorded::of(&scan)?);
                    Ok(Transformed::yes(LogicalPlan::TableScan(TableScan {
                        source,
                        ..scan
                    })))
                }
                other => Ok(Transformed::no(other)),
            });
        let Ok(detached) = detached else {
            return;
        };
        let key = key(ctx, values);
        if let Ok(mut plans) = self.0.lock() {
            // A week's run keeps about 90 plans; a backfill of many weeks
            // would keep every week's, which no later week takes.
            let kept: usize = plans.values().map(|planned| planned.by_values.len()).sum();
            if kept >= MOST_PLANS {
                plans.clear();
            }
            let planned = plans.entry(sql.to_string()).or_default();
            planned.parameters = parameters;
            planned.by_values.insert(key, detached.data);
        }
    }
}

/// The values bound, by name, and the optimiser's settings of `ctx` (a
/// session made to plan on one partition, or with sort-merge joins, plans
/// its own).
fn key(ctx: &SessionContext, values: &ParamValues) -> String {
    let values = match values {
        ParamValues::List(list) => format!("{list:?}"),
        ParamValues::Map(map) => format!("{:?}", map.iter().collect::<BTreeMap<_, _>>()),
    };
    // Read in place: `ctx.state()` would copy the whole session state
    // (every function's entry) for each query planned.
    let state = ctx.state_ref();
    let state = state.read();
    let options = state.config().options();
    format!(
        "{values}\n{:?}\n{:?}",
        options.optimizer, options.execution.target_partitions
    )
}

/// Whether `sql`, planned in `ctx` as `unoptimised`, read only tables of
/// `ctx` under their own names. The SQL planner inlines a view: its plan
/// takes the view's place, scanning the tables the view reads (another
/// session's, restricted to one segment's clients by a literal), or none
/// at all. Every table the text names is then looked up: none may be a
/// view, and every scan must read the very table `ctx` has by its name.
async fn reads_only_tables(ctx: &SessionContext, sql: &str, unoptimised: &LogicalPlan) -> bool {
    let Ok(named) = super::tables_named(ctx, sql) else {
        return false;
    };
    for name in named {
        match ctx.table_provider(name).await {
            Ok(table) if table.get_logical_plan().is_none() => {}
            _ => return false,
        }
    }
    for scan in scans(unoptimised) {
        let (Ok(own), Ok(read)) = (
            ctx.table_provider(scan.table_name.clone()).await,
            source_as_provider(&scan.source),
        ) else {
            return false;
        };
        if !Arc::ptr_eq(&own, &read) {
            return false;
        }
    }
    true
}

/// Every table scan of `plan`, subqueries included.
fn scans(plan: &LogicalPlan) -> Vec<TableScan> {
    let mut found = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            found.push(scan.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// What the logical optimiser saw of a scanned table, in a kept plan in
/// place of the table itself: its schema, constraints and kind, and how it
/// took the filters pushed into the scan. A scan over it cannot run (the
/// physical planner finds no table in it), so a kept plan runs only once
/// pointed at a session's own tables.
#[derive(Debug)]
struct Recorded {
    schema: SchemaRef,
    constraints: Option<Constraints>,
    table_type: TableType,
    pushdown: Vec<TableProviderFilterPushDown>,
}

impl Recorded {
    fn of(scan: &TableScan) -> datafusion::common::Result<Recorded> {
        let source = scan.source.as_ref();
        let filters: Vec<&Expr> = scan.filters.iter().collect();
        Ok(Recorded {
            schema: source.schema(),
            constraints: source.constraints().cloned(),
            table_type: source.table_type(),
            pushdown: source.supports_filters_pushdown(&filters)?,
        })
    }

    /// Whether `source` is, for the logical optimiser, the table recorded
    /// for a scan with `filters`: not a view, with the same schema,
    /// constraints and kind, taking the filters the same way.
    fn alike(&self, source: &dyn TableSource, filters: &[Expr]) -> bool {
        if source.get_logical_plan().is_some()
            || self.schema != source.schema()
            || self.constraints.as_ref() != source.constraints()
            || self.table_type != source.table_type()
        {
            return false;
        }
        let filters: Vec<&Expr> = filters.iter().collect();
        source
            .supports_filters_pushdown(&filters)
            .is_ok_and(|now| now == self.pushdown)
    }
}

impl TableSource for Recorded {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn constraints(&self) -> Option<&Constraints> {
        self.constraints.as_ref()
    }
    fn table_type(&self) -> TableType {
        self.table_type
    }
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::common::Result<Vec<TableProviderFilterPushDown>> {
        if filters.len() == self.pushdown.len() {
            Ok(self.pushdown.clone())
        } else {
            plan_err!("a kept plan's table was asked about other filters")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Array, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{col, lit};
    use datafusion::scalar::ScalarValue;

    const SQL: &str = "SELECT COUNT(*) AS n, SUM(x) AS s FROM t \
        WHERE x > $floor AND x <= (SELECT MAX(y) FROM u)";

    fn table(column: &str, values: &[i64]) -> Arc<MemTable> {
        let schema = Arc::new(Schema::new(vec![Field::new(
            column,
            DataType::Int64,
            false,
        )]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(Int64Array::from(values.to_vec()))],
        )
        .unwrap();
        Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())
    }

    fn session_with(t: &[i64], u: &[i64]) -> SessionContext {
        let ctx = super::super::new_session(&Default::default(), &Default::default()).unwrap();
        ctx.register_table("t", table("x", t)).unwrap();
        ctx.register_table("u", table("y", u)).unwrap();
        ctx
    }

    fn floor(value: i64) -> ParamValues {
        ParamValues::from(vec![("floor".to_string(), ScalarValue::Int64(Some(value)))])
    }

    fn cache(ctx: &SessionContext) -> Arc<PlanCache> {
        ctx.state()
            .config()
            .get_extension::<PlanCache>()
            .expect("a local session has a plan cache")
    }

    /// Plans SQL in `ctx` from its text and keeps the plan, as a query's
    /// first planning in a run does.
    async fn plan_and_keep(ctx: &SessionContext, values: ParamValues) {
        let frame = ctx.sql(SQL).await.unwrap();
        let used = frame.logical_plan().get_parameter_names().unwrap();
        let frame = frame.with_param_values(values.clone()).unwrap();
        let optimised = ctx.state().optimize(frame.logical_plan()).unwrap();
        cache(ctx)
            .keep(ctx, SQL, used, &values, frame.logical_plan(), &optimised)
            .await;
    }

    async fn figures(ctx: &SessionContext, plan: LogicalPlan) -> (i64, Option<i64>) {
        let batches = datafusion::dataframe::DataFrame::new(ctx.state(), plan)
            .collect()
            .await
            .unwrap();
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        let s = batches[0]
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        (n.value(0), (!s.is_null(0)).then(|| s.value(0)))
    }

    #[tokio::test]
    async fn a_kept_plan_reads_the_tables_of_the_session_that_takes_it() {
        let first = session_with(&[1, 2, 3, 4], &[3]);
        plan_and_keep(&first, floor(1)).await;
        // A segment's session: the same names, other rows, the same cache.
        let segment = super::super::sibling_session(&first, &Default::default());
        segment
            .register_table("t", table("x", &[10, 20, 30, 40]))
            .unwrap();
        segment.register_table("u", table("y", &[35])).unwrap();
        let cache = cache(&segment);
        assert_eq!(
            cache.parameters(SQL),
            Some(HashSet::from(["$floor".to_string()]))
        );
        let taken = cache.take(&segment, SQL, &floor(15)).await;
        assert!(taken.is_none(), "other values are another plan");
        let taken = cache.take(&segment, SQL, &floor(1)).await.expect("kept");
        // 10, 20 and 30 pass x > 1 and x <= 35 (the subquery's table too).
        assert_eq!(figures(&segment, taken).await, (3, Some(60)));
        let again = cache.take(&first, SQL, &floor(1)).await.expect("kept");
        assert_eq!(figures(&first, again).await, (2, Some(5)));
    }

    #[tokio::test]
    async fn a_view_is_neither_kept_nor_taken() {
        let first = session_with(&[1, 2, 3], &[3]);
        plan_and_keep(&first, floor(0)).await;
        let segment = super::super::sibling_session(&first, &Default::default());
        segment.register_table("u", table("y", &[9])).unwrap();
        segment
            .sql("CREATE VIEW t AS SELECT column1 AS x FROM (VALUES (CAST(7 AS BIGINT)))")
            .await
            .unwrap();
        assert!(
            cache(&segment)
                .take(&segment, SQL, &floor(0))
                .await
                .is_none()
        );

        let viewed = session_with(&[], &[1]);
        viewed.deregister_table("t").unwrap();
        viewed
            .sql("CREATE VIEW t AS SELECT column1 AS x FROM (VALUES (CAST(1 AS BIGINT)))")
            .await
            .unwrap();
        plan_and_keep(&viewed, floor(0)).await;
        assert_eq!(cache(&viewed).parameters(SQL), None);

        // A slice that did not fit in memory: a view of the whole table
        // restricted by a literal, inlined by the SQL planner into a scan
        // of the other session's table.
        let whole = session_with(&[1, 2, 3], &[3]);
        let sliced = super::super::sibling_session(&whole, &Default::default());
        let restricted = whole
            .table("t")
            .await
            .unwrap()
            .filter(col("x").gt(lit(1_i64)))
            .unwrap()
            .into_view();
        sliced.register_table("t", restricted).unwrap();
        sliced.register_table("u", table("y", &[3])).unwrap();
        plan_and_keep(&sliced, floor(0)).await;
        assert_eq!(cache(&sliced).parameters(SQL), None);
    }

    #[tokio::test]
    async fn a_full_cache_starts_again_empty() {
        let ctx = session_with(&[1], &[1]);
        for value in 0..MOST_PLANS as i64 {
            plan_and_keep(&ctx, floor(value)).await;
        }
        let cache = cache(&ctx);
        assert!(cache.take(&ctx, SQL, &floor(0)).await.is_some());
        plan_and_keep(&ctx, floor(-1)).await;
        assert!(cache.take(&ctx, SQL, &floor(0)).await.is_none());
        assert!(cache.take(&ctx, SQL, &floor(-1)).await.is_some());
    }

    #[tokio::test]
    async fn a_kept_plan_holds_none_of_the_tables_it_read() {
        let first = session_with(&[], &[1]);
        let rows = table("x", &[1, 2]);
        let held = Arc::downgrade(&rows);
        first.deregister_table("t").unwrap();
        first.register_table("t", rows).unwrap();
        plan_and_keep(&first, floor(0)).await;
        let cache = cache(&first);
        drop(first);
        assert!(held.upgrade().is_none(), "the kept plan holds the table");
        assert!(cache.parameters(SQL).is_some());
    }
}
