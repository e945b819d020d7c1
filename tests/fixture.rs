//! A hand-made warehouse with the boundary cases of metrics.md, run through
//! the whole binary for week 2026-W47, and the golden snapshots of its
//! report.
//!
//! Week 2026-W47 ends at b = 2026-11-23T00:00Z. Windows ending there:
//! 30 d starts at a = 2026-10-24T00:00Z, 28 d at 2026-10-26T00:00Z and
//! 90 d at 2026-08-25T00:00Z.

use crate::support::warehouse::{Fixture, Money, V, answer, client, subscription};
use crate::support::{Project, metric, run, stdout};

/// Subscriptions (monthly revenue after normalisation in brackets):
///
/// - A: 100/month, 2026-01-01 → 2026-11-23T00:00 exactly at b. Not active
///   at b (ended_at > t fails), paying at a: churned.
/// - B: 50/month, starts exactly at a. Part of the state at a: in S; paying
///   at b: not churned.
/// - C: annual 1 200 with 10 % discount (90), 2025-06-01 → open.
/// - D: 80/month, starts 2026-10-30, inside W: not in S, paying at b.
/// - E: 70/month, 2026-11-01 → 2026-11-10: joins and leaves inside W; not
///   in S, not churned.
/// - F: upgrade on 2026-11-10: 40 until then, 60 from that instant on.
///   Paying at a and b.
/// - G: 30/month, 2026-05-01 → 2026-09-01: gone before a.
/// - H: quarterly 300 (100), 2026-06-01 → open.
///
/// S = {A, B, C, F, H} = 5; churned = {A} = 1; churn rate = 1/5 = 0.2.
/// Paying at b = {B, C, D, F, H} = 5; MRR(b) = 50 + 90 + 80 + 60 + 100 = 380.
fn subscriptions() -> Vec<Vec<V>> {
    vec![
        subscription(
            "A1",
            "A",
            100.0,
            1,
            None,
            "2026-01-01T00:00:00Z",
            Some("2026-11-23T00:00:00Z"),
        ),
        subscription("B1", "B", 50.0, 1, Some(0.0), "2026-10-24T00:00:00Z", None),
        subscription(
            "C1",
            "C",
            1200.0,
            12,
            Some(0.1),
            "2025-06-01T00:00:00Z",
            None,
        ),
        subscription("D1", "D", 80.0, 1, None, "2026-10-30T00:00:00Z", None),
        subscription(
            "E1",
            "E",
            70.0,
            1,
            None,
            "2026-11-01T00:00:00Z",
            Some("2026-11-10T00:00:00Z"),
        ),
        subscription(
            "F1",
            "F",
            40.0,
            1,
            None,
            "2026-01-01T00:00:00Z",
            Some("2026-11-10T00:00:00Z"),
        ),
        subscription("F2", "F", 60.0, 1, None, "2026-11-10T00:00:00Z", None),
        subscription(
            "G1",
            "G",
            30.0,
            1,
            None,
            "2026-05-01T00:00:00Z",
            Some("2026-09-01T00:00:00Z"),
        ),
        subscription("H1", "H", 300.0, 3, None, "2026-06-01T00:00:00Z", None),
    ]
}

