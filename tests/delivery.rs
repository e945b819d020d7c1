//! SMTP as companies run it: STARTTLS and implicit TLS with a private
//! certificate authority, AUTH, the server named by the config or by
//! `CLIENTPULSE_SMTP_URL` alone, the headers a mail client shows, and the
//! ways a relay refuses (wrong password, a certificate nobody trusts).
//! Every server is aiosmtpd on loopback with a certificate the test makes;
//! messages are read back with a MIME parser, as a mail client reads them.

use std::path::Path;

use mail_parser::MessageParser;

use crate::support::{
    Project, assert_clean_failure, demo_data, eml_files, make_certs, run, start_smtp,
    start_smtp_with, stderr, stdout,
};

const WEEK: &str = "2026-W47";
const END: &str = "2026-11-25";
const PASSWORD: &str = "s3cret-relay-pass";

/// A project on a fresh demo warehouse.
fn project() -> Project {
    let project = Project::new("warehouse");
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "77"],
    );
    project
}

fn delivery_section(smtp: &str) -> String {
    format!(
        "delivery:\n  mode: smtp\n  from: Client Pulse <clientpulse@example.com>\n  reply_to: cs-ops@example.com\n  retries: 1\n{smtp}"
    )
}

/// Every accepted message, parsed.
fn inbox(folder: &Path) -> Vec<mail_parser::Message<'static>> {
    eml_files(folder)
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(file).expect("eml");
            MessageParser::default()
                .parse(&bytes)
                .expect("a parsable message")
                .into_owned()
        })
        .collect()
}

