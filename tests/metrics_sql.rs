//! Per-metric SQL on small hand-made fixtures, with the expected figures
//! worked out in comments: support, delivery and engagement metrics at
//! their boundaries, durations in business time, and version pins.
//!
//! Week 2026-W47 ends at b = 2026-11-23T00:00Z (a Monday). Its 7-day
//! window starts 2026-11-16, the 28-day one 2026-10-26, the 30-day one
//! 2026-10-24.

use crate::support::warehouse::{Fixture, Money, V, client, subscription};
use crate::support::{DEFAULT_DELIVERY, Project, assert_clean_failure, metric, repo, run, stderr};

fn ticket(
    id: &'static str,
    opened: &'static str,
    first: Option<&'static str>,
    resolved: Option<&'static str>,
) -> Vec<V> {
    vec![
        V::S(id),
        V::S("A"),
        V::S("normal"),
        V::T(opened),
        first.map_or(V::Null, V::T),
        resolved.map_or(V::Null, V::T),
    ]
}

/// Tickets:
/// - T1 opened Mon 16 Nov 10:00, answered 11:00 (1 h), resolved Tue 17
///   10:00 (24 h).
/// - T2 opened Wed 18 Nov 09:00, answered 12:00 (3 h), resolved Fri 20
///   09:00 (48 h).
/// - T3 opened Thu 19 Nov 08:00, answered 13:00 (5 h), not resolved.
/// - T4 opened Sun 22 Nov 20:00, answered Mon 23 Nov 09:00: at or after
///   the end, so not yet answered for this report; not resolved.
/// - T5 opened 1 Nov, resolved Mon 16 Nov 00:00 exactly at the window's
///   start: resolved in the window (15 days = 1 296 000 s).
/// - T6 opened 1 Nov, resolved 23 Nov 00:00 exactly at the end: outside
///   the window, and still open at the end.
/// - T7 opened 15 Nov 23:59:59, one second before the window: not in
///   first_response_time; resolved 16 Nov 00:59:59 (1 h) in the window.
///
/// first_response_time over T1, T2, T3 = 3600, 10800, 18000 s: median
/// 10 800, p90 = 10800 + 0.8 * 7200 = 16 560, mean 10 800.
/// time_to_resolution over T5, T1, T2, T7 = 1 296 000, 86 400, 172 800,
/// 3 600: sorted 3600, 86400, 172800, 1296000 → median 129 600, p90 at
/// rank 2.7: 172800 + 0.7 * 1123200 = 959 040; mean 389 700.
/// open_tickets: T3, T4, T6 = 3; unanswered: T4 (answered after end) and
/// T6 (never) = 2.
fn tickets() -> Vec<Vec<V>> {
    vec![
        ticket(
            "T1",
            "2026-11-16T10:00:00Z",
            Some("2026-11-16T11:00:00Z"),
            Some("2026-11-17T10:00:00Z"),
        ),
        ticket(
            "T2",
            "2026-11-18T09:00:00Z",
            Some("2026-11-18T12:00:00Z"),
            Some("2026-11-20T09:00:00Z"),
        ),
        ticket(
            "T3",
            "2026-11-19T08:00:00Z",
            Some("2026-11-19T13:00:00Z"),
            None,
        ),
        ticket(
            "T4",
            "2026-11-22T20:00:00Z",
            Some("2026-11-23T09:00:00Z"),
            None,
        ),
        ticket(
            "T5",
            "2026-11-01T00:00:00Z",
            Some("2026-11-01T01:00:00Z"),
            Some("2026-11-16T00:00:00Z"),
        ),
        ticket(
            "T6",
            "2026-11-01T00:00:00Z",
            None,
            Some("2026-11-23T00:00:00Z"),
        ),
        ticket(
            "T7",
            "2026-11-15T23:59:59Z",
            Some("2026-11-16T00:30:00Z"),
            Some("2026-11-16T00:59:59Z"),
        ),
    ]
}