/// NPS answers, window [2026-08-25, 2026-11-23):
///
/// - A/r1: 3 on 2026-09-01, then 10 on 2026-10-01: the second answer of
///   the same respondent replaces the first → promoter.
/// - B/r1 (same respondent id at another client: another person): 9 at
///   2026-11-22T23:59:59 → promoter.
/// - C/r1: 6 exactly at the window's start → inside, detractor.
/// - C/r2: 2 on 2026-10-10 inside; 8 exactly at the end, outside → 2,
///   detractor.
/// - D/r1: 7 one second before the window → not counted.
/// - F/r1: two answers at the same instant, F-1 scores 0 and F-2 scores
///   9: the tie goes to the larger response_id → promoter.
///
/// n = 5 (A, B, C/r1, C/r2, F); promoters 3, detractors 2 → NPS 20.
///
/// CSAT answers, window [2026-10-26, 2026-11-23):
/// 5-point 5, 4, 3; 7-point 6, 5; 10-point 7, 6, all inside; a 5 at
/// 2026-10-25T23:59:59 and a 5 exactly at the end, both outside.
/// Satisfied: 5, 4, 6 (of 7), 7 (of 10) = 4 of 7 → 0.5714….
fn answers() -> Vec<Vec<V>> {
    vec![
        answer("A-1", "A", "r1", "nps", 3, 10, "2026-09-01T10:00:00Z"),
        answer("A-2", "A", "r1", "nps", 10, 10, "2026-10-01T10:00:00Z"),
        answer("B-1", "B", "r1", "nps", 9, 10, "2026-11-22T23:59:59Z"),
        answer("C-1", "C", "r1", "nps", 6, 10, "2026-08-25T00:00:00Z"),
        answer("C-2", "C", "r2", "nps", 2, 10, "2026-10-10T00:00:00Z"),
        answer("C-3", "C", "r2", "nps", 8, 10, "2026-11-23T00:00:00Z"),
        answer("D-1", "D", "r1", "nps", 7, 10, "2026-08-24T23:59:59Z"),
        answer("F-1", "F", "r1", "nps", 0, 10, "2026-10-05T12:00:00Z"),
        answer("F-2", "F", "r1", "nps", 9, 10, "2026-10-05T12:00:00Z"),
        answer("K-1", "A", "k1", "csat", 5, 5, "2026-11-01T00:00:00Z"),
        answer("K-2", "A", "k2", "csat", 4, 5, "2026-11-02T00:00:00Z"),
        answer("K-3", "B", "k1", "csat", 3, 5, "2026-11-03T00:00:00Z"),
        answer("K-4", "C", "k1", "csat", 6, 7, "2026-11-04T00:00:00Z"),
        answer("K-5", "C", "k2", "csat", 5, 7, "2026-11-05T00:00:00Z"),
        answer("K-6", "D", "k1", "csat", 7, 10, "2026-10-26T00:00:00Z"),
        answer("K-7", "D", "k2", "csat", 6, 10, "2026-11-22T00:00:00Z"),
        answer("K-8", "F", "k1", "csat", 5, 5, "2026-10-25T23:59:59Z"),
        answer("K-9", "F", "k2", "csat", 5, 5, "2026-11-23T00:00:00Z"),
    ]
}

/// A ticket opened in the week and first answered after its end: for this
/// report it has no response yet.
fn tickets() -> Vec<Vec<V>> {
    vec![vec![
        V::S("T1"),
        V::S("A"),
        V::S("high"),
        V::T("2026-11-22T20:00:00Z"),
        V::T("2026-11-23T09:00:00Z"),
        V::Null,
    ]]
}

pub fn write_boundary_warehouse(root: &std::path::Path, money: Money) {
    let fixture = Fixture::new(root, money);
    fixture.table("subscriptions", &subscriptions());
    fixture.table("survey_responses", &answers());
    fixture.table("tickets", &tickets());
    let clients: Vec<Vec<V>> = ["A", "B", "C", "D", "E", "F", "G", "H"]
        .into_iter()
        .map(|id| client(id, if id < "D" { "Enterprise" } else { "SMB" }))
        .collect();
    fixture.table("clients", &clients);
    fixture.empty_rest();
}

fn run_fixture(money: Money) -> (Project, serde_json::Value) {
    let project = Project::new("warehouse");
    write_boundary_warehouse(&project.path().join("warehouse"), money);
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("2026-W47: 6 metrics"));
    let report = project.report_json("2026-W47");
    (project, report)
}

fn value(report: &serde_json::Value, id: &str) -> f64 {
    metric(report, id)["value"].as_f64().unwrap_or(f64::NAN)
}