/// The first To address of every accepted message, sorted.
fn recipients(folder: &Path) -> Vec<String> {
    let mut recipients: Vec<String> = inbox(folder)
        .iter()
        .map(|message| {
            message
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    recipients.sort();
    recipients
}

/// A private CA (kept alive by the returned folder) and an aiosmtpd server
/// requiring `tls` (`--starttls` or `--implicit-tls`) and AUTH with
/// [`PASSWORD`]: the folder, the CA file, the server and its inbox.
fn tls_server(
    tls: &str,
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    crate::support::Server,
    tempfile::TempDir,
) {
    let certs = tempfile::tempdir().expect("certs");
    let (ca, cert, key) = make_certs(certs.path());
    let received = tempfile::tempdir().expect("inbox");
    let cert = cert.display().to_string();
    let key = key.display().to_string();
    let server = start_smtp_with(
        received.path(),
        &[],
        &[tls, &cert, &key, "--auth", "pulse", PASSWORD],
    );
    (certs, ca, server, received)
}

#[test]
fn starttls_with_auth_and_a_private_ca_delivers_with_every_header() {
    let project = project();
    let (_certs, ca, server, received) = tls_server("--starttls");
    project.write_config(
        "warehouse",
        &delivery_section(&format!(
            "  smtp:\n    host: 127.0.0.1\n    port: {}\n    tls: required\n    username_env: RELAY_USER\n    password_env: RELAY_PASSWORD\n    ca_file: {}\n    timeout_seconds: 10\n",
            server.port,
            ca.display()
        )),
    );
    let mut config = std::fs::read_to_string(project.config()).expect("config");
    config = config.replace(
        "  - name: customer-success\n",
        "  - name: customer-success\n    unsubscribe: mailto:cs-ops@example.com?subject=unsubscribe\n",
    );
    std::fs::write(project.config(), config).expect("config");
    let output = run(project
        .command(&["run", "--period", WEEK])
        .env("RELAY_USER", "pulse")
        .env("RELAY_PASSWORD", PASSWORD));
    assert!(output.status.success(), "{}", stderr(&output));
    for recipient in ["ceo@example.com", "cfo@example.com", "cs-lead@example.com"] {
        assert!(
            stdout(&output).contains(&format!("{recipient} ")),
            "a line per recipient: {}",
            stdout(&output)
        );
    }

    let messages = inbox(received.path());
    assert_eq!(messages.len(), 3);
    for message in &messages {
        let address = |list: Option<&mail_parser::Address>| {
            list.and_then(|a| a.first())
                .and_then(|a| a.address())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(address(message.from()), "clientpulse@example.com");
        assert_eq!(address(message.reply_to()), "cs-ops@example.com");
        assert!(message.date().is_some(), "a Date header");
        assert!(
            message
                .message_id()
                .is_some_and(|id| id.starts_with("clientpulse."))
        );
        let subject = message.subject().unwrap_or_default();
        assert!(subject.starts_with("Client pulse 2026-W47: "), "{subject}");
        assert!(
            subject.contains(" to ") && subject.contains("off target"),
            "{subject}"
        );
        let unsubscribe = message
            .header_raw("List-Unsubscribe")
            .map(|value| value.trim().to_string());
        if address(message.to()) == "cs-lead@example.com" {
            assert_eq!(
                unsubscribe.as_deref(),
                Some("<mailto:cs-ops@example.com?subject=unsubscribe>")
            );
        } else {
            assert_eq!(unsubscribe, None, "leadership's audience names none");
        }
    }
    assert!(!stdout(&output).contains(PASSWORD) && !stderr(&output).contains(PASSWORD));
}

#[test]
fn implicit_tls_named_by_the_url_alone_as_the_readme_says() {
    let project = project();
    let (_certs, ca, server, received) = tls_server("--implicit-tls");
    // The server comes from CLIENTPULSE_SMTP_URL; the config only trusts
    // the relay's private certificate authority.
    project.write_config(
        "warehouse",
        &delivery_section(&format!("  smtp:\n    ca_file: {}\n", ca.display())),
    );
    let url = format!("smtps://pulse:{PASSWORD}@127.0.0.1:{}", server.port);
    let output = run(project
        .command(&["run", "--period", WEEK])
        .env("CLIENTPULSE_SMTP_URL", &url));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(inbox(received.path()).len(), 3);

    // README step 5: `delivery.mode: smtp` and the URL, no smtp section.
    let plain_inbox = tempfile::tempdir().expect("inbox");
    let plain = start_smtp(plain_inbox.path(), &[]);
    project.write_config("warehouse", &delivery_section(""));
    let out_plain = project.path().join("out-plain").display().to_string();
    let output = run(project
        .command(&["run", "--period", WEEK, "--out", &out_plain])
        .env(
            "CLIENTPULSE_SMTP_URL",
            format!("smtp://127.0.0.1:{}", plain.port),
        ));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(inbox(plain_inbox.path()).len(), 3);
}

#[test]
fn a_wrong_password_or_an_untrusted_certificate_is_refused_cleanly() {
    let project = project();
    let (_certs, ca, server, received) = tls_server("--starttls");
    project.write_config(
        "warehouse",
        &delivery_section(&format!("  smtp:\n    ca_file: {}\n", ca.display())),
    );
    let wrong = "not-the-password-42";
    let url = |password: &str| {
        format!(
            "smtp://pulse:{password}@127.0.0.1:{}?tls=required",
            server.port
        )
    };
    let output = run(project
        .command(&["run", "--period", WEEK])
        .env("CLIENTPULSE_SMTP_URL", url(wrong)));
    assert_clean_failure(&output, 4, &["3 of 3 message(s) not delivered", "535"]);
    assert!(!stderr(&output).contains(wrong), "{}", stderr(&output));
    assert!(!project.out().join(WEEK).join("sent.json").exists());

    // Without the private CA, the relay's certificate is not trusted.
    project.write_config("warehouse", &delivery_section(""));
    let output = run(project
        .command(&["run", "--period", WEEK])
        .env("CLIENTPULSE_SMTP_URL", url(PASSWORD)));
    assert_clean_failure(&output, 4, &["certificate"]);
    assert!(!stderr(&output).contains(PASSWORD));
    assert!(inbox(received.path()).is_empty(), "nothing went out");
}

#[test]
fn every_recipient_gets_exactly_one_message_whichever_send_the_run_dies_after() {
    let project = project();
    project.write_config("warehouse", &delivery_section(""));
    for crash_after in 1..=3 {
        let received = tempfile::tempdir().expect("inbox");
        let server = start_smtp(received.path(), &[]);
        let url = format!("smtp://127.0.0.1:{}", server.port);
        let out = project
            .path()
            .join(format!("out-crash-{crash_after}"))
            .display()
            .to_string();
        let command = |crash: Option<usize>| {
            let mut command = project.command(&["run", "--period", WEEK, "--out", &out]);
            command.env("CLIENTPULSE_SMTP_URL", &url);
            if let Some(after) = crash {
                command.env(
                    clientpulse::delivery::CRASH_AFTER_SENDS_VARIABLE,
                    after.to_string(),
                );
            }
            command
        };
        let killed = run(&mut command(Some(crash_after)));
        assert!(
            !killed.status.success(),
            "the run died after send {crash_after}"
        );
        assert_eq!(eml_files(received.path()).len(), crash_after);
        let resumed = run(&mut command(None));
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        assert_eq!(
            recipients(received.path()),
            ["ceo@example.com", "cfo@example.com", "cs-lead@example.com"],
            "each exactly once after a crash after send {crash_after}"
        );
        assert_eq!(
            stdout(&resumed)
                .matches("already sent by an earlier run")
                .count(),
            crash_after.min(3)
        );

        if crash_after == 3 {
            // `--resend RECIPIENT` sends again to that one only, on purpose.
            let mut again = command(None);
            again.args(["--resend", "cfo@example.com"]);
            let output = run(&mut again);
            assert!(output.status.success(), "{}", stderr(&output));
            assert!(stdout(&output).contains("cfo@example.com (leadership): sent again"));
            assert_eq!(eml_files(received.path()).len(), 4);
            let mut unknown = command(None);
            unknown.args(["--resend", "nobody@example.com"]);
            assert_clean_failure(&run(&mut unknown), 2, &["--resend nobody@example.com"]);
        }
    }
}

/// Two runs of the same week at once on one machine (the scheduler's and
/// one by hand, a cron job fired twice): the second waits while the first
/// holds the week's ledger, then finds what the first sent and sends none
/// of it again. Each recipient gets one message.
#[test]
fn two_runs_of_one_week_at_once_send_each_message_once() {
    use std::os::unix::fs::MetadataExt;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let project = project();
    project.write_config("warehouse", &delivery_section(""));
    let received = tempfile::tempdir().expect("inbox");
    let server = start_smtp(received.path(), &[]);
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let held = project.path().join("ledger-held");
    let command = || {
        let mut command = project.command(&["run", "--period", WEEK]);
        command
            .env("CLIENTPULSE_SMTP_URL", &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    let until = |what: &str, done: &mut dyn FnMut() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    // The first run stops while it holds the week's ledger, before it
    // sends anything.
    let mut first = command()
        .env(clientpulse::state::HOLD_LEDGER_VARIABLE, &held)
        .spawn()
        .expect("first run");
    until("the first run to hold the ledger", &mut || {
        held.exists() || first.try_wait().ok().flatten().is_some()
    });
    assert!(
        held.exists(),
        "the first run ended without holding the ledger"
    );
    let report = project.out().join(WEEK).join("report.json");
    let inode = |path: &Path| std::fs::metadata(path).map(|m| m.ino()).ok();
    let firsts = inode(&report);
    // The second writes its own artefacts (report.json anew) right before
    // it opens the ledger.
    let mut second = command().spawn().expect("second run");
    until("the second run's artefacts", &mut || {
        inode(&report) != firsts || second.try_wait().ok().flatten().is_some()
    });
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        second.try_wait().expect("second run").is_none(),
        "the second run waits while the first holds the ledger"
    );
    assert!(eml_files(received.path()).is_empty(), "nothing sent yet");

    std::fs::remove_file(&held).expect("release the first run");
    let first = first.wait_with_output().expect("first run");
    let second = second.wait_with_output().expect("second run");
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(
        recipients(received.path()),
        ["ceo@example.com", "cfo@example.com", "cs-lead@example.com"]
    );
    assert_eq!(
        stdout(&second)
            .matches("already sent by an earlier run")
            .count(),
        3,
        "{}",
        stdout(&second)
    );
    assert!(
        stderr(&second).contains("waiting for another run's delivery 2026-W47"),
        "{}",
        stderr(&second)
    );
}

#[test]
fn a_server_that_is_down_leaves_nothing_marked_sent() {
    let project = project();
    project.write_config("warehouse", &delivery_section(""));
    let closed = format!("smtp://127.0.0.1:{}", crate::support::free_port());
    let output = run(project
        .command(&["run", "--period", WEEK])
        .env("CLIENTPULSE_SMTP_URL", &closed));
    assert_clean_failure(&output, 4, &["3 of 3 message(s) not delivered", "NOT SENT"]);
    assert!(!project.out().join(WEEK).join("sent.json").exists());
}

/// The data gate: a stale warehouse reaches only the data team, once.
#[test]
fn stale_data_sends_only_the_data_teams_alert_once_and_exits_3() {
    let project = Project::new("warehouse");
    // The export stopped on 10 November: the week to 23 November is stale.
    demo_data(
        &project.path().join("warehouse"),
        &["--end", "2026-11-10", "--seed", "77"],
    );
    project.write_config("warehouse", &delivery_section(""));
    let mut config = std::fs::read_to_string(project.config()).expect("config");
    config = config.replace(
        "audiences:\n",
        "audiences:\n  - name: data-team\n    recipients: [data@example.com]\n",
    );
    config.push_str(
        "data_gate:\n  alert_audience: data-team\n  freshness:\n    survey_responses: 7d\n",
    );
    std::fs::write(project.config(), config).expect("config");
    let received = tempfile::tempdir().expect("inbox");
    let server = start_smtp(received.path(), &[]);
    let url = format!("smtp://127.0.0.1:{}", server.port);

    for attempt in 0..2 {
        let output = run(project
            .command(&["run", "--period", WEEK])
            .env("CLIENTPULSE_SMTP_URL", &url));
        assert_clean_failure(
            &output,
            3,
            &[
                "table `survey_responses` is stale",
                "7 day(s) before the week's end",
            ],
        );
        let messages = inbox(received.path());
        assert_eq!(messages.len(), 1, "one alert, never again (run {attempt})");
        let alert = &messages[0];
        let to = alert
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap_or_default()
            .to_string();
        assert_eq!(to, "data@example.com");
        assert!(
            alert
                .subject()
                .unwrap_or_default()
                .contains("data check failed, report not sent")
        );
        let text = alert.body_text(0).unwrap_or_default().into_owned();
        assert!(
            text.contains("survey_responses") && text.contains("stale"),
            "{text}"
        );
        let report = project.report_json(WEEK);
        assert_eq!(report["data_gate"]["passed"], false);
        assert!(report["data_gate"]["problems"].as_array().is_some_and(|p| {
            p.iter()
                .any(|p| p.as_str().unwrap_or_default().contains("survey_responses"))
        }));
        assert_eq!(report["metrics"].as_array().map(Vec::len), Some(0));
    }
}

/// `per: account_manager`: each manager's book, and only their clients.
#[test]
fn each_account_manager_gets_the_report_of_their_own_clients_only() {
    let project = project();
    let mut config = std::fs::read_to_string(project.config()).expect("config");
    config = config.replace(
        "  currency: EUR\n",
        "  currency: EUR\n  breakdowns: [account_manager]\n",
    );
    config = config.replace(
        "audiences:\n",
        "audiences:\n  - name: account-managers\n    per: account_manager\n    metrics: [mrr, paying_clients]\n",
    );
    std::fs::write(project.config(), config).expect("config");
    let output = run(&mut project.command(&["run", "--period", WEEK]));
    assert!(output.status.success(), "{}", stderr(&output));

    let company = project.report_json(WEEK);
    let figure = |report: &serde_json::Value, id: &str| {
        crate::support::metric(report, id)["value"]
            .as_f64()
            .expect("a value")
    };
    let books_dir = project.out().join(WEEK).join("books/account-managers");
    let mut books: Vec<_> = std::fs::read_dir(&books_dir)
        .expect("books")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect();
    books.sort();
    assert_eq!(books.len(), 5, "am1..am5 in the demo: {books:?}");
    let (mut mrr, mut paying) = (0.0, 0.0);
    for book in &books {
        let address = book
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("name")
            .to_string();
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(book).expect("book")).expect("json");
        let ids: Vec<&str> = report["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .filter_map(|m| m["id"].as_str())
            .collect();
        assert_eq!(
            ids,
            ["mrr", "paying_clients"],
            "the audience's metrics only"
        );
        // The company's targets for totals say nothing of one book.
        let mrr_of_book = crate::support::metric(&report, "mrr");
        assert_eq!(mrr_of_book["status"], "no_benchmark");
        assert!(mrr_of_book["target"].is_null());
        assert!(!crate::support::metric(&company, "mrr")["target"].is_null());
        // The book equals the company report's segment of that manager.
        for id in ["mrr", "paying_clients"] {
            let segment = crate::support::metric(&company, id)["segments"]
                .as_array()
                .expect("segments")
                .iter()
                .find(|s| s["segment"] == address.as_str())
                .unwrap_or_else(|| panic!("segment {address}"))["value"]
                .as_f64()
                .expect("value");
            assert!(
                (figure(&report, id) - segment).abs() < 1e-6,
                "{id} of {address}"
            );
        }
        mrr += figure(&report, "mrr");
        paying += figure(&report, "paying_clients");
    }
    // The books partition the company: every client in exactly one.
    assert!((mrr - figure(&company, "mrr")).abs() < 1e-4, "{mrr}");
    assert_eq!(paying, figure(&company, "paying_clients"));

    let outbox = eml_files(&project.out().join(WEEK).join("outbox"));
    assert_eq!(outbox.len(), 3 + 5);
    let mut managers: Vec<String> = outbox
        .iter()
        .filter_map(|file| {
            let bytes = std::fs::read(file).expect("eml");
            let message = MessageParser::default().parse(&bytes).expect("message");
            let to = message.to()?.first()?.address()?.to_string();
            let subject = message.subject().unwrap_or_default().to_string();
            to.starts_with("am").then(|| {
                assert!(subject.contains("your clients"), "{subject}");
                assert!(!subject.contains('@'), "no address in a subject: {subject}");
                to
            })
        })
        .collect();
    managers.sort();
    assert_eq!(
        managers,
        (1..=5)
            .map(|i| format!("am{i}@example.com"))
            .collect::<Vec<_>>()
    );
}
