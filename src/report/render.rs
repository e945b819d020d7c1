//! Renders a [`Report`] to HTML and plain text with Handlebars, with its
//! charts.
//!
//! Two editions, each an HTML and a text template: `report` (detailed, for
//! data teams; also report.html) and `summary` (leadership). The binary
//! carries the defaults of `report-templates/`, and a config may point at
//! its own folder. Templates see a view of display strings only, already
//! rounded, labelled and ordered (sections in the config's order, off
//! target first), so a template edit can never change a number.
//! Everything about a metric's presentation comes from its query's header
//! (name, section, format, item labels), never from a list here.
//! Handlebars escapes every `{{value}}` in the HTML templates, and
//! warehouse text (client names, comments) only reaches them that way.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use handlebars::Handlebars;
use serde::Serialize;
use thiserror::Error;

use super::charts::{self, Chart};
use super::{MetricReport, Report, format};
use crate::config::Direction;
use crate::diagnostic::Diagnostic;
use crate::drivers::Effect;
use crate::evaluate::Status;
use crate::metrics::Format;
use crate::metrics::library::worded;

const DEFAULTS: [(&str, &str); 4] = [
    (
        "report.html.hbs",
        include_str!("../../report-templates/report.html.hbs"),
    ),
    (
        "report.txt.hbs",
        include_str!("../../report-templates/report.txt.hbs"),
    ),
    (
        "summary.html.hbs",
        include_str!("../../report-templates/summary.html.hbs"),
    ),
    (
        "summary.txt.hbs",
        include_str!("../../report-templates/summary.txt.hbs"),
    ),
];

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("cannot write report.json: {message}")]
    Json { message: String },
    #[error("rendering {template} failed: {}", one_line(&error.to_string()))]
    Render {
        template: String,
        error: Box<handlebars::RenderError>,
    },
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Which layout of the report an audience gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Every metric with its details, segments and items.
    #[default]
    Detailed,
    /// The week at a glance, for leadership.
    Summary,
}

impl Layout {
    fn stem(self) -> &'static str {
        match self {
            Layout::Detailed => "report",
            Layout::Summary => "summary",
        }
    }
}

/// Where the HTML finds its images: in the message (`cid:`) or in files
/// beside report.html (`images/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageLinks {
    Inline,
    Files,
}

impl ImageLinks {
    fn src(self, name: &str) -> String {
        match self {
            ImageLinks::Inline => format!("cid:{name}"),
            ImageLinks::Files => format!("images/{name}"),
        }
    }
}

/// One edition rendered: HTML, text, and the charts the HTML shows.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub html: String,
    pub text: String,
    pub charts: Vec<Chart>,
}

/// The compiled templates: HTML escaping for one registry, none for the
/// other.
pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

impl Templates {
    /// The templates of `dir`, or the built-in defaults. Every problem of
    /// every template is returned, each at its file, line and column:
    /// syntax errors when compiling, and what only shows when rendering
    /// (an unknown helper, a missing partial, a misspelt field) from a
    /// trial render of a sample report with every kind of metric.
    pub fn load(dir: Option<&Path>) -> Result<Templates, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        let mut paths = Vec::new();
        for (name, default) in DEFAULTS {
            let (path, body) = match dir {
                None => (
                    PathBuf::from(format!("report-templates/{name}")),
                    default.to_string(),
                ),
                Some(dir) => {
                    let path = dir.join(name);
                    match read_template(&path) {
                        Ok(body) => (path, body),
                        Err(problem) => {
                            problems.push(problem);
                            continue;
                        }
                    }
                }
            };
            let registry = if name.ends_with(".html.hbs") {
                &mut html
            } else {
                &mut text
            };
            if let Err(error) = registry.register_template_string(name, body) {
                let (line, column) = error.pos().unzip();
                // pest lists every token it expected; the position and a
                // hint serve a reader better.
                let reason = error.reason().to_string();
                let reason = match reason.split_once(": expected") {
                    Some((head, _)) => format!(
                        "{head} (an unclosed `{{{{#…}}}}` block, a stray `{{{{/…}}}}` or a broken `{{{{…}}}}`)"
                    ),
                    None => reason,
                };
                problems.push(Diagnostic {
                    file: path,
                    line,
                    column,
                    message: format!("template syntax: {reason}"),
                });
                continue;
            }
            paths.push((name, path));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let templates = Templates { html, text };
        let sample = super::sample::report();
        for (name, path) in paths {
            let view = ReportView::of(&sample, ImageLinks::Inline);
            if let Err(RenderError::Render { error, .. }) = templates.render_one(name, &view.0) {
                problems.push(Diagnostic {
                    file: path,
                    line: error.line_no,
                    column: error.column_no,
                    message: format!("template: {}", error.reason()),
                });
            }
        }
        if problems.is_empty() {
            Ok(templates)
        } else {
            Err(problems)
        }
    }

