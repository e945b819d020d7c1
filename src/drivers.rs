//! Stage 4, with evaluation: what moved a figure. Splits a metric's change
//! since last week over the segments of one breakdown (segment, region,
//! account manager…), so the report can say "NPS −4.1: SMB −3.2 (rate),
//! Enterprise −1.4 (mix)".
//!
//! Pure functions over plain numbers, like [`crate::evaluate`]: no IO, no
//! clock, no Arrow. How a metric's figure is made of its segments' figures
//! comes from its query header ([`Composition`]):
//!
//! - `sum` (money, counts): each segment contributes its own change,
//!   `Δv_i = v_i¹ − v_i⁰` (effect `delta`);
//! - `weighted_mean` (NPS, CSAT, rates): with `w_i = n_i / Σ n` each
//!   segment's share of the sample and `r_i` its value, the change
//!   `Σ w_i¹ r_i¹ − Σ w_i⁰ r_i⁰` splits exactly, segment by segment, into a
//!   mix effect `(w_i¹ − w_i⁰) · (r_i⁰ + r_i¹) / 2` (its weight changed) and a
//!   rate effect `(r_i¹ − r_i⁰) · (w_i⁰ + w_i¹) / 2` (its value changed). A
//!   segment with no sample in one of the weeks takes its other week's value
//!   there, so its whole contribution is mix.
//!
//! Either way the contributions of one breakdown sum to the metric's own
//! change. A breakdown whose segments do not make up the whole (rows whose
//! client is not in `clients`, a metric declared `sum` that is not) gives
//! no drivers rather than a split that does not add up.

use serde::Serialize;

use crate::metrics::Composition;

/// Which part of a segment's contribution a driver is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The segment's own change, for a metric that is a sum.
    Delta,
    /// The change of the segment's weight in the sample.
    Mix,
    /// The change of the segment's value.
    Rate,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Delta => "delta",
            Effect::Mix => "mix",
            Effect::Rate => "rate",
        }
    }
}

/// One segment's figure in both weeks: its value and its sample size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Part<'a> {
    pub segment: &'a str,
    pub now: Option<f64>,
    pub now_sample: u64,
    pub before: Option<f64>,
    pub before_sample: u64,
}

/// One segment's contribution to a metric's change.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub segment: String,
    pub effect: Effect,
    pub contribution: f64,
}

