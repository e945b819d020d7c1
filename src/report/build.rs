//! Building the report from plain figures: each metric with its window,
//! previous value, trend, benchmark and status, its segments judged
//! against theirs; the subject line; and one rendered edition per
//! audience. Evaluation is called here, never IO.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::render::{ImageLinks, Layout, RenderError, Templates};
use super::{
    AtRiskClient, DataGateReport, DriverReport, MetricReport, PeriodInfo, Report, RiskSignal,
    SegmentReport, TrendPoint, instant,
};
use crate::config::{Audience, Config, MetricSelection};
use crate::delivery::{Edition, InlineImage};
use crate::drivers::{Part, decompose};
use crate::evaluate::{self, Status};
use crate::metrics::series::SegmentFigure;
use crate::metrics::{MetricValue, QueryFile, Unit};
use crate::period::Period;

/// The report of `period`: for each selected metric (in config order) its
/// figures over the trend's weeks (`series`, oldest first, the week last)
/// and its segments.
pub fn build(
    config: &Config,
    selected: &[(MetricSelection, QueryFile)],
    period: &Period,
    series: &[Vec<MetricValue>],
    segments: Vec<Vec<SegmentFigure>>,
    now: DateTime<Utc>,
) -> Report {
    let weeks = period.trailing(series.first().map_or(1, Vec::len));
    let metrics: Vec<MetricReport> = selected
        .iter()
        .zip(series)
        .zip(segments.into_iter().chain(std::iter::repeat_with(Vec::new)))
        .map(|(((selection, query), series), segments)| {
            let mut report = metric_report(config, selection, query, period, &weeks, series);
            report.drivers = drivers(config, query, &report, &segments);
            report.segments = segment_reports(config, query, segments);
            report
        })
        .collect();
    Report {
        title: config.reporting.title.clone(),
        currency: config.reporting.currency.clone(),
        period: period_info(period),
        generated_at: instant(now),
        data_gate: DataGateReport::passed(),
        headline: evaluate::headline(
            &metrics
                .iter()
                .map(|m: &MetricReport| {
                    let benchmark = config.benchmarks.get(&m.id);
                    (
                        m.id.clone(),
                        evaluate::move_in_bands(
                            m.value,
                            m.previous,
                            benchmark,
                            m.change_meaningful,
                        ),
                    )
                })
                .collect::<Vec<_>>(),
        ),
        sections: config.reporting.sections.clone(),
        mrr_movements: mrr_movements(&metrics),
        at_risk: metrics
            .iter()
            .find(|m| m.id == config.at_risk.metric)
            .map(at_risk_clients)
            .unwrap_or_default()
            .into(),
        at_risk_metric: metrics
            .iter()
            .any(|m| m.id == config.at_risk.metric)
            .then(|| config.at_risk.metric.clone()),
        metrics,
    }
}

/// The at-risk list from the items of the metric that finds it: one row
/// per (client, signal), in the query's order (riskiest client first),
/// grouped into one entry per client.
fn at_risk_clients(metric: &MetricReport) -> Vec<AtRiskClient> {
    let mut clients: Vec<AtRiskClient> = Vec::new();
    // Where each client's entry is, so a long list stays linear.
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for item in &metric.items {
        let text = |key: &str| item.texts.get(key).cloned().flatten();
        let number = |key: &str| item.numbers.get(key).copied().flatten();
        let Some(client_id) = text("client_id") else {
            continue;
        };
        let signal = RiskSignal {
            label: metric
                .item_labels
                .iter()
                .find(|(kind, _)| kind == &item.label)
                .map_or_else(|| item.label.clone(), |(_, label)| label.clone()),
            signal: item.label.clone(),
            detail: text("detail").unwrap_or_default(),
            weight: number("weight"),
        };
        match index.get(&client_id).and_then(|&at| clients.get_mut(at)) {
            Some(client) => client.signals.push(signal),
            None => {
                index.insert(client_id.clone(), clients.len());
                clients.push(AtRiskClient {
                    client_id,
                    client: text("client"),
                    account_manager: text("account_manager"),
                    mrr: number("mrr"),
                    score: number("score"),
                    signals: vec![signal],
                })
            }
        }
    }
    clients
}

