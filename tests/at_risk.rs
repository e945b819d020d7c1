//! Clients at risk: every signal of `queries/shared/at_risk.sql` on a
//! hand-made warehouse, each with a client exactly at its threshold (not
//! at risk, or at risk where the boundary is inclusive) and one just past
//! it; the weights and `min_score` from the config; and each account
//! manager's list holding only their own clients.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::warehouse::{Fixture, Money, V, answer, subscription};
use crate::support::{DEFAULT_DELIVERY, Project, eml_files, entry_names, run, stderr};

/// Week 2026-W47 ends at 2026-11-23T00:00Z; the 28-day window starts at
/// 2026-10-26 and the window before it at 2026-09-28.
const WEEK: &str = "2026-W47";
const IN_WINDOW: &str = "2026-11-10T12:00:00Z";
const WINDOW_BEFORE: &str = "2026-10-10T12:00:00Z";

const NO_GATE: &str = "data_gate:\n  freshness: {usage_events: off, tickets: off, survey_responses: off, orders: off}\n";

/// Every signal weighing 1 with its shipped threshold, at risk from 1.
const EVERY_SIGNAL: &str = "at_risk:\n  min_score: 1\n  signals:\n    usage_drop: {weight: 1, threshold: 0.5}\n    detractor: {weight: 1}\n    unhappy_csat: {weight: 1}\n    old_ticket: {weight: 1, threshold: 14d}\n    overdue_project: {weight: 1}\n    late_onboarding: {weight: 1}\n    contraction: {weight: 1}\n    renewal_soon: {weight: 1, threshold: 60d}\n";

/// GONE's account manager: a name and a line break, never a recipient.
const MANAGER_NOT_AN_ADDRESS: &str = "Gone Manager <gm@example.com>\r\nBcc: x@example.net";

fn client_row(id: &'static str, manager: &'static str) -> Vec<V> {
    vec![
        V::S(id),
        // One name carries markup: warehouse text, to be escaped.
        V::Str(if id == "D_IN" {
            "Client D_IN <b>&</b>".to_string()
        } else {
            format!("Client {id}")
        }),
        V::S("SMB"),
        V::S("EMEA"),
        V::S(manager),
        V::T("2025-01-01T00:00:00Z"),
    ]
}

/// `count` usage events of `client` at `at`.
fn uses(rows: &mut Vec<Vec<V>>, client: &'static str, count: usize, at: &'static str) {
    for _ in 0..count {
        rows.push(vec![V::S(client), V::S("u1"), V::S("dashboards"), V::T(at)]);
    }
}

