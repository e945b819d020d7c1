//! Numbers that cannot drift: the same week gives bit-identical figures in
//! a single run and in a backfill, run after run, with one partition or
//! four and in batches large or small (every sum of DOUBLEs is exact, so
//! the order rows arrive in cannot show in the last bit); money is summed
//! exactly, so unchanged subscriptions never show a phantom movement.

use crate::support::warehouse::{Fixture, Money, client, subscription};
use crate::support::{Project, clientpulse, metric, run, stderr};

const REVENUE: &[&str] = &[
    "mrr",
    "arr",
    "arpc",
    "paying_clients",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "net_new_mrr",
    "gross_mrr_churn_rate",
    "net_mrr_churn_rate",
    "nrr",
    "grr",
    "clv",
    "client_churn_rate",
    "revenue_growth_per_client",
    "csat_average",
    "first_response_time",
];

/// report.json of `period` without the instant it was generated at.
fn figures(project: &Project, out: &str, period: &str) -> String {
    let path = project.path().join(out).join(period).join("report.json");
    let text = std::fs::read_to_string(&path).expect("report.json");
    let mut report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    report["generated_at"] = serde_json::Value::Null;
    serde_json::to_string_pretty(&report).expect("JSON")
}

fn run_with(project: &Project, partitions: u32, out: &str, period: &[&str]) {
    run_in_batches(project, partitions, 8192, out, period);
}

/// Runs with `partitions` and record batches of `batch_size` rows: small
/// batches spread a table's rows over the partitions in another order.
fn run_in_batches(project: &Project, partitions: u32, batch_size: u32, out: &str, period: &[&str]) {
    let mut command = clientpulse();
    command
        .env(
            "DATAFUSION_EXECUTION_TARGET_PARTITIONS",
            partitions.to_string(),
        )
        .env("DATAFUSION_EXECUTION_BATCH_SIZE", batch_size.to_string())
        .arg("run")
        .args(period)
        .arg("--config")
        .arg(project.config())
        .arg("--out")
        .arg(project.path().join(out));
    let output = run(&mut command);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn the_same_week_gives_the_same_bytes_however_it_is_run() {
    let project = Project::new("warehouse");
    let output = run(clientpulse()
        .args(["demo-data", "--end", "2026-11-23", "--out"])
        .arg(project.path().join("warehouse")));
    assert!(output.status.success(), "{}", stderr(&output));
    project.write_config_with("warehouse", REVENUE, crate::support::DEFAULT_DELIVERY);

    run_with(&project, 1, "one", &["--period", "2026-W46"]);
    run_with(&project, 4, "four", &["--period", "2026-W46"]);
    run_with(&project, 4, "again", &["--period", "2026-W46"]);
    run_in_batches(&project, 3, 50, "small", &["--period", "2026-W46"]);
    run_with(
        &project,
        3,
        "backfill",
        &["--from", "2026-W45", "--to", "2026-W47"],
    );
    let one = figures(&project, "one", "2026-W46");
    for (out, what) in [
        ("four", "1 vs 4 partitions"),
        ("again", "run after run"),
        ("small", "3 partitions and batches of 50 rows"),
        ("backfill", "single run vs backfill"),
    ] {
        let other = figures(&project, out, "2026-W46");
        let first_difference = one
            .lines()
            .zip(other.lines())
            .position(|(a, b)| a != b)
            .map(|line| {
                format!(
                    "line {}: {:?} vs {:?}",
                    line + 1,
                    one.lines().nth(line),
                    other.lines().nth(line)
                )
            });
        assert_eq!(first_difference, None, "{what}");
        assert_eq!(one, other, "{what}");
    }
    // The demo has movements: the comparison is not of empty figures.
    let report: serde_json::Value = serde_json::from_str(&one).expect("JSON");
    assert!(metric(&report, "mrr")["value"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(
        metric(&report, "mrr")["trend"][0]["value"]
            .as_f64()
            .unwrap_or(0.0)
            > 0.0
    );
}

/// A client renews one of its three subscriptions at the same price in the
/// window: the same three prices at both ends, added in another order
/// (0.1 + 0.2 + 0.3 at the start, 0.2 + 0.3 + 0.1 at the end, which differ
/// in the last bit in binary floating point). Exact sums see no movement;
/// float sums saw a contraction of 1e-16 and put the client in its sample.
#[test]
fn unchanged_subscriptions_never_move() {
    for money in [Money::Decimal, Money::Double] {
        let project = Project::new("warehouse");
        let fixture = Fixture::new(&project.path().join("warehouse"), money);
        let start = "2025-01-01T00:00:00Z";
        let renewal = "2026-11-01T00:00:00Z";
        fixture.table(
            "subscriptions",
            &[
                subscription("S1", "A", 0.1, 1, None, start, Some(renewal)),
                subscription("S2", "A", 0.2, 1, None, start, None),
                subscription("S3", "A", 0.3, 1, None, start, None),
                subscription("S4", "B", 19.99, 1, Some(0.15), start, None),
                subscription("S5", "B", 0.01, 12, None, start, None),
                subscription("S1", "A", 0.1, 1, None, renewal, None),
            ],
        );
        fixture.table("clients", &[client("A", "SMB"), client("B", "SMB")]);
        fixture.empty_rest();
        project.write_config_with(
            "warehouse",
            &[
                "expansion_mrr",
                "contraction_mrr",
                "net_new_mrr",
                "nrr",
                "grr",
            ],
            crate::support::DEFAULT_DELIVERY,
        );
        for partitions in [1, 4] {
            let out = format!("out-{partitions}");
            run_with(&project, partitions, &out, &["--period", "2026-W47"]);
            let text =
                std::fs::read_to_string(project.path().join(&out).join("2026-W47/report.json"))
                    .expect("report.json");
            let report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            for id in ["expansion_mrr", "contraction_mrr", "net_new_mrr"] {
                assert_eq!(metric(&report, id)["value"], 0.0, "{money:?} {id}");
                assert_eq!(metric(&report, id)["sample_size"], 0, "{money:?} {id}");
            }
            for id in ["nrr", "grr"] {
                assert_eq!(metric(&report, id)["value"], 1.0, "{money:?} {id}");
            }
        }
    }
}