    fn render_one(&self, name: &str, view: &ReportView) -> Result<String, RenderError> {
        let registry = if name.ends_with(".html.hbs") {
            &self.html
        } else {
            &self.text
        };
        registry
            .render(name, view)
            .map_err(|error| RenderError::Render {
                template: name.to_string(),
                error: Box::new(error),
            })
    }

    /// `report` in `layout`: HTML (images linked as `links` says), text,
    /// and the charts the HTML shows (only those).
    pub fn render(
        &self,
        report: &Report,
        layout: Layout,
        links: ImageLinks,
    ) -> Result<Rendered, RenderError> {
        let (view, charts) = ReportView::of(report, links);
        let html = self.render_one(&format!("{}.html.hbs", layout.stem()), &view)?;
        let text = self.render_one(&format!("{}.txt.hbs", layout.stem()), &view)?;
        let charts = charts
            .into_iter()
            .filter(|chart| html.contains(&links.src(&chart.name)))
            .collect();
        Ok(Rendered { html, text, charts })
    }
}

fn read_template(path: &Path) -> Result<String, Diagnostic> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|error| {
            crate::diagnostic::not_utf8(path, error.as_bytes(), error.utf8_error().valid_up_to())
        }),
        Err(error) => Err(Diagnostic::in_file(
            path,
            format!("cannot read the template: {error}"),
        )),
    }
}

/// What the templates see.
#[derive(Serialize)]
struct ReportView {
    title: String,
    period_label: String,
    period_dates: String,
    timezone: String,
    generated_at: String,
    counts: StatusCounts,
    /// The moves that matter most, one line each.
    headline: Vec<HeadlineView>,
    /// "23 clients at risk (+5 since last week) · €45,822 of MRR", when
    /// the edition has the at-risk metric.
    at_risk: Option<String>,
    /// Sections in the config's order, each with its metrics, off target
    /// first.
    sections: Vec<SectionView>,
    /// Every metric, in section order (for templates without sections).
    metrics: Vec<MetricView>,
}

#[derive(Serialize)]
struct StatusCounts {
    on_target: usize,
    watch: usize,
    off_target: usize,
    other: usize,
}

#[derive(Serialize)]
struct HeadlineView {
    arrow: &'static str,
    colour: &'static str,
    line: String,
}

#[derive(Serialize, Clone)]
struct SectionView {
    name: String,
    metrics: Vec<MetricView>,
}

/// An image as the HTML shows it.
#[derive(Serialize, Clone)]
struct ChartView {
    src: String,
    alt: String,
    width: u32,
    height: u32,
}

