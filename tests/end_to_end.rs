//! The binary on generated demo warehouses, as users and CI meet it: the
//! README's first command on a fresh folder, and delivery through a real
//! SMTP server, with the messages read back the way a mail client reads
//! them. (Warehouses in S3 are the `s3` module's.)

use mail_parser::{MessageParser, MimeHeaders};

use crate::support::{
    Project, assert_clean_failure, clientpulse, copy_files, demo_data, eml_files, entry_names,
    metric, repo, run, start_smtp, stderr, stdout,
};

const END: &str = "2026-11-25";

/// A message as a mail client shows it: headers, and both bodies decoded.
struct Read {
    subject: String,
    from: String,
    to: String,
    message_id: String,
    html: String,
    text: String,
}

fn read_message(bytes: &[u8]) -> Read {
    let message = MessageParser::default()
        .parse(bytes)
        .expect("a parsable message");
    assert_eq!(message.html_body_count(), 1, "one HTML part");
    assert_eq!(message.text_body_count(), 1, "one text part");
    let content_type = message.content_type().expect("content type");
    assert_eq!(content_type.c_type, "multipart");
    assert_eq!(content_type.subtype(), Some("alternative"));
    Read {
        subject: message.subject().unwrap_or_default().to_string(),
        from: message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string(),
        to: message
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string(),
        message_id: message.message_id().unwrap_or_default().to_string(),
        html: message.body_html(0).unwrap_or_default().into_owned(),
        text: message.body_text(0).unwrap_or_default().into_owned(),
    }
}

