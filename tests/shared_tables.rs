//! Shared tables (`-- materialise: run`): the versions of the engagement,
//! revenue, order, NPS and at-risk metrics that read the run's shared
//! tables give exactly the figures of the versions that read raw events,
//! subscriptions, orders and answers, in every week of the
//! trend, every segment and every book, across a daylight-saving change,
//! and so do the same metrics when a shared table does not fit in memory
//! and is computed inline; a broken shared table is an error that names
//! its file.

use std::path::Path;

use crate::support::{
    Project, assert_clean_failure, clientpulse, demo_data, metric, repo, run, stderr,
};

const END: &str = "2026-11-25";
/// The metrics that read shared tables, and the last version of each that
/// reads the raw events instead.
const RAW_VERSIONS: &[(&str, u32)] = &[
    ("active_client_rate", 1),
    ("stickiness", 2),
    ("feature_adoption", 2),
    ("at_risk_clients", 1),
    ("at_risk_mrr", 1),
    ("mrr", 2),
    ("new_mrr", 2),
    ("reactivation_mrr", 2),
    ("net_mrr_churn_rate", 2),
    ("client_retention_rate", 2),
    ("clv", 3),
    ("repeat_purchase_rate", 2),
    ("revenue_growth_per_client", 2),
    ("nps", 3),
    ("nps_margin", 2),
];

/// Every shared table the latest versions of `RAW_VERSIONS` read.
const SHARED_TABLES: &[&str] = &[
    "user_days",
    "client_uses",
    "client_subscriptions",
    "nps_answer_spans",
    "client_tickets",
    "risk_answers",
    "at_risk_signals",
    "order_days",
    "order_amounts",
];

/// A config running `versions`' metrics (pinned to those versions when
/// `pinned`, their latest otherwise), in Paris time, by segment, with each
/// account manager's book.
pub(crate) fn config_text(
    warehouse: &Path,
    out: &Path,
    versions: &[(&str, u32)],
    pinned: bool,
) -> String {
    let metrics: String = versions
        .iter()
        .map(|(id, version)| {
            if pinned {
                format!("  - id: {id}\n    version: {version}\n")
            } else {
                format!("  - id: {id}\n")
            }
        })
        .collect();
    let ids: Vec<&str> = versions.iter().map(|(id, _)| *id).collect();
    format!(
        "warehouse:\n  root: {warehouse}\nreporting:\n  currency: EUR\n  timezone: Europe/Paris\n  breakdowns: [segment]\n  features: [dashboards, reports, alerts, api]\nqueries: {queries}\ntemplates: {templates}\nbenchmarks: {benchmarks}\nout: {out}\nmetrics:\n{metrics}audiences:\n  - name: leadership\n    recipients: [ceo@example.com]\n  - name: account-managers\n    per: account_manager\n    metrics: [{ids}]\ndelivery:\n  mode: outbox\n  from: Client Pulse <clientpulse@example.com>\nat_risk:\n  min_score: 2\n  signals:\n    usage_drop: {{weight: 2, threshold: 0.2}}\n    detractor: {{weight: 2}}\n    unhappy_csat: {{weight: 1}}\n    old_ticket: {{weight: 1, threshold: 14d}}\n    overdue_project: {{weight: 1}}\n    late_onboarding: {{weight: 1}}\n    contraction: {{weight: 2}}\n    renewal_soon: {{weight: 1, threshold: 60d}}\n",
        warehouse = warehouse.display(),
        out = out.display(),
        queries = repo().join("queries").display(),
        templates = repo().join("report-templates").display(),
        benchmarks = repo().join("config/benchmarks.yaml").display(),
        ids = ids.join(", "),
    )
}