#[derive(Serialize, Clone)]
struct MetricView {
    id: String,
    name: String,
    description: String,
    /// The figure with its unit ("-18 ± 14", "€98,765", "12.3 %").
    value: String,
    target: Option<String>,
    target_source: Option<String>,
    status: &'static str,
    /// What happened, in words that read without colour: "Off target",
    /// "Sample too small (n = 5, needs 30)".
    status_label: String,
    status_colour: &'static str,
    status_background: &'static str,
    change: Option<String>,
    change_arrow: &'static str,
    /// Green for good news, red for bad (by the benchmark's direction);
    /// grey when the move says nothing (small sample, within the margin).
    change_colour: &'static str,
    /// Why a move is grey, when it is.
    change_note: Option<&'static str>,
    previous: Option<String>,
    sample_size: String,
    window: String,
    /// The 12 weeks as a text sparkline, for the text part.
    trend: String,
    /// The 12 weeks as an image.
    chart: Option<ChartView>,
    /// A chart of the metric's parts (the MRR bridge, the NPS split), with
    /// its legend in words.
    parts_chart: Option<ChartView>,
    parts_legend: Option<String>,
    /// The metric's extra figures in words ("p90 3h 12m · mean 2h 5m").
    details: Option<String>,
    /// One line per breakdown: "Segment: Enterprise 38.0 (Off target) · …".
    breakdowns: Vec<String>,
    /// What moved the figure, one line per breakdown: "By segment: SMB
    /// -3.2 pts (rate, 78 %) · Enterprise -1.4 pts (mix, 34 %)".
    drivers: Vec<String>,
    /// The rows of a list-valued metric, worded.
    items: Vec<ItemView>,
    /// For the at-risk metric, its clients with their signals (the
    /// detailed layout lists them; the summary shows only the figure).
    clients: Vec<ClientView>,
    /// What the list leaves out, when it is longer than [`AT_RISK_SHOWN`].
    clients_more: Option<String>,
}

/// The riskiest clients a message lists: a phone screen's worth, so the
/// message stays readable (and under Gmail's clipping size) whatever the
/// size of the book.
const AT_RISK_SHOWN: usize = 25;

/// One client at risk: who, what it pays, who owns it, and why it is on
/// the list. Warehouse strings, escaped by Handlebars in the HTML.
#[derive(Serialize, Clone)]
struct ClientView {
    /// "Northwind Retail · €1,234 MRR".
    line: String,
    account_manager: Option<String>,
    /// "Usage dropped: 20 uses in the window, 44 in the window before".
    signals: Vec<String>,
}

impl ClientView {
    fn of(client: &super::AtRiskClient, currency: &str) -> ClientView {
        let name = client.client.as_deref().unwrap_or(&client.client_id);
        ClientView {
            line: match client.mrr {
                Some(mrr) => format!("{name} · {} MRR", format::money(mrr, currency)),
                None => name.to_string(),
            },
            account_manager: client.account_manager.clone(),
            signals: client
                .signals
                .iter()
                .map(|signal| format!("{}: {}", signal.label, signal.detail))
                .collect(),
        }
    }
}

/// One feature, client or comment of a list-valued metric. Every string
/// that came from the warehouse is escaped by Handlebars in the HTML.
#[derive(Serialize, Clone)]
struct ItemView {
    heading: Option<String>,
    line: String,
    comment: Option<String>,
}