#[test]
fn the_readme_command_makes_the_demo_warehouse_and_a_report() {
    // A fresh copy of the project's files, run as `clientpulse run` from
    // its root, exactly as README's first command does.
    let root = tempfile::tempdir().expect("tmp");
    for folder in ["config", "queries", "queries/shared", "report-templates"] {
        copy_files(&repo().join(folder), &root.path().join(folder));
    }
    let output = run(clientpulse().arg("run").current_dir(root.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("generating one"),
        "says it makes the demo warehouse"
    );
    assert!(root.path().join("out/demo-warehouse/usage_events").is_dir());
    let week = root.path().join("out/2026-W47");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(week.join("report.json")).expect("json"))
            .expect("valid json");
    assert_eq!(
        report["metrics"].as_array().map(Vec::len),
        Some(39),
        "the whole catalogue and the two at-risk figures"
    );
    // The demo's week has clients to call and material changes to explain.
    let at_risk = report["at_risk"].as_array().expect("at_risk list");
    assert!(!at_risk.is_empty(), "no client at risk in the demo");
    assert!(
        at_risk
            .iter()
            .all(|c| c["signals"].as_array().is_some_and(|s| s.len() >= 2))
    );
    let explained = report["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter(|m| m.get("drivers").is_some())
        .count();
    assert!(explained > 0, "no metric says what moved it");
    for id in [
        "nps",
        "csat",
        "client_churn_rate",
        "mrr",
        "paying_clients",
        "churned_clients",
    ] {
        let value = &metric(&report, id)["value"];
        assert!(
            value.is_number(),
            "{id} has a value on the demo data: {value}"
        );
        assert!(
            metric(&report, id)["sql_sha256"]
                .as_str()
                .is_some_and(|s| s.len() == 64)
        );
    }
    assert!(
        metric(&report, "paying_clients")["value"]
            .as_f64()
            .unwrap_or_default()
            > 20.0
    );
    // Feature adoption's figures are its items (`-- headline: items`): its
    // card shows their range where a figure would be, not "no data", and
    // it has no segments (each would be NULL), unlike stickiness.
    let html = std::fs::read_to_string(week.join("report.html")).expect("report.html");
    let card = html
        .split(r#"id="metric-feature_adoption""#)
        .nth(1)
        .and_then(|rest| rest.split(r#"id="metric-"#).next())
        .expect("a feature adoption card");
    let headline = card
        .split(r#"class="value">"#)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("a headline");
    let shares: Vec<String> = metric(&report, "feature_adoption")["items"]
        .as_array()
        .expect("feature items")
        .iter()
        .filter_map(|item| item["value"].as_f64())
        .map(|share| format!("{:.1} %", share * 100.0))
        .collect();
    assert_eq!(shares.len(), 4, "{card}");
    assert!(
        headline.contains(" %") && !card.contains("no data"),
        "{card}"
    );
    assert!(
        shares.iter().all(|share| card.contains(share.as_str())),
        "{shares:?} in {card}"
    );
    let values: Vec<f64> = metric(&report, "feature_adoption")["items"]
        .as_array()
        .expect("feature items")
        .iter()
        .filter_map(|item| item["value"].as_f64())
        .collect();
    let (low, high) = (
        format!(
            "{:.1} %",
            values.iter().copied().fold(f64::MAX, f64::min) * 100.0
        ),
        format!(
            "{:.1} %",
            values.iter().copied().fold(f64::MIN, f64::max) * 100.0
        ),
    );
    assert!(
        headline == low.as_str() || headline == format!("{low} to {high}"),
        "{headline} is not {low} to {high}"
    );
    assert_eq!(
        metric(&report, "feature_adoption")["segments"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert!(
        metric(&report, "stickiness")["segments"]
            .as_array()
            .is_some_and(|segments| !segments.is_empty())
    );
    let outbox = eml_files(&week.join("outbox"));
    assert_eq!(
        outbox.len(),
        9,
        "one message per recipient and per account manager"
    );
    // The second run finds the warehouse and does not make it again.
    let again = run(clientpulse().arg("run").current_dir(root.path()));
    assert!(again.status.success());
    assert!(!stderr(&again).contains("generating"));
    assert_eq!(
        eml_files(&week.join("outbox")).len(),
        9,
        "re-run replaces, never adds"
    );
}

#[test]
fn two_first_runs_at_once_make_the_demo_warehouse_once() {
    // Two `check`s started together on a fresh copy (a pipeline's jobs
    // side by side) both find no demo warehouse. Without a lock each
    // would stage the tables in the same folder and delete the other's.
    let root = tempfile::tempdir().expect("tmp");
    for folder in ["config", "queries", "queries/shared", "report-templates"] {
        copy_files(&repo().join(folder), &root.path().join(folder));
    }
    let start = || {
        clientpulse()
            .arg("check")
            .current_dir(root.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the clientpulse binary starts")
    };
    let (first, second) = (start(), start());
    let outputs = [first, second].map(|child| child.wait_with_output().expect("it ends"));
    for output in &outputs {
        assert!(output.status.success(), "{}", stderr(output));
    }
    let made = outputs
        .iter()
        .filter(|output| stderr(output).contains("generating one"))
        .count();
    assert_eq!(
        made, 1,
        "one of the two makes the warehouse, the other waits for it"
    );
    let warehouse = root.path().join("out/demo-warehouse");
    let marker: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(warehouse.join("_clientpulse_demo.json")).expect("marker"),
    )
    .expect("valid marker");
    assert_eq!(marker["complete"], serde_json::Value::Bool(true));
    let entries = entry_names(&warehouse);
    assert_eq!(
        entries,
        [
            "_clientpulse_demo.json",
            "clients",
            "onboarding",
            "orders",
            "projects",
            "subscriptions",
            "survey_responses",
            "tickets",
            "usage_events"
        ],
        "every table, and no staging left behind"
    );
}

#[test]
fn outbox_messages_read_like_mail() {
    let project = Project::new("warehouse");
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "11"],
    );
    let output = run(&mut project.command(&["run", "--period", "2026-W46"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = project.report_json("2026-W46");
    let files = eml_files(&project.out().join("2026-W46/outbox"));
    assert_eq!(files.len(), 3);
    let mut recipients = Vec::new();
    for file in &files {
        let mail = read_message(&std::fs::read(file).expect("eml"));
        assert_eq!(mail.from, "clientpulse@example.com");
        assert!(
            mail.subject.starts_with("Client pulse 2026-W46: "),
            "{}",
            mail.subject
        );
        assert!(mail.message_id.starts_with("clientpulse.2026-W46."));
        assert!(mail.html.contains("Net Promoter Score"));
        assert!(mail.text.contains("Net Promoter Score"));
        // NPS reads with its margin of error: "-18 ± 14".
        let nps = metric(&report, "nps")["value"].as_f64().expect("nps");
        let margin = metric(&report, "nps")["margin"].as_f64().expect("margin");
        let shown = format!("{nps:.0} ± {margin:.0}").replace("-0 ", "0 ");
        assert!(mail.text.contains(&shown), "text shows NPS {shown}");
        assert!(mail.html.contains(&shown), "HTML shows NPS {shown}");
        recipients.push(mail.to.clone());
        if mail.to == "cs-lead@example.com" {
            // The customer-success audience sees only its two metrics.
            assert!(!mail.text.contains("Monthly recurring revenue"));
        } else {
            assert!(mail.html.contains("Monthly recurring revenue"));
        }
    }
    recipients.sort();
    assert_eq!(
        recipients,
        ["ceo@example.com", "cfo@example.com", "cs-lead@example.com"]
    );
}

#[test]
fn demo_data_is_deterministic() {
    let a = tempfile::tempdir().expect("tmp");
    let b = tempfile::tempdir().expect("tmp");
    demo_data(a.path(), &["--end", END, "--seed", "5"]);
    demo_data(b.path(), &["--end", END, "--seed", "5"]);
    for table in clientpulse::catalog::contract_table_names() {
        let file = format!("{table}/part-0.parquet");
        let left = std::fs::read(a.path().join(&file)).expect("a");
        let right = std::fs::read(b.path().join(&file)).expect("b");
        assert!(
            left == right,
            "{table} differs between two runs with one seed"
        );
    }
    let c = tempfile::tempdir().expect("tmp");
    demo_data(c.path(), &["--end", END, "--seed", "6"]);
    assert_ne!(
        std::fs::read(a.path().join("subscriptions/part-0.parquet")).expect("a"),
        std::fs::read(c.path().join("subscriptions/part-0.parquet")).expect("c"),
    );
}

const SMTP_DELIVERY: &str = "delivery:\n  mode: smtp\n  from: Client Pulse <clientpulse@example.com>\n  retries: 1\n  smtp:\n    host: smtp.invalid\n    tls: required\n";

#[test]
fn smtp_delivery_never_sends_twice_and_resumes_after_a_failure() {
    let project = Project::new("warehouse");
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "31"],
    );
    project.write_config("warehouse", SMTP_DELIVERY);
    let inbox = project.path().join("inbox");

    // A dry run renders and writes the outbox but sends nothing.
    let server = start_smtp(&inbox, &[]);
    let smtp_url = format!("smtp://127.0.0.1:{}", server.port);
    let dry = run(project
        .command(&["run", "--period", "2026-W47", "--dry-run"])
        .env("CLIENTPULSE_SMTP_URL", &smtp_url));
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert_eq!(eml_files(&project.out().join("2026-W47/outbox")).len(), 3);
    assert!(eml_files(&inbox).is_empty(), "a dry run sends nothing");
    drop(server);

    // The server refuses one recipient: exit 4, the others are recorded.
    let server = start_smtp(&inbox, &["cfo@example.com"]);
    let smtp_url = format!("smtp://127.0.0.1:{}", server.port);
    let first = run(project
        .command(&["run", "--period", "2026-W47"])
        .env("CLIENTPULSE_SMTP_URL", &smtp_url));
    assert_clean_failure(&first, 4, &["cfo@example.com", "1 of 3"]);
    assert_eq!(eml_files(&inbox).len(), 2);
    drop(server);

    // The re-run sends only the message that failed.
    let server = start_smtp(&inbox, &[]);
    let smtp_url = format!("smtp://127.0.0.1:{}", server.port);
    let second = run(project
        .command(&["run", "--period", "2026-W47"])
        .env("CLIENTPULSE_SMTP_URL", &smtp_url));
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stdout(&second).contains("sent 1, already sent before 2"));
    let received = eml_files(&inbox);
    assert_eq!(received.len(), 3);

    // And a third run (a cron that fires twice) sends nothing at all.
    let third = run(project
        .command(&["run", "--period", "2026-W47"])
        .env("CLIENTPULSE_SMTP_URL", &smtp_url));
    assert!(third.status.success());
    assert_eq!(eml_files(&inbox).len(), 3);

    let mut recipients: Vec<String> = received
        .iter()
        .map(|file| {
            let mail = read_message(&std::fs::read(file).expect("eml"));
            assert!(mail.subject.starts_with("Client pulse 2026-W47"));
            assert!(mail.html.contains("<table"));
            mail.to
        })
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["ceo@example.com", "cfo@example.com", "cs-lead@example.com"]
    );
    let ledger = std::fs::read_to_string(project.out().join("2026-W47/sent.json")).expect("ledger");
    assert_eq!(ledger.matches("message_id").count(), 3);
    assert!(!ledger.contains(&smtp_url), "no server URL in artefacts");
}

#[test]
fn an_unreachable_smtp_server_is_exit_4() {
    let project = Project::new("warehouse");
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "41"],
    );
    project.write_config("warehouse", SMTP_DELIVERY);
    let port = crate::support::free_port();
    let output = run(project.command(&["run", "--period", "2026-W47"]).env(
        "CLIENTPULSE_SMTP_URL",
        format!("smtp://user:s3cret@127.0.0.1:{port}"),
    ));
    assert_clean_failure(&output, 4, &["3 of 3"]);
    assert!(
        !stderr(&output).contains("s3cret"),
        "the password never reaches a log"
    );
}

#[test]
fn a_backfill_runs_every_week_of_the_range() {
    let project = Project::new("warehouse");
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "51"],
    );
    let output = run(&mut project.command(&["run", "--from", "2026-W44", "--to", "2026-W46"]));
    assert!(output.status.success(), "{}", stderr(&output));
    for week in ["2026-W44", "2026-W45", "2026-W46"] {
        let report = project.report_json(week);
        assert_eq!(report["period"]["label"], week);
    }
    assert!(!project.out().join("2026-W47").exists());
}

