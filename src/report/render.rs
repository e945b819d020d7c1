//! Renders a [`Report`] to HTML and plain text with Handlebars.
//!
//! Templates live in `report-templates/`; the binary carries a copy of the
//! defaults so that it runs anywhere, and a config may point at its own
//! folder. Templates see a view of display strings only, already rounded
//! and labelled, so a template edit can never change a number. Handlebars
//! escapes every `{{value}}` in the HTML template, and warehouse text
//! (client names, comments) only ever reaches a template that way.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use handlebars::Handlebars;
use serde::Serialize;
use thiserror::Error;

use super::{MetricReport, Report, format};
use crate::config::Direction;
use crate::diagnostic::Diagnostic;
use crate::evaluate::Status;
use crate::metrics::Unit;

const DEFAULT_HTML: &str = include_str!("../../report-templates/report.html.hbs");
const DEFAULT_TEXT: &str = include_str!("../../report-templates/report.txt.hbs");
const HTML_NAME: &str = "report.html.hbs";
const TEXT_NAME: &str = "report.txt.hbs";

#[derive(Debug, Error)]
pub enum RenderError {
    #[error("cannot write report.json: {message}")]
    Json { message: String },
    #[error("rendering {template} failed: {}", one_line(&error.to_string()))]
    Render {
        template: &'static str,
        error: Box<handlebars::RenderError>,
    },
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The two compiled templates: HTML escaping for one, none for the other.
pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

impl Templates {
    /// The templates of `dir`, or the built-in defaults. Every problem of
    /// both templates is returned, each at its file, line and column:
    /// syntax errors when compiling, and what only shows when rendering
    /// (an unknown helper, a missing partial, a misspelt field) from a
    /// trial render of a sample report with every kind of metric.
    pub fn load(dir: Option<&Path>) -> Result<Templates, Vec<Diagnostic>> {
        let mut problems = Vec::new();
        let mut read = |name: &str, default: &str| -> Option<(PathBuf, String)> {
            match dir {
                None => Some((
                    PathBuf::from(format!("report-templates/{name}")),
                    default.to_string(),
                )),
                Some(dir) => {
                    let path = dir.join(name);
                    match std::fs::read(&path) {
                        Ok(bytes) => match String::from_utf8(bytes) {
                            Ok(text) => Some((path, text)),
                            Err(error) => {
                                problems.push(crate::diagnostic::not_utf8(
                                    &path,
                                    error.as_bytes(),
                                    error.utf8_error().valid_up_to(),
                                ));
                                None
                            }
                        },
                        Err(error) => {
                            problems.push(Diagnostic::in_file(
                                &path,
                                format!("cannot read the template: {error}"),
                            ));
                            None
                        }
                    }
                }
            }
        };
        let html_source = read(HTML_NAME, DEFAULT_HTML);
        let text_source = read(TEXT_NAME, DEFAULT_TEXT);
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        let mut text = Handlebars::new();
        text.set_strict_mode(true);
        text.register_escape_fn(handlebars::no_escape);
        let mut compiled = |registry: &mut Handlebars<'static>,
                            name: &str,
                            source: Option<(PathBuf, String)>| {
            let (path, body) = source?;
            match registry.register_template_string(name, body) {
                Ok(()) => Some(path),
                Err(error) => {
                    let (line, column) = error.pos().unzip();
                    // pest lists every token it expected; the position
                    // and a hint serve a reader better.
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
                    None
                }
            }
        };
        let html_path = compiled(&mut html, HTML_NAME, html_source);
        let text_path = compiled(&mut text, TEXT_NAME, text_source);
        let (Some(html_path), Some(text_path)) = (html_path, text_path) else {
            return Err(problems);
        };
        let templates = Templates { html, text };
        let sample = super::sample::report();
        for (path, rendered) in [
            (html_path, templates.html(&sample)),
            (text_path, templates.text(&sample)),
        ] {
            if let Err(RenderError::Render { error, .. }) = rendered {
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

    pub fn html(&self, report: &Report) -> Result<String, RenderError> {
        self.html
            .render(HTML_NAME, &ReportView::of(report))
            .map_err(|error| RenderError::Render {
                template: HTML_NAME,
                error: Box::new(error),
            })
    }

    pub fn text(&self, report: &Report) -> Result<String, RenderError> {
        self.text
            .render(TEXT_NAME, &ReportView::of(report))
            .map_err(|error| RenderError::Render {
                template: TEXT_NAME,
                error: Box::new(error),
            })
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
struct MetricView {
    id: String,
    name: String,
    description: String,
    value: String,
    change: Option<String>,
    /// Green for good news, red for bad, grey for none (by the benchmark's
    /// direction).
    change_colour: &'static str,
    previous: Option<String>,
    target: Option<String>,
    status: &'static str,
    status_label: &'static str,
    status_colour: &'static str,
    status_background: &'static str,
    sample_size: String,
    window: String,
    trend: String,
    /// The metric's extra figures in words ("p90 3h 12m · mean 2h 5m").
    details: Option<String>,
    /// One line per breakdown: "Segment: Enterprise 38.0 (Off target) · …".
    breakdowns: Vec<String>,
    /// The rows of a list-valued metric, worded.
    items: Vec<ItemView>,
}

/// One feature, client or comment of a list-valued metric. Every string
/// that came from the warehouse is escaped by Handlebars in the HTML.
#[derive(Serialize)]
struct ItemView {
    heading: Option<String>,
    line: String,
    comment: Option<String>,
}

impl ReportView {
    fn of(report: &Report) -> ReportView {
        let count = |status: Status| report.metrics.iter().filter(|m| m.status == status).count();
        let on_target = count(Status::OnTarget);
        let watch = count(Status::Watch);
        let off_target = count(Status::OffTarget);
        ReportView {
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
            metrics: report
                .metrics
                .iter()
                .map(|metric| MetricView::of(metric, &report.currency))
                .collect(),
        }
    }
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

impl MetricView {
    fn of(metric: &MetricReport, currency: &str) -> MetricView {
        let (colour, background) = status_colours(metric.status);
        let change = format::change(metric.value, metric.previous, metric.unit, currency);
        let change_colour = match (metric.value, metric.previous, metric.direction) {
            (Some(now), Some(before), Some(direction)) if now != before => {
                let better = match direction {
                    Direction::HigherIsBetter => now > before,
                    Direction::LowerIsBetter => now < before,
                };
                if better { "#0f5132" } else { "#842029" }
            }
            _ => "#4b5563",
        };
        MetricView {
            id: metric.id.clone(),
            name: display_name(&metric.id),
            description: metric.description.clone(),
            value: match metric.unit {
                Unit::Comments => {
                    format!("{} comments", format::number(metric.sample_size as f64, 0))
                }
                unit => format::value(metric.value, unit, currency),
            },
            change,
            change_colour,
            previous: metric
                .previous
                .map(|previous| format::value(Some(previous), metric.unit, currency)),
            target: metric
                .target
                .map(|target| format::value(Some(target), metric.unit, currency)),
            status: metric.status.as_str(),
            status_label: metric.status.label(),
            status_colour: colour,
            status_background: background,
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
            details: details(metric, currency),
            breakdowns: breakdowns(metric, currency),
            items: items(metric, currency),
        }
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
            format::value(segment.value, metric.unit, currency)
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
        .map(|(dimension, parts)| format!("{}: {}", display_name(&dimension), parts.join(" · ")))
        .collect()
}

/// The items of a metric: comments with who said them, clients or
/// features with their figure; a heading where the kind changes.
fn items(metric: &MetricReport, currency: &str) -> Vec<ItemView> {
    let mut views = Vec::new();
    let mut last_kind: Option<&str> = None;
    for item in &metric.items {
        let text = |key: &str| item.texts.get(key).cloned().flatten();
        let heading = (last_kind != Some(item.label.as_str())).then(|| {
            match item.label.as_str() {
                "testimonial" => "Testimonials",
                "to_fix" => "What to fix",
                "rise" => "Largest rise",
                "fall" => "Largest fall",
                other => other,
            }
            .to_string()
        });
        last_kind = Some(item.label.as_str());
        let view = match metric.unit {
            Unit::Comments => ItemView {
                heading,
                line: format!(
                    "{} · {} {}",
                    text("client").unwrap_or_else(|| "unknown client".to_string()),
                    text("survey").unwrap_or_default().to_uppercase(),
                    format::number(item.value.unwrap_or_default(), 0)
                ),
                comment: text("comment"),
            },
            _ => match text("client") {
                Some(client) => ItemView {
                    heading,
                    line: format!(
                        "{client} {}",
                        format::value(item.value, metric.unit, currency)
                    ),
                    comment: None,
                },
                None => ItemView {
                    heading: None,
                    line: format!(
                        "{} {}",
                        item.label,
                        format::value(item.value, metric.unit, currency)
                    ),
                    comment: None,
                },
            },
        };
        views.push(view);
    }
    views
}

/// The extra figures of a metric, worded.
fn details(metric: &MetricReport, currency: &str) -> Option<String> {
    let words: Vec<String> = metric
        .extras
        .iter()
        .filter_map(|(name, value)| {
            let value = (*value)?;
            Some(match name.as_str() {
                "p90" => format!("p90 {}", format::value(Some(value), metric.unit, currency)),
                "mean" => format!("mean {}", format::value(Some(value), metric.unit, currency)),
                "unanswered" => format!("{} without a first response", format::number(value, 0)),
                "annualised" => format!(
                    "{} a year",
                    format::value(Some(value), Unit::Fraction, currency)
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

/// A Unicode sparkline of a trend (oldest first); a gap for missing weeks.
/// Works in every mail client, unlike SVG or scripts.
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

/// The name a reader knows a metric by.
pub fn display_name(id: &str) -> String {
    let known = match id {
        "nps" => "Net Promoter Score",
        "nps_margin" => "NPS margin of error",
        "csat" => "Customer satisfaction (CSAT)",
        "csat_average" => "CSAT average score",
        "ces" => "Customer effort (CES)",
        "ces_average" => "CES average score",
        "mrr" => "Monthly recurring revenue",
        "arr" => "Annual recurring revenue",
        "arpc" => "Average revenue per client",
        "paying_clients" => "Paying clients",
        "churned_clients" => "Churned clients",
        "client_churn_rate" => "Client churn rate",
        "client_retention_rate" => "Client retention rate",
        "new_clients" => "New clients",
        "nrr" => "Net revenue retention",
        "grr" => "Gross revenue retention",
        "clv" => "Client lifetime value",
        "new_mrr" => "New MRR",
        "reactivation_mrr" => "Reactivation MRR",
        "expansion_mrr" => "Expansion MRR",
        "contraction_mrr" => "Contraction MRR",
        "churned_mrr" => "Churned MRR",
        "net_new_mrr" => "Net new MRR",
        "gross_mrr_churn_rate" => "Gross MRR churn",
        "net_mrr_churn_rate" => "Net MRR churn",
        "revenue_growth_per_client" => "Revenue growth per client",
        "repeat_purchase_rate" => "Repeat purchase rate",
        "first_response_time" => "First response time (median)",
        "time_to_resolution" => "Time to resolution (median)",
        "open_tickets" => "Open tickets",
        "project_on_time_rate" => "Projects delivered on time",
        "overdue_projects" => "Overdue projects",
        "onboarding_completion_rate" => "Onboardings completed on time",
        "active_client_rate" => "Active clients",
        "stickiness" => "Stickiness (DAU/MAU)",
        "feature_adoption" => "Feature adoption",
        "feedback" => "What clients say",
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    let words = id.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
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
    fn names() {
        assert_eq!(display_name("overdue_projects"), "Overdue projects");
        assert_eq!(
            period_dates("2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"),
            "16 Nov – 22 Nov 2026"
        );
    }
}