impl ReportView {
    fn of(report: &Report, links: ImageLinks) -> (ReportView, Vec<Chart>) {
        let count = |status: Status| report.metrics.iter().filter(|m| m.status == status).count();
        let on_target = count(Status::OnTarget);
        let watch = count(Status::Watch);
        let off_target = count(Status::OffTarget);
        let mut charts = Vec::new();
        let mut views: Vec<(&MetricReport, MetricView)> = Vec::new();
        for metric in &report.metrics {
            let mut view = MetricView::of(metric, &report.currency);
            if let Some(chart) = charts::sparkline(metric, trend_words(metric, &report.currency)) {
                view.chart = Some(chart_view(&chart, links));
                charts.push(chart);
            }
            if let Some((chart, legend)) = parts_chart(report, metric) {
                view.parts_chart = Some(chart_view(&chart, links));
                view.parts_legend = Some(legend);
                charts.push(chart);
            }
            if report.at_risk_metric.as_ref() == Some(&metric.id) {
                // Its rows are (client, signal) pairs: shown by client.
                view.items = Vec::new();
                view.clients = report
                    .at_risk
                    .iter()
                    .take(AT_RISK_SHOWN)
                    .map(|client| ClientView::of(client, &report.currency))
                    .collect();
                let more = report.at_risk.len().saturating_sub(AT_RISK_SHOWN);
                view.clients_more = (more > 0).then(|| {
                    format!(
                        "and {more} more: every client at risk is in report.json, and each account manager's own list in their e-mail"
                    )
                });
            }
            views.push((metric, view));
        }
        // Sections: the config's order first, then any other a query names,
        // in report order.
        let mut names: Vec<String> = report.sections.clone();
        for metric in &report.metrics {
            if !names.contains(&metric.section) {
                names.push(metric.section.clone());
            }
        }
        let rank = |status: Status| match status {
            Status::OffTarget => 0,
            Status::Watch => 1,
            Status::InsufficientSample => 2,
            Status::OnTarget => 3,
            Status::NoData | Status::NoBenchmark => 4,
        };
        let sections: Vec<SectionView> = names
            .into_iter()
            .filter_map(|name| {
                let mut members: Vec<&(&MetricReport, MetricView)> =
                    views.iter().filter(|(m, _)| m.section == name).collect();
                members.sort_by_key(|(m, _)| rank(m.status));
                (!members.is_empty()).then(|| SectionView {
                    name,
                    metrics: members.into_iter().map(|(_, v)| v.clone()).collect(),
                })
            })
            .collect();
        let at_risk = report
            .at_risk_metric
            .as_ref()
            .and_then(|id| report.metrics.iter().find(|m| &m.id == id))
            .and_then(|metric| at_risk_line(report, metric));
        let headline = report
            .headline
            .iter()
            .filter_map(|id| report.metrics.iter().find(|m| &m.id == id))
            .map(|metric| headline_view(metric, &report.currency))
            .collect();
        let view = ReportView {
            title: report.title.clone(),
            period_label: report.period.label.clone(),
            period_dates: period_dates(&report.period.start, &report.period.end),
            timezone: report.period.timezone.clone(),
            generated_at: report.generated_at.clone(),
            counts: StatusCounts {
                on_target,
                watch,
                off_target,
                other: report.metrics.len() - on_target - watch - off_target,
            },
            headline,
            at_risk,
            metrics: sections.iter().flat_map(|s| s.metrics.clone()).collect(),
            sections,
        };
        (view, charts)
    }
}

fn chart_view(chart: &Chart, links: ImageLinks) -> ChartView {
    ChartView {
        src: links.src(&chart.name),
        alt: chart.alt.clone(),
        width: chart.width,
        height: chart.height,
    }
}

/// "▼ Net Promoter Score −8 pts to 32 (target 40)".
fn headline_view(metric: &MetricReport, currency: &str) -> HeadlineView {
    let (arrow, colour) = change_look(metric);
    let change =
        format::change(metric.value, metric.previous, metric.format, currency).unwrap_or_default();
    let mut line = format!(
        "{} {change} to {}",
        metric.name,
        format::value(metric.value, metric.format, currency)
    );
    if let Some(target) = metric.target {
        line.push_str(&format!(
            " (target {})",
            format::value(Some(target), metric.format, currency)
        ));
    }
    HeadlineView {
        arrow,
        colour,
        line,
    }
}

/// A headline for a subject line: "Net Promoter Score -8 pts to 32".
pub fn headline_phrase(metric: &MetricReport, currency: &str) -> String {
    let change =
        format::change(metric.value, metric.previous, metric.format, currency).unwrap_or_default();
    format!(
        "{} {change} to {}",
        metric.name,
        format::value(metric.value, metric.format, currency)
    )
    .replace("  ", " ")
}

/// A headline line for a terminal or a log: "▼ Net Promoter Score -8 pts
/// to 32 (target 40)".
pub fn headline_line(metric: &MetricReport, currency: &str) -> String {
    let view = headline_view(metric, currency);
    format!("{} {}", view.arrow, view.line)
}

