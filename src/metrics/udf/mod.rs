//! Rust UDFs callable from the metric SQL (and from any data team's own
//! SQL), grouped by domain and registered by one function.
//!
//! [`register_udfs`] is the only entry point: any DataFusion session, local
//! or on a Ballista cluster, that calls it can run every query in
//! `queries/`. Settings (time zone, business calendar) travel inside the UDF
//! structs; nothing is global.

pub mod day_values;
pub mod days;
pub mod exact_sum;
mod fold;
mod records;
pub mod revenue;
pub mod satisfaction;
pub mod statistics;
pub mod subscriptions;
pub mod tickets;
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
    let (scalars, aggregates) = functions(settings);
    for udf in scalars {
        ctx.register_udf(udf);
    }
    for udaf in aggregates {
        ctx.register_udaf(udaf);
    }
}

/// Every clientpulse function, built with `settings`.
pub fn functions(settings: &UdfSettings) -> (Vec<ScalarUDF>, Vec<AggregateUDF>) {
    let mut scalars = settings_free_scalars();
    scalars.push(ScalarUDF::from(time::BusinessSeconds::new(
        settings.calendar.clone(),
    )));
    scalars.push(ScalarUDF::from(time::LocalDate::new(settings.timezone)));
    (scalars, aggregates())
}

/// The scalar functions that read no setting.
fn settings_free_scalars() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(days::CountIn::days()),
        ScalarUDF::from(days::CountIn::tally()),
        ScalarUDF::from(days::DaySetOf::default()),
        ScalarUDF::from(day_values::SumIn::default()),
        ScalarUDF::from(satisfaction::CsatSatisfied::default()),
        ScalarUDF::from(revenue::MonthlyMrr::default()),
        ScalarUDF::from(time::AddDays::default()),
        ScalarUDF::from(subscriptions::RowsAt::mrr_at()),
        ScalarUDF::from(subscriptions::RowsAt::paid_before()),
        ScalarUDF::from(subscriptions::RowsAt::started_paying_in()),
        ScalarUDF::from(tickets::OpenAt::count()),
        ScalarUDF::from(tickets::OpenAt::oldest()),
    ]
}

/// Every aggregate function; none reads a setting.
fn aggregates() -> Vec<AggregateUDF> {
    vec![
        // In place of the built-in `sum` and `avg`: exact over DOUBLE, so
        // no figure depends on the order rows arrive in (see `exact_sum`).
        AggregateUDF::from(exact_sum::ExactFloat::sum()),
        AggregateUDF::from(exact_sum::ExactFloat::avg()),
        AggregateUDF::from(satisfaction::NpsScore::default()),
        AggregateUDF::from(days::DayFold::set()),
        AggregateUDF::from(days::DayFold::tally()),
        AggregateUDF::from(days::DaySetsBy::default()),
        day_values::day_values(),
        AggregateUDF::from(days::InEach::sets()),
        AggregateUDF::from(days::InEach::days()),
        AggregateUDF::from(satisfaction::NpsMargin::default()),
        AggregateUDF::from(statistics::PercentileExact::default()),
        subscriptions::mrr_rows(),
        tickets::ticket_spans(),
    ]
}

/// The functions a cluster node registers by name: every one that reads
/// no setting. `local_date` and `business_seconds` are left out on
/// purpose: they only ever arrive inside a plan, with the settings of the
/// run that sent it ([`encode_scalar`]), so a node can never quietly use
/// a zone or calendar of its own.
pub fn node_functions() -> (Vec<ScalarUDF>, Vec<AggregateUDF>) {
    (settings_free_scalars(), aggregates())
}

/// What a serialized plan carries for one of our functions: the settings
/// it was built with. A node without clientpulse's codec refuses a
/// function that carries bytes rather than take its own of the same name
/// (a stock `sum` in place of the exact one, say).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct WireSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    timezone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    calendar: Option<WireCalendar>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct WireCalendar {
    timezone: String,
    working_days: [bool; 7],
    opens: chrono::NaiveTime,
    closes: chrono::NaiveTime,
    holidays: std::collections::BTreeSet<chrono::NaiveDate>,
}

/// The bytes that stand for `udf` in a plan sent to a cluster, `None` for
/// a function that is not clientpulse's.
pub fn encode_scalar(udf: &ScalarUDF) -> Option<Vec<u8>> {
    let inner: &dyn std::any::Any = udf.inner().as_ref();
    let mut wire = WireSettings::default();
    if let Some(local_date) = inner.downcast_ref::<time::LocalDate>() {
        wire.timezone = Some(local_date.timezone().name().to_string());
    } else if let Some(business) = inner.downcast_ref::<time::BusinessSeconds>() {
        wire.calendar = business.calendar().map(|calendar| WireCalendar {
            timezone: calendar.timezone.name().to_string(),
            working_days: calendar.working_days,
            opens: calendar.opens,
            closes: calendar.closes,
            holidays: calendar.holidays.clone(),
        });
    } else if !settings_free_scalars()
        .iter()
        .any(|ours| type_of(ours.inner().as_ref()) == inner.type_id())
    {
        return None;
    }
    serde_json::to_vec(&wire).ok()
}