/// `run --profile FILE`: one JSON line per query run, saying what it cost
/// and what it read, table by table.
#[test]
fn a_profile_says_what_each_query_read() {
    let project = Project::new("warehouse");
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "52"],
    );
    project.write_config_with(
        "warehouse",
        &["stickiness", "mrr", "nps"],
        crate::support::DEFAULT_DELIVERY,
    );
    let profile = project.path().join("profile.jsonl");
    let flag = format!("--profile={}", profile.display());
    let output = run(&mut project.command(&["run", "--period", "2026-W46", &flag]));
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(&profile).expect("profile written");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let (shared, lines): (Vec<_>, Vec<_>) =
        lines.iter().partition(|line| line["scope"] == "shared");
    let (trend, segments): (Vec<_>, Vec<_>) =
        lines.into_iter().partition(|line| line["scope"] == "trend");
    // Stickiness reads the shared table of each user's days, mrr that of
    // each client's subscription rows and nps that of the answers, each
    // computed once for the week from the warehouse.
    assert_eq!(shared.len(), 3, "{text}");
    for (table, read_from) in [
        ("user_days", "usage_events"),
        ("client_subscriptions", "subscriptions"),
        ("nps_answer_spans", "survey_responses"),
    ] {
        let line = shared
            .iter()
            .find(|line| line["metric"] == table)
            .unwrap_or_else(|| panic!("no {table}: {text}"));
        assert_eq!(line["week"], "2026-W46", "{text}");
        assert!(
            line["rows_read"][read_from].as_u64().is_some_and(|n| n > 0),
            "{text}"
        );
    }
    // Each metric reads its windows from the table `windows`: one query
    // for the 12 weeks of its trend, and no more.
    assert_eq!(trend.len(), 3, "{text}");
    for line in &trend {
        assert_eq!(line["windows"], 12, "{line}");
        assert_eq!(line["week"], "2026-W46", "{line}");
    }
    for line in &trend {
        let seconds = line["seconds"].as_f64().unwrap_or(-1.0);
        assert!(seconds >= 0.0, "{line}");
        // Planning is part of the query's time.
        assert!(
            line["planning_seconds"]
                .as_f64()
                .is_some_and(|p| p > 0.0 && p <= seconds),
            "{line}"
        );
        // Nothing runs out of memory on a small warehouse.
        assert_eq!(line["ran_again_alone"], false, "{line}");
        let read = &line["rows_read"];
        match line["metric"].as_str() {
            Some("stickiness" | "mrr" | "nps") => {
                assert!(
                    read["(in memory)"].as_u64().is_some_and(|n| n > 0),
                    "{line}"
                );
                assert_eq!(read.as_object().map(|o| o.len()), Some(1), "{line}");
            }
            other => panic!("unexpected metric {other:?}"),
        }
    }
    // Every segment of the default breakdown (`segment`) runs each metric
    // for the week over its slice of the tables, held in memory.
    let enterprise: Vec<_> = segments
        .iter()
        .filter(|line| line["scope"] == "segment segment=Enterprise" && line["week"] == "2026-W46")
        .collect();
    assert_eq!(enterprise.len(), 3, "{text}");
    for line in enterprise {
        // The week and the week before (their change splits over
        // segments), in one query.
        assert_eq!(line["windows"], 2, "{line}");
        assert!(
            line["rows_read"]["(in memory)"]
                .as_u64()
                .is_some_and(|n| n > 0),
            "{line}"
        );
    }
    // The week's figures are the same with or without a profile.
    let profiled = project.report_json("2026-W46");
    std::fs::remove_dir_all(project.out()).expect("clear out");
    let output = run(&mut project.command(&["run", "--period", "2026-W46"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let plain = project.report_json("2026-W46");
    for id in ["stickiness", "mrr", "nps"] {
        assert_eq!(metric(&profiled, id), metric(&plain, id), "{id}");
    }
}

/// A profile that cannot be written stops the run before anything is
/// computed or sent: exit 1, naming the file.
#[test]
fn a_profile_that_cannot_be_written_is_exit_1_before_the_run() {
    let project = Project::new("warehouse");
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "53"],
    );
    let profile = project.path().join("no-such-folder/profile.jsonl");
    let flag = format!("--profile={}", profile.display());
    let output = run(&mut project.command(&["run", "--period", "2026-W46", &flag]));
    assert_clean_failure(&output, 1, &["no-such-folder/profile.jsonl"]);
    assert!(!project.out().join("2026-W46").exists());
}
