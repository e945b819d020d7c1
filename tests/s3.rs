//! The warehouse and the archive on S3-compatible storage: moto's server
//! over HTTP on loopback (and s3rver, a second implementation), a fresh
//! bucket per test, and a proxy in front of moto (`support::s3_proxy`)
//! that counts requests and injects faults.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::s3_proxy::{Plan, Proxy};
use crate::support::warehouse::partition_by_day;
use crate::support::{
    Project, Server, assert_clean_failure, clientpulse, eml_files, run, start_s3,
    start_s3_with_auth, start_s3rver, start_smtp, stderr, stdout,
};

const END: &str = "2026-11-25";
const WEEK: &str = "2026-W47";

/// The AWS variables of a user pointing clientpulse at `endpoint` (moto,
/// or the proxy in front of it).
fn aws<'a>(command: &'a mut Command, endpoint: &str) -> &'a mut Command {
    aws_with(command, endpoint, "test")
}

/// The same with the access key (and secret) `key`.
fn aws_with<'a>(command: &'a mut Command, endpoint: &str, key: &str) -> &'a mut Command {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", key)
        .env("AWS_REGION", "us-east-1")
}

fn demo_data(out: &str, endpoint: &str) {
    demo_data_with(out, endpoint, "test");
}

fn demo_data_with(out: &str, endpoint: &str, key: &str) {
    let output = run(aws_with(
        clientpulse().args(["demo-data", "--out", out, "--end", END, "--seed", "21"]),
        endpoint,
        key,
    ));
    assert!(output.status.success(), "{}", stderr(&output));
}

fn report(project: &Project, endpoint: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["run", "--period", WEEK];
    all.extend_from_slice(args);
    let output = run(aws(&mut project.command(&all), endpoint));
    assert!(output.status.success(), "{}", stderr(&output));
    project.report_json(WEEK)
}

/// Appends `text` (a top-level section) to the project's config.
fn add_to_config(project: &Project, text: &str) {
    let mut config = std::fs::read_to_string(project.config()).expect("config");
    config.push_str(text);
    std::fs::write(project.config(), config).expect("write config");
}

#[test]
fn a_bucket_gives_the_report_of_the_same_files_on_disk_flat_and_partitioned() {
    let s3 = start_s3();
    let endpoint = s3.endpoint();
    // The user's two commands: the demo straight into a bucket, then a run
    // that reads it.
    s3.create_bucket("flat-wh");
    demo_data("s3://flat-wh/prod/cs", &endpoint);
    let remote = Project::new("s3://flat-wh/prod/cs");
    let in_s3 = report(&remote, &endpoint, &[]);

    let local = Project::new("warehouse");
    let root = local.path().join("warehouse");
    demo_data(&root.display().to_string(), &endpoint);
    let on_disk = report(&local, &endpoint, &[]);
    assert_eq!(on_disk["metrics"], in_s3["metrics"]);
    assert_eq!(on_disk["period"], in_s3["period"]);
    assert!(in_s3["metrics"].as_array().is_some_and(|m| m.len() == 6));

    // Hive-partitioned event tables, on disk and in a bucket.
    partition_by_day(&root, "usage_events", "occurred_at");
    partition_by_day(&root, "survey_responses", "responded_at");
    s3.upload("hive-wh", "cs", &root);
    let local_partitioned = report(&local, &endpoint, &[]);
    let remote = Project::new("s3://hive-wh/cs");
    let in_s3_partitioned = report(&remote, &endpoint, &[]);
    assert_eq!(local_partitioned["metrics"], in_s3_partitioned["metrics"]);
    assert_eq!(on_disk["metrics"], in_s3_partitioned["metrics"]);

    // `check` plans every query against the bucket's schema too.
    let output = run(aws(&mut remote.command(&["check"]), &endpoint));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("ok:"));

    // demo-data claims only an empty prefix or its own demo warehouse.
    let again = run(aws(
        clientpulse().args(["demo-data", "--out", "s3://flat-wh/prod/cs", "--end", END]),
        &endpoint,
    ));
    assert!(again.status.success(), "{}", stderr(&again));
    let foreign = run(aws(
        clientpulse().args(["demo-data", "--out", "s3://hive-wh", "--end", END]),
        &endpoint,
    ));
    assert_clean_failure(
        &foreign,
        2,
        &["refusing to write a demo warehouse into s3://hive-wh"],
    );
}

