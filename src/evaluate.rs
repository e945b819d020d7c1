//! Stage 4, benchmark evaluation: holds each figure against its benchmark.
//!
//! Pure functions over plain numbers: no IO, no clock, no Arrow. The order
//! of the rules is the order a reader needs them: a missing value says "no
//! data" before anything else; a sample too small to trust says so even
//! when the value happens to look good; only then is the target compared.

use serde::Serialize;

use crate::config::{Benchmark, Direction};

/// How a figure stands against its benchmark (outputs.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    OnTarget,
    Watch,
    OffTarget,
    NoData,
    InsufficientSample,
    NoBenchmark,
}

impl Status {
    /// The words a reader sees.
    pub fn label(self) -> &'static str {
        match self {
            Status::OnTarget => "On target",
            Status::Watch => "Watch",
            Status::OffTarget => "Off target",
            Status::NoData => "No data",
            Status::InsufficientSample => "Sample too small",
            Status::NoBenchmark => "No target",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::OnTarget => "on_target",
            Status::Watch => "watch",
            Status::OffTarget => "off_target",
            Status::NoData => "no_data",
            Status::InsufficientSample => "insufficient_sample",
            Status::NoBenchmark => "no_benchmark",
        }
    }
}

/// The target and band that apply to a figure, per segment where the
/// benchmark sets one.
pub fn target_for(benchmark: &Benchmark, segment: Option<&str>) -> (f64, f64) {
    match segment.and_then(|s| benchmark.segments.get(s)) {
        Some(segment) => (segment.target, segment.watch_band),
        None => (benchmark.target, benchmark.watch_band),
    }
}

/// The status of `value` (with its sample size) against `benchmark`.
pub fn status(
    value: Option<f64>,
    sample_size: u64,
    benchmark: Option<&Benchmark>,
    segment: Option<&str>,
) -> Status {
    let Some(value) = value else {
        return Status::NoData;
    };
    let Some(benchmark) = benchmark else {
        return Status::NoBenchmark;
    };
    if sample_size < benchmark.min_sample {
        return Status::InsufficientSample;
    }
    let (target, band) = target_for(benchmark, segment);
    // How far the value is on the good side of the target (negative: short).
    let ahead = match benchmark.direction {
        Direction::HigherIsBetter => value - target,
        Direction::LowerIsBetter => target - value,
    };
    // A relative tolerance keeps a value that equals its target in decimal
    // (0.7 against 0.7 computed as 0.6999999999) on target.
    let tolerance = 1e-9 * target.abs().max(1.0);
    if ahead >= -tolerance {
        Status::OnTarget
    } else if ahead >= -band - tolerance {
        Status::Watch
    } else {
        Status::OffTarget
    }
}

/// The status of a metric's own figure. A list-valued metric (comments,
/// features) has no single value to judge: with items it is
/// `no_benchmark`, without them `no_data`.
pub fn metric_status(
    value: Option<f64>,
    sample_size: u64,
    benchmark: Option<&Benchmark>,
    has_items: bool,
) -> Status {
    if value.is_none() && has_items {
        return Status::NoBenchmark;
    }
    status(value, sample_size, benchmark, None)
}

/// The status of one segment's figure. A segment's MRR or count is a part
/// of the total (`additive`): held against the total's target it would
/// always miss, so only a target set for that segment judges it. Rates and
/// scores are held against the total's target when the segment has none.
pub fn segment_status(
    value: Option<f64>,
    sample_size: u64,
    benchmark: Option<&Benchmark>,
    segment: &str,
    additive: bool,
) -> Status {
    let benchmark = benchmark.filter(|b| !additive || b.segments.contains_key(segment));
    status(value, sample_size, benchmark, Some(segment))
}

/// Whether a week-on-week move says something: both weeks have a value,
/// this week's sample reaches the benchmark's minimum, and the move is
/// larger than the metric's own margin of error where it has one (survey
/// metrics return a `margin` column). A move that fails this is shown in
/// grey and never makes the headline.
pub fn change_is_meaningful(
    value: Option<f64>,
    previous: Option<f64>,
    sample_size: u64,
    min_sample: u64,
    margin: Option<f64>,
) -> bool {
    let (Some(now), Some(before)) = (value, previous) else {
        return false;
    };
    let delta = (now - before).abs();
    delta > 0.0 && sample_size >= min_sample && margin.is_none_or(|margin| delta > margin)
}

/// Whether a move is material enough to say what drove it: meaningful
/// (see [`change_is_meaningful`]) and outside the margin of error where
/// the metric has one, else at least one watch band (a tenth of the target
/// where the band is zero) where it has a benchmark, else any meaningful
/// move.
pub fn change_is_material(
    value: Option<f64>,
    previous: Option<f64>,
    benchmark: Option<&Benchmark>,
    meaningful: bool,
    has_margin: bool,
) -> bool {
    if !meaningful {
        return false;
    }
    if has_margin || benchmark.is_none() {
        return true;
    }
    move_in_bands(value, previous, benchmark, meaningful).is_some_and(|bands| bands >= 1.0)
}

