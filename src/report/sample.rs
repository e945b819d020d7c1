//! A sample report with every kind of metric a template can meet: a money
//! figure on target, a score off target with segments, a duration with
//! extra figures, a metric with no data, and a list of comments.
//!
//! `check` and `run` render it before touching the warehouse, so a template
//! that only fails when rendering (an unknown helper, a missing partial, a
//! misspelt field under strict mode) is reported with the other input
//! problems, at its line, instead of after the queries have run.

use std::collections::BTreeMap;

use super::{MetricReport, PeriodInfo, Report, SegmentReport, TrendPoint};
use crate::config::Direction;
use crate::evaluate::Status;
use crate::metrics::{Item, Unit};

fn metric(id: &str, unit: Unit, value: Option<f64>, status: Status) -> MetricReport {
    MetricReport {
        id: id.to_string(),
        version: 1,
        sql_sha256: "0".repeat(64),
        description: format!("Sample {id}"),
        unit,
        value,
        window: "28d".to_string(),
        window_start: "2026-10-26T00:00:00Z".to_string(),
        window_end: "2026-11-23T00:00:00Z".to_string(),
        sample_size: 120,
        previous: value.map(|v| v * 0.9),
        target: Some(1.0),
        direction: Some(Direction::HigherIsBetter),
        status,
        trend: (36..48)
            .map(|week| TrendPoint {
                period: format!("2026-W{week}"),
                value: value.map(|v| v + f64::from(week)),
            })
            .collect(),
        segments: Vec::new(),
        items: Vec::new(),
        extras: BTreeMap::new(),
    }
}

/// The sample report.
pub fn report() -> Report {
    let mut nps = metric("nps", Unit::Score, Some(-18.0), Status::OffTarget);
    nps.segments = vec![
        SegmentReport {
            dimension: "segment".to_string(),
            segment: "Enterprise".to_string(),
            value: Some(12.0),
            sample_size: 40,
            status: Status::Watch,
        },
        SegmentReport {
            dimension: "segment".to_string(),
            segment: "SMB".to_string(),
            value: None,
            sample_size: 0,
            status: Status::NoData,
        },
    ];
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
    }];
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
        metrics: vec![
            metric("mrr", Unit::Money, Some(152_000.0), Status::OnTarget),
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
        ],
    }
}
