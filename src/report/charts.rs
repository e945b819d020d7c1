//! The report's charts as PNG images: a 12-week sparkline per metric, the
//! MRR movement bridge of the week, and the NPS split.
//!
//! Drawn in memory with plotters at twice their display size (sharp on
//! high-density screens) and encoded with `png`. No chart draws text:
//! every word and number is HTML beside the image and in its alt text, so
//! the e-mail says everything with images blocked, no font is needed, and
//! the same data gives the same pixels on every machine.

use plotters::prelude::*;

use super::MetricReport;
use crate::config::Direction;

/// Pixels drawn per CSS pixel shown.
const SCALE: u32 = 2;

/// One chart: the PNG and what the HTML needs to show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// The file name in the report folder, and the Content-ID in mail.
    pub name: String,
    /// What the chart shows, in words and numbers (its alt text).
    pub alt: String,
    /// Display size in CSS pixels; the PNG is [`SCALE`] times larger.
    pub width: u32,
    pub height: u32,
    pub png: Vec<u8>,
}

const INK: RGBColor = RGBColor(55, 65, 81);
const GOOD: RGBColor = RGBColor(21, 128, 61);
const BAD: RGBColor = RGBColor(185, 28, 28);
const NEUTRAL: RGBColor = RGBColor(156, 163, 175);
const TARGET: RGBColor = RGBColor(37, 99, 235);

/// Draws into an RGB buffer of `width` × `height` CSS pixels and encodes
/// it; `None` only if encoding fails, which it does not for valid sizes.
fn draw(
    width: u32,
    height: u32,
    paint: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Option<()>,
) -> Option<Vec<u8>> {
    let (w, h) = (width * SCALE, height * SCALE);
    let mut buffer = vec![255u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        area.fill(&WHITE).ok()?;
        paint(&area)?;
        area.present().ok()?;
    }
    let mut png = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&buffer).ok()?;
    }
    Some(png)
}