#[test]
fn requests_do_not_grow_with_metrics_weeks_or_segments() {
    let s3 = start_s3();
    s3.create_bucket("counted");
    demo_data("s3://counted/wh", &s3.endpoint());
    let proxy = Proxy::start(s3.port, Plan::default());
    let project = Project::new("s3://counted/wh");
    let counts = |metrics: &[&str], period: &[&str]| {
        project.write_config_with("s3://counted/wh", metrics, crate::support::DEFAULT_DELIVERY);
        proxy.reset_counts();
        let mut args = vec!["run"];
        args.extend_from_slice(period);
        let output = run(aws(&mut project.command(&args), &proxy.endpoint()));
        assert!(output.status.success(), "{}", stderr(&output));
        proxy.counts()
    };
    // Both read `subscriptions`, and `clients` for the segments.
    let one = counts(&["mrr"], &["--period", WEEK]);
    let many = counts(
        &[
            "mrr",
            "arr",
            "arpc",
            "paying_clients",
            "new_mrr",
            "churned_mrr",
            "net_new_mrr",
        ],
        &["--from", "2026-W44", "--to", WEEK],
    );
    assert_eq!(one, many, "one metric for one week vs seven for four weeks");
    // One listing and one download per table (one file each).
    assert_eq!(one.get("LIST"), Some(&2), "{one:?}");
    assert_eq!(one.get("GET"), Some(&2), "{one:?}");
    assert_eq!(one.len(), 2, "no other kind of request: {one:?}");

    // Partitioned usage: each file is read once (its footer, for the
    // schema; a daily file is smaller than a footer read, so that read is
    // the whole file), and two usage metrics read what one does.
    let root = tempfile::tempdir().expect("tmp");
    demo_data(&root.path().display().to_string(), &s3.endpoint());
    partition_by_day(root.path(), "usage_events", "occurred_at");
    s3.upload("counted", "hive", root.path());
    let days = std::fs::read_dir(root.path().join("usage_events"))
        .expect("partitions")
        .count();
    let project = Project::new("s3://counted/hive");
    let counts = |metrics: &[&str]| {
        project.write_config_with(
            "s3://counted/hive",
            metrics,
            crate::support::DEFAULT_DELIVERY,
        );
        proxy.reset_counts();
        let output = run(aws(
            &mut project.command(&["run", "--period", "2026-W30"]),
            &proxy.endpoint(),
        ));
        assert!(output.status.success(), "{}", stderr(&output));
        proxy.counts()
    };
    let one = counts(&["stickiness"]);
    let three = counts(&["stickiness", "feature_adoption"]);
    assert_eq!(one, three);
    assert_eq!(
        one.get("GET"),
        Some(&(days + 1)),
        "{days} partitions and clients: {one:?}"
    );
    assert_eq!(one.get("LIST"), Some(&2), "{one:?}");
}

#[test]
fn the_archive_keeps_every_run_and_a_fresh_runner_never_sends_twice() {
    let s3 = start_s3();
    s3.create_bucket("wh-archive");
    s3.create_bucket("history");
    archive_round_trip(&s3);
}