/// How large a move is against the metric's benchmark: the change in
/// watch bands (a tenth of the target where the band is zero). `None`
/// without a benchmark or a meaningful change.
pub fn move_in_bands(
    value: Option<f64>,
    previous: Option<f64>,
    benchmark: Option<&Benchmark>,
    meaningful: bool,
) -> Option<f64> {
    let benchmark = benchmark?;
    let delta = (value? - previous?).abs();
    let band = if benchmark.watch_band > 0.0 {
        benchmark.watch_band
    } else {
        benchmark.target.abs() / 10.0
    };
    (meaningful && band > 0.0).then_some(delta / band)
}

/// The ids of the (at most) three metrics whose moves matter most, given
/// each one's move in bands; largest first, ties in report order.
pub fn headline(moves: &[(String, Option<f64>)]) -> Vec<String> {
    let mut ranked: Vec<(usize, &String, f64)> = moves
        .iter()
        .enumerate()
        .filter_map(|(index, (id, size))| size.map(|size| (index, id, size)))
        .collect();
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    ranked
        .into_iter()
        .take(3)
        .map(|(_, id, _)| id.clone())
        .collect()
}

/// The `(metric, segment)` pairs of the benchmarks whose segment no
/// client belongs to: a typo in the benchmarks file, or a segment renamed
/// in the warehouse. Either way the target would never judge anything.
pub fn unknown_segments(
    benchmarks: &crate::config::Benchmarks,
    segments: &std::collections::BTreeSet<String>,
) -> Vec<(String, String)> {
    benchmarks
        .by_metric
        .iter()
        .flat_map(|(metric, benchmark)| {
            benchmark
                .segments
                .keys()
                .filter(|segment| !segments.contains(*segment))
                .map(move |segment| (metric.clone(), segment.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_move_needs_a_sample_and_to_exceed_the_margin() {
        // NPS of five answers moving 20 points: not meaningful.
        assert!(!change_is_meaningful(Some(20.0), Some(0.0), 5, 30, None));
        // Enough answers, but inside the margin of error.
        assert!(!change_is_meaningful(
            Some(-18.0),
            Some(-10.0),
            120,
            30,
            Some(14.0)
        ));
        assert!(change_is_meaningful(
            Some(-30.0),
            Some(-10.0),
            120,
            30,
            Some(14.0)
        ));
        assert!(!change_is_meaningful(Some(1.0), Some(1.0), 120, 0, None));
        assert!(!change_is_meaningful(None, Some(1.0), 120, 0, None));
    }

    #[test]
    fn the_headline_is_the_three_largest_moves_in_bands() {
        let b = benchmark(Direction::HigherIsBetter); // band 5
        assert_eq!(
            move_in_bands(Some(60.0), Some(50.0), Some(&b), true),
            Some(2.0)
        );
        assert_eq!(move_in_bands(Some(60.0), Some(50.0), Some(&b), false), None);
        assert_eq!(move_in_bands(Some(60.0), Some(50.0), None, true), None);
        let moves = vec![
            ("a".to_string(), Some(0.5)),
            ("b".to_string(), None),
            ("c".to_string(), Some(3.0)),
            ("d".to_string(), Some(0.5)),
            ("e".to_string(), Some(1.0)),
        ];
        assert_eq!(headline(&moves), ["c", "e", "a"]);
    }

    fn benchmark(direction: Direction) -> Benchmark {
        Benchmark {
            direction,
            target: 50.0,
            watch_band: 5.0,
            min_sample: 30,
            segments: BTreeMap::new(),
            source: None,
        }
    }

    #[test]
    fn higher_is_better() {
        let b = benchmark(Direction::HigherIsBetter);
        assert_eq!(status(Some(50.0), 30, Some(&b), None), Status::OnTarget);
        assert_eq!(status(Some(45.0), 30, Some(&b), None), Status::Watch);
        assert_eq!(status(Some(44.9), 30, Some(&b), None), Status::OffTarget);
        assert_eq!(
            status(Some(90.0), 29, Some(&b), None),
            Status::InsufficientSample
        );
        assert_eq!(status(None, 0, Some(&b), None), Status::NoData);
        assert_eq!(status(Some(1.0), 100, None, None), Status::NoBenchmark);
    }

    #[test]
    fn segments_of_additive_metrics_need_their_own_target() {
        let mut b = benchmark(Direction::HigherIsBetter);
        assert_eq!(
            segment_status(Some(10.0), 40, Some(&b), "SMB", true),
            Status::NoBenchmark
        );
        assert_eq!(
            segment_status(Some(10.0), 40, Some(&b), "SMB", false),
            Status::OffTarget
        );
        b.segments.insert(
            "SMB".into(),
            crate::config::SegmentTarget {
                target: 8.0,
                watch_band: 1.0,
            },
        );
        assert_eq!(
            segment_status(Some(10.0), 40, Some(&b), "SMB", true),
            Status::OnTarget
        );
        assert_eq!(metric_status(None, 0, Some(&b), true), Status::NoBenchmark);
        assert_eq!(metric_status(None, 0, Some(&b), false), Status::NoData);
    }

    #[test]
    fn lower_is_better() {
        let b = benchmark(Direction::LowerIsBetter);
        assert_eq!(status(Some(49.0), 30, Some(&b), None), Status::OnTarget);
        assert_eq!(status(Some(55.0), 30, Some(&b), None), Status::Watch);
        assert_eq!(status(Some(56.0), 30, Some(&b), None), Status::OffTarget);
    }
}