/// The arrow and colour of a metric's move: by its direction when the move
/// is meaningful, grey otherwise.
fn change_look(metric: &MetricReport) -> (&'static str, &'static str) {
    const GREY: &str = "#4b5563";
    let (Some(now), Some(before)) = (metric.value, metric.previous) else {
        return ("", GREY);
    };
    let arrow = if now > before {
        "▲"
    } else if now < before {
        "▼"
    } else {
        "="
    };
    if !metric.change_meaningful {
        return (arrow, GREY);
    }
    let colour = match metric.direction {
        Some(Direction::HigherIsBetter) if now > before => "#0f5132",
        Some(Direction::LowerIsBetter) if now < before => "#0f5132",
        Some(_) => "#842029",
        None => GREY,
    };
    (arrow, colour)
}

/// "16 Nov – 22 Nov 2026" for a week `[start, end)`.
fn period_dates(start: &str, end: &str) -> String {
    let parse = |t: &str| t.parse::<DateTime<Utc>>().ok();
    match (parse(start), parse(end)) {
        (Some(start), Some(end)) => {
            let last_day = end - chrono::Duration::seconds(1);
            format!(
                "{} – {}",
                start.format("%-d %b"),
                last_day.format("%-d %b %Y")
            )
        }
        _ => format!("{start} – {end}"),
    }
}

/// The status in words: what happened, with the sample where that is the
/// point.
fn status_words(metric: &MetricReport) -> String {
    match metric.status {
        Status::InsufficientSample => format!(
            "Sample too small (n = {}, needs {})",
            format::number(metric.sample_size as f64, 0),
            format::number(metric.min_sample.unwrap_or_default() as f64, 0)
        ),
        status => status.label().to_string(),
    }
}

impl MetricView {
    fn of(metric: &MetricReport, currency: &str) -> MetricView {
        let (colour, background) = status_colours(metric.status);
        let (change_arrow, change_colour) = change_look(metric);
        let change = format::change(metric.value, metric.previous, metric.format, currency);
        let margin = metric.extras.get("margin").copied().flatten();
        let change_note = match (&change, metric.change_meaningful) {
            (Some(_), false) if metric.value != metric.previous => Some(
                if metric.sample_size < metric.min_sample.unwrap_or_default() {
                    "sample too small to read a move"
                } else if margin.is_some() {
                    "within the margin of error"
                } else {
                    "no target to judge it by"
                },
            ),
            _ => None,
        };
        let value = match metric.format {
            Format::List => format!("{} items", format::number(metric.items.len() as f64, 0)),
            format if metric.items_only => items_range(metric, format, currency),
            format => match (metric.value, margin) {
                (Some(_), Some(margin)) if format == Format::Score => format!(
                    "{} ± {}",
                    format::number(metric.value.unwrap_or_default(), 0),
                    format::number(margin, 0)
                ),
                _ => format::value(metric.value, format, currency),
            },
        };
        MetricView {
            id: metric.id.clone(),
            name: metric.name.clone(),
            description: metric.description.clone(),
            value,
            target: metric
                .target
                .map(|target| format::value(Some(target), metric.format, currency)),
            target_source: metric.target_source.clone(),
            status: metric.status.as_str(),
            status_label: status_words(metric),
            status_colour: colour,
            status_background: background,
            change,
            change_arrow,
            change_colour,
            change_note,
            previous: metric
                .previous
                .map(|previous| format::value(Some(previous), metric.format, currency)),
            sample_size: format::number(metric.sample_size as f64, 0),
            window: match metric
                .window
                .strip_suffix('d')
                .filter(|d| d.parse::<u32>().is_ok())
            {
                Some(days) => format!("last {days} days"),
                None => "at week end".to_string(),
            },
            trend: sparkline(&metric.trend.iter().map(|p| p.value).collect::<Vec<_>>()),
            chart: None,
            parts_chart: None,
            parts_legend: None,
            details: details(metric, currency),
            breakdowns: breakdowns(metric, currency),
            drivers: driver_lines(metric, currency),
            items: items(metric, currency),
            clients: Vec::new(),
            clients_more: None,
        }
    }
}

