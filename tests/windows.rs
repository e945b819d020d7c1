//! Windowed queries (`-- windows: table`): a metric that reads its windows
//! from the table `windows` computes every week of its trend in one query,
//! and gives exactly the figures of its version of one window per query,
//! in every week of the trend, every segment (the week and the week
//! before) and every book, across a daylight-saving change.

use std::path::Path;

use crate::shared_tables::figures;
use crate::support::{clientpulse, metric, repo, run, stderr};

const END: &str = "2026-11-25";
/// The windowed metrics, and the last version of each that computes one
/// window per query.
const ONE_WINDOW_VERSIONS: &[(&str, u32)] = &[
    ("nps", 2),
    ("nps_margin", 1),
    ("mrr", 1),
    ("open_tickets", 1),
    ("at_risk_clients", 2),
    ("at_risk_mrr", 2),
    ("paying_clients", 1),
    ("arr", 1),
    ("arpc", 1),
    ("new_mrr", 1),
    ("reactivation_mrr", 1),
    ("expansion_mrr", 1),
    ("contraction_mrr", 1),
    ("churned_mrr", 1),
    ("net_new_mrr", 1),
    ("gross_mrr_churn_rate", 1),
    ("net_mrr_churn_rate", 1),
    ("nrr", 1),
    ("grr", 1),
    ("churned_clients", 1),
    ("client_churn_rate", 2),
    ("csat", 2),
    ("ces", 2),
    ("csat_average", 1),
    ("ces_average", 1),
    ("onboarding_completion_rate", 1),
    ("project_on_time_rate", 1),
    ("overdue_projects", 1),
    ("first_response_time", 1),
    ("time_to_resolution", 1),
    ("stickiness", 3),
    ("active_client_rate", 2),
    ("new_clients", 1),
    ("repeat_purchase_rate", 1),
    ("client_retention_rate", 1),
];

/// A config running the metrics of [`ONE_WINDOW_VERSIONS`] (pinned to
/// those versions when `one_window`), in Paris time, by segment, with each
/// account manager's book.
fn config_text(warehouse: &Path, out: &Path, one_window: bool) -> String {
    let metrics: String = ONE_WINDOW_VERSIONS
        .iter()
        .map(|(id, version)| {
            if one_window {
                format!("  - id: {id}\n    version: {version}\n")
            } else {
                format!("  - id: {id}\n")
            }
        })
        .collect();
    let ids: Vec<&str> = ONE_WINDOW_VERSIONS.iter().map(|(id, _)| *id).collect();
    format!(
        "warehouse:\n  root: {warehouse}\nreporting:\n  currency: EUR\n  timezone: Europe/Paris\n  breakdowns: [segment]\nqueries: {queries}\ntemplates: {templates}\nbenchmarks: {benchmarks}\nout: {out}\nmetrics:\n{metrics}audiences:\n  - name: leadership\n    recipients: [ceo@example.com]\n  - name: account-managers\n    per: account_manager\n    metrics: [{ids}]\ndelivery:\n  mode: outbox\n  from: Client Pulse <clientpulse@example.com>\nat_risk:\n  min_score: 2\n  signals:\n    usage_drop: {{weight: 2, threshold: 0.2}}\n    detractor: {{weight: 2}}\n    unhappy_csat: {{weight: 1}}\n    old_ticket: {{weight: 1, threshold: 14d}}\n    overdue_project: {{weight: 1}}\n    late_onboarding: {{weight: 1}}\n    contraction: {{weight: 2}}\n    renewal_soon: {{weight: 1, threshold: 60d}}\n",
        warehouse = warehouse.display(),
        out = out.display(),
        queries = repo().join("queries").display(),
        templates = repo().join("report-templates").display(),
        benchmarks = repo().join("config/benchmarks.yaml").display(),
        ids = ids.join(", "),
    )
}

#[test]
fn windowed_queries_give_the_figures_of_one_window_per_query() {
    let dir = tempfile::tempdir().expect("tmp");
    let warehouse = dir.path().join("warehouse");
    let output = run(clientpulse()
        .args(["demo-data", "--out"])
        .arg(&warehouse)
        .args(["--end", END, "--seed", "83", "--scale", "2"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let ids: Vec<&str> = ONE_WINDOW_VERSIONS.iter().map(|(id, _)| *id).collect();
    let mut reports = Vec::new();
    let mut queries_run = Vec::new();
    for one_window in [true, false] {
        let out = dir.path().join(if one_window { "one" } else { "all" });
        let config = dir.path().join(format!("one-window-{one_window}.yaml"));
        std::fs::write(&config, config_text(&warehouse, &out, one_window)).expect("config");
        let profile = dir.path().join(format!("profile-{one_window}.jsonl"));
        // 2026-W44 is the week of the October change in Paris; its trend
        // and windows cross it.
        let output = run(clientpulse()
            .args(["run", "--period", "2026-W44", "--dry-run", "--config"])
            .arg(&config)
            .arg(format!("--profile={}", profile.display())));
        assert!(output.status.success(), "{}", stderr(&output));
        let profile = std::fs::read_to_string(&profile).expect("profile");
        let lines: Vec<serde_json::Value> = profile
            .lines()
            .map(|line| serde_json::from_str(line).expect("a JSON line"))
            .filter(|line: &serde_json::Value| line["scope"] != "shared")
            .collect();
        let trend: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|line| line["scope"] == "trend")
            .collect();
        if one_window {
            assert_eq!(trend.len(), ids.len() * 12, "{profile}");
            assert!(lines.iter().all(|line| line["windows"] == 1), "{profile}");
        } else {
            // One query per metric for the whole trend.
            assert_eq!(trend.len(), ids.len(), "{profile}");
            assert!(trend.iter().all(|line| line["windows"] == 12), "{profile}");
            assert!(
                trend.iter().all(|line| line["week"] == "2026-W44"),
                "{profile}"
            );
        }
        queries_run.push(lines.len());
        reports.push(figures(&out, "2026-W44", &ids));
    }
    assert!(queries_run[1] * 5 < queries_run[0], "{queries_run:?}");
    let (one, all) = (&reports[0], &reports[1]);
    assert_eq!(one.len(), all.len());
    for ((name, one), (_, all)) in one.iter().zip(all) {
        for id in &ids {
            assert_eq!(metric(one, id), metric(all, id), "{name}: {id}");
        }
        assert_eq!(one, all, "{name}");
    }
    // Not vacuous: the figures move over the trend, segments differ, and
    // the week lists clients at risk with their signals.
    let report = &all[0].1;
    for id in [
        "nps",
        "mrr",
        "open_tickets",
        "at_risk_clients",
        "net_new_mrr",
    ] {
        let values: std::collections::BTreeSet<String> = metric(report, id)["trend"]
            .as_array()
            .expect("a trend")
            .iter()
            .map(|week| week["value"].to_string())
            .collect();
        assert!(values.len() > 3, "{id}: {values:?}");
    }
    let segments: std::collections::BTreeSet<String> = metric(report, "nps")["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .map(|segment| segment["value"].to_string())
        .collect();
    assert!(segments.len() > 1, "{segments:?}");
    let items = metric(report, "at_risk_clients")["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(items > 0, "no clients at risk");
}