/// The boundary warehouse: per signal, a client just past its threshold
/// (`…_IN`) and one exactly at it (`…_EDGE`); all pay at the week's end
/// except `GONE`, who has every kind of trouble but no longer pays.
fn boundary_warehouse(fixture: &Fixture) {
    let ids = [
        "U_IN", "U_EDGE", "D_IN", "D_EDGE", "C_IN", "C_EDGE", "T_IN", "T_EDGE", "P_IN", "P_EDGE",
        "O_IN", "O_EDGE", "K_IN", "K_EDGE", "R_IN", "R_EDGE", "R_OUT", "GONE",
    ];
    let manager = |id: &str| {
        if id.ends_with("_IN") {
            "am1@example.com"
        } else if id == "GONE" {
            // Not a bare address: GONE is in no book, and the run says so.
            MANAGER_NOT_AN_ADDRESS
        } else {
            "am2@example.com"
        }
    };
    fixture.table(
        "clients",
        &ids.iter()
            .map(|id| client_row(id, manager(id)))
            .collect::<Vec<_>>(),
    );
    let since = "2026-01-01T00:00:00Z";
    let mut subscriptions: Vec<Vec<V>> = ids
        .iter()
        .filter(|id| !["K_IN", "K_EDGE", "R_IN", "R_EDGE", "R_OUT", "GONE"].contains(id))
        .map(|id| {
            let sid: &'static str = Box::leak(format!("s-{id}").into_boxed_str());
            subscription(sid, id, 100.0, 1, None, since, None)
        })
        .collect();
    subscriptions.extend([
        // Contraction: 200 → 150 inside the window; K_EDGE keeps 200.
        subscription(
            "k1",
            "K_IN",
            200.0,
            1,
            None,
            since,
            Some("2026-11-01T00:00:00Z"),
        ),
        subscription("k2", "K_IN", 150.0, 1, None, "2026-11-01T00:00:00Z", None),
        subscription(
            "k3",
            "K_EDGE",
            200.0,
            1,
            None,
            since,
            Some("2026-11-01T00:00:00Z"),
        ),
        subscription("k4", "K_EDGE", 200.0, 1, None, "2026-11-01T00:00:00Z", None),
        // Renewal within 60 days of 2026-11-23: exactly 60 days is within;
        // a second later is not; R_EDGE's renewal row already exists.
        subscription(
            "r1",
            "R_IN",
            100.0,
            1,
            None,
            since,
            Some("2027-01-22T00:00:00Z"),
        ),
        subscription(
            "r2",
            "R_OUT",
            100.0,
            1,
            None,
            since,
            Some("2027-01-22T00:00:01Z"),
        ),
        subscription(
            "r3",
            "R_EDGE",
            100.0,
            1,
            None,
            since,
            Some("2027-01-01T00:00:00Z"),
        ),
        subscription("r4", "R_EDGE", 100.0, 1, None, "2027-01-01T00:00:00Z", None),
        // GONE stopped paying before the week's end.
        subscription(
            "g1",
            "GONE",
            100.0,
            1,
            None,
            since,
            Some("2026-11-01T00:00:00Z"),
        ),
    ]);
    fixture.table("subscriptions", &subscriptions);

    let mut usage = Vec::new();
    // Usage dropped by more than half (10 → 4) vs exactly half (10 → 5).
    uses(&mut usage, "U_IN", 10, WINDOW_BEFORE);
    uses(&mut usage, "U_IN", 4, IN_WINDOW);
    uses(&mut usage, "U_EDGE", 10, WINDOW_BEFORE);
    uses(&mut usage, "U_EDGE", 5, IN_WINDOW);
    uses(&mut usage, "GONE", 10, WINDOW_BEFORE);
    fixture.table("usage_events", &usage);

    fixture.table(
        "survey_responses",
        &[
            // NPS 6 is a detractor, 7 is not.
            answer("a1", "D_IN", "p1", "nps", 6, 10, IN_WINDOW),
            answer("a2", "D_EDGE", "p2", "nps", 7, 10, IN_WINDOW),
            // CSAT 3 of 5 is not satisfied, 4 of 5 is.
            answer("a3", "C_IN", "p3", "csat", 3, 5, IN_WINDOW),
            answer("a4", "C_EDGE", "p4", "csat", 4, 5, IN_WINDOW),
            answer("a5", "GONE", "p5", "nps", 0, 10, IN_WINDOW),
        ],
    );
    fixture.table(
        "tickets",
        &[
            // Open longer than 14 days at the week's end vs exactly 14.
            vec![
                V::S("t1"),
                V::S("T_IN"),
                V::S("high"),
                V::T("2026-11-08T23:59:59Z"),
                V::Null,
                V::Null,
            ],
            vec![
                V::S("t2"),
                V::S("T_EDGE"),
                V::S("high"),
                V::T("2026-11-09T00:00:00Z"),
                V::Null,
                V::Null,
            ],
        ],
    );
    fixture.table(
        "projects",
        &[
            // Due a second before the week's end vs at it.
            vec![
                V::S("p1"),
                V::S("P_IN"),
                V::S("Rollout"),
                V::T("2026-11-22T23:59:59Z"),
                V::Null,
            ],
            vec![
                V::S("p2"),
                V::S("P_EDGE"),
                V::S("Rollout"),
                V::T("2026-11-23T00:00:00Z"),
                V::Null,
            ],
        ],
    );
    fixture.table(
        "onboarding",
        &[
            // Deadline (start + 30 days) a second before the week's end vs at it.
            vec![
                V::S("O_IN"),
                V::T("2026-10-23T23:59:59Z"),
                V::Null,
                V::I(30),
            ],
            vec![
                V::S("O_EDGE"),
                V::T("2026-10-24T00:00:00Z"),
                V::Null,
                V::I(30),
            ],
        ],
    );
    fixture.empty_rest();
}

