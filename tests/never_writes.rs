//! A reporting job never writes into what it reads. For every command, on
//! a flat and on a date-partitioned warehouse, every path and every byte
//! under the warehouse root is the same before and after: runs that
//! succeed, runs that fail, the shipped config pointed elsewhere with
//! `--warehouse`, `demo-data` aimed at it, an out folder inside it, and a
//! query that tries to write.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::fixture::write_boundary_warehouse;
use crate::support::warehouse::Money;
use crate::support::{Project, assert_clean_failure, copy_files, repo, run, stderr};

/// SHA-256 over every path (relative, sorted), its kind and its bytes.
pub fn fingerprint(root: &Path) -> String {
    fn walk(dir: &Path, root: &Path, entries: &mut Vec<(String, Vec<u8>)>) {
        let mut children: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read a warehouse folder")
            .map(|entry| entry.expect("entry").path())
            .collect();
        children.sort();
        for path in children {
            let relative = path
                .strip_prefix(root)
                .expect("below the root")
                .display()
                .to_string();
            if path.is_dir() {
                entries.push((format!("{relative}/"), Vec::new()));
                walk(&path, root, entries);
            } else {
                entries.push((relative, std::fs::read(&path).expect("read a file")));
            }
        }
    }
    let mut entries = Vec::new();
    walk(root, root, &mut entries);
    let mut hash = Sha256::new();
    for (path, bytes) in &entries {
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    }
    hex::encode(hash.finalize())
}

#[derive(Clone, Copy, Debug)]
enum Layout {
    Flat,
    /// `usage_events/date=…/part-0.parquet`.
    Partitioned,
}

/// A project whose own config reads `<project>/warehouse`.
fn project(layout: Layout) -> Project {
    let project = Project::new("warehouse");
    let root = project.path().join("warehouse");
    write_boundary_warehouse(&root, Money::Decimal);
    if let Layout::Partitioned = layout {
        let flat = root.join("usage_events/part-0.parquet");
        let day = root.join("usage_events/date=2026-11-20");
        std::fs::create_dir_all(&day).expect("mkdir");
        std::fs::rename(flat, day.join("part-0.parquet")).expect("move");
    }
    project
}

/// The repository's own config folder, queries and templates, copied into
/// the project as a new user's clone has them.
fn shipped_config(project: &Project) -> PathBuf {
    let clone = project.path().join("clone");
    copy_files(&repo().join("config"), &clone.join("config"));
    copy_files(&repo().join("queries"), &clone.join("queries"));
    copy_files(
        &repo().join("queries/shared"),
        &clone.join("queries/shared"),
    );
    copy_files(
        &repo().join("report-templates"),
        &clone.join("report-templates"),
    );
    // The boundary warehouse leaves some tables empty on purpose.
    let config = clone.join("config/clientpulse.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(
        text.contains("  may_be_empty: []\n"),
        "the shipped config's data gate"
    );
    let text = text.replace(
        "  may_be_empty: []\n",
        "  may_be_empty: [onboarding, orders, projects, usage_events]\n",
    );
    std::fs::write(&config, text).expect("write config");
    config
}

/// Runs `args` and asserts the warehouse is unchanged; returns the output.
fn unchanged(project: &Project, args: &[&str]) -> std::process::Output {
    let root = project.path().join("warehouse");
    let before = fingerprint(&root);
    let output = run(crate::support::clientpulse().args(args));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
    assert_eq!(
        fingerprint(&root),
        before,
        "`clientpulse {}` changed the warehouse",
        args.join(" ")
    );
    output
}