/// report.json and every book of `week` under `out`, without what names
/// the version of `ids` that ran.
pub(crate) fn figures(out: &Path, week: &str, ids: &[&str]) -> Vec<(String, serde_json::Value)> {
    let mut files = vec![out.join(week).join("report.json")];
    let books = out.join(week).join("books/account-managers");
    let mut book_files: Vec<_> = std::fs::read_dir(&books)
        .expect("books written")
        .map(|entry| entry.expect("entry").path())
        .collect();
    book_files.sort();
    assert!(book_files.len() >= 2, "{book_files:?}");
    files.extend(book_files);
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read");
            let mut report: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            for id in ids {
                if let Some(found) = report["metrics"]
                    .as_array_mut()
                    .and_then(|all| all.iter_mut().find(|m| m["id"] == *id))
                {
                    found["version"] = serde_json::Value::Null;
                    found["sql_sha256"] = serde_json::Value::Null;
                }
            }
            report["generated_at"] = serde_json::Value::Null;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, report)
        })
        .collect()
}

/// Runs `config` for `week` (dry run) and returns its `--profile` lines.
fn run_profiled(config: &Path, week: &str) -> String {
    let profile = config.with_extension("profile.jsonl");
    let output = run(clientpulse()
        .args(["run", "--period", week, "--dry-run", "--config"])
        .arg(config)
        .arg(format!("--profile={}", profile.display())));
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::read_to_string(&profile).expect("profile")
}

/// The profile's lines of shared tables (scope `shared`).
fn shared_lines(profile: &str) -> Vec<&str> {
    profile
        .lines()
        .filter(|line| line.contains("\"scope\":\"shared\""))
        .collect()
}