/// A second S3 implementation (s3rver), to catch behaviour only moto has:
/// the same figures as on disk, and the archive across runners.
#[test]
fn a_second_s3_server_gives_the_same_figures_and_keeps_the_archive() {
    let s3rver = start_s3rver(&["wh-archive", "history"]);
    let local = Project::new("warehouse");
    let root = local.path().join("warehouse");
    demo_data(&root.display().to_string(), &s3rver.endpoint());
    let on_disk = report(&local, &s3rver.endpoint(), &[]);
    archive_round_trip(&s3rver);
    let remote = Project::new("s3://wh-archive/cs");
    let output = run(aws_with(
        &mut remote.command(&["run", "--period", WEEK]),
        &s3rver.endpoint(),
        s3rver.key,
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(on_disk["metrics"], remote.report_json(WEEK)["metrics"]);
}

/// The demo into `wh-archive/cs`, then two runners with empty out folders
/// and one archive in `history`: the first sends and archives, the second
/// sends nothing.
fn archive_round_trip(s3: &Server) {
    let endpoint = s3.endpoint();
    demo_data_with("s3://wh-archive/cs", &endpoint, s3.key);
    let inbox = tempfile::tempdir().expect("inbox");
    let smtp = start_smtp(inbox.path(), &[]);
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port);
    let delivery = "delivery:\n  mode: smtp\n  from: Client Pulse <clientpulse@example.com>\n  smtp:\n    host: smtp.invalid\n";

    let first = Project::new("s3://wh-archive/cs");
    first.write_config("s3://wh-archive/cs", delivery);
    add_to_config(&first, "archive: s3://history/clientpulse\n");
    let output = run(aws_with(
        first
            .command(&["run", "--period", WEEK])
            .env("CLIENTPULSE_SMTP_URL", &smtp_url),
        &endpoint,
        s3.key,
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(eml_files(inbox.path()).len(), 3);

    let archived: Vec<String> = s3
        .objects("history")
        .into_iter()
        .map(|(key, size)| {
            assert!(size > 0, "{key} is empty");
            key
        })
        .collect();
    let prefix = format!("clientpulse/{WEEK}/");
    for name in [
        "report.html",
        "report.json",
        "sent.json",
        "images/trend-mrr.png",
    ] {
        assert!(
            archived.contains(&format!("{prefix}{name}")),
            "{name} not archived: {archived:?}"
        );
    }
    let messages = archived
        .iter()
        .filter(|key| key.starts_with(&format!("{prefix}outbox/")) && key.ends_with(".eml"))
        .count();
    assert_eq!(messages, 3);
    let local_json = std::fs::read(first.out().join(WEEK).join("report.json")).expect("json");
    assert_eq!(
        local_json,
        s3.object("history", &format!("{prefix}report.json"))
    );

    // A fresh CI runner: an empty out folder, the same archive (given by
    // the flag this time). Nothing is sent again.
    let second = Project::new("s3://wh-archive/cs");
    second.write_config("s3://wh-archive/cs", delivery);
    let output = run(aws_with(
        second
            .command(&[
                "run",
                "--period",
                WEEK,
                "--archive",
                "s3://history/clientpulse",
            ])
            .env("CLIENTPULSE_SMTP_URL", &smtp_url),
        &endpoint,
        s3.key,
    ));
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("sent 0, already sent before 3"),
        "{}",
        stdout(&output)
    );
    assert_eq!(eml_files(inbox.path()).len(), 3, "nothing sent twice");
    let ledger =
        String::from_utf8(s3.object("history", &format!("{prefix}sent.json"))).expect("utf-8");
    assert_eq!(ledger.matches("message_id").count(), 3);
}

#[test]
fn transient_faults_are_retried_and_the_run_succeeds() {
    let s3 = start_s3();
    s3.create_bucket("flaky");
    demo_data("s3://flaky/wh", &s3.endpoint());
    let direct = Project::new("s3://flaky/wh");
    let expected = report(&direct, &s3.endpoint(), &[]);

    // Two 500s, then two connections reset, then the server recovers.
    let proxy = Proxy::start(
        s3.port,
        Plan {
            errors_500: 2,
            resets: 2,
            silent: false,
        },
    );
    let project = Project::new("s3://flaky/wh");
    let through_faults = report(&project, &proxy.endpoint(), &[]);
    assert_eq!(expected["metrics"], through_faults["metrics"]);
    let requests: usize = proxy.counts().values().sum();
    assert!(
        requests >= 4 + 4,
        "the faults were met and retried: {requests}"
    );
}

#[test]
fn a_server_that_never_answers_fails_cleanly_within_a_bounded_time() {
    let s3 = start_s3();
    s3.create_bucket("silent");
    demo_data("s3://silent/wh", &s3.endpoint());
    let proxy = Proxy::start(
        s3.port,
        Plan {
            silent: true,
            ..Plan::default()
        },
    );
    let project = Project::new("s3://silent/wh");
    add_to_config(
        &project,
        "s3:\n  timeout_seconds: 1\n  connect_timeout_seconds: 1\n  retries: 2\n  retry_timeout_seconds: 3\n",
    );
    let started = Instant::now();
    let output = run(aws(
        &mut project.command(&["run", "--period", WEEK]),
        &proxy.endpoint(),
    ));
    let took = started.elapsed();
    assert_clean_failure(
        &output,
        5,
        &[
            "cannot reach the warehouse at s3://silent/wh",
            &proxy.endpoint(),
        ],
    );
    assert!(took < Duration::from_secs(30), "gave up after {took:?}");
    // Nothing half-written, nothing sent.
    assert!(!project.out().join(WEEK).exists());
}

#[test]
fn a_missing_bucket_prefix_credentials_or_endpoint_each_has_its_own_line() {
    let s3 = start_s3();
    let endpoint = s3.endpoint();
    s3.create_bucket("present");
    demo_data("s3://present/wh", &endpoint);
    let case = |root: &str, endpoint: &str| {
        let project = Project::new(root);
        add_to_config(
            &project,
            "s3:\n  timeout_seconds: 2\n  connect_timeout_seconds: 1\n  retries: 1\n  retry_timeout_seconds: 3\n",
        );
        let output = run(aws(
            &mut project.command(&["run", "--period", WEEK]),
            endpoint,
        ));
        assert!(
            !project.out().join(WEEK).exists(),
            "nothing written for {root}"
        );
        output
    };
    assert_clean_failure(
        &case("s3://absent-bucket/wh", &endpoint),
        5,
        &[
            "the bucket `absent-bucket`",
            "does not exist at the endpoint",
            &endpoint,
        ],
    );
    assert_clean_failure(
        &case("s3://present/wrong-prefix", &endpoint),
        3,
        &["nothing at all under the warehouse root s3://present/wrong-prefix"],
    );
    let closed = format!("http://127.0.0.1:{}", crate::support::free_port());
    assert_clean_failure(
        &case("s3://present/wh", &closed),
        5,
        &["cannot reach the warehouse at s3://present/wh", &closed],
    );
    let refusing = start_s3_with_auth();
    assert_clean_failure(
        &case("s3://present/wh", &refusing.endpoint()),
        5,
        &[
            "the warehouse at s3://present/wh refused the credentials",
            "InvalidAccessKeyId",
        ],
    );
    // Plain HTTP only when asked.
    let project = Project::new("s3://present/wh");
    let output = run(
        aws(&mut project.command(&["run", "--period", WEEK]), &endpoint)
            .env_remove("AWS_ALLOW_HTTP"),
    );
    assert_clean_failure(&output, 2, &["is plain HTTP", "s3.allow_http"]);
    // An archive inside the warehouse is refused before anything runs.
    let output = run(aws(
        &mut project.command(&[
            "run",
            "--period",
            WEEK,
            "--archive",
            "s3://present/wh/history",
        ]),
        &endpoint,
    ));
    assert_clean_failure(&output, 2, &["is inside the warehouse"]);
}
