//! Rust UDFs callable from the metric SQL (and from any data team's own
//! SQL), grouped by domain and registered by one function.
//!
//! [`register_udfs`] is the only entry point: any DataFusion session, local
//! or on a Ballista cluster, that calls it can run every query in
//! `queries/`. Settings (time zone, business calendar) travel inside the UDF
//! structs; nothing is global.

pub mod days;
pub mod exact_sum;
pub mod revenue;
pub mod satisfaction;
pub mod statistics;
pub mod time;

use chrono_tz::Tz;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionContext;

use crate::calendar::BusinessCalendar;

/// What the UDFs need from the config.
#[derive(Debug, Clone)]
pub struct UdfSettings {
    /// The report's time zone, for `local_date`.
    pub timezone: Tz,
    /// Business hours for `business_seconds`; `None` counts every second.
    pub calendar: Option<BusinessCalendar>,
}

impl Default for UdfSettings {
    fn default() -> Self {
        UdfSettings {
            timezone: Tz::UTC,
            calendar: None,
        }
    }
}

/// Registers every clientpulse UDF with `ctx`.
pub fn register_udfs(ctx: &SessionContext, settings: &UdfSettings) {
    // In place of the built-in `sum` and `avg`: exact over DOUBLE, so no
    // figure depends on the order rows arrive in (see `exact_sum`).
    ctx.register_udaf(AggregateUDF::from(exact_sum::ExactFloat::sum()));
    ctx.register_udaf(AggregateUDF::from(exact_sum::ExactFloat::avg()));
    ctx.register_udaf(AggregateUDF::from(satisfaction::NpsScore::default()));
    ctx.register_udaf(AggregateUDF::from(days::DayFold::set()));
    ctx.register_udaf(AggregateUDF::from(days::DayFold::tally()));
    ctx.register_udf(ScalarUDF::from(days::CountIn::days()));
    ctx.register_udf(ScalarUDF::from(days::CountIn::tally()));
    ctx.register_udaf(AggregateUDF::from(satisfaction::NpsMargin::default()));
    ctx.register_udaf(AggregateUDF::from(statistics::PercentileExact::default()));
    ctx.register_udf(ScalarUDF::from(satisfaction::CsatSatisfied::default()));
    ctx.register_udf(ScalarUDF::from(revenue::MonthlyMrr::default()));
    ctx.register_udf(ScalarUDF::from(time::BusinessSeconds::new(
        settings.calendar.clone(),
    )));
    ctx.register_udf(ScalarUDF::from(time::LocalDate::new(settings.timezone)));
    ctx.register_udf(ScalarUDF::from(time::AddDays::default()));
}