#[test]
fn shared_tables_give_the_figures_of_the_versions_that_read_raw_events() {
    let dir = tempfile::tempdir().expect("tmp");
    let warehouse = dir.path().join("warehouse");
    demo_data(&warehouse, &["--end", END, "--seed", "71", "--scale", "2"]);
    let mut reports = Vec::new();
    for raw in [true, false] {
        let out = dir.path().join(if raw { "raw" } else { "shared" });
        let config = dir.path().join(format!("raw-{raw}.yaml"));
        std::fs::write(&config, config_text(&warehouse, &out, RAW_VERSIONS, raw)).expect("config");
        // 2026-W44 is the week of the October change in Paris; its trend
        // and windows cross it.
        let profile = run_profiled(&config, "2026-W44");
        // Only the new versions read shared tables; each is computed once.
        let shared = shared_lines(&profile);
        if raw {
            assert!(shared.is_empty(), "{profile}");
        } else {
            assert_eq!(shared.len(), SHARED_TABLES.len(), "{profile}");
            for table in SHARED_TABLES {
                assert!(
                    shared.iter().any(|line| line.contains(table)),
                    "{table}: {profile}"
                );
            }
            assert!(
                !profile
                    .lines()
                    .filter(|line| !line.contains("\"scope\":\"shared\""))
                    .any(|line| line.contains("usage_events")),
                "only the shared tables read the events: {profile}"
            );
            // A shared table that reads others is computed once they are
            // registered, and reads them there: at_risk_signals reads
            // client_uses, client_tickets and risk_answers, not the tables
            // they are made from.
            let signals = shared
                .iter()
                .find(|line| line.contains("\"metric\":\"at_risk_signals\""))
                .expect("at_risk_signals computed");
            for raw in ["usage_events", "tickets", "survey_responses"] {
                assert!(!signals.contains(&format!("\"{raw}\"")), "{signals}");
            }
            // The revenue metrics read the subscriptions only through
            // client_subscriptions (the at-risk ones still read them);
            // repeat_purchase_rate reads the orders only through
            // order_days, revenue_growth_per_client through order_amounts.
            let never_reads = [
                ("mrr", "subscriptions"),
                ("new_mrr", "subscriptions"),
                ("net_mrr_churn_rate", "subscriptions"),
                ("client_retention_rate", "subscriptions"),
                ("repeat_purchase_rate", "orders"),
                ("revenue_growth_per_client", "orders"),
            ];
            for (id, table) in never_reads {
                let own = format!("\"metric\":\"{id}\"");
                let read = format!("\"{table}\"");
                assert!(
                    profile
                        .lines()
                        .filter(|line| line.contains(&own))
                        .all(|line| !line.contains(&read)),
                    "{id} reads {table}: {profile}"
                );
            }
        }
        let ids: Vec<&str> = RAW_VERSIONS.iter().map(|(id, _)| *id).collect();
        reports.push(figures(&out, "2026-W44", &ids));
    }
    let (raw, shared) = (&reports[0], &reports[1]);
    assert_eq!(raw.len(), shared.len());
    for ((name, raw), (_, shared)) in raw.iter().zip(shared) {
        for (id, _) in RAW_VERSIONS {
            assert_eq!(metric(raw, id), metric(shared, id), "{name}: {id}");
        }
        assert_eq!(raw, shared, "{name}");
    }
    // Not vacuous: the figures move over the trend, and clients are at risk.
    let report = &shared[0].1;
    let trend = &metric(report, "stickiness")["trend"];
    let values: std::collections::BTreeSet<String> = trend
        .as_array()
        .expect("a trend")
        .iter()
        .map(|week| week["value"].to_string())
        .collect();
    assert!(values.len() > 6, "{trend}");
    // Every configured feature has users of its own in the week, and not
    // all the same share: each feature's days are its own.
    let adoption = &metric(report, "feature_adoption")["items"];
    let shares: Vec<f64> = adoption
        .as_array()
        .expect("feature items")
        .iter()
        .filter_map(|item| item["value"].as_f64())
        .collect();
    assert_eq!(shares.len(), 4, "{adoption}");
    assert!(
        shares.iter().all(|&share| share > 0.0 && share < 1.0),
        "{adoption}"
    );
    assert!(shares.iter().any(|&share| share != shares[0]), "{adoption}");
    assert!(
        metric(report, "at_risk_clients")["value"]
            .as_f64()
            .is_some_and(|n| n > 0.0),
        "no client at risk"
    );
    let usage_drops = metric(report, "at_risk_clients")["items"]
        .as_array()
        .map(|items| items.iter().filter(|i| i["label"] == "usage_drop").count())
        .unwrap_or_default();
    assert!(usage_drops > 0, "no usage_drop signal in the week");
    // Clients whose orders rose or fell are listed beside the figure.
    assert!(
        metric(report, "revenue_growth_per_client")["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty()),
        "no client's revenue moved"
    );
}

/// A windowed shared table (`at_risk_signals`) is made for one window
/// length: when the config gives its two metrics different windows, it is
/// not registered and each computes it inline, for its own windows, with
/// the figures of the versions that read raw data over the same windows.
#[test]
fn a_windowed_shared_table_is_computed_inline_when_its_metrics_windows_differ() {
    let dir = tempfile::tempdir().expect("tmp");
    let warehouse = dir.path().join("warehouse");
    demo_data(&warehouse, &["--end", END, "--seed", "71", "--scale", "2"]);
    let versions = [("at_risk_clients", 1), ("at_risk_mrr", 1)];
    let ids: Vec<&str> = versions.iter().map(|(id, _)| *id).collect();
    let mut reports = Vec::new();
    for raw in [true, false] {
        let out = dir.path().join(if raw { "raw" } else { "latest" });
        let text = config_text(&warehouse, &out, &versions, raw)
            .replace(
                "  - id: at_risk_clients\n",
                "  - id: at_risk_clients\n    window: 21d\n",
            )
            .replace(
                "  - id: at_risk_mrr\n",
                "  - id: at_risk_mrr\n    window: 35d\n",
            );
        let config = dir.path().join(format!("windows-{raw}.yaml"));
        std::fs::write(&config, text).expect("config");
        let profile = run_profiled(&config, "2026-W47");
        let shared = shared_lines(&profile);
        if !raw {
            // The shared tables it reads are made; it is not.
            assert!(
                shared.iter().any(|line| line.contains("client_uses")),
                "{profile}"
            );
            assert!(
                !shared.iter().any(|line| line.contains("at_risk_signals")),
                "{profile}"
            );
        }
        let report = figures(&out, "2026-W47", &ids);
        let windows: Vec<String> = ids
            .iter()
            .map(|id| metric(&report[0].1, id)["window"].to_string())
            .collect();
        assert_eq!(windows, ["\"21d\"", "\"35d\""]);
        reports.push(report);
    }
    assert_eq!(reports[0], reports[1]);
    // Not vacuous: clients are at risk, with MRR.
    let report = &reports[1][0].1;
    assert!(
        metric(report, "at_risk_clients")["value"]
            .as_f64()
            .is_some_and(|n| n > 0.0)
            && metric(report, "at_risk_mrr")["value"]
                .as_f64()
                .is_some_and(|n| n > 0.0),
        "{report}"
    );
}

#[test]
fn a_broken_shared_table_names_its_file() {
    let project = Project::new("warehouse");
    project.write_config_with(
        "warehouse",
        &["stickiness"],
        crate::support::DEFAULT_DELIVERY,
    );
    let queries = project.own_queries();
    demo_data(
        &project.path().join("warehouse"),
        &["--end", END, "--seed", "3"],
    );
    let shared = queries.join("shared/user_days.sql");
    let original = std::fs::read_to_string(&shared).expect("read");
    // A changed shared table is a new version of the metrics that use it
    // (v5 and v6 of stickiness and of feature_adoption here): publish them
    // again, as a data team would.
    let lock = queries.join("queries.lock");
    let reads_user_days = [
        "stickiness 5 ",
        "stickiness 6 ",
        "feature_adoption 5 ",
        "feature_adoption 6 ",
    ];
    let published: String = std::fs::read_to_string(&lock)
        .expect("lock")
        .lines()
        .filter(|line| {
            !reads_user_days
                .iter()
                .any(|version| line.starts_with(version))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let edit = |text: String| {
        std::fs::write(&shared, text).expect("write");
        std::fs::write(&lock, &published).expect("write lock");
        run(&mut project.command(&["lock"]))
    };

    // Without client_id, no segment could take its clients' rows.
    let output = edit(
        original
            .replace(
                "        client_id,\n        user_id,\n",
                "        user_id,\n",
            )
            .replace("GROUP BY client_id, user_id", "GROUP BY user_id"),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(&mut project.command(&["check"]));
    assert_clean_failure(&output, 2, &["shared/user_days.sql", "`client_id`"]);
    let output = run(&mut project.command(&["run", "--period", "2026-W46", "--dry-run"]));
    assert_clean_failure(&output, 2, &["shared/user_days.sql", "`client_id`"]);

    // A shared table is one CTE named after its file.
    let output = edit(original.replace("user_days AS (", "days_of_users AS ("));
    assert_clean_failure(
        &output,
        2,
        &["shared/user_days.sql", "one CTE named after its file"],
    );
    let output = run(&mut project.command(&["check"]));
    assert_clean_failure(
        &output,
        2,
        &["shared/user_days.sql", "one CTE named after its file"],
    );

    // An error in its SQL names it, and nothing is written.
    let output = edit(original.replace("day_set(local_date(occurred_at))", "day_set(occurred)"));
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(&mut project.command(&["run", "--period", "2026-W46", "--dry-run"]));
    assert_clean_failure(&output, 2, &["shared/user_days.sql", "occurred"]);
    assert!(!project.out().join("2026-W46/report.json").exists());
}

#[test]
fn a_shared_table_that_does_not_fit_goes_to_disk_or_inline_with_the_same_figures() {
    use clientpulse::catalog::Warehouse;
    use clientpulse::inputs::{Inputs, Overrides, Purpose};
    use clientpulse::metrics::{self, series};
    use clientpulse::period::Period;
    use clientpulse::progress::Silent;

    let dir = tempfile::tempdir().expect("tmp");
    let warehouse = dir.path().join("warehouse");
    demo_data(&warehouse, &["--end", END, "--seed", "72"]);
    let config = dir.path().join("clientpulse.yaml");
    std::fs::write(
        &config,
        config_text(&warehouse, &dir.path().join("out"), RAW_VERSIONS, false),
    )
    .expect("config");
    let inputs = Inputs::load(&config, &Overrides::default(), Purpose::Run).expect("inputs");
    let settings = inputs.config.query_settings();
    let udf_settings = inputs.config.udf_settings();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // The spill folder, where a shared table too large for memory goes.
    let spill = dir.path().join("spill");
    let mut engine = inputs.config.engine.clone();
    engine.spill_dir = Some(spill.clone());
    let files_in_spill = || -> Vec<std::path::PathBuf> {
        walk(&spill)
            .into_iter()
            .filter(|path| path.is_file())
            .collect()
    };
    runtime.block_on(async {
        let ctx = metrics::new_session(&udf_settings, &engine).expect("session");
        let opened = Warehouse::open(&ctx, &warehouse.display().to_string(), &inputs.config.s3)
            .expect("open");
        let needed = metrics::tables_needed(
            &ctx,
            inputs.selected.iter().map(|(_, q)| q),
            Some("breakdowns".to_string()),
        )
        .expect("tables");
        opened
            .register_tables(&ctx, &needed)
            .await
            .expect("register");
        let period = Period::parse("2026-W44", inputs.config.reporting.timezone).expect("week");
        let mut figures = Vec::new();
        // Room for every shared table in memory, then for none (each goes
        // to the spill folder), then none at all (a cluster run: each is
        // computed inline): the tables of one pass must not linger into
        // the next.
        for room in [usize::MAX, 1, 0] {
            let held =
                series::materialise(&ctx, &inputs.selected, &period, &settings, room, &Silent)
                    .await
                    .expect("shared tables");
            let registered = SHARED_TABLES
                .iter()
                .filter(|name| ctx.table_exist(**name).unwrap_or(false))
                .count();
            match room {
                0 => {
                    assert_eq!((held, registered), (0, 0));
                    // The files of the pass before went with its tables.
                    assert_eq!(files_in_spill(), Vec::<std::path::PathBuf>::new());
                }
                1 => {
                    assert_eq!((held, registered), (0, SHARED_TABLES.len()));
                    let files = files_in_spill();
                    assert_eq!(files.len(), SHARED_TABLES.len(), "{files:?}");
                    assert!(
                        files
                            .iter()
                            .all(|file| file.metadata().is_ok_and(|m| m.len() > 0)),
                        "{files:?}"
                    );
                }
                _ => {
                    assert!(held > 0);
                    assert_eq!(registered, SHARED_TABLES.len());
                    assert_eq!(files_in_spill(), Vec::<std::path::PathBuf>::new());
                }
            }
            let costs = Recording::default();
            let weekly =
                series::weekly(&ctx, &inputs.selected, &period, &settings, "trend", &costs)
                    .await
                    .expect("weekly");
            // What each query read, by table: a shared table's rows under
            // its name wherever it was (on disk, the file's folder is named
            // after it), never under the spill file's.
            let read: std::collections::BTreeSet<String> = costs
                .0
                .lock()
                .expect("costs")
                .iter()
                .flat_map(|cost| cost.rows_read.keys().cloned())
                .collect();
            if room == 1 {
                for table in ["user_days", "client_uses", "order_amounts"] {
                    assert!(read.contains(table), "{table}: {read:?}");
                }
                assert!(read.iter().all(|table| !table.starts_with('.')), "{read:?}");
            }
            let segments = series::by_segment(
                &ctx,
                &inputs.selected,
                &period,
                &["segment".to_string()],
                &series::SliceSessions {
                    udf_settings: &udf_settings,
                    memory_bytes: 64 << 20,
                },
                &settings,
                &Silent,
            )
            .await
            .expect("segments");
            figures.push((weekly, segments));
        }
        assert_eq!(figures[0], figures[1]);
        assert_eq!(figures[0], figures[2]);
        // Not vacuous: each metric has figures in most weeks (feature
        // adoption has its items, one per feature, in the week).
        for ((_, query), series) in inputs.selected.iter().zip(&figures[0].0) {
            let with_value = series.iter().filter(|v| v.value.is_some()).count();
            let items = series.last().map_or(0, |v| v.items.len());
            assert!(with_value >= 10 || items >= 4, "{}: {series:?}", query.id);
        }
    });
}

/// Keeps what each query cost, as `run --profile` writes it.
#[derive(Default)]
struct Recording(std::sync::Mutex<Vec<clientpulse::progress::QueryCost>>);

impl clientpulse::progress::Progress for Recording {
    fn query(&self, cost: &clientpulse::progress::QueryCost) {
        if let Ok(mut costs) = self.0.lock() {
            costs.push(cost.clone());
        }
    }
}

/// Every path under `dir`, folders included; none when it does not exist.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        found.extend(walk(&path));
        found.push(path);
    }
    found
}
