//! The worked examples of metrics.md, each as a tiny warehouse run through
//! the real query of its metric (and so through the NPS UDF).

use chrono_tz::Tz;
use clientpulse::catalog::{NeededBy, Warehouse};
use clientpulse::metrics::{self, MetricValue, QueryLibrary};
use clientpulse::period::Period;

use crate::support::repo;
use crate::support::warehouse::{Fixture, Money, V, answer, client, subscription};

/// Week 2026-W47: end = 2026-11-23T00:00Z.
const WEEK: &str = "2026-W47";
/// Inside every window ending at 2026-11-23 (7 days before the end).
const INSIDE: &str = "2026-11-16T12:00:00Z";

/// Runs metric `id` for week 2026-W47 on the warehouse at `root`.
pub fn figure(root: &std::path::Path, id: &str) -> MetricValue {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let (library, problems) = QueryLibrary::load(&repo().join("queries"));
        assert!(problems.is_empty(), "{problems:?}");
        let query = library.select(id, None).expect("query exists");
        let ctx = metrics::new_session(&Default::default());
        let warehouse = Warehouse::open(&ctx, &root.display().to_string(), None).expect("open");
        let tables: Vec<(String, NeededBy)> = metrics::tables_read(&ctx, query)
            .expect("parses")
            .into_iter()
            .map(|t| (t, NeededBy::default()))
            .collect();
        warehouse
            .register_tables(&ctx, &tables)
            .await
            .expect("tables");
        let week = Period::parse(WEEK, Tz::UTC).expect("week");
        metrics::run(
            &ctx,
            query,
            &metrics::Parameters::new(&week, query.window, 30),
        )
        .await
        .expect("runs")
    })
}

fn assert_close(actual: Option<f64>, expected: f64, tolerance: f64) {
    let actual = actual.expect("a value");
    assert!(
        (actual - expected).abs() <= tolerance,
        "expected {expected} ± {tolerance}, got {actual}"
    );
}

/// Writes NPS or CSAT answers, one respondent each, all inside the window.
fn answers(survey: &'static str, scale: i32, scores: &[i32]) -> (tempfile::TempDir, Fixture) {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    // Respondent ids are leaked once per test run: fine for fixtures.
    let rows: Vec<Vec<V>> = scores
        .iter()
        .enumerate()
        .map(|(i, score)| {
            let respondent: &'static str = Box::leak(format!("r{i}").into_boxed_str());
            answer(
                &format!("a{i}"),
                "C1",
                respondent,
                survey,
                *score,
                scale,
                INSIDE,
            )
        })
        .collect();
    fixture.table("survey_responses", &rows);
    (dir, fixture)
}

fn repeat(score: i32, times: usize) -> Vec<i32> {
    vec![score; times]
}

#[test]
fn nps_60_promoters_30_passives_10_detractors_is_50() {
    let scores = [repeat(9, 60), repeat(7, 30), repeat(3, 10)].concat();
    let (dir, _) = answers("nps", 10, &scores);
    let nps = figure(dir.path(), "nps");
    assert_close(nps.value, 50.0, 1e-9);
    assert_eq!(nps.sample_size, 100);
}

#[test]
fn nps_30_percent_promoters_20_percent_detractors_is_10() {
    let scores = [repeat(10, 3), repeat(8, 5), repeat(0, 2)].concat();
    let (dir, _) = answers("nps", 10, &scores);
    assert_close(figure(dir.path(), "nps").value, 10.0, 1e-9);
}

#[test]
fn nps_of_1_7_7_8_9_10_is_16_67() {
    let (dir, _) = answers("nps", 10, &[1, 7, 7, 8, 9, 10]);
    let nps = figure(dir.path(), "nps");
    assert_close(nps.value, 16.67, 0.005);
    assert_eq!(nps.sample_size, 6);
}

#[test]
fn nps_without_answers_is_null() {
    let (dir, _) = answers("nps", 10, &[]);
    let nps = figure(dir.path(), "nps");
    assert_eq!(nps.value, None);
    assert_eq!(nps.sample_size, 0);
}

#[test]
fn csat_five_point_counts() {
    // 5:42, 4:32, 3:10, 2:9, 1:14 → satisfied (4-5) = 74 of 107.
    let scores = [
        repeat(5, 42),
        repeat(4, 32),
        repeat(3, 10),
        repeat(2, 9),
        repeat(1, 14),
    ]
    .concat();
    let (dir, _) = answers("csat", 5, &scores);
    let csat = figure(dir.path(), "csat");
    assert_close(csat.value, 0.6916, 0.00005);
    assert_eq!(csat.sample_size, 107);
    assert_close(figure(dir.path(), "csat_average").value, 3.738, 0.0005);
}

#[test]
fn csat_ten_point_half_satisfied() {
    // 200 answers, 100 of them 7 or above.
    let scores = [repeat(7, 40), repeat(10, 60), repeat(6, 50), repeat(1, 50)].concat();
    let (dir, _) = answers("csat", 10, &scores);
    assert_close(figure(dir.path(), "csat").value, 0.5, 1e-12);
}

/// `count` clients paying `monthly` each from long before the window;
/// the first `lost` of them end inside the 30-day window.
fn paying_clients(count: usize, lost: usize, monthly: f64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    let rows: Vec<Vec<V>> = (0..count)
        .map(|i| {
            let id: &'static str = Box::leak(format!("C{i}").into_boxed_str());
            let end = (i < lost).then_some("2026-11-10T00:00:00Z");
            subscription(id, id, monthly, 1, None, "2026-01-01T00:00:00Z", end)
        })
        .collect();
    fixture.table("subscriptions", &rows);
    let clients: Vec<Vec<V>> = (0..count)
        .map(|i| client(Box::leak(format!("C{i}").into_boxed_str()), "SMB"))
        .collect();
    fixture.table("clients", &clients);
    dir
}

#[test]
fn logo_churn_500_clients_5_lost_is_1_percent() {
    let dir = paying_clients(500, 5, 100.0);
    let churn = figure(dir.path(), "client_churn_rate");
    assert_close(churn.value, 0.01, 1e-12);
    assert_eq!(churn.sample_size, 500);
    assert_close(figure(dir.path(), "churned_clients").value, 5.0, 0.0);
}

#[test]
fn mrr_500_paying_clients_at_arpc_200_is_100_000() {
    let dir = paying_clients(500, 0, 200.0);
    assert_close(figure(dir.path(), "mrr").value, 100_000.0, 1e-6);
    assert_close(figure(dir.path(), "paying_clients").value, 500.0, 0.0);
}

#[test]
fn mrr_normalisation() {
    // 2 000 a year → 166.67; 90 a quarter → 30; 120 a year, 10 % off → 9.
    for (amount, months, discount, expected) in [
        (2000.0, 12, None, 166.67),
        (90.0, 3, None, 30.0),
        (120.0, 12, Some(0.1), 9.0),
    ] {
        for money in [Money::Decimal, Money::Double] {
            let dir = tempfile::tempdir().expect("tmp");
            let fixture = Fixture::new(dir.path(), money);
            fixture.table(
                "subscriptions",
                &[subscription(
                    "S1",
                    "C1",
                    amount,
                    months,
                    discount,
                    "2026-01-01T00:00:00Z",
                    None,
                )],
            );
            assert_close(figure(dir.path(), "mrr").value, expected, 0.005);
        }
    }
}
