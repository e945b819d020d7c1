//! Numbers as a reader sees them. The only place where figures are rounded.

use crate::metrics::Format;

/// Groups thousands with thin-free commas: 1234567 → "1,234,567".
fn group_thousands(whole: u64) -> String {
    let digits = whole.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A number with `decimals` places and grouped thousands.
pub fn number(value: f64, decimals: usize) -> String {
    let rounded = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = rounded.split_once('.').unwrap_or((&rounded, ""));
    let whole: u64 = whole.parse().unwrap_or(0);
    let sign = if value < 0.0 && rounded.chars().any(|c| c.is_ascii_digit() && c != '0') {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{}", group_thousands(whole))
    } else {
        format!("{sign}{}.{fraction}", group_thousands(whole))
    }
}

fn currency_symbol(currency: &str) -> Option<&'static str> {
    match currency {
        "EUR" => Some("€"),
        "USD" => Some("$"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        _ => None,
    }
}

/// Money: whole units from 1,000 up (a leader reads "€98,765"), cents
/// below.
pub fn money(value: f64, currency: &str) -> String {
    let decimals = if value.abs() >= 1000.0 { 0 } else { 2 };
    let amount = number(value, decimals);
    match currency_symbol(currency) {
        Some(symbol) => match amount.strip_prefix('-') {
            Some(positive) => format!("-{symbol}{positive}"),
            None => format!("{symbol}{amount}"),
        },
        None => format!("{amount} {currency}"),
    }
}

/// A duration in seconds as "2d 4h", "3h 12m", "45m" or "30s".
pub fn duration(seconds: f64) -> String {
    let total = seconds.abs().round() as u64;
    let sign = if seconds < 0.0 && total > 0 { "-" } else { "" };
    let (days, hours, minutes, secs) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    let text = if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        format!("{secs}s")
    };
    format!("{sign}{text}")
}

/// A figure in its unit, or "no data".
pub fn value(value: Option<f64>, format: Format, currency: &str) -> String {
    let Some(value) = value else {
        return "no data".to_string();
    };
    match format {
        Format::Score => number(value, 1),
        Format::Percent => format!("{} %", number(value * 100.0, 1)),
        Format::Money => money(value, currency),
        Format::Count | Format::List => number(value, 0),
        Format::Duration => duration(value),
        Format::Points => number(value, 2),
    }
}

/// The change from `previous` to `current`, in the unit's own terms
/// (percentage points for rates, points for scores), with its sign. A
/// move smaller than the figure's last shown digit reads "<0.1 pp" (its
/// direction is the arrow's), not "0.0 pp" beside an arrow, which looks
/// like an error to a reader who trusts every digit.
pub fn change(
    current: Option<f64>,
    previous: Option<f64>,
    format: Format,
    currency: &str,
) -> Option<String> {
    let delta = current? - previous?;
    if delta == 0.0 {
        return Some("no change".to_string());
    }
    let size = delta.abs();
    let (shown, smallest) = match format {
        Format::Score => (format!("{} pts", number(size, 1)), "0.1 pts".to_string()),
        Format::Percent => (
            format!("{} pp", number(size * 100.0, 1)),
            "0.1 pp".to_string(),
        ),
        Format::Money => (money(size, currency), money(0.01, currency)),
        Format::Count | Format::List => (number(size, 0), "1".to_string()),
        Format::Duration => (duration(size), "1s".to_string()),
        Format::Points => (number(size, 2), "0.01".to_string()),
    };
    if !shown.chars().any(|c| c.is_ascii_digit() && c != '0') {
        return Some(format!("<{smallest}"));
    }
    let sign = if delta > 0.0 { "+" } else { "-" };
    Some(format!("{sign}{shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(number(1234567.891, 2), "1,234,567.89");
        assert_eq!(number(-0.04, 1), "0.0");
        assert_eq!(number(-12.5, 1), "-12.5");
        assert_eq!(money(100000.0, "EUR"), "€100,000");
        assert_eq!(money(166.6666, "CHF"), "166.67 CHF");
        assert_eq!(value(Some(0.69158), Format::Percent, "EUR"), "69.2 %");
        assert_eq!(value(None, Format::Score, "EUR"), "no data");
        assert_eq!(duration(11_520.0), "3h 12m");
        assert_eq!(duration(200_000.0), "2d 7h");
        assert_eq!(
            change(Some(0.5), Some(0.45), Format::Percent, "EUR").unwrap(),
            "+5.0 pp"
        );
        assert_eq!(
            change(Some(40.0), Some(42.5), Format::Score, "EUR").unwrap(),
            "-2.5 pts"
        );
        assert_eq!(
            change(Some(-1200.0), Some(0.0), Format::Money, "EUR").unwrap(),
            "-€1,200"
        );
        assert_eq!(
            change(Some(60.0), Some(3700.0), Format::Duration, "EUR").unwrap(),
            "-1h 0m"
        );
    }

    #[test]
    fn a_move_below_the_last_digit_shown_says_so() {
        // 69.2 % both weeks, to one decimal: not "▼ 0.0 pp".
        assert_eq!(
            change(Some(0.69158), Some(0.69161), Format::Percent, "EUR").unwrap(),
            "<0.1 pp"
        );
        assert_eq!(
            change(Some(0.69170), Some(0.69158), Format::Percent, "EUR").unwrap(),
            "<0.1 pp"
        );
        assert_eq!(
            change(Some(40.02), Some(40.0), Format::Score, "EUR").unwrap(),
            "<0.1 pts"
        );
        assert_eq!(
            change(Some(10.001), Some(10.0), Format::Money, "EUR").unwrap(),
            "<€0.01"
        );
        assert_eq!(
            change(Some(10.001), Some(10.0), Format::Money, "CHF").unwrap(),
            "<0.01 CHF"
        );
        assert_eq!(
            change(Some(3.2), Some(3.0), Format::Count, "EUR").unwrap(),
            "<1"
        );
        assert_eq!(
            change(Some(100.4), Some(100.0), Format::Duration, "EUR").unwrap(),
            "<1s"
        );
        assert_eq!(
            change(Some(1.001), Some(1.0), Format::Points, "EUR").unwrap(),
            "<0.01"
        );
        // One digit's worth is shown as it is.
        assert_eq!(
            change(Some(0.6926), Some(0.6915), Format::Percent, "EUR").unwrap(),
            "+0.1 pp"
        );
    }
}
