//! The report on an Apache Ballista cluster (feature `ballista`): the
//! in-process standalone cluster on the shipped config, and a real
//! cluster on loopback (a `clientpulse scheduler` and two `clientpulse
//! executor` processes) reading the warehouse from moto's S3 server. Every
//! figure must equal the local run's, or the run must fail with exit 1
//! and send nothing.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::warehouse::{partition_by_day, read_table};
use crate::support::{
    Project, Server, clientpulse, demo_data, eml_files, free_port, metric, repo, run,
    start_listening, start_s3, stderr,
};

const END: &str = "2026-11-25";
const WEEK: &str = "2026-W47";

fn aws<'a>(command: &'a mut Command, s3: &Server) -> &'a mut Command {
    command
        .env("AWS_ENDPOINT_URL", s3.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
}

/// report.json of the shipped config's week over `warehouse`, on `engine`.
fn shipped_report(warehouse: &Path, out: &Path, engine: &str) -> serde_json::Value {
    let output = run(clientpulse().args([
        "run",
        "--config",
        &repo().join("config/clientpulse.yaml").display().to_string(),
        "--warehouse",
        &warehouse.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--period",
        WEEK,
        "--dry-run",
        "--engine",
        engine,
    ]));
    assert!(
        output.status.success(),
        "engine {engine}: {}",
        stderr(&output)
    );
    let text = std::fs::read_to_string(out.join(WEEK).join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn the_standalone_cluster_gives_the_local_report_flat_and_partitioned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let warehouse = dir.path().join("warehouse");
    demo_data(&warehouse, &["--end", END, "--seed", "21"]);
    let local = shipped_report(&warehouse, &dir.path().join("local"), "local");
    let cluster = shipped_report(&warehouse, &dir.path().join("standalone"), "standalone");
    let figures = local["metrics"].as_array().map_or(0, Vec::len);
    assert!(figures >= 35, "the whole shipped report: {figures} metrics");
    assert_eq!(local, cluster, "report.json on the standalone cluster");

    partition_by_day(&warehouse, "usage_events", "occurred_at");
    partition_by_day(&warehouse, "survey_responses", "responded_at");
    let local_partitioned = shipped_report(&warehouse, &dir.path().join("local-p"), "local");
    let cluster_partitioned =
        shipped_report(&warehouse, &dir.path().join("standalone-p"), "standalone");
    assert_eq!(local_partitioned, cluster_partitioned);
    assert_eq!(local["metrics"], local_partitioned["metrics"]);
}

/// A scheduler and its executors on loopback, killed when dropped.
struct Cluster {
    port: u16,
    executors: Vec<Option<Server>>,
    _scheduler: Server,
}

impl Cluster {
    fn start(dir: &Path, s3: &Server, executors: usize) -> Cluster {
        let port = free_port();
        // The scheduler lists the tables' files as it plans; the
        // executors read them.
        let scheduler = start_listening(
            aws(
                clientpulse().args([
                    "scheduler",
                    "--bind",
                    &format!("127.0.0.1:{port}"),
                    "--external-host",
                    "127.0.0.1",
                    "--executor-timeout",
                    "5",
                ]),
                s3,
            ),
            port,
            &dir.join("scheduler.log"),
            "clientpulse scheduler",
        );
        let executors = (0..executors)
            .map(|n| {
                let flight = free_port();
                let work = dir.join(format!("executor-{n}"));
                std::fs::create_dir_all(&work).expect("work dir");
                Some(start_listening(
                    aws(
                        clientpulse().args([
                            "executor",
                            "--scheduler",
                            &format!("127.0.0.1:{port}"),
                            "--bind-host",
                            "127.0.0.1",
                            "--external-host",
                            "127.0.0.1",
                            "--port",
                            &flight.to_string(),
                            "--grpc-port",
                            &free_port().to_string(),
                            "--concurrent-tasks",
                            "1",
                            "--heartbeat",
                            "1",
                            "--work-dir",
                            &work.display().to_string(),
                        ]),
                        s3,
                    ),
                    flight,
                    &dir.join(format!("executor-{n}.log")),
                    "clientpulse executor",
                ))
            })
            .collect();
        Cluster {
            port,
            executors,
            _scheduler: scheduler,
        }
    }

    fn engine(&self) -> String {
        format!("df://127.0.0.1:{}", self.port)
    }
}

/// A project over `s3://bucket/wh` in Los Angeles, with business hours,
/// and a data team's own metric that counts every usage event.
fn cluster_project(bucket: &str) -> Project {
    let project = Project::new(&format!("s3://{bucket}/wh"));
    let queries = project.own_queries();
    std::fs::write(
        queries.join("usage_rows.sql"),
        "-- id: usage_rows\n-- version: 1\n-- description: Every usage event in the warehouse\n-- window: as_of_end\n-- unit: count\n-- name: Usage events\n-- section: Engagement\n-- format: count\n-- owner: data-team\nSELECT CAST(COUNT(*) AS DOUBLE) AS value, COUNT(*) AS sample_size\nFROM usage_events\nWHERE occurred_at IS NOT NULL\n",
    )
    .expect("write the query");
    let config = std::fs::read_to_string(project.config())
        .expect("config")
        .replace("timezone: UTC", "timezone: America/Los_Angeles")
        .replace(
            "  - id: nps\n",
            "  - id: nps\n  - id: usage_rows\n  - id: first_response_time\n  - id: stickiness\n",
        )
        + "business_calendar:\n  timezone: America/Los_Angeles\n  working_days: [mon, tue, wed, thu, fri]\n  hours: \"09:00-17:30\"\n";
    std::fs::write(project.config(), config).expect("write config");
    let locked = run(&mut project.command(&["lock"]));
    assert!(locked.status.success(), "{}", stderr(&locked));
    project
}

/// A demo warehouse with day-partitioned events (tables of many files) in
/// `bucket` under `wh/`; returns the number of usage events in its files
/// (those with an event time: the metric's filter keeps the count from
/// being answered from the files' statistics, so every row is read).
fn warehouse_in_bucket(s3: &Server, dir: &Path, bucket: &str) -> usize {
    let root = dir.join("warehouse");
    demo_data(&root, &["--end", END, "--seed", "21"]);
    partition_by_day(&root, "usage_events", "occurred_at");
    partition_by_day(&root, "tickets", "opened_at");
    s3.upload(bucket, "wh", &root);
    read_table(&root, "usage_events")
        .iter()
        .map(|batch| {
            let column = batch.column_by_name("occurred_at").expect("occurred_at");
            batch.num_rows() - column.null_count()
        })
        .sum()
}

fn report_on(project: &Project, s3: &Server, engine: &str) -> serde_json::Value {
    let output = run(aws(
        &mut project.command(&["run", "--period", WEEK, "--engine", engine]),
        s3,
    ));
    assert!(
        output.status.success(),
        "engine {engine}: {}",
        stderr(&output)
    );
    let report = project.report_json(WEEK);
    let _ = std::fs::remove_dir_all(project.out());
    report
}

#[test]
fn a_loopback_cluster_reads_the_bucket_and_gives_the_local_report() {
    let s3 = start_s3();
    let dir = tempfile::tempdir().expect("temp dir");
    let events = warehouse_in_bucket(&s3, dir.path(), "cluster-wh");
    let project = cluster_project("cluster-wh");
    let local = report_on(&project, &s3, "local");
    let cluster = Cluster::start(dir.path(), &s3, 2);
    let on_cluster = report_on(&project, &s3, &cluster.engine());
    assert_eq!(local, on_cluster, "report.json on the cluster");

    // A table of many files counts every row once, as on disk (with file
    // stream work stealing on, each task would read its siblings' files).
    let days = std::fs::read_dir(dir.path().join("warehouse/usage_events"))
        .expect("partitions")
        .count();
    assert!(days > 30, "usage_events is split into {days} files");
    assert_eq!(
        metric(&on_cluster, "usage_rows")["value"],
        serde_json::json!(events as f64),
        "usage events counted on the cluster"
    );
    // The zone and the business calendar travelled with the plan: the
    // figures that read them are those of the local run above, and not
    // those of UTC and calendar time.
    let utc = std::fs::read_to_string(project.config()).expect("config");
    let utc = utc[..utc.find("business_calendar:").expect("calendar")]
        .replace("timezone: America/Los_Angeles", "timezone: UTC");
    std::fs::write(project.config(), utc).expect("write config");
    let in_utc = report_on(&project, &s3, &cluster.engine());
    for id in ["stickiness", "first_response_time"] {
        assert_ne!(
            metric(&in_utc, id)["trend"],
            metric(&on_cluster, id)["trend"],
            "{id} depends on the settings"
        );
    }
}

#[test]
fn an_executor_killed_mid_run_never_gives_wrong_figures() {
    let s3 = start_s3();
    let dir = tempfile::tempdir().expect("temp dir");
    warehouse_in_bucket(&s3, dir.path(), "killed-wh");
    let project = cluster_project("killed-wh");
    let local = report_on(&project, &s3, "local");
    let mut cluster = Cluster::start(dir.path(), &s3, 2);

    let mut child = aws(
        &mut project.command(&["run", "--period", WEEK, "--engine", &cluster.engine()]),
        &s3,
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start the run");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the run was still going when the executor was killed"
    );
    drop(cluster.executors[0].take());

    let deadline = Instant::now() + Duration::from_secs(300);
    while child.try_wait().expect("poll").is_none() {
        assert!(Instant::now() < deadline, "the run never ended");
        std::thread::sleep(Duration::from_millis(200));
    }
    let output = child.wait_with_output().expect("output");
    eprintln!(
        "after a lost executor: exit {:?}\n{}",
        output.status.code(),
        stderr(&output)
    );
    match output.status.code() {
        Some(0) => assert_eq!(
            project.report_json(WEEK),
            local,
            "figures after a lost executor"
        ),
        Some(1) => {
            let text = stderr(&output);
            assert!(text.contains("Ballista cluster"), "{text}");
            let outbox = project.out().join(WEEK).join("outbox");
            assert!(eml_files(&outbox).is_empty(), "nothing is sent");
        }
        other => panic!("exit {other:?}: {}", stderr(&output)),
    }
}

#[test]
fn an_unreachable_scheduler_fails_with_exit_1_and_sends_nothing() {
    let project = Project::new("warehouse");
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "21"],
    );
    let closed = free_port();
    let output = run(&mut project.command(&[
        "run",
        "--period",
        WEEK,
        "--engine",
        &format!("df://127.0.0.1:{closed}"),
    ]));
    crate::support::assert_clean_failure(
        &output,
        1,
        &[&format!(
            "cannot reach the Ballista scheduler at df://127.0.0.1:{closed}"
        )],
    );
    assert!(eml_files(&project.out().join(WEEK).join("outbox")).is_empty());
}