#[test]
fn boundary_cases_give_the_hand_worked_figures() {
    for money in [Money::Decimal, Money::Double] {
        let (_project, report) = run_fixture(money);
        assert_eq!(value(&report, "nps"), 20.0, "{money:?}");
        assert_eq!(metric(&report, "nps")["sample_size"], 5);
        assert!((value(&report, "csat") - 4.0 / 7.0).abs() < 1e-12);
        assert_eq!(metric(&report, "csat")["sample_size"], 7);
        assert!((value(&report, "client_churn_rate") - 0.2).abs() < 1e-12);
        assert_eq!(metric(&report, "client_churn_rate")["sample_size"], 5);
        assert_eq!(value(&report, "churned_clients"), 1.0);
        assert!((value(&report, "mrr") - 380.0).abs() < 1e-9, "{money:?}");
        assert_eq!(value(&report, "paying_clients"), 5.0);
    }
}

/// Clients A, B, C are Enterprise; D to H are SMB.
///
/// Enterprise: S = {A, B, C}, A churns → 1/3; MRR(b) = B 50 + C 90 = 140;
/// NPS over A (10), B (9), C/r1 (6), C/r2 (2) → (2 - 2) / 4 = 0.
/// SMB: S = {F, H}, nobody churns → 0; MRR(b) = D 80 + F 60 + H 100 = 240;
/// NPS over F (9) alone → 100.
#[test]
fn every_metric_is_broken_down_by_segment() {
    let (project, report) = run_fixture(Money::Decimal);
    let segment = |id: &str, name: &str| {
        metric(&report, id)["segments"]
            .as_array()
            .and_then(|s| {
                s.iter()
                    .find(|s| s["segment"] == name && s["dimension"] == "segment")
            })
            .unwrap_or_else(|| panic!("{id} has segment {name}"))
            .clone()
    };
    assert!(
        (segment("client_churn_rate", "Enterprise")["value"]
            .as_f64()
            .unwrap_or(-1.0)
            - 1.0 / 3.0)
            .abs()
            < 1e-12
    );
    assert_eq!(segment("client_churn_rate", "Enterprise")["sample_size"], 3);
    assert_eq!(
        segment("client_churn_rate", "SMB")["value"].as_f64(),
        Some(0.0)
    );
    assert_eq!(segment("mrr", "Enterprise")["value"].as_f64(), Some(140.0));
    assert_eq!(segment("mrr", "SMB")["value"].as_f64(), Some(240.0));
    assert_eq!(segment("nps", "Enterprise")["value"].as_f64(), Some(0.0));
    assert_eq!(segment("nps", "SMB")["value"].as_f64(), Some(100.0));
    assert_eq!(segment("nps", "SMB")["sample_size"], 1);
    let html = std::fs::read_to_string(project.out().join("2026-W47/report.html")).expect("html");
    assert!(
        html.contains("Segment: Enterprise €140.00"),
        "the report shows segments"
    );
}

#[test]
fn previous_week_and_trend_use_earlier_ends() {
    let (_project, report) = run_fixture(Money::Decimal);
    let mrr = metric(&report, "mrr");
    // One week earlier (end 2026-11-16): A 100 + B 50 + C 90 + D 80 + F 60
    // + H 100 = 480 (E ended 2026-11-10).
    assert!((mrr["previous"].as_f64().unwrap_or_default() - 480.0).abs() < 1e-9);
    let trend = mrr["trend"].as_array().expect("trend");
    assert_eq!(trend.len(), 12);
    assert_eq!(trend[0]["period"], "2026-W36");
    assert_eq!(trend[11]["period"], "2026-W47");
    assert_eq!(trend[11]["value"].as_f64(), mrr["value"].as_f64());
    assert_eq!(
        metric(&report, "nps")["window_start"],
        "2026-08-25T00:00:00Z"
    );
    assert_eq!(metric(&report, "nps")["window_end"], "2026-11-23T00:00:00Z");
}

