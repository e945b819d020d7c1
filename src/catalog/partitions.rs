//! Partition pruning by event date for Hive-partitioned tables.
//!
//! A table laid out as `usage_events/date=2026-11-20/…` has a `date`
//! partition column, but the queries filter on the event's timestamp
//! (`occurred_at >= $window_start`), which DataFusion cannot relate to the
//! folder names. [`DatePartitionedTable`] wraps the listing table and, for
//! every range filter on the event-time column, adds the matching filter on
//! `date`, so only the folders of the window's days are listed and read.
//! The convention: `date` is the UTC date of the event time.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::DateTime;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use datafusion::logical_expr::{
    BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{col, lit};
use datafusion::scalar::ScalarValue;

/// The name of the partition column pruned by date.
pub const DATE_PARTITION: &str = "date";

/// A table partitioned by `date=YYYY-MM-DD` whose rows' event time is
/// `event_time`.
#[derive(Debug)]
pub struct DatePartitionedTable {
    inner: Arc<dyn TableProvider>,
    event_time: String,
}

impl DatePartitionedTable {
    pub fn new(inner: Arc<dyn TableProvider>, event_time: &str) -> Self {
        DatePartitionedTable {
            inner,
            event_time: event_time.to_string(),
        }
    }

    /// The listing table it prunes.
    pub fn inner(&self) -> &Arc<dyn TableProvider> {
        &self.inner
    }

    /// The event-time column the `date` folders stand for.
    pub fn event_time(&self) -> &str {
        &self.event_time
    }

    /// The `date` filter implied by one filter on the event time, if any.
    fn date_filter(&self, filter: &Expr) -> Option<Expr> {
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = filter else {
            return None;
        };
        let (column, op, value) = match (self.is_event_time(left), literal_micros(right)) {
            (true, Some(value)) => (true, *op, value),
            _ => match (self.is_event_time(right), literal_micros(left)) {
                (true, Some(value)) => (true, op.swap()?, value),
                _ => return None,
            },
        };
        if !column {
            return None;
        }
        let date = DateTime::from_timestamp_micros(value)?
            .date_naive()
            .to_string();
        match op {
            Operator::Gt | Operator::GtEq => Some(col(DATE_PARTITION).gt_eq(lit(date))),
            Operator::Lt | Operator::LtEq => Some(col(DATE_PARTITION).lt_eq(lit(date))),
            Operator::Eq => Some(col(DATE_PARTITION).eq(lit(date))),
            _ => None,
        }
    }

    fn is_event_time(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Column(column) => column.name == self.event_time,
            Expr::Cast(cast) => self.is_event_time(&cast.expr),
            Expr::TryCast(cast) => self.is_event_time(&cast.expr),
            _ => false,
        }
    }
}

/// A timestamp literal as microseconds since the epoch (UTC).
fn literal_micros(expr: &Expr) -> Option<i64> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    match value {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
        _ => None,
    }
}

#[async_trait]
impl TableProvider for DatePartitionedTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut all: Vec<Expr> = filters.to_vec();
        all.extend(filters.iter().filter_map(|f| self.date_filter(f)));
        self.inner.scan(state, projection, &all, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }
}