/// Where a metric whose figures are its items (`-- headline: items`)
/// would show its figure: the lowest and highest of them ("81.6 % to
/// 84.0 %"), the one when they agree, "no data" without any.
fn items_range(metric: &MetricReport, format: Format, currency: &str) -> String {
    let values: Vec<f64> = metric.items.iter().filter_map(|item| item.value).collect();
    let low = values.iter().copied().reduce(f64::min);
    let high = values.iter().copied().reduce(f64::max);
    let low_text = format::value(low, format, currency);
    let high_text = format::value(high, format, currency);
    if low_text == high_text {
        low_text
    } else {
        format!("{low_text} to {high_text}")
    }
}

/// The alt text of a trend: the numbers it shows.
fn trend_words(metric: &MetricReport, currency: &str) -> String {
    let points: Vec<(&str, f64)> = metric
        .trend
        .iter()
        .filter_map(|p| p.value.map(|v| (p.period.as_str(), v)))
        .collect();
    let show = |v: f64| format::value(Some(v), metric.format, currency);
    match (points.first(), points.last()) {
        (Some(first), Some(last)) => {
            let low = points.iter().map(|p| p.1).fold(f64::MAX, f64::min);
            let high = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
            let mut words = format!(
                "{} over 12 weeks: {} in {}, {} in {}; lowest {}, highest {}",
                metric.name,
                show(first.1),
                first.0,
                show(last.1),
                last.0,
                show(low),
                show(high)
            );
            if let Some(target) = metric.target {
                words.push_str(&format!("; target {}", show(target)));
            }
            words
        }
        _ => format!("{}: no data over 12 weeks", metric.name),
    }
}

/// The chart of a metric's parts, with its legend: the MRR bridge on net
/// new MRR (from the report's movement metrics), the split on NPS (from
/// its promoters, passives and detractors).
fn parts_chart(report: &Report, metric: &MetricReport) -> Option<(Chart, String)> {
    let currency = &report.currency;
    match metric.id.as_str() {
        "net_new_mrr" => {
            // From the whole report: an audience may see net new MRR
            // without its parts.
            let steps = report.mrr_movements?;
            let money = |v: f64| format::money(v, currency);
            // Losses read as negative; `number` never writes "-0".
            let loss = |v: f64| format::money(-v, currency);
            let legend = format!(
                "New {} · Reactivation {} · Expansion {} · Contraction {} · Churned {} · Net {}",
                money(steps[0]),
                money(steps[1]),
                money(steps[2]),
                loss(steps[3]),
                loss(steps[4]),
                money(steps[0] + steps[1] + steps[2] - steps[3] - steps[4])
            );
            let alt = format!("MRR movements over the last 30 days: {legend}");
            charts::bridge(steps, alt).map(|chart| (chart, legend))
        }
        "nps" => {
            let count = |key: &str| metric.extras.get(key).copied().flatten();
            let (promoters, passives, detractors) = (
                count("promoters")?,
                count("passives")?,
                count("detractors")?,
            );
            let total = promoters + passives + detractors;
            if total <= 0.0 {
                return None;
            }
            let share = |n: f64| format!("{} %", format::number(n / total * 100.0, 0));
            let legend = format!(
                "Promoters {} ({}) · Passives {} ({}) · Detractors {} ({})",
                share(promoters),
                format::number(promoters, 0),
                share(passives),
                format::number(passives, 0),
                share(detractors),
                format::number(detractors, 0)
            );
            let alt = format!("NPS answers: {legend}");
            charts::nps_split(promoters, passives, detractors, alt).map(|chart| (chart, legend))
        }
        _ => None,
    }
}