/// A file-name-safe form of a metric id.
fn safe(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// The 12-week trend of a metric: a line with a dot on this week, in the
/// colour of its last move (by the benchmark's direction), and the target
/// as a dashed blue line when it falls in range.
pub fn sparkline(metric: &MetricReport, alt: String) -> Option<Chart> {
    let values: Vec<Option<f64>> = metric.trend.iter().map(|p| p.value).collect();
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    if present.len() < 2 {
        return None;
    }
    let (mut low, mut high) = present
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if let Some(target) = metric.target {
        // Show the target only where it does not flatten the line.
        let span = (high - low).max(f64::EPSILON);
        if target >= low - span && target <= high + span {
            low = low.min(target);
            high = high.max(target);
        }
    }
    if (high - low).abs() < f64::EPSILON {
        low -= 1.0;
        high += 1.0;
    }
    let colour = match (metric.value, metric.previous, metric.direction) {
        (Some(now), Some(before), Some(direction)) if now != before => {
            let better = match direction {
                Direction::HigherIsBetter => now > before,
                Direction::LowerIsBetter => now < before,
            };
            if better { GOOD } else { BAD }
        }
        _ => INK,
    };
    let (width, height) = (160, 36);
    let png = draw(width, height, |area| {
        let pad = (3 * SCALE) as i32;
        let (w, h) = area.dim_in_pixel();
        let x = |index: usize| pad + (index as i32) * (w as i32 - 2 * pad) / 11;
        let y = |value: f64| {
            let share = (value - low) / (high - low);
            pad + ((1.0 - share) * f64::from(h as i32 - 2 * pad)).round() as i32
        };
        if let Some(target) = metric.target.filter(|t| *t >= low && *t <= high) {
            let ty = y(target);
            let mut dash = pad;
            while dash < w as i32 - pad {
                area.draw(&PathElement::new(
                    vec![(dash, ty), ((dash + 6).min(w as i32 - pad), ty)],
                    TARGET.stroke_width(SCALE),
                ))
                .ok()?;
                dash += 12;
            }
        }
        let mut segment: Vec<(i32, i32)> = Vec::new();
        let mut segments = Vec::new();
        for (index, value) in values.iter().enumerate() {
            match value {
                Some(v) => segment.push((x(index), y(*v))),
                None if !segment.is_empty() => segments.push(std::mem::take(&mut segment)),
                None => {}
            }
        }
        segments.push(segment);
        for points in segments.into_iter().filter(|s| !s.is_empty()) {
            area.draw(&PathElement::new(points, colour.stroke_width(2 * SCALE)))
                .ok()?;
        }
        if let Some(Some(last)) = values.last() {
            area.draw(&Circle::new(
                (x(values.len() - 1), y(*last)),
                (3 * SCALE) as i32,
                colour.filled(),
            ))
            .ok()?;
        }
        Some(())
    })?;
    Some(Chart {
        name: format!("trend-{}.png", safe(&metric.id)),
        alt,
        width,
        height,
        png,
    })
}

/// The MRR bridge of the week: from zero, new, reactivation and expansion
/// up (green), contraction and churned down (red), and the net change
/// (dark). `steps` are the five movements in that order.
pub fn bridge(steps: [f64; 5], alt: String) -> Option<Chart> {
    let [new, reactivation, expansion, contraction, churned] = steps;
    let net = new + reactivation + expansion - contraction - churned;
    // Running totals: each bar spans from one to the next.
    let mut spans = Vec::new();
    let mut level = 0.0;
    for (delta, colour) in [
        (new, GOOD),
        (reactivation, GOOD),
        (expansion, GOOD),
        (-contraction, BAD),
        (-churned, BAD),
    ] {
        spans.push((level, level + delta, colour));
        level += delta;
    }
    spans.push((0.0, net, INK));
    let low = spans.iter().map(|s| s.0.min(s.1)).fold(0.0, f64::min);
    let high = spans.iter().map(|s| s.0.max(s.1)).fold(0.0, f64::max);
    if (high - low).abs() < f64::EPSILON {
        return None;
    }
    let (width, height) = (600, 120);
    let png = draw(width, height, |area| {
        let (w, h) = area.dim_in_pixel();
        let pad = (6 * SCALE) as i32;
        let column = (w as i32 - 2 * pad) / spans.len() as i32;
        let y = |value: f64| {
            pad + ((high - value) / (high - low) * f64::from(h as i32 - 2 * pad)).round() as i32
        };
        let zero = y(0.0);
        area.draw(&PathElement::new(
            vec![(pad, zero), (w as i32 - pad, zero)],
            NEUTRAL.stroke_width(SCALE),
        ))
        .ok()?;
        for (index, (from, to, colour)) in spans.iter().enumerate() {
            let left = pad + index as i32 * column + column / 6;
            let right = pad + (index as i32 + 1) * column - column / 6;
            let (top, bottom) = (y(from.max(*to)), y(from.min(*to)));
            area.draw(&Rectangle::new(
                [(left, top), (right, bottom.max(top + SCALE as i32))],
                colour.filled(),
            ))
            .ok()?;
        }
        Some(())
    })?;
    Some(Chart {
        name: "mrr-bridge.png".to_string(),
        alt,
        width,
        height,
        png,
    })
}

/// The NPS split: one bar, detractors (red), passives (grey) and
/// promoters (green), in proportion.
pub fn nps_split(promoters: f64, passives: f64, detractors: f64, alt: String) -> Option<Chart> {
    let total = promoters + passives + detractors;
    if total <= 0.0 {
        return None;
    }
    let (width, height) = (600, 20);
    let png = draw(width, height, |area| {
        let (w, h) = area.dim_in_pixel();
        let mut left = 0i32;
        for (count, colour) in [(detractors, BAD), (passives, NEUTRAL), (promoters, GOOD)] {
            let right = left + (count / total * f64::from(w)).round() as i32;
            if right > left {
                area.draw(&Rectangle::new(
                    [(left, 0), (right, h as i32)],
                    colour.filled(),
                ))
                .ok()?;
            }
            left = right;
        }
        Some(())
    })?;
    Some(Chart {
        name: "nps-split.png".to_string(),
        alt,
        width,
        height,
        png,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Width and height from a PNG's IHDR chunk.
    fn png_size(png: &[u8]) -> (u32, u32) {
        let word = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
        (word(16), word(20))
    }

    #[test]
    fn charts_are_png_at_twice_their_size() {
        let chart = bridge([100.0, 20.0, 50.0, 30.0, 60.0], "bridge".into()).unwrap();
        assert!(chart.png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(png_size(&chart.png), (chart.width * 2, chart.height * 2));
        let split = nps_split(50.0, 30.0, 20.0, "split".into()).unwrap();
        assert_eq!(png_size(&split.png), (1200, 40));
        assert!(nps_split(0.0, 0.0, 0.0, String::new()).is_none());
        assert!(bridge([0.0; 5], String::new()).is_none());
    }

    #[test]
    fn the_same_data_gives_the_same_pixels() {
        let a = bridge([1.0, 2.0, 3.0, 4.0, 5.0], String::new()).unwrap();
        let b = bridge([1.0, 2.0, 3.0, 4.0, 5.0], String::new()).unwrap();
        assert_eq!(a.png, b.png);
    }
}