fn every_command_leaves_the_warehouse_alone(layout: Layout) {
    let project = project(layout);
    let config = project.config().display().to_string();
    let root = project.path().join("warehouse").display().to_string();
    let out = project.out().display().to_string();

    let output = unchanged(
        &project,
        &["run", "--period", "2026-W47", "--config", &config],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = unchanged(&project, &["check", "--config", &config]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = unchanged(&project, &["lock", "--config", &config]);
    assert!(output.status.success(), "{}", stderr(&output));

    // The reported defect: the shipped config (generate_demo_if_missing)
    // pointed at a user's warehouse with --warehouse.
    let shipped = shipped_config(&project).display().to_string();
    for args in [
        vec![
            "run",
            "--period",
            "2026-W47",
            "--config",
            &shipped,
            "--warehouse",
            &root,
            "--out",
            &out,
        ],
        vec![
            "run",
            "--config",
            &shipped,
            "--warehouse",
            &root,
            "--out",
            &out,
            "--dry-run",
        ],
        vec!["check", "--config", &shipped, "--warehouse", &root],
    ] {
        let output = unchanged(&project, &args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert!(
            !stderr(&output).contains("generating"),
            "no demo is made at a --warehouse root: {}",
            stderr(&output)
        );
    }
    assert!(
        !project.path().join("clone/out/demo-warehouse").exists(),
        "--warehouse replaces the demo root: no demo is made"
    );

    // Failing runs: data that breaks a check, an out folder inside the
    // warehouse, and demo-data aimed at it.
    let usd = std::fs::read_to_string(project.config())
        .expect("config")
        .replace("currency: EUR", "currency: USD");
    let usd_config = project.path().join("usd.yaml");
    std::fs::write(&usd_config, usd).expect("write");
    let usd_config = usd_config.display().to_string();
    let output = unchanged(
        &project,
        &["run", "--period", "2026-W47", "--config", &usd_config],
    );
    assert_clean_failure(&output, 3, &["`subscriptions`", "`currency`"]);

    let inside = format!("{root}/reports");
    let output = unchanged(
        &project,
        &[
            "run", "--period", "2026-W47", "--config", &config, "--out", &inside,
        ],
    );
    assert_clean_failure(&output, 2, &["is inside the warehouse", "--out"]);
    assert!(!Path::new(&inside).exists());

    let output = unchanged(&project, &["demo-data", "--out", &root]);
    assert_clean_failure(&output, 2, &["refusing to write a demo warehouse", &root]);
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
}

#[test]
fn a_flat_warehouse_is_never_written() {
    every_command_leaves_the_warehouse_alone(Layout::Flat);
}

#[test]
fn a_partitioned_warehouse_is_never_written() {
    every_command_leaves_the_warehouse_alone(Layout::Partitioned);
}

#[test]
fn a_query_cannot_write_into_the_warehouse() {
    let project = project(Layout::Flat);
    let queries = project.own_queries();
    let target = project.path().join("warehouse/clients/evil.parquet");
    let attempts = [
        format!("COPY (SELECT 1 AS value) TO '{}'", target.display()),
        "DROP TABLE clients".to_string(),
        "SELECT 1 AS value, 1 AS sample_size; DELETE FROM clients".to_string(),
        format!(
            "CREATE EXTERNAL TABLE evil STORED AS PARQUET LOCATION '{}'",
            target.display()
        ),
    ];
    for (index, sql) in attempts.iter().enumerate() {
        let file = queries.join("evil.sql");
        std::fs::write(
            &file,
            format!(
                "-- id: evil\n-- version: 1\n-- description: tries to write\n-- window: 7d\n-- unit: count\n{sql}\n"
            ),
        )
        .expect("write");
        let config = project.config().display().to_string();
        for command in [vec!["check"], vec!["run", "--period", "2026-W47"]] {
            let mut args = command.clone();
            args.extend(["--config", &config]);
            let output = unchanged(&project, &args);
            assert_clean_failure(&output, 2, &["evil.sql:6:", "a query"]);
            assert!(
                !target.exists(),
                "attempt {index} wrote {}",
                target.display()
            );
        }
    }
}

#[test]
fn demo_data_makes_and_remakes_only_its_own_folder() {
    let dir = tempfile::tempdir().expect("tmp");
    let demo = dir.path().join("demo");
    let args = |end: &str| {
        vec![
            "demo-data".to_string(),
            "--out".to_string(),
            demo.display().to_string(),
            "--end".to_string(),
            end.to_string(),
        ]
    };
    let output = run(crate::support::clientpulse().args(args("2026-11-23")));
    assert!(output.status.success(), "{}", stderr(&output));
    let first = fingerprint(&demo);
    // Its own folder it may remake, and the same options give the same bytes.
    let output = run(crate::support::clientpulse().args(args("2026-11-23")));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(fingerprint(&demo), first);

    // A file of the user's beside the demo tables: refused, untouched.
    std::fs::write(demo.join("notes.txt"), "mine").expect("write");
    let before = fingerprint(&demo);
    let output = run(crate::support::clientpulse().args(args("2026-11-30")));
    assert_clean_failure(&output, 2, &["refusing", "`notes.txt`"]);
    assert_eq!(fingerprint(&demo), before);

    // A file where the folder should be: refused.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let output = run(crate::support::clientpulse()
        .args(["demo-data", "--out"])
        .arg(&file));
    assert_clean_failure(&output, 2, &["refusing", "a file"]);
    assert_eq!(std::fs::read(&file).expect("read"), b"x");
}
