//! `benchmarks.yaml`: the target every figure is held against.
//!
//! The file is a top-level mapping from metric id to its benchmark. Raw
//! entries are parsed section by section (every problem at once), then
//! validated into [`Benchmark`]s. Whether an id names a real metric is
//! checked later, against the query library, by the pipeline.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::yaml;
use crate::diagnostic::Diagnostic;

/// Which way is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBenchmark {
    direction: Direction,
    target: f64,
    /// How far short of the target still counts as `watch` (same unit).
    #[serde(default)]
    watch_band: f64,
    #[serde(default)]
    min_sample: u64,
    #[serde(default)]
    segments: BTreeMap<String, RawSegmentTarget>,
    /// Where the target comes from: an industry figure and its source, or
    /// "internal target".
    source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegmentTarget {
    target: f64,
    watch_band: Option<f64>,
}

/// A validated benchmark for one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Benchmark {
    pub direction: Direction,
    pub target: f64,
    pub watch_band: f64,
    pub min_sample: u64,
    /// Per-segment overrides of target and band, by segment value.
    pub segments: BTreeMap<String, SegmentTarget>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentTarget {
    pub target: f64,
    pub watch_band: f64,
}

/// All benchmarks, by metric id, with the line each was declared on.
#[derive(Debug, Clone, Default)]
pub struct Benchmarks {
    pub by_metric: BTreeMap<String, Benchmark>,
    pub lines: BTreeMap<String, usize>,
}

impl Benchmarks {
    pub fn get(&self, metric_id: &str) -> Option<&Benchmark> {
        self.by_metric.get(metric_id)
    }
}

/// Parses and validates a benchmarks file's text; problems are appended.
pub fn parse(path: &Path, text: &str, problems: &mut Vec<Diagnostic>) -> Benchmarks {
    let raw: BTreeMap<String, RawBenchmark> = yaml::load_sections(
        path,
        text,
        |all: &mut BTreeMap<String, RawBenchmark>, section| all.extend(section),
        problems,
    )
    .unwrap_or_default();
    let mut benchmarks = Benchmarks::default();
    for (id, raw) in raw {
        let line = yaml::line_of_top_level_key(text, &id);
        let mut bad = |message: String| problems.push(Diagnostic::at_line(path, line, message));
        if !raw.target.is_finite() {
            bad(format!("benchmark `{id}`: target must be a finite number"));
            continue;
        }
        if !(raw.watch_band.is_finite() && raw.watch_band >= 0.0) {
            bad(format!("benchmark `{id}`: watch_band must be zero or more"));
            continue;
        }
        let mut segments = BTreeMap::new();
        for (segment, target) in raw.segments {
            let band = target.watch_band.unwrap_or(raw.watch_band);
            if !(target.target.is_finite() && band.is_finite() && band >= 0.0) {
                bad(format!(
                    "benchmark `{id}`, segment `{segment}`: target and watch_band must be finite, watch_band zero or more"
                ));
                continue;
            }
            segments.insert(
                segment,
                SegmentTarget {
                    target: target.target,
                    watch_band: band,
                },
            );
        }
        if let Some(line) = line {
            benchmarks.lines.insert(id.clone(), line);
        }
        benchmarks.by_metric.insert(
            id,
            Benchmark {
                direction: raw.direction,
                target: raw.target,
                watch_band: raw.watch_band,
                min_sample: raw.min_sample,
                segments,
                source: raw.source,
            },
        );
    }
    benchmarks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_broken_entry() {
        let text = "nps:\n  direction: higher_is_better\n  target: 40\n  colour: red\ncsat:\n  direction: upward\n  target: 0.8\nmrr:\n  direction: higher_is_better\n  target: 1000\n";
        let mut problems = Vec::new();
        let benchmarks = parse(Path::new("b.yaml"), text, &mut problems);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].line, Some(4));
        assert!(problems[0].message.contains("unknown field `colour`"));
        assert_eq!(problems[1].line, Some(6));
        assert!(benchmarks.get("mrr").is_some());
        assert!(benchmarks.get("nps").is_none());
    }
}