fn project(fixture: &Fixture, extra: &str) -> Project {
    let root = fixture.root.display().to_string();
    let project = Project::new(&root);
    project.write_config_with(
        &root,
        &["at_risk_clients", "at_risk_mrr"],
        &format!("{DEFAULT_DELIVERY}{NO_GATE}{extra}"),
    );
    project
}

/// The at-risk list of a report.json: client id → its signals.
fn signals(report: &Value) -> BTreeMap<String, Vec<String>> {
    report["at_risk"]
        .as_array()
        .expect("at_risk")
        .iter()
        .map(|client| {
            (
                client["client_id"].as_str().expect("id").to_string(),
                client["signals"]
                    .as_array()
                    .expect("signals")
                    .iter()
                    .map(|s| s["signal"].as_str().expect("signal").to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn each_signal_fires_past_its_threshold_and_not_at_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    boundary_warehouse(&fixture);
    let project = project(&fixture, EVERY_SIGNAL);
    let output = run(&mut project.command(&["run", "--period", WEEK]));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = project.report_json(WEEK);
    let expected: BTreeMap<String, Vec<String>> = [
        ("U_IN", "usage_drop"),
        ("D_IN", "detractor"),
        ("C_IN", "unhappy_csat"),
        ("T_IN", "old_ticket"),
        ("P_IN", "overdue_project"),
        ("O_IN", "late_onboarding"),
        ("K_IN", "contraction"),
        ("R_IN", "renewal_soon"),
    ]
    .into_iter()
    .map(|(client, signal)| (client.to_string(), vec![signal.to_string()]))
    .collect();
    assert_eq!(signals(&report), expected);

    let first = &report["at_risk"][0];
    let u_in = report["at_risk"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["client_id"] == "U_IN")
        .expect("U_IN");
    assert_eq!(u_in["client"], "Client U_IN");
    assert_eq!(u_in["account_manager"], "am1@example.com");
    assert_eq!(u_in["mrr"].as_f64(), Some(100.0));
    assert_eq!(u_in["signals"][0]["label"], "Usage dropped");
    assert_eq!(
        u_in["signals"][0]["detail"],
        "4 uses in the window, 10 in the window before"
    );
    // Riskiest first: all score 1 here, so the largest MRR (K_IN's 150).
    assert_eq!(first["client_id"], "K_IN", "{first}");

    // The figures: 8 of the 17 paying clients, €850 of MRR at risk.
    let figure = |id: &str| {
        report["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .expect("metric")
    };
    let count = figure("at_risk_clients");
    assert_eq!(count["value"].as_f64(), Some(8.0));
    assert_eq!(count["sample_size"], 17);
    assert_eq!(figure("at_risk_mrr")["value"].as_f64(), Some(850.0));
}

#[test]
fn weights_and_min_score_come_from_the_config() {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    boundary_warehouse(&fixture);
    // Detractors weigh 2 and are enough alone; usage drops weigh 0 (off);
    // the rest weigh 1, short of min_score 2.
    let settings = EVERY_SIGNAL
        .replace("min_score: 1", "min_score: 2")
        .replace("detractor: {weight: 1}", "detractor: {weight: 2}")
        .replace("usage_drop: {weight: 1,", "usage_drop: {weight: 0,");
    let project = project(&fixture, &settings);
    let output = run(&mut project.command(&["run", "--period", WEEK]));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = project.report_json(WEEK);
    let list = signals(&report);
    assert_eq!(list.keys().collect::<Vec<_>>(), vec!["D_IN"]);
    assert_eq!(report["at_risk"][0]["score"].as_f64(), Some(2.0));

    // A threshold moved in the config moves the boundary: usage must now
    // fall by more than 70 % (U_IN fell 60 %).
    let settings = EVERY_SIGNAL.replace("threshold: 0.5", "threshold: 0.7");
    let project = project_with(&fixture, &settings);
    let report = project.report_json(WEEK);
    assert!(!signals(&report).contains_key("U_IN"));
    assert!(signals(&report).contains_key("D_IN"));
}

fn project_with(fixture: &Fixture, settings: &str) -> Project {
    let project = project(fixture, settings);
    let output = run(&mut project.command(&["run", "--period", WEEK]));
    assert!(output.status.success(), "{}", stderr(&output));
    project
}

#[test]
fn each_account_manager_gets_only_their_own_clients_at_risk() {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    boundary_warehouse(&fixture);
    let root = fixture.root.display().to_string();
    let project = Project::new(&root);
    project.write_config_with(
        &root,
        &["at_risk_clients", "at_risk_mrr"],
        &format!(
            "  - name: account-managers\n    per: account_manager\n    metrics: [at_risk_clients, at_risk_mrr]\n{DEFAULT_DELIVERY}{NO_GATE}{EVERY_SIGNAL}"
        ),
    );
    let output = run(&mut project.command(&["run", "--period", WEEK]));
    assert!(output.status.success(), "{}", stderr(&output));
    let books = project.out().join(WEEK).join("books/account-managers");
    let book = |address: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(books.join(format!("{address}.json"))).expect("book"),
        )
        .expect("json")
    };
    // am1 owns every `_IN` client, all at risk; am2 owns the edges and
    // R_OUT and GONE, none at risk.
    // GONE's manager is no address: no book, no message, and a warning
    // that names the value escaped (no raw line break in the log).
    let kept = entry_names(&books);
    assert_eq!(kept, ["am1@example.com.json", "am2@example.com.json"]);
    let log = stderr(&output);
    assert!(
        log.contains(
            "warning: 2026-W47: audience `account-managers`: clients.account_manager value \"Gone Manager <gm@example.com>\\r\\nBcc: x@example.net\" is not a bare e-mail address, so its clients are in no book"
        ),
        "{log}"
    );
    assert!(!log.contains("\r\nBcc"), "{log}");
    let am1 = signals(&book("am1@example.com"));
    assert_eq!(am1.len(), 8);
    assert!(am1.keys().all(|id| id.ends_with("_IN")), "{am1:?}");
    assert!(signals(&book("am2@example.com")).is_empty());

    // Their e-mails: am1's lists its clients with the reasons; am2's none.
    let outbox = eml_files(&project.out().join(WEEK).join("outbox"));
    let text_of = |address: &str| {
        let path = outbox
            .iter()
            .find(|p| p.display().to_string().contains(address))
            .unwrap_or_else(|| panic!("no message to {address}"));
        mail_parser::MessageParser::default()
            .parse(&std::fs::read(path).expect("eml"))
            .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
            .expect("text part")
    };
    let am1_html = {
        let path = outbox
            .iter()
            .find(|p| p.display().to_string().contains("am1@example.com"))
            .expect("am1's message");
        mail_parser::MessageParser::default()
            .parse(&std::fs::read(path).expect("eml"))
            .and_then(|m| m.body_html(0).map(|t| t.into_owned()))
            .expect("HTML part")
    };
    assert!(
        am1_html.contains("Client D_IN &lt;b&gt;&amp;&lt;&#x2F;b&gt;")
            || am1_html.contains("Client D_IN &lt;b&gt;&amp;&lt;/b&gt;"),
        "the name is escaped"
    );
    assert!(!am1_html.contains("<b>&</b>"));
    let am1_text = text_of("am1@example.com");
    assert!(am1_text.contains("Client U_IN · €100.00 MRR"), "{am1_text}");
    assert!(am1_text.contains("Usage dropped: 4 uses in the window, 10 in the window before"));
    assert!(!am1_text.contains("U_EDGE"));
    let am2_text = text_of("am2@example.com");
    assert!(am2_text.contains("Clients at risk: 0"), "{am2_text}");
    for path in &outbox {
        let message = std::fs::read_to_string(path).expect("eml");
        assert!(
            !message.contains("gm@example.com") && !message.contains("x@example.net"),
            "{}",
            path.display()
        );
    }
    assert!(!am2_text.contains("MRR (am2@example.com)"), "{am2_text}");
}
