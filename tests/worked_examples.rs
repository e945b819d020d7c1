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
        let ctx = metrics::new_session(&Default::default(), &Default::default()).expect("session");
        let warehouse =
            Warehouse::open(&ctx, &root.display().to_string(), &Default::default()).expect("open");
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
            &metrics::Parameters::new(&week, query.window, &Default::default()),
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

/// Writes subscription rows `(client, monthly at a, monthly at b)`: rows
/// change at 2026-11-10, inside the 30-day window [2026-10-24, 2026-11-23).
fn movements(rows: &[(&'static str, f64, f64)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    let mut subscriptions = Vec::new();
    for (client, at_a, at_b) in rows {
        let id_a: &'static str = Box::leak(format!("{client}-a").into_boxed_str());
        let id_b: &'static str = Box::leak(format!("{client}-b").into_boxed_str());
        if *at_a > 0.0 {
            subscriptions.push(subscription(
                id_a,
                client,
                *at_a,
                1,
                None,
                "2026-01-01T00:00:00Z",
                Some("2026-11-10T00:00:00Z"),
            ));
        }
        if *at_b > 0.0 {
            subscriptions.push(subscription(
                id_b,
                client,
                *at_b,
                1,
                None,
                "2026-11-10T00:00:00Z",
                None,
            ));
        }
    }
    fixture.table("subscriptions", &subscriptions);
    dir
}

#[test]
fn revenue_churn_gross_and_net() {
    // MRR(a) 100: A churns 10, B contracts 30 → 20, C expands 20 → 30,
    // D stays at 40. Gross (10 + 10) / 100 = 0.20; net (10 + 10 - 10) /
    // 100 = 0.10.
    let dir = movements(&[
        ("A", 10.0, 0.0),
        ("B", 30.0, 20.0),
        ("C", 20.0, 30.0),
        ("D", 40.0, 40.0),
    ]);
    assert_close(
        figure(dir.path(), "gross_mrr_churn_rate").value,
        0.20,
        1e-12,
    );
    assert_close(figure(dir.path(), "net_mrr_churn_rate").value, 0.10, 1e-12);
    assert_close(figure(dir.path(), "churned_mrr").value, 10.0, 1e-12);
    assert_close(figure(dir.path(), "contraction_mrr").value, 10.0, 1e-12);
    assert_close(figure(dir.path(), "expansion_mrr").value, 10.0, 1e-12);
    assert_close(figure(dir.path(), "net_new_mrr").value, -10.0, 1e-12);
}

#[test]
fn retention_from_s_n_and_e() {
    // S = 100 paying at a; 30 of them churn; N = 20 new clients start in
    // the window and pay at b: E = 70 + 20 = 90. (E - N) / S = 0.70.
    let mut rows: Vec<(&'static str, f64, f64)> = Vec::new();
    for i in 0..100 {
        let id: &'static str = Box::leak(format!("S{i}").into_boxed_str());
        rows.push((id, 50.0, if i < 30 { 0.0 } else { 50.0 }));
    }
    for i in 0..20 {
        rows.push((Box::leak(format!("N{i}").into_boxed_str()), 0.0, 50.0));
    }
    let dir = movements(&rows);
    let retention = figure(dir.path(), "client_retention_rate");
    assert_close(retention.value, 0.70, 1e-12);
    assert_eq!(retention.sample_size, 100);
    assert_close(figure(dir.path(), "client_churn_rate").value, 0.30, 1e-12);
    assert_close(figure(dir.path(), "new_clients").value, 20.0, 0.0);
    assert_close(figure(dir.path(), "new_mrr").value, 1000.0, 1e-9);
}

#[test]
fn annualised_churn() {
    // Monthly 0.01 → 0.1136; 0.05 → 0.4596 (1 - (1 - m)^12).
    for (lost, annualised) in [(1, 0.1136), (5, 0.4596)] {
        let dir = paying_clients(100, lost, 10.0);
        let churn = figure(dir.path(), "client_churn_rate");
        assert_close(churn.value, lost as f64 / 100.0, 1e-12);
        assert_close(churn.extras["annualised"], annualised, 0.00005);
    }
}

#[test]
fn arr_and_arpc_from_mrr() {
    let dir = paying_clients(500, 0, 200.0);
    assert_close(figure(dir.path(), "arr").value, 1_200_000.0, 1e-6);
    assert_close(figure(dir.path(), "arpc").value, 200.0, 1e-9);
}

#[test]
fn clv_of_the_worked_example() {
    // One client orders 48 times at 100 in the year: order value 100, 4
    // orders a month. Monthly churn 1/36: 36 clients pay at the start of
    // the 30 days, one leaves. CLV = 100 * 4 * 36 = 14 400.
    let dir = paying_clients(36, 1, 10.0);
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    let orders: Vec<Vec<V>> = (0..48)
        .map(|i| {
            let id: &'static str = Box::leak(format!("O{i}").into_boxed_str());
            let at: &'static str = Box::leak(
                format!("2026-{:02}-{:02}T10:00:00Z", 1 + i / 5, 1 + (i % 5) * 5).into_boxed_str(),
            );
            vec![V::S(id), V::S("C30"), V::T(at), V::F(100.0), V::S("EUR")]
        })
        .collect();
    fixture.table("orders", &orders);
    let clv = figure(dir.path(), "clv");
    assert_close(clv.value, 14_400.0, 1e-6);
    // Without churn, the lifespan is unbounded: CLV is null.
    let no_churn = paying_clients(36, 0, 10.0);
    Fixture::new(no_churn.path(), Money::Decimal).table("orders", &orders);
    assert_eq!(figure(no_churn.path(), "clv").value, None);
}