/// Projects (28-day window from 2026-10-26):
/// - P1 due 1 Nov, completed 31 Oct: on time. P2 due 1 Nov, completed
///   2 Nov: late. P3 due 10 Nov, completed exactly at its due instant: on
///   time. P4 completed 25 Oct, before the window: not counted.
///   → on-time rate 2/3.
/// - P5 due 20 Nov, not completed: overdue. P6 due 20 Nov, completed at
///   23 Nov 00:00 (at the end, so not yet for this report): overdue. P7 due
///   exactly at the end: not overdue yet. → overdue_projects 2.
fn projects() -> Vec<Vec<V>> {
    let project = |id: &'static str, due: &'static str, done: Option<&'static str>| {
        vec![
            V::S(id),
            V::S("A"),
            V::S("rollout"),
            V::T(due),
            done.map_or(V::Null, V::T),
        ]
    };
    vec![
        project("P1", "2026-11-01T00:00:00Z", Some("2026-10-31T00:00:00Z")),
        project("P2", "2026-11-01T00:00:00Z", Some("2026-11-02T00:00:00Z")),
        project("P3", "2026-11-10T00:00:00Z", Some("2026-11-10T00:00:00Z")),
        project("P4", "2026-10-20T00:00:00Z", Some("2026-10-25T00:00:00Z")),
        project("P5", "2026-11-20T00:00:00Z", None),
        project("P6", "2026-11-20T00:00:00Z", Some("2026-11-23T00:00:00Z")),
        project("P7", "2026-11-23T00:00:00Z", None),
    ]
}

/// Onboardings (30-day window [2026-10-24, 2026-11-23)):
/// - O1 started 1 Oct, no target (config default 30): deadline 31 Oct,
///   completed 30 Oct → on time. O2 started 1 Nov, target 14: deadline 15
///   Nov, completed 16 Nov → late. O3 started 15 Oct, target 10: deadline
///   25 Oct, never completed → late. O4 started 1 Nov, target 45: deadline
///   16 Dec, outside. → completion rate 1/3.
fn onboarding() -> Vec<Vec<V>> {
    let row = |start: &'static str, done: Option<&'static str>, days: Option<i32>| {
        vec![
            V::S("A"),
            V::T(start),
            done.map_or(V::Null, V::T),
            days.map_or(V::Null, V::I),
        ]
    };
    vec![
        row("2026-10-01T00:00:00Z", Some("2026-10-30T00:00:00Z"), None),
        row(
            "2026-11-01T00:00:00Z",
            Some("2026-11-16T00:00:00Z"),
            Some(14),
        ),
        row("2026-10-15T00:00:00Z", None, Some(10)),
        row(
            "2026-11-01T00:00:00Z",
            Some("2026-11-05T00:00:00Z"),
            Some(45),
        ),
    ]
}

/// Usage (28 days from 2026-10-26): users A/u1 on 3 days, A/u2 on 1 day
/// (two events that day), B/u1 on 1 day, one event of B/u2 before the
/// window. MAU 3; (user, day) pairs 5 → stickiness 5 / 28 / 3. Paying at
/// the end: A, B, C (C without usage) → active_client_rate 2/3.
fn usage() -> Vec<Vec<V>> {
    let event = |c: &'static str, u: &'static str, at: &'static str| {
        vec![V::S(c), V::S(u), V::S("reports"), V::T(at)]
    };
    vec![
        event("A", "u1", "2026-10-26T00:00:00Z"),
        event("A", "u1", "2026-11-01T10:00:00Z"),
        event("A", "u1", "2026-11-22T23:59:59Z"),
        event("A", "u2", "2026-11-05T09:00:00Z"),
        event("A", "u2", "2026-11-05T17:00:00Z"),
        event("B", "u1", "2026-11-10T12:00:00Z"),
        event("B", "u2", "2026-10-25T23:59:59Z"),
        event("C", "u1", "2026-11-23T00:00:00Z"),
    ]
}

fn support_project(calendar: &str) -> Project {
    let project = Project::new("warehouse");
    let root = project.path().join("warehouse");
    let fixture = Fixture::new(&root, Money::Double);
    fixture.table("tickets", &tickets());
    fixture.table("projects", &projects());
    fixture.table("onboarding", &onboarding());
    fixture.table("usage_events", &usage());
    fixture.table(
        "clients",
        &[
            client("A", "SMB"),
            client("B", "SMB"),
            client("C", "Enterprise"),
        ],
    );
    fixture.table(
        "subscriptions",
        &["A", "B", "C"].map(|c| subscription(c, c, 10.0, 1, None, "2026-01-01T00:00:00Z", None)),
    );
    fixture.empty_rest();
    project.write_config_with(
        "warehouse",
        &[
            "first_response_time",
            "time_to_resolution",
            "open_tickets",
            "project_on_time_rate",
            "overdue_projects",
            "onboarding_completion_rate",
            "active_client_rate",
            "stickiness",
        ],
        &format!("{DEFAULT_DELIVERY}{calendar}"),
    );
    project
}

