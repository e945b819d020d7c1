//! Stage 5, the report: the plain data of a run (what report.json holds)
//! and its rendering for people (HTML and plain text, with Handlebars).
//!
//! Rendering never sees Arrow types: it takes a [`Report`] of plain numbers
//! and strings. All rounding happens here, in [`format`], and nowhere else.

pub mod build;
pub mod charts;
pub mod format;
pub mod render;
pub mod sample;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::Direction;
use crate::drivers::Effect;
use crate::evaluate::Status;
use crate::metrics::{Format, Item, Unit};

/// Everything a run found, as report.json serializes it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub title: String,
    pub currency: String,
    pub period: PeriodInfo,
    pub generated_at: String,
    /// The data gate's verdict on the week.
    pub data_gate: DataGateReport,
    /// The ids of the (at most three) metrics whose moves matter most this
    /// week: largest in watch bands, meaningful moves only.
    pub headline: Vec<String>,
    /// The order of the sections (`reporting.sections`).
    #[serde(skip)]
    pub sections: Vec<String>,
    /// The MRR movements of the window (new, reactivation, expansion,
    /// contraction, churned) when the report has all five: the bridge
    /// chart, kept whichever metrics an audience sees.
    #[serde(skip)]
    pub mrr_movements: Option<[f64; 5]>,
    pub metrics: Vec<MetricReport>,
    /// The paying clients at risk this week, riskiest first, each with the
    /// signals that put it there (outputs.md `at_risk`): the items of the
    /// config's `at_risk.metric`, one entry per client.
    /// Shared by every audience's view, as a metric's items are.
    pub at_risk: Shared<Vec<AtRiskClient>>,
    /// The id of the metric the list comes from, when the report has it.
    #[serde(skip)]
    pub at_risk_metric: Option<String>,
}

/// Whether a metric has no items: report.json leaves `items` out then.
fn no_items(items: &Shared<Vec<Item>>) -> bool {
    items.is_empty()
}

/// A part of the report every audience's view shares rather than copies:
/// read through `Deref`, written to report.json as the value itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    pub fn new(value: T) -> Shared<T> {
        Shared(Arc::new(value))
    }
}

impl<T> From<T> for Shared<T> {
    fn from(value: T) -> Shared<T> {
        Shared::new(value)
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<'a, T> IntoIterator for &'a Shared<Vec<T>> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.as_ref().serialize(serializer)
    }
}

/// One client at risk. Names and details are warehouse data, escaped
/// wherever they are shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AtRiskClient {
    pub client_id: String,
    pub client: Option<String>,
    pub account_manager: Option<String>,
    pub mrr: Option<f64>,
    /// The sum of the weights of its signals.
    pub score: Option<f64>,
    pub signals: Vec<RiskSignal>,
}

/// One reason a client is at risk.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RiskSignal {
    /// The signal's kind (`usage_drop`, `detractor`…).
    pub signal: String,
    /// Its label, from the query header's `items`.
    pub label: String,
    /// What the signal saw, in words.
    pub detail: String,
    pub weight: Option<f64>,
}

/// Whether the week's data passed the gate, and what failed if not
/// (outputs.md `data_gate`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DataGateReport {
    pub passed: bool,
    pub problems: Vec<String>,
}

impl DataGateReport {
    pub fn passed() -> DataGateReport {
        DataGateReport {
            passed: true,
            problems: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeriodInfo {
    pub label: String,
    pub start: String,
    pub end: String,
    pub timezone: String,
}

/// One metric with its context.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricReport {
    pub id: String,
    pub version: u32,
    pub sql_sha256: String,
    pub description: String,
    /// How the metric reads, from its query's header.
    pub name: String,
    pub section: String,
    pub format: Format,
    /// For list metrics, the label of each kind of item.
    #[serde(skip)]
    pub item_labels: Vec<(String, String)>,
    /// Whether its figures are its items (`-- headline: items`): the
    /// report shows their range, not "no data".
    #[serde(skip)]
    pub items_only: bool,
    pub unit: Unit,
    pub value: Option<f64>,
    /// `as_of_end` or a number of days such as `90d`.
    pub window: String,
    pub window_start: String,
    pub window_end: String,
    pub sample_size: u64,
    pub previous: Option<f64>,
    pub target: Option<f64>,
    /// Where the target comes from (an industry figure, "internal target").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_source: Option<String>,
    pub direction: Option<Direction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch_band: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_sample: Option<u64>,
    pub status: Status,
    /// Whether the change since last week says something (sample large
    /// enough, move beyond the margin of error).
    pub change_meaningful: bool,
    pub trend: Vec<TrendPoint>,
    pub segments: Vec<SegmentReport>,
    /// What moved the figure, where its change is material: each
    /// segment's contribution to `value - previous`, per breakdown,
    /// largest first (outputs.md `drivers`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drivers: Vec<DriverReport>,
    /// The rows of a list-valued metric (features, comments, clients).
    /// Shared, not copied, by every audience's view of the report: at demo
    /// scale 1600 `at_risk_clients` has 23 MB of them, and each edition
    /// cloned and dropped them (0.13 s an edition).
    #[serde(skip_serializing_if = "no_items")]
    pub items: Shared<Vec<Item>>,
    /// Extra figures of the metric (p90, mean, unanswered, …).
    #[serde(flatten)]
    pub extras: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendPoint {
    pub period: String,
    pub value: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SegmentReport {
    /// The client column the clients are split by (`segment`, `region`…).
    pub dimension: String,
    pub segment: String,
    pub value: Option<f64>,
    pub sample_size: u64,
    pub status: Status,
    /// The segment's value the week before, for a metric whose change
    /// splits over its segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<f64>,
}

/// One segment's share in a metric's change (outputs.md `drivers`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DriverReport {
    /// The client column the clients are split by.
    pub dimension: String,
    pub segment: String,
    /// In the metric's unit; a breakdown's contributions sum to
    /// `value - previous`.
    pub contribution: f64,
    pub effect: Effect,
    /// The contribution as a share of the change (0.78 = 78 %).
    pub share: f64,
}

/// An instant as report.json writes it: UTC, whole seconds, `Z`.
pub fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Report {
    /// The report as one audience sees it: only its metrics, in the
    /// config's order.
    pub fn for_audience(&self, metrics: Option<&[String]>) -> Report {
        let mut report = self.clone();
        if let Some(selected) = metrics {
            report.metrics.retain(|m| selected.contains(&m.id));
        }
        report
    }

    /// report.json's text.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        Ok(text)
    }
}
