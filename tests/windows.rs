//! Windowed queries (`-- windows: table`): a metric that reads its windows
//! from the table `windows` computes every week of its trend in one query,
//! and gives exactly the figures of its version of one window per query,
//! in every week of the trend, every segment (the week and the week
//! before) and every book, across a daylight-saving change.

use crate::shared_tables::{config_text, figures};
use crate::support::{clientpulse, metric, run, stderr};

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
    ("feature_adoption", 3),
    ("clv", 2),
    ("revenue_growth_per_client", 1),
    ("feedback", 1),
];

#[test]
fn windowed_queries_give_the_figures_of_one_window_per_query() {
    let dir = tempfile::tempdir().expect("tmp");
    let warehouse = dir.path().join("warehouse");
    crate::support::demo_data(&warehouse, &["--end", END, "--seed", "83", "--scale", "2"]);
    let ids: Vec<&str> = ONE_WINDOW_VERSIONS.iter().map(|(id, _)| *id).collect();
    let mut reports = Vec::new();
    let mut queries_run = Vec::new();
    for one_window in [true, false] {
        let out = dir.path().join(if one_window { "one" } else { "all" });
        let config = dir.path().join(format!("one-window-{one_window}.yaml"));
        std::fs::write(
            &config,
            config_text(&warehouse, &out, ONE_WINDOW_VERSIONS, one_window),
        )
        .expect("config");
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
        "clv",
        "mrr",
        "open_tickets",
        "at_risk_clients",
        "net_new_mrr",
        "revenue_growth_per_client",
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
    // A list shows the report's week: a share per configured feature.
    let labels = |id: &str| -> std::collections::BTreeSet<String> {
        metric(report, id)["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["label"].to_string())
            .collect()
    };
    let features = labels("feature_adoption");
    assert_eq!(features.len(), 4, "{features:?}");
    // The lists that rank their items for the report's week alone have
    // some to rank: comments, and clients whose orders rose or fell.
    for id in ["feedback", "revenue_growth_per_client"] {
        assert!(!labels(id).is_empty(), "{id} lists nothing");
    }
}