fn figures(project: &Project) -> serde_json::Value {
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert!(output.status.success(), "{}", stderr(&output));
    project.report_json("2026-W47")
}

fn field(report: &serde_json::Value, id: &str, name: &str) -> Option<f64> {
    metric(report, id)[name].as_f64()
}

#[test]
fn support_delivery_and_engagement_boundaries() {
    let report = figures(&support_project(""));
    assert_eq!(
        field(&report, "first_response_time", "value"),
        Some(10_800.0)
    );
    assert_eq!(field(&report, "first_response_time", "p90"), Some(16_560.0));
    assert_eq!(
        field(&report, "first_response_time", "mean"),
        Some(10_800.0)
    );
    assert_eq!(
        field(&report, "first_response_time", "sample_size"),
        Some(3.0)
    );
    assert_eq!(
        field(&report, "time_to_resolution", "value"),
        Some(129_600.0)
    );
    let p90 = field(&report, "time_to_resolution", "p90").expect("p90");
    assert!((p90 - 959_040.0).abs() < 1e-6, "{p90}");
    assert_eq!(
        field(&report, "time_to_resolution", "mean"),
        Some(389_700.0)
    );
    assert_eq!(field(&report, "open_tickets", "value"), Some(3.0));
    assert_eq!(field(&report, "open_tickets", "unanswered"), Some(2.0));
    let on_time = field(&report, "project_on_time_rate", "value").expect("rate");
    assert!((on_time - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(field(&report, "overdue_projects", "value"), Some(2.0));
    let onboarding = field(&report, "onboarding_completion_rate", "value").expect("rate");
    assert!((onboarding - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(
        field(&report, "onboarding_completion_rate", "sample_size"),
        Some(3.0)
    );
    let active = field(&report, "active_client_rate", "value").expect("rate");
    assert!((active - 2.0 / 3.0).abs() < 1e-12);
    let stickiness = field(&report, "stickiness", "value").expect("stickiness");
    assert!((stickiness - 5.0 / 28.0 / 3.0).abs() < 1e-12);
    assert_eq!(field(&report, "stickiness", "sample_size"), Some(3.0));
}

/// With a business calendar (Mon-Fri 09:00-17:00 UTC), durations count only
/// open hours:
/// - T1 Mon 10:00 → 11:00 = 1 h; T2 Wed 09:00 → 12:00 = 3 h; T3 Thu
///   08:00 → 13:00 = 4 h (from 09:00). Median 3 h = 10 800 s, mean
///   (3600 + 10800 + 14400) / 3 = 9 600 s.
/// - Resolution: T1 Mon 10:00 → Tue 10:00 = 7 + 1 = 8 h; T2 Wed 09:00 →
///   Fri 09:00 = 16 h; T7 Sun 23:59:59 → Mon 00:59:59 = 0; T5 Sun 1 Nov →
///   Mon 16 Nov 00:00 = 10 working days = 80 h. Sorted 0, 8, 16, 80 h:
///   median 12 h = 43 200 s.
#[test]
fn durations_in_business_hours_when_the_config_asks() {
    let calendar = "business_calendar:\n  timezone: UTC\n  working_days: [mon, tue, wed, thu, fri]\n  hours: \"09:00-17:00\"\n";
    let report = figures(&support_project(calendar));
    assert_eq!(
        field(&report, "first_response_time", "value"),
        Some(10_800.0)
    );
    assert_eq!(field(&report, "first_response_time", "mean"), Some(9_600.0));
    assert_eq!(
        field(&report, "time_to_resolution", "value"),
        Some(43_200.0)
    );
    // A broken calendar is a config error naming the key.
    let project =
        support_project("business_calendar:\n  working_days: [funday]\n  hours: \"9-5\"\n");
    let output = run(&mut project.command(&["check"]));
    assert_clean_failure(&output, 2, &["business_calendar", "funday"]);
}

#[test]
fn a_pinned_version_runs_beside_a_newer_one() {
    let project = support_project("");
    let queries = project.own_queries();
    // A data team's version 3 of open_tickets counts only tickets without
    // a response.
    let v3 = std::fs::read_to_string(queries.join("open_tickets.sql"))
        .expect("read")
        .replace("-- version: 1", "-- version: 3")
        .replace("    COUNT(*) AS value,", "    COUNT(*) FILTER (WHERE first_response_at IS NULL OR first_response_at >= $window_end) AS value,");
    std::fs::write(queries.join("open_tickets.v3.sql"), v3).expect("write");
    let config = std::fs::read_to_string(project.config()).expect("config");
    // Unpinned, the newest version runs.
    let report = figures(&project);
    assert_eq!(field(&report, "open_tickets", "value"), Some(2.0));
    assert_eq!(metric(&report, "open_tickets")["version"], 3);
    // Pinned to version 1, the old definition runs, with its own hash.
    let pinned = config.replace(
        "  - id: open_tickets\n",
        "  - id: open_tickets\n    version: 1\n",
    );
    std::fs::write(project.config(), pinned).expect("write");
    let report = figures(&project);
    assert_eq!(field(&report, "open_tickets", "value"), Some(3.0));
    assert_eq!(metric(&report, "open_tickets")["version"], 1);
    let lock = std::fs::read_to_string(repo().join("queries/queries.lock")).expect("lock");
    let sha = metric(&report, "open_tickets")["sql_sha256"]
        .as_str()
        .expect("sha")
        .to_string();
    assert!(
        lock.contains(&format!("open_tickets 1 {sha}")),
        "report.json names the published SQL"
    );
    // A pin to a version that does not exist is a config error.
    let missing = config.replace(
        "  - id: open_tickets\n",
        "  - id: open_tickets\n    version: 9\n",
    );
    std::fs::write(project.config(), missing).expect("write");
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(&output, 2, &["open_tickets", "no version 9"]);
}

#[test]
fn data_errors_name_table_column_and_rows() {
    let project = support_project("");
    let fixture = Fixture::new(&project.path().join("warehouse"), Money::Double);
    let mut backwards = subscription(
        "S1",
        "A",
        10.0,
        1,
        None,
        "2026-05-01T00:00:00Z",
        Some("2026-04-01T00:00:00Z"),
    );
    let ok = subscription("S2", "B", 10.0, 1, None, "2026-01-01T00:00:00Z", None);
    fixture.table("subscriptions", &[backwards.clone(), ok]);
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(
        &output,
        3,
        &[
            "`subscriptions`",
            "`ended_at`",
            "1 row(s)",
            "end before they start",
        ],
    );
    backwards[8] = V::Null;
    fixture.table("subscriptions", &[backwards]);
    let answer = |score: i32, scale: i32| {
        crate::support::warehouse::answer(
            "X",
            "A",
            "r",
            "csat",
            score,
            scale,
            "2026-11-20T00:00:00Z",
        )
    };
    fixture.table(
        "survey_responses",
        &[answer(6, 5), answer(0, 7), answer(4, 5)],
    );
    project.write_config_with("warehouse", &["csat", "nps"], DEFAULT_DELIVERY);
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(
        &output,
        3,
        &[
            "`survey_responses`",
            "`score`",
            "2 row(s)",
            "outside their scale",
        ],
    );
}

/// Revenue and clients (30-day window [2026-10-24, 2026-11-23), 365-day
/// from 2025-11-23):
/// - K1 pays 100 since 2025: kept. K2 paid 200, upgraded to 300 on
///   2026-03-01: expansion over the year, none over 30 days. K3 paid 100
///   until 2026-02-01: lost over the year, gone before the 30 days.
/// - N pays 100 from 2026-11-01, never before: new_mrr 100.
/// - R paid 50 from January to June, returns at 80 on 2026-11-05:
///   reactivation_mrr 80 (not new).
///
/// NRR = (100 + 300 + 0) / (100 + 200 + 100) = 1.0; GRR caps K2 at 200:
/// (100 + 200) / 400 = 0.75.
///
/// Orders: K1 on 2026-07-01 (100), 2026-10-01 (100), 2026-11-10 (100); K2
/// on 2026-06-01 (400), 2026-10-10 (200).
/// - repeat_purchase_rate: ordered in [2026-09-24, 2026-10-24): K1, K2; of
///   them in the window: K1 → 0.5.
/// - revenue_growth_per_client (90 days from 2026-08-25, the 90 before from
///   2026-05-27): K1 200 vs 100, K2 200 vs 400 → 400 / 500 - 1 = -0.2;
///   largest rise K1 (+100 %), largest fall K2 (-50 %).
///
/// CES (28 days): 5, 7, 4, 1 → 2 of 4 easy = 0.5, mean 4.25; a 7 on
/// 2026-10-25 is outside.
#[test]
fn revenue_clients_and_effort_by_hand() {
    let project = Project::new("warehouse");
    let fixture = Fixture::new(&project.path().join("warehouse"), Money::Decimal);
    fixture.table(
        "subscriptions",
        &[
            subscription("K1", "K1", 100.0, 1, None, "2025-01-01T00:00:00Z", None),
            subscription(
                "K2a",
                "K2",
                200.0,
                1,
                None,
                "2025-01-01T00:00:00Z",
                Some("2026-03-01T00:00:00Z"),
            ),
            subscription("K2b", "K2", 300.0, 1, None, "2026-03-01T00:00:00Z", None),
            subscription(
                "K3",
                "K3",
                100.0,
                1,
                None,
                "2025-01-01T00:00:00Z",
                Some("2026-02-01T00:00:00Z"),
            ),
            subscription("N", "N", 100.0, 1, None, "2026-11-01T00:00:00Z", None),
            subscription(
                "Ra",
                "R",
                50.0,
                1,
                None,
                "2026-01-01T00:00:00Z",
                Some("2026-06-01T00:00:00Z"),
            ),
            subscription("Rb", "R", 80.0, 1, None, "2026-11-05T00:00:00Z", None),
        ],
    );
    let order = |id: &'static str, c: &'static str, at: &'static str, amount: f64| {
        vec![V::S(id), V::S(c), V::T(at), V::F(amount), V::S("EUR")]
    };
    fixture.table(
        "orders",
        &[
            order("O1", "K1", "2026-07-01T00:00:00Z", 100.0),
            order("O2", "K1", "2026-10-01T00:00:00Z", 100.0),
            order("O3", "K1", "2026-11-10T00:00:00Z", 100.0),
            order("O4", "K2", "2026-06-01T00:00:00Z", 400.0),
            order("O5", "K2", "2026-10-10T00:00:00Z", 200.0),
        ],
    );
    let ces = |id: &'static str, score: i32, at: &'static str| {
        crate::support::warehouse::answer(id, "K1", id, "ces", score, 7, at)
    };
    fixture.table(
        "survey_responses",
        &[
            ces("E1", 5, "2026-11-01T00:00:00Z"),
            ces("E2", 7, "2026-11-02T00:00:00Z"),
            ces("E3", 4, "2026-11-03T00:00:00Z"),
            ces("E4", 1, "2026-11-04T00:00:00Z"),
            ces("E5", 7, "2026-10-25T00:00:00Z"),
        ],
    );
    fixture.table(
        "clients",
        &[
            client("K1", "SMB"),
            client("K2", "SMB"),
            client("K3", "SMB"),
            client("N", "SMB"),
            client("R", "SMB"),
        ],
    );
    fixture.empty_rest();
    project.write_config_with(
        "warehouse",
        &[
            "new_mrr",
            "reactivation_mrr",
            "expansion_mrr",
            "churned_mrr",
            "nrr",
            "grr",
            "new_clients",
            "repeat_purchase_rate",
            "revenue_growth_per_client",
            "ces",
            "ces_average",
        ],
        DEFAULT_DELIVERY,
    );
    let report = figures(&project);
    let value = |id: &str| field(&report, id, "value").unwrap_or(f64::NAN);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
    assert!(close(value("new_mrr"), 100.0));
    assert!(close(value("reactivation_mrr"), 80.0));
    assert!(close(value("expansion_mrr"), 0.0));
    assert!(close(value("churned_mrr"), 0.0));
    assert!(close(value("nrr"), 1.0), "{}", value("nrr"));
    assert!(close(value("grr"), 0.75));
    assert_eq!(field(&report, "nrr", "sample_size"), Some(3.0));
    assert!(close(value("new_clients"), 1.0), "only N is new; R returns");
    assert!(close(value("repeat_purchase_rate"), 0.5));
    assert!(close(value("revenue_growth_per_client"), -0.2));
    let movers = metric(&report, "revenue_growth_per_client")["items"]
        .as_array()
        .expect("items")
        .clone();
    assert_eq!(movers.len(), 2);
    assert_eq!(
        (movers[0]["label"].as_str(), movers[0]["client"].as_str()),
        (Some("rise"), Some("K1"))
    );
    assert_eq!(
        (movers[1]["label"].as_str(), movers[1]["client"].as_str()),
        (Some("fall"), Some("K2"))
    );
    assert!(close(value("ces"), 0.5));
    assert!(close(value("ces_average"), 4.25));
}