/// The concrete type behind a scalar function.
fn type_of(udf: &dyn datafusion::logical_expr::ScalarUDFImpl) -> std::any::TypeId {
    let any: &dyn std::any::Any = udf;
    any.type_id()
}

/// The same for an aggregate function.
pub fn encode_aggregate(udaf: &AggregateUDF) -> Option<Vec<u8>> {
    let inner: &dyn std::any::Any = udaf.inner().as_ref();
    let ours = aggregates().iter().any(|ours| {
        let ours: &dyn std::any::Any = ours.inner().as_ref();
        ours.type_id() == inner.type_id()
    });
    ours.then(|| b"{}".to_vec())
}

/// The function `name` rebuilt from the bytes [`encode_scalar`] wrote.
pub fn decode_scalar(name: &str, bytes: &[u8]) -> Result<ScalarUDF, String> {
    if bytes.is_empty() {
        return Err(format!("function `{name}` arrived without its settings"));
    }
    let wire: WireSettings = serde_json::from_slice(bytes)
        .map_err(|e| format!("the settings of function `{name}` do not parse: {e}"))?;
    let zone = |text: &str| {
        text.parse::<Tz>()
            .map_err(|_| format!("function `{name}`: unknown time zone `{text}`"))
    };
    let settings = UdfSettings {
        timezone: wire
            .timezone
            .as_deref()
            .map(zone)
            .transpose()?
            .unwrap_or(Tz::UTC),
        calendar: match wire.calendar {
            Some(calendar) => Some(BusinessCalendar {
                timezone: zone(&calendar.timezone)?,
                working_days: calendar.working_days,
                opens: calendar.opens,
                closes: calendar.closes,
                holidays: calendar.holidays,
            }),
            None => None,
        },
    };
    if name == "local_date" && wire.timezone.is_none() {
        return Err(format!("function `{name}` arrived without its time zone"));
    }
    functions(&settings)
        .0
        .into_iter()
        .find(|udf| udf.name() == name)
        .ok_or_else(|| format!("`{name}` is not a clientpulse function"))
}

/// The aggregate function `name`, sent by [`encode_aggregate`].
pub fn decode_aggregate(name: &str) -> Result<AggregateUDF, String> {
    aggregates()
        .into_iter()
        .find(|udaf| udaf.name() == name)
        .ok_or_else(|| format!("`{name}` is not a clientpulse aggregate function"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> UdfSettings {
        let calendar = BusinessCalendar {
            timezone: Tz::Europe__Paris,
            working_days: [true, true, true, true, true, false, false],
            opens: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            closes: chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap_or_default(),
            holidays: [chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap_or_default()]
                .into_iter()
                .collect(),
        };
        UdfSettings {
            timezone: Tz::America__New_York,
            calendar: Some(calendar),
        }
    }

    #[test]
    fn every_function_travels_with_its_settings() {
        let settings = settings();
        let (scalars, aggregates) = functions(&settings);
        for udf in &scalars {
            let bytes = encode_scalar(udf).expect("ours");
            let back = decode_scalar(udf.name(), &bytes).expect("decodes");
            assert_eq!(&back, udf, "{}", udf.name());
        }
        for udaf in &aggregates {
            let bytes = encode_aggregate(udaf).expect("ours");
            assert!(!bytes.is_empty());
            assert_eq!(&decode_aggregate(udaf.name()).expect("decodes"), udaf);
        }
        // The settings are what makes two of them differ.
        let default = functions(&UdfSettings::default()).0;
        let zone = |udfs: &[ScalarUDF]| {
            udfs.iter()
                .find(|udf| udf.name() == "local_date")
                .and_then(encode_scalar)
                .expect("local_date")
        };
        assert_ne!(zone(&scalars), zone(&default));
    }

    #[test]
    fn a_function_that_is_not_ours_carries_nothing_and_ours_never_arrive_bare() {
        let abs = datafusion::functions::math::abs();
        assert_eq!(encode_scalar(&abs), None);
        let count = datafusion::functions_aggregate::count::count_udaf();
        assert_eq!(encode_aggregate(&count), None);
        assert!(decode_scalar("local_date", &[]).is_err());
        assert!(decode_scalar("local_date", b"{}").is_err());
        assert!(decode_scalar("local_date", b"{\"timezone\":\"Mars/Olympus\"}").is_err());
        assert!(decode_scalar("abs", b"{}").is_err());
        assert!(decode_aggregate("count").is_err());
        // The registry of a node holds neither zone- nor calendar-bound one.
        let (scalars, _) = node_functions();
        assert!(
            scalars
                .iter()
                .all(|udf| !["local_date", "business_seconds"].contains(&udf.name()))
        );
    }
}