fn period_info(period: &Period) -> PeriodInfo {
    PeriodInfo {
        label: period.label.clone(),
        start: instant(period.start),
        end: instant(period.end),
        timezone: period.timezone.name().to_string(),
    }
}

/// The report of a week whose data failed the gate: the verdict and its
/// problems, no figures.
pub fn gate_failure(
    config: &Config,
    period: &Period,
    problems: &[impl ToString],
    now: DateTime<Utc>,
) -> Report {
    Report {
        title: config.reporting.title.clone(),
        currency: config.reporting.currency.clone(),
        period: period_info(period),
        generated_at: instant(now),
        data_gate: DataGateReport {
            passed: false,
            problems: problems.iter().map(ToString::to_string).collect(),
        },
        headline: Vec::new(),
        sections: Vec::new(),
        mrr_movements: None,
        metrics: Vec::new(),
        at_risk: Vec::new().into(),
        at_risk_metric: None,
    }
}

/// The alert the config's `data_gate.alert_audience` gets instead of the
/// report when the gate fails: the week and every problem, as text and
/// escaped HTML. Its audience name is the audience's with ` (data alert)`,
/// so the alert has its own Message-ID and ledger entry.
pub fn gate_alerts(report: &Report, config: &Config) -> Vec<Edition> {
    let Some(audience) = config
        .data_gate
        .alert_audience
        .as_ref()
        .and_then(|name| config.audiences.iter().find(|a| &a.name == name))
    else {
        return Vec::new();
    };
    let problems = &report.data_gate.problems;
    let subject = format!(
        "{} {}: data check failed, report not sent ({} problem(s))",
        report.title,
        report.period.label,
        problems.len()
    );
    let intro = format!(
        "The data of {} failed clientpulse's data gate, so the report was not sent to anyone. Fix the warehouse and run the week again; the report then goes out as usual.",
        report.period.label
    );
    let text = format!(
        "{intro}\n\n{}\n",
        problems
            .iter()
            .map(|p| format!("- {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let escape = handlebars::html_escape;
    let html = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body style=\"font-family:Arial,sans-serif;color:#111827\"><p>{}</p><ul>{}</ul></body></html>",
        escape(&subject),
        escape(&intro),
        problems
            .iter()
            .map(|p| format!("<li>{}</li>", escape(p)))
            .collect::<String>()
    );
    vec![Edition {
        audience: format!("{} (data alert)", audience.name),
        recipients: audience.recipients.clone(),
        subject,
        html,
        text,
        images: Vec::new(),
        unsubscribe: audience.unsubscribe.clone(),
    }]
}

/// New, reactivation, expansion, contraction and churned MRR, when the
/// report has a value for each.
fn mrr_movements(metrics: &[MetricReport]) -> Option<[f64; 5]> {
    let value_of = |id: &str| metrics.iter().find(|m| m.id == id).and_then(|m| m.value);
    Some([
        value_of("new_mrr")?,
        value_of("reactivation_mrr")?,
        value_of("expansion_mrr")?,
        value_of("contraction_mrr")?,
        value_of("churned_mrr")?,
    ])
}

fn metric_report(
    config: &Config,
    selection: &MetricSelection,
    query: &QueryFile,
    period: &Period,
    weeks: &[Period],
    series: &[MetricValue],
) -> MetricReport {
    let window = selection.window.unwrap_or(query.window);
    let bounds = period.window(window);
    let current = series.last().cloned().unwrap_or(MetricValue {
        value: None,
        sample_size: 0,
        extras: BTreeMap::new(),
        items: Vec::new(),
    });
    let previous = series
        .len()
        .checked_sub(2)
        .and_then(|i| series.get(i))
        .and_then(|v| v.value);
    let benchmark = config.benchmarks.get(&query.id);
    MetricReport {
        id: query.id.clone(),
        version: query.version,
        sql_sha256: query.sha256.clone(),
        description: query.description.clone(),
        name: query.presentation.name.clone(),
        section: query.presentation.section.clone(),
        format: query.presentation.format,
        item_labels: query.presentation.item_labels.clone(),
        items_only: query.presentation.items_only,
        unit: query.unit,
        value: current.value,
        window: window.to_string(),
        window_start: instant(bounds.start),
        window_end: instant(bounds.end),
        sample_size: current.sample_size,
        previous,
        target: benchmark.map(|b| b.target),
        target_source: benchmark.and_then(|b| b.source.clone()),
        direction: benchmark.map(|b| b.direction),
        watch_band: benchmark.map(|b| b.watch_band),
        min_sample: benchmark.map(|b| b.min_sample),
        change_meaningful: evaluate::change_is_meaningful(
            current.value,
            previous,
            current.sample_size,
            benchmark.map_or(0, |b| b.min_sample),
            current.extras.get("margin").copied().flatten(),
        ),
        status: evaluate::metric_status(
            current.value,
            current.sample_size,
            benchmark,
            !current.items.is_empty(),
        ),
        trend: weeks
            .iter()
            .zip(series)
            .map(|(week, value)| TrendPoint {
                period: week.label.clone(),
                value: value.value,
            })
            .collect(),
        segments: Vec::new(),
        drivers: Vec::new(),
        items: current.items.into(),
        extras: current.extras,
    }
}

/// A metric's segments, each judged against its own target (additive
/// metrics: only where the benchmarks set one for the segment).
fn segment_reports(
    config: &Config,
    query: &QueryFile,
    segments: Vec<SegmentFigure>,
) -> Vec<SegmentReport> {
    let additive = matches!(query.unit, Unit::Money | Unit::Count);
    segments
        .into_iter()
        .map(|segment| SegmentReport {
            status: evaluate::segment_status(
                segment.figure.value,
                segment.figure.sample_size,
                config.benchmarks.get(&query.id),
                &segment.segment,
                additive,
            ),
            dimension: segment.dimension,
            segment: segment.segment,
            value: segment.figure.value,
            sample_size: segment.figure.sample_size,
            previous: segment.previous.and_then(|figure| figure.value),
        })
        .collect()
}

/// What drove a metric's change, breakdown by breakdown, when the change
/// is material and the metric's header says how it splits
/// ([`crate::drivers`]); empty otherwise.
fn drivers(
    config: &Config,
    query: &QueryFile,
    metric: &MetricReport,
    segments: &[SegmentFigure],
) -> Vec<DriverReport> {
    let (Some(composition), Some(now), Some(before)) = (
        query.presentation.composition,
        metric.value,
        metric.previous,
    ) else {
        return Vec::new();
    };
    let material = evaluate::change_is_material(
        metric.value,
        metric.previous,
        config.benchmarks.get(&query.id),
        metric.change_meaningful,
        metric.extras.get("margin").is_some_and(Option::is_some),
    );
    if !material {
        return Vec::new();
    }
    let change = now - before;
    let mut reports = Vec::new();
    for dimension in &config.reporting.breakdowns {
        let parts: Vec<Part<'_>> = segments
            .iter()
            .filter(|s| &s.dimension == dimension)
            .map(|s| Part {
                segment: &s.segment,
                now: s.figure.value,
                now_sample: s.figure.sample_size,
                before: s.previous.as_ref().and_then(|p| p.value),
                before_sample: s.previous.as_ref().map_or(0, |p| p.sample_size),
            })
            .collect();
        let Some(contributions) = decompose(composition, now, before, &parts) else {
            continue;
        };
        reports.extend(contributions.into_iter().map(|c| DriverReport {
            dimension: dimension.clone(),
            segment: c.segment,
            contribution: c.contribution,
            effect: c.effect,
            share: c.contribution / change,
        }));
    }
    reports
}

/// "Client pulse 2026-W47: Net Promoter Score -8 pts to 32 · 1 off target,
/// 1 to watch, 4 on target": the week's biggest mover, then the tally.
/// Made only of the config's title, the period, a metric's name (from its
/// query file) and figures: no warehouse text ever reaches a header.
pub fn subject(report: &Report) -> String {
    let count = |status| report.metrics.iter().filter(|m| m.status == status).count();
    let tally = format!(
        "{} off target, {} to watch, {} on target",
        count(Status::OffTarget),
        count(Status::Watch),
        count(Status::OnTarget)
    );
    let lead = report
        .headline
        .iter()
        .find_map(|id| report.metrics.iter().find(|m| &m.id == id));
    match lead {
        Some(metric) => format!(
            "{} {}: {} · {tally}",
            report.title,
            report.period.label,
            super::render::headline_phrase(metric, &report.currency)
        ),
        None => format!("{} {}: {tally}", report.title, report.period.label),
    }
}

/// The report as each audience gets it: its metrics, in its layout, with
/// the charts its HTML shows as inline images, its subject and recipients.
pub fn editions(
    report: &Report,
    audiences: &[Audience],
    templates: &Templates,
) -> Result<Vec<Edition>, RenderError> {
    audiences
        .iter()
        .filter(|audience| audience.per.is_none())
        .map(|audience| {
            let view = report.for_audience(audience.metrics.as_deref());
            edition(&view, audience, audience.recipients.clone(), templates)
        })
        .collect()
}

/// `report` rendered in `audience`'s layout, with its charts inline, for
/// `recipients`.
fn edition(
    report: &Report,
    audience: &Audience,
    recipients: Vec<String>,
    templates: &Templates,
) -> Result<Edition, RenderError> {
    let rendered = templates.render(report, audience.layout, ImageLinks::Inline)?;
    Ok(Edition {
        audience: audience.name.clone(),
        recipients,
        subject: subject(report),
        html: rendered.html,
        text: rendered.text,
        unsubscribe: audience.unsubscribe.clone(),
        images: rendered
            .charts
            .into_iter()
            .map(|chart| InlineImage {
                content_id: chart.name,
                png: chart.png,
            })
            .collect(),
    })
}

/// The editions of a `per:` audience: one per book, to its address, the
/// report over that address's clients only (no segments), titled as such.
/// The address is in the To header only (validated there), never the
/// subject.
#[allow(clippy::too_many_arguments)]
pub fn book_editions(
    config: &Config,
    selected: &[(MetricSelection, QueryFile)],
    period: &Period,
    audience: &Audience,
    books: &[crate::metrics::series::Book],
    templates: &Templates,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Report, Edition)>, RenderError> {
    books
        .iter()
        .map(|book| {
            let mut report = build(config, selected, period, &book.weekly, Vec::new(), now);
            report.title = format!("{}: your clients", report.title);
            without_company_targets(&mut report);
            let edition = edition(&report, audience, vec![book.address.clone()], templates)?;
            Ok((book.address.clone(), report, edition))
        })
        .collect()
}

/// A book holds part of the company: a target for a total (money, a count
/// of clients) is the company's and says nothing of one manager's share,
/// so those figures carry no target there; rates, scores and durations
/// keep theirs.
fn without_company_targets(report: &mut Report) {
    for metric in &mut report.metrics {
        if matches!(metric.unit, Unit::Money | Unit::Count) {
            metric.target = None;
            metric.target_source = None;
            metric.watch_band = None;
            metric.status = if metric.value.is_some() {
                Status::NoBenchmark
            } else {
                Status::NoData
            };
        }
    }
}

/// The files of a run's report: report.json, report.html (the detailed
/// layout, for a browser) and its charts under `images/`.
pub fn artefacts(
    report: &Report,
    templates: &Templates,
) -> Result<Vec<(String, Vec<u8>)>, RenderError> {
    let json = report.to_json().map_err(|error| RenderError::Json {
        message: error.to_string(),
    })?;
    let rendered = templates.render(report, Layout::Detailed, ImageLinks::Files)?;
    let mut files = vec![
        ("report.json".to_string(), json.into_bytes()),
        ("report.html".to_string(), rendered.html.into_bytes()),
    ];
    files.extend(
        rendered
            .charts
            .into_iter()
            .map(|chart| (format!("images/{}", chart.name), chart.png)),
    );
    Ok(files)
}