/// The contributions of `parts` to the change from `before` to `now`,
/// largest first (by absolute size; ties in segment order), or `None` when
/// the parts do not make up the whole in both weeks.
pub fn decompose(
    composition: Composition,
    now: f64,
    before: f64,
    parts: &[Part<'_>],
) -> Option<Vec<Contribution>> {
    let mut contributions = match composition {
        Composition::Sum => sum(now, before, parts)?,
        Composition::WeightedMean => weighted_mean(now, before, parts)?,
    };
    contributions.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
    Some(contributions)
}

/// Whether `parts` add up to `whole`, allowing for the rounding of f64
/// sums (a relative 1e-9, which no real discrepancy comes near).
fn adds_up(parts: f64, whole: f64) -> bool {
    (parts - whole).abs() <= 1e-9 * whole.abs().max(1.0)
}

fn sum(now: f64, before: f64, parts: &[Part<'_>]) -> Option<Vec<Contribution>> {
    let now_parts: f64 = parts.iter().map(|p| p.now.unwrap_or(0.0)).sum();
    let before_parts: f64 = parts.iter().map(|p| p.before.unwrap_or(0.0)).sum();
    if !adds_up(now_parts, now) || !adds_up(before_parts, before) {
        return None;
    }
    Some(
        parts
            .iter()
            .map(|part| Contribution {
                segment: part.segment.to_string(),
                effect: Effect::Delta,
                contribution: part.now.unwrap_or(0.0) - part.before.unwrap_or(0.0),
            })
            .collect(),
    )
}

fn weighted_mean(now: f64, before: f64, parts: &[Part<'_>]) -> Option<Vec<Contribution>> {
    // A segment's value counts only with a sample behind it; its weight is
    // that sample, and 0 without a value.
    let side = |value: Option<f64>, sample: u64| match value {
        Some(value) if sample > 0 => (Some(value), sample),
        _ => (None, 0),
    };
    let sides: Vec<_> = parts
        .iter()
        .map(|p| (side(p.now, p.now_sample), side(p.before, p.before_sample)))
        .collect();
    let now_total: u64 = sides.iter().map(|((_, n1), _)| n1).sum();
    let before_total: u64 = sides.iter().map(|(_, (_, n0))| n0).sum();
    if now_total == 0 || before_total == 0 {
        return None;
    }
    let mut contributions = Vec::with_capacity(parts.len() * 2);
    let (mut now_mean, mut before_mean) = (0.0, 0.0);
    for (part, &((now_value, n1), (before_value, n0))) in parts.iter().zip(&sides) {
        let (r1, r0) = match (now_value, before_value) {
            (Some(r1), Some(r0)) => (r1, r0),
            (Some(r1), None) => (r1, r1),
            (None, Some(r0)) => (r0, r0),
            (None, None) => continue,
        };
        let w1 = n1 as f64 / now_total as f64;
        let w0 = n0 as f64 / before_total as f64;
        now_mean += w1 * r1;
        before_mean += w0 * r0;
        for (effect, contribution) in [
            (Effect::Mix, (w1 - w0) * (r0 + r1) / 2.0),
            (Effect::Rate, (r1 - r0) * (w0 + w1) / 2.0),
        ] {
            contributions.push(Contribution {
                segment: part.segment.to_string(),
                effect,
                contribution,
            });
        }
    }
    (adds_up(now_mean, now) && adds_up(before_mean, before)).then_some(contributions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(segment: &str, now: f64, now_sample: u64, before: f64, before_sample: u64) -> Part<'_> {
        Part {
            segment,
            now: Some(now),
            now_sample,
            before: Some(before),
            before_sample,
        }
    }

    fn total(contributions: &[Contribution]) -> f64 {
        contributions.iter().map(|c| c.contribution).sum()
    }

    #[test]
    fn a_sum_splits_into_each_segments_own_change() {
        let parts = [
            part("SMB", 300.0, 3, 500.0, 5),
            part("Enterprise", 1200.0, 2, 900.0, 2),
        ];
        let drivers = decompose(Composition::Sum, 1500.0, 1400.0, &parts).unwrap();
        assert_eq!(drivers[0].segment, "Enterprise");
        assert_eq!(drivers[0].contribution, 300.0);
        assert_eq!(drivers[1].contribution, -200.0);
        assert!(drivers.iter().all(|d| d.effect == Effect::Delta));
        assert_eq!(total(&drivers), 100.0);
    }

    #[test]
    fn parts_that_do_not_make_up_the_whole_give_no_drivers() {
        let parts = [part("SMB", 300.0, 3, 500.0, 5)];
        assert_eq!(decompose(Composition::Sum, 1500.0, 500.0, &parts), None);
        // A median is not the weighted mean of its segments' medians.
        let parts = [part("A", 10.0, 1, 10.0, 1), part("B", 30.0, 3, 30.0, 3)];
        assert_eq!(
            decompose(Composition::WeightedMean, 30.0, 30.0, &parts),
            None
        );
    }

    #[test]
    fn pure_mix_when_only_the_weights_move() {
        // SMB at 0, Enterprise at 50 both weeks; Enterprise's share of the
        // answers goes from 20 % to 60 %: NPS 10 → 30, all of it mix.
        let parts = [
            part("SMB", 0.0, 80, 0.0, 80),
            part("Enterprise", 50.0, 120, 50.0, 20),
        ];
        let drivers = decompose(Composition::WeightedMean, 30.0, 10.0, &parts).unwrap();
        assert!((total(&drivers) - 20.0).abs() < 1e-12);
        for driver in &drivers {
            if driver.effect == Effect::Rate {
                assert_eq!(driver.contribution, 0.0);
            }
        }
        let enterprise_mix = drivers
            .iter()
            .find(|d| d.segment == "Enterprise" && d.effect == Effect::Mix)
            .unwrap();
        assert!((enterprise_mix.contribution - 20.0).abs() < 1e-12);
    }

    #[test]
    fn pure_rate_when_only_the_values_move() {
        // Same weights (50/50) both weeks; SMB falls from 20 to 10.
        let parts = [
            part("SMB", 10.0, 50, 20.0, 50),
            part("Enterprise", 40.0, 50, 40.0, 50),
        ];
        let drivers = decompose(Composition::WeightedMean, 25.0, 30.0, &parts).unwrap();
        assert_eq!(drivers[0].segment, "SMB");
        assert_eq!(drivers[0].effect, Effect::Rate);
        assert!((drivers[0].contribution + 5.0).abs() < 1e-12);
        assert!(drivers[1..].iter().all(|d| d.contribution == 0.0));
    }

    #[test]
    fn a_segment_new_this_week_contributes_mix_only() {
        let parts = [
            part("SMB", 20.0, 50, 20.0, 100),
            Part {
                segment: "Startup",
                now: Some(80.0),
                now_sample: 50,
                before: None,
                before_sample: 0,
            },
        ];
        let drivers = decompose(Composition::WeightedMean, 50.0, 20.0, &parts).unwrap();
        assert!((total(&drivers) - 30.0).abs() < 1e-12);
        let startup_rate = drivers
            .iter()
            .find(|d| d.segment == "Startup" && d.effect == Effect::Rate)
            .unwrap();
        assert_eq!(startup_rate.contribution, 0.0);
    }
}