/// The segments of a metric, one line per breakdown column; a status word
/// only where a segment needs attention.
fn breakdowns(metric: &MetricReport, currency: &str) -> Vec<String> {
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for segment in &metric.segments {
        let mut words = format!(
            "{} {}",
            segment.segment,
            format::value(segment.value, metric.format, currency)
        );
        if matches!(segment.status, Status::Watch | Status::OffTarget) {
            words.push_str(&format!(" ({})", segment.status.label()));
        }
        match lines
            .iter_mut()
            .find(|(dimension, _)| dimension == &segment.dimension)
        {
            Some((_, parts)) => parts.push(words),
            None => lines.push((segment.dimension.clone(), vec![words])),
        }
    }
    lines
        .into_iter()
        .map(|(dimension, parts)| format!("{}: {}", worded(&dimension), parts.join(" · ")))
        .collect()
}

/// The at-risk figure as the top of a message states it: how many
/// clients, the change since last week, and the MRR they pay.
fn at_risk_line(report: &Report, metric: &MetricReport) -> Option<String> {
    let count = metric.value?;
    let mut line = format!(
        "{} {} at risk",
        format::number(count, 0),
        if count == 1.0 { "client" } else { "clients" }
    );
    if let Some(change) = format::change(metric.value, metric.previous, Format::Count, "") {
        line.push_str(&format!(" ({change} since last week)"));
    }
    let mrr: f64 = report.at_risk.iter().filter_map(|client| client.mrr).sum();
    if count > 0.0 {
        line.push_str(&format!(
            " · {} of MRR",
            format::money(mrr, &report.currency)
        ));
    }
    Some(line)
}

/// Contributions shown per breakdown in the e-mail; report.json has all.
const DRIVERS_SHOWN: usize = 3;
/// A contribution under this share of the change is not worth a reader's
/// time in the e-mail.
const DRIVER_MIN_SHARE: f64 = 0.05;

/// The largest contributions to a material change, one line per
/// breakdown, each with its effect and share of the change: "By segment:
/// SMB -3.2 pts (rate, 78 %) · Enterprise -1.4 pts (mix, 34 %)". Already
/// ordered largest first.
fn driver_lines(metric: &MetricReport, currency: &str) -> Vec<String> {
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    for driver in &metric.drivers {
        if driver.share.abs() < DRIVER_MIN_SHARE {
            continue;
        }
        // The share of the change it makes; one that works against the
        // change says so rather than a negative share.
        let share = if driver.share > 0.0 {
            format!("{} %", format::number(driver.share * 100.0, 0))
        } else {
            "against".to_string()
        };
        let words = format!(
            "{} {} ({})",
            driver.segment,
            format::change(
                Some(driver.contribution),
                Some(0.0),
                metric.format,
                currency
            )
            .unwrap_or_default(),
            match driver.effect {
                Effect::Delta => share,
                effect => format!("{}, {share}", effect.as_str()),
            }
        );
        match lines
            .iter_mut()
            .find(|(dimension, _)| dimension == &driver.dimension)
        {
            Some((_, parts)) if parts.len() < DRIVERS_SHOWN => parts.push(words),
            Some(_) => {}
            None => lines.push((driver.dimension.clone(), vec![words])),
        }
    }
    lines
        .into_iter()
        .map(|(dimension, parts)| {
            format!(
                "By {}: {}",
                worded(&dimension).to_lowercase(),
                parts.join(" · ")
            )
        })
        .collect()
}

/// The items of a metric: comments with who said them, clients or
/// features with their figure; a heading (the query header's label for the
/// kind) where the kind changes.
fn items(metric: &MetricReport, currency: &str) -> Vec<ItemView> {
    let mut views = Vec::new();
    let mut last_kind: Option<&str> = None;
    let label_of = |kind: &str| {
        metric
            .item_labels
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, label)| label.clone())
    };
    for item in &metric.items {
        let text = |key: &str| item.texts.get(key).cloned().flatten();
        let label = label_of(&item.label);
        let heading = match &label {
            Some(label) if last_kind != Some(item.label.as_str()) => Some(label.clone()),
            _ => None,
        };
        last_kind = Some(item.label.as_str());
        let figure = format::value(item.value, metric.format, currency);
        let view = match (text("comment"), text("client")) {
            (Some(comment), client) => ItemView {
                heading,
                line: format!(
                    "{} · {} {}",
                    client.unwrap_or_else(|| "unknown client".to_string()),
                    text("survey").unwrap_or_default().to_uppercase(),
                    format::number(item.value.unwrap_or_default(), 0)
                ),
                comment: Some(comment),
            },
            (None, Some(client)) => ItemView {
                heading,
                line: format!("{client} {figure}"),
                comment: None,
            },
            (None, None) => ItemView {
                heading,
                line: format!("{} {figure}", label.unwrap_or_else(|| item.label.clone())),
                comment: None,
            },
        };
        views.push(view);
    }
    views
}

