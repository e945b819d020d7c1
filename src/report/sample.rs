//! A sample report with every kind of metric a template can meet: money
//! figures with the MRR movements (the bridge), a score off target with
//! its margin, split and segments, a duration with extra figures, a metric
//! with no data, a sample too small, a list of comments, what drove a
//! change, and the clients at risk.
//!
//! `check` and `run` render it before touching the warehouse, so a template
//! that only fails when rendering (an unknown helper, a missing partial, a
//! misspelt field under strict mode) is reported with the other input
//! problems, at its line, instead of after the queries have run.

use std::collections::BTreeMap;

use super::{
    AtRiskClient, DriverReport, MetricReport, PeriodInfo, Report, RiskSignal, SegmentReport,
    TrendPoint,
};
use crate::config::Direction;
use crate::drivers::Effect;
use crate::evaluate::Status;
use crate::metrics::{Format, Item, Unit};

fn metric(id: &str, unit: Unit, value: Option<f64>, status: Status) -> MetricReport {
    MetricReport {
        id: id.to_string(),
        version: 1,
        sql_sha256: "0".repeat(64),
        description: format!("Sample {id}"),
        name: crate::metrics::library::worded(id),
        section: match unit {
            Unit::Money => "Revenue",
            Unit::Seconds => "Support and delivery",
            _ => "Satisfaction",
        }
        .to_string(),
        format: Format::of_unit(unit),
        item_labels: vec![("promoter".to_string(), "Testimonials".to_string())],
        items_only: false,
        unit,
        value,
        window: "28d".to_string(),
        window_start: "2026-10-26T00:00:00Z".to_string(),
        window_end: "2026-11-23T00:00:00Z".to_string(),
        sample_size: 120,
        previous: value.map(|v| v * 0.9),
        target: Some(1.0),
        target_source: Some("internal target".to_string()),
        direction: Some(Direction::HigherIsBetter),
        watch_band: Some(0.1),
        min_sample: Some(30),
        status,
        change_meaningful: true,
        trend: (36..48)
            .map(|week| TrendPoint {
                period: format!("2026-W{week}"),
                value: value.map(|v| v + f64::from(week)),
            })
            .collect(),
        segments: Vec::new(),
        drivers: Vec::new(),
        items: Vec::new().into(),
        extras: BTreeMap::new(),
    }
}

/// The sample report.
pub fn report() -> Report {
    let mut nps = metric("nps", Unit::Score, Some(-18.0), Status::OffTarget);
    nps.extras = BTreeMap::from([
        ("margin".to_string(), Some(14.0)),
        ("promoters".to_string(), Some(30.0)),
        ("passives".to_string(), Some(20.0)),
        ("detractors".to_string(), Some(50.0)),
    ]);
    nps.segments = vec![
        SegmentReport {
            dimension: "segment".to_string(),
            segment: "Enterprise".to_string(),
            value: Some(12.0),
            sample_size: 40,
            status: Status::Watch,
            previous: Some(20.0),
        },
        SegmentReport {
            dimension: "segment".to_string(),
            segment: "SMB".to_string(),
            value: None,
            sample_size: 0,
            status: Status::NoData,
            previous: None,
        },
    ];
    nps.drivers = vec![DriverReport {
        dimension: "segment".to_string(),
        segment: "Enterprise".to_string(),
        contribution: -1.8,
        effect: Effect::Rate,
        share: 1.0,
    }];
    let mut response = metric(
        "first_response_time",
        Unit::Seconds,
        Some(5400.0),
        Status::Watch,
    );
    response.direction = Some(Direction::LowerIsBetter);
    response.extras = BTreeMap::from([
        ("p90".to_string(), Some(14400.0)),
        ("mean".to_string(), Some(7200.0)),
    ]);
    let mut feedback = metric("feedback", Unit::Comments, None, Status::NoBenchmark);
    feedback.target = None;
    feedback.direction = None;
    feedback.items = vec![Item {
        label: "promoter".to_string(),
        value: Some(10.0),
        sample_size: None,
        texts: BTreeMap::from([
            ("client".to_string(), Some("Acme <b>&</b> Co".to_string())),
            ("comment".to_string(), Some("Great support".to_string())),
        ]),
        numbers: BTreeMap::new(),
    }]
    .into();
    Report {
        title: "Client pulse".to_string(),
        currency: "EUR".to_string(),
        period: PeriodInfo {
            label: "2026-W47".to_string(),
            start: "2026-11-16T00:00:00Z".to_string(),
            end: "2026-11-23T00:00:00Z".to_string(),
            timezone: "UTC".to_string(),
        },
        generated_at: "2026-11-23T06:00:00Z".to_string(),
        data_gate: super::DataGateReport::passed(),
        headline: vec!["nps".to_string(), "mrr".to_string()],
        sections: vec!["Revenue".to_string(), "Satisfaction".to_string()],
        mrr_movements: Some([4_000.0, 300.0, 2_500.0, 800.0, 3_100.0]),
        metrics: vec![
            metric("mrr", Unit::Money, Some(152_000.0), Status::OnTarget),
            metric("new_mrr", Unit::Money, Some(4_000.0), Status::Watch),
            metric("reactivation_mrr", Unit::Money, Some(300.0), Status::Watch),
            metric(
                "expansion_mrr",
                Unit::Money,
                Some(2_500.0),
                Status::OnTarget,
            ),
            metric(
                "contraction_mrr",
                Unit::Money,
                Some(800.0),
                Status::OnTarget,
            ),
            metric("churned_mrr", Unit::Money, Some(3_100.0), Status::OffTarget),
            metric("net_new_mrr", Unit::Money, Some(2_900.0), Status::OnTarget),
            nps,
            response,
            metric("csat", Unit::Fraction, None, Status::NoData),
            metric(
                "paying_clients",
                Unit::Count,
                Some(12.0),
                Status::InsufficientSample,
            ),
            metric("csat_average", Unit::Points, Some(3.9), Status::Watch),
            feedback,
            metric(
                "at_risk_clients",
                Unit::Count,
                Some(1.0),
                Status::NoBenchmark,
            ),
        ],
        at_risk: vec![AtRiskClient {
            client_id: "C1".to_string(),
            client: Some("Acme <b>&</b> Co".to_string()),
            account_manager: Some("am@example.com".to_string()),
            mrr: Some(1_200.0),
            score: Some(3.0),
            signals: vec![RiskSignal {
                signal: "detractor".to_string(),
                label: "Detractor".to_string(),
                detail: "NPS answer <3>".to_string(),
                weight: Some(2.0),
            }],
        }]
        .into(),
        at_risk_metric: Some("at_risk_clients".to_string()),
    }
}
