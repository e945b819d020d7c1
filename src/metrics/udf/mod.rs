//! Rust UDFs callable from the metric SQL (and from any data team's own
//! SQL), grouped by domain and registered by one function.
//!
//! [`register_udfs`] is the only entry point: any DataFusion session, local
//! or on a Ballista cluster, that calls it can run every query in
//! `queries/`. The UDFs keep no state outside their accumulators.

pub mod satisfaction;

use datafusion::logical_expr::AggregateUDF;
use datafusion::prelude::SessionContext;

/// Registers every clientpulse UDF with `ctx`.
pub fn register_udfs(ctx: &SessionContext) {
    ctx.register_udaf(AggregateUDF::from(satisfaction::NpsScore::default()));
    ctx.register_udaf(AggregateUDF::from(satisfaction::NpsMargin::default()));
}