/// The extra figures of a metric, worded; the split and margin are shown
/// elsewhere.
fn details(metric: &MetricReport, currency: &str) -> Option<String> {
    let words: Vec<String> = metric
        .extras
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "margin" | "promoters" | "passives" | "detractors"
            )
        })
        .filter_map(|(name, value)| {
            let value = (*value)?;
            Some(match name.as_str() {
                "p90" => format!(
                    "p90 {}",
                    format::value(Some(value), metric.format, currency)
                ),
                "mean" => format!(
                    "mean {}",
                    format::value(Some(value), metric.format, currency)
                ),
                "unanswered" => format!("{} without a first response", format::number(value, 0)),
                "annualised" => format!(
                    "{} a year",
                    format::value(Some(value), Format::Percent, currency)
                ),
                other => format!("{} {}", other.replace('_', " "), format::number(value, 2)),
            })
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" · "))
}

/// Text colour and background of a status badge; the badge always carries
/// its words too, so colour is never the only signal.
fn status_colours(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::OnTarget => ("#0f5132", "#d1e7dd"),
        Status::Watch => ("#664d03", "#fff3cd"),
        Status::OffTarget => ("#842029", "#f8d7da"),
        Status::NoData | Status::InsufficientSample | Status::NoBenchmark => ("#41464b", "#e2e3e5"),
    }
}

/// A Unicode sparkline of a trend (oldest first); a gap for missing weeks:
/// the text part's chart.
fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let (Some(min), Some(max)) = (
        present.iter().copied().reduce(f64::min),
        present.iter().copied().reduce(f64::max),
    ) else {
        return String::new();
    };
    values
        .iter()
        .map(|value| match value {
            None => ' ',
            Some(_) if max == min => BARS[3],
            Some(v) => {
                let index = ((v - min) / (max - min) * 7.0).round() as usize;
                BARS[index.min(7)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[Some(1.0), Some(8.0), None, Some(4.5)]), "▁█ ▅");
        assert_eq!(sparkline(&[None, None]), "");
    }

    #[test]
    fn the_bridge_legend_signs_losses_but_never_zero() {
        let mut report = super::super::sample::report();
        report.mrr_movements = Some([100.0, 0.0, 50.0, 0.0, 30.0]);
        let net = report
            .metrics
            .iter()
            .find(|m| m.id == "net_new_mrr")
            .cloned()
            .expect("net new MRR");
        let (_, legend) = parts_chart(&report, &net).expect("a bridge");
        assert_eq!(
            legend,
            "New €100.00 · Reactivation €0.00 · Expansion €50.00 · Contraction €0.00 · Churned -€30.00 · Net €120.00"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            period_dates("2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"),
            "16 Nov – 22 Nov 2026"
        );
    }

    #[test]
    fn the_sample_renders_in_every_default_template() {
        let templates = Templates::load(None).expect("the defaults load");
        let report = super::super::sample::report();
        for layout in [Layout::Detailed, Layout::Summary] {
            let rendered = templates
                .render(&report, layout, ImageLinks::Inline)
                .expect("renders");
            assert!(rendered.html.contains("Satisfaction"), "{layout:?}");
            // Warehouse text is escaped.
            assert!(!rendered.html.contains("<b>&</b>"));
            for chart in &rendered.charts {
                assert!(rendered.html.contains(&format!("cid:{}", chart.name)));
            }
        }
    }
}