#[test]
fn golden_report_json_and_html() {
    let (project, report) = run_fixture(Money::Decimal);
    insta::assert_json_snapshot!("fixture_report_json", report);
    let html = std::fs::read_to_string(project.out().join("2026-W47/report.html")).expect("html");
    insta::assert_snapshot!("fixture_report_html", html);

    // Both layouts, as their audiences get them: leadership's summary and
    // the detailed edition, HTML and text parts of the messages.
    let config = std::fs::read_to_string(project.config())
        .expect("config")
        .replace(
            "  - name: leadership\n",
            "  - name: leadership\n    layout: summary\n",
        );
    std::fs::write(project.config(), config).expect("write");
    let editions = project.path().join("editions");
    let output = run(crate::support::clientpulse()
        .args(["run", "--period", "2026-W47", "--config"])
        .arg(project.config())
        .arg("--out")
        .arg(&editions));
    assert!(output.status.success(), "{output:?}");
    let outbox = editions.join("2026-W47/outbox");
    for (name, file) in [
        ("fixture_summary", "01-leadership-ceo@example.com.eml"),
        (
            "fixture_detailed",
            "03-customer-success-cs-lead@example.com.eml",
        ),
    ] {
        let bytes = std::fs::read(outbox.join(file)).expect("eml");
        let message = mail_parser::MessageParser::default()
            .parse(&bytes)
            .expect("parsable");
        let html = message.body_html(0).expect("html").into_owned();
        let text = message.body_text(0).expect("text").into_owned();
        insta::assert_snapshot!(format!("{name}_html"), html);
        insta::assert_snapshot!(format!("{name}_text"), text);
    }
}

/// Warehouse text is untrusted: a client name and a comment with markup
/// reach the report only escaped, and never a mail header.
#[test]
fn warehouse_text_is_escaped_in_the_report_and_mail() {
    let project = Project::new("warehouse");
    project.write_config_with(
        "warehouse",
        &["nps", "csat", "feedback"],
        crate::support::DEFAULT_DELIVERY,
    );
    let root = project.path().join("warehouse");
    let fixture = Fixture::new(&root, Money::Decimal);
    fixture.table(
        "clients",
        &[vec![
            V::S("A"),
            V::S("Smith & <Sons>"),
            V::S("SMB"),
            V::S("EMEA"),
            V::S("am@example.com"),
            V::T("2025-01-01T00:00:00Z"),
        ]],
    );
    let mut detractor = answer("A-1", "A", "r1", "nps", 2, 10, "2026-11-20T10:00:00Z");
    detractor[6] = V::S("<script>alert('x')</script> \"too slow\"\r\nBcc: victim@example.com");
    let mut promoter = answer("A-2", "A", "r2", "nps", 10, 10, "2026-11-21T10:00:00Z");
    promoter[6] = V::S("Great & fast <b>support</b>");
    fixture.table("survey_responses", &[detractor, promoter]);
    fixture.empty_rest();
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert!(output.status.success(), "{output:?}");

    let report = project.report_json("2026-W47");
    let feedback = metric(&report, "feedback");
    assert_eq!(feedback["sample_size"], 2);
    let items = feedback["items"].as_array().expect("items");
    assert_eq!(items[0]["label"], "testimonial");
    assert_eq!(
        items[0]["client"], "Smith & <Sons>",
        "report.json keeps the raw text"
    );
    assert_eq!(items[1]["label"], "to_fix");

    let html = std::fs::read_to_string(project.out().join("2026-W47/report.html")).expect("html");
    assert!(
        !html.contains("<script>"),
        "no raw markup from the warehouse"
    );
    assert!(
        !html.contains("<b>support"),
        "no raw markup from the warehouse"
    );
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt;")
            || html.contains("&lt;script&gt;")
    );
    assert!(html.contains("Smith &amp; &lt;Sons&gt;"));
    for file in crate::support::eml_files(&project.out().join("2026-W47/outbox")) {
        let bytes = std::fs::read(&file).expect("eml");
        let message = mail_parser::MessageParser::default()
            .parse(&bytes)
            .expect("mail");
        assert!(
            message.header("Bcc").is_none(),
            "warehouse text never makes a header"
        );
        assert!(!message.subject().unwrap_or_default().contains("Smith"));
        let body = message.body_html(0).unwrap_or_default();
        assert!(!body.contains("<script>"));
        if body.contains("What to fix") {
            assert!(body.contains("&lt;script&gt;"));
        }
    }
}
