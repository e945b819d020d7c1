//! The corpus of bad input: `tests/corpus/<group>/<case>/`, one folder per
//! malformed input, each with a `case.txt` saying what the binary must do
//! with it. One data-driven test runs them all through the real binary.
//!
//! A case runs in a fresh project made of `tests/corpus/base/` (a config
//! whose paths are all relative), the repository's benchmarks, queries and
//! templates (copied), and the hand-made boundary warehouse. The case's
//! own files replace the project's files of the same path, then its
//! `setup:` steps run. `case.txt`:
//!
//! ```text
//! # what is wrong, in one line
//! args: check                  (--config clientpulse.yaml is added)
//! exit: 2
//! stderr: clientpulse.yaml:4:3: reporting: unknown field `colour`
//! setup: lock                  (any number of setup lines; see `Setup`)
//! env: KEY=VALUE               (set for the run)
//! ```
//!
//! For every case: the exit code; every `stderr:` text on the error
//! output (and `stdout:` on the output); no panic; on failure every line
//! of the error output is one `error: ` line; no message in any outbox;
//! and nothing in the project outside `out/` changed (config, queries,
//! templates and warehouse byte-identical).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::fixture::write_boundary_warehouse;
use crate::never_writes::fingerprint;
use crate::support::warehouse::Money;
use crate::support::{clientpulse, copy_files, repo, stderr, stdout};

/// One step that makes an input no file can hold.
#[derive(Debug)]
enum Setup {
    /// `lock`: publish the case's queries first, so that `check` plans them.
    Lock,
    /// `truncate PATH BYTES`: cut a file short.
    Truncate(PathBuf, u64),
    /// `repeat PATH BYTES`: repeat a file's text until it is that large.
    Repeat(PathBuf, usize),
    /// `remove PATH`: delete a file or a folder.
    Remove(PathBuf),
    /// `empty PATH`: leave a folder with nothing in it.
    Empty(PathBuf),
    /// `table NAME SQL`: write `warehouse/NAME/part-0.parquet` from a query
    /// over the base warehouse's tables (registered by name).
    Table(String, String),
}

#[derive(Debug)]
struct Case {
    name: String,
    dir: PathBuf,
    args: Vec<String>,
    exit: i32,
    stderr: Vec<String>,
    stdout: Vec<String>,
    setup: Vec<Setup>,
    /// `env: KEY=VALUE`: set for the run.
    env: Vec<(String, String)>,
}

fn parse_case(dir: &Path, name: String) -> Result<Case, String> {
    let text = std::fs::read_to_string(dir.join("case.txt"))
        .map_err(|e| format!("{name}: cannot read case.txt: {e}"))?;
    let mut case = Case {
        name: name.clone(),
        dir: dir.to_path_buf(),
        args: Vec::new(),
        exit: -1,
        stderr: Vec::new(),
        stdout: Vec::new(),
        setup: Vec::new(),
        env: Vec::new(),
    };
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("{name}: bad line {line:?}"))?;
        match key {
            "args" => case.args = value.split_whitespace().map(str::to_string).collect(),
            "exit" => case.exit = value.parse().map_err(|_| format!("{name}: exit {value}"))?,
            "stderr" => case.stderr.push(value.to_string()),
            "stdout" => case.stdout.push(value.to_string()),
            "setup" => case
                .setup
                .push(parse_setup(value).map_err(|e| format!("{name}: {e}"))?),
            "env" => {
                let (key, value) = value
                    .split_once('=')
                    .ok_or_else(|| format!("{name}: env wants KEY=VALUE"))?;
                case.env.push((key.to_string(), value.to_string()));
            }
            other => return Err(format!("{name}: unknown key {other}")),
        }
    }
    if case.args.is_empty() || case.exit < 0 || (case.stderr.is_empty() && case.stdout.is_empty()) {
        return Err(format!(
            "{name}: needs args, exit and a stderr or stdout line"
        ));
    }
    Ok(case)
}

fn parse_setup(text: &str) -> Result<Setup, String> {
    let mut words = text.splitn(3, ' ');
    let verb = words.next().unwrap_or_default();
    let first = words.next().map(str::to_string);
    let rest = words.next().map(str::to_string);
    let number = |s: &Option<String>| -> Result<u64, String> {
        s.as_deref()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("setup {text:?} needs a number"))
    };
    let path = |s: &Option<String>| -> Result<PathBuf, String> {
        s.as_deref()
            .map(PathBuf::from)
            .ok_or_else(|| format!("setup {text:?} needs a path"))
    };
    Ok(match verb {
        "lock" => Setup::Lock,
        "truncate" => Setup::Truncate(path(&first)?, number(&rest)?),
        "repeat" => Setup::Repeat(path(&first)?, number(&rest)? as usize),
        "remove" => Setup::Remove(path(&first)?),
        "empty" => Setup::Empty(path(&first)?),
        "table" => Setup::Table(
            first.ok_or("setup table needs a name")?,
            rest.ok_or("setup table needs SQL")?,
        ),
        other => return Err(format!("unknown setup {other}")),
    })
}

fn corpus_dir() -> PathBuf {
    repo().join("tests/corpus")
}

fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    let mut groups: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir() && !p.ends_with("base"))
        .collect();
    groups.sort();
    for group in groups {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&group)
            .expect("group")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir
                .strip_prefix(corpus_dir())
                .expect("below corpus")
                .display()
                .to_string();
            match parse_case(&dir, name) {
                Ok(case) => cases.push(case),
                Err(problem) => problems.push(problem),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "bad corpus cases:\n{}",
        problems.join("\n")
    );
    cases
}

/// Copies every file of `from` (recursively, but `case.txt`) into `to`.
fn overlay(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("case folder") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            overlay(&path, &target);
        } else if path.file_name().is_some_and(|n| n != "case.txt") {
            std::fs::copy(&path, &target).expect("copy a case file");
        }
    }
}

fn make_project(case: &Case) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path();
    std::fs::copy(
        corpus_dir().join("base/clientpulse.yaml"),
        root.join("clientpulse.yaml"),
    )
    .expect("base config");
    std::fs::copy(
        repo().join("config/benchmarks.yaml"),
        root.join("benchmarks.yaml"),
    )
    .expect("benchmarks");
    copy_files(&repo().join("queries"), &root.join("queries"));
    copy_files(&repo().join("queries/shared"), &root.join("queries/shared"));
    copy_files(&repo().join("report-templates"), &root.join("templates"));
    write_boundary_warehouse(&root.join("warehouse"), Money::Decimal);
    overlay(&case.dir, root);
    for step in &case.setup {
        apply(root, step, case);
    }
    dir
}

fn apply(root: &Path, step: &Setup, case: &Case) {
    match step {
        Setup::Lock => {
            let output = clientpulse()
                .current_dir(root)
                .args(["lock", "--config", "clientpulse.yaml"])
                .output()
                .expect("lock");
            assert!(
                output.status.success(),
                "{}: lock: {}",
                case.name,
                stderr(&output)
            );
        }
        Setup::Truncate(path, bytes) => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(root.join(path))
                .expect("open to truncate");
            file.set_len(*bytes).expect("truncate");
        }
        Setup::Repeat(path, bytes) => {
            let text = std::fs::read(root.join(path)).expect("read");
            let repeated: Vec<u8> = text.iter().copied().cycle().take(*bytes).collect();
            std::fs::write(root.join(path), repeated).expect("write");
        }
        Setup::Remove(path) => {
            let path = root.join(path);
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("remove folder");
            } else {
                std::fs::remove_file(&path).expect("remove file");
            }
        }
        Setup::Empty(path) => {
            let path = root.join(path);
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).expect("mkdir");
        }
        Setup::Table(name, sql) => {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            let batches = runtime.block_on(async {
                let ctx = SessionContext::new();
                for table in crate::support::warehouse::contract_tables() {
                    let folder = root.join("warehouse").join(table);
                    if folder.join("part-0.parquet").exists() {
                        ctx.register_parquet(
                            table,
                            folder.display().to_string(),
                            ParquetReadOptions::default(),
                        )
                        .await
                        .expect("register a base table");
                    }
                }
                let frame = ctx.sql(sql).await.unwrap_or_else(|e| {
                    panic!("{}: setup SQL: {e}", case.name);
                });
                frame.collect().await.expect("setup SQL runs")
            });
            let folder = root.join("warehouse").join(name);
            let _ = std::fs::remove_dir_all(&folder);
            std::fs::create_dir_all(&folder).expect("mkdir");
            let schema = batches
                .first()
                .map(|b| b.schema())
                .expect("setup SQL returns a batch");
            let file = std::fs::File::create(folder.join("part-0.parquet")).expect("create");
            let mut writer = ArrowWriter::try_new(file, Arc::clone(&schema), None).expect("writer");
            for batch in &batches {
                writer.write(batch).expect("write");
            }
            writer.close().expect("close");
        }
    }
}

/// Every `.eml` file under `dir`.
fn messages(dir: &Path) -> Vec<PathBuf> {
    crate::support::files_under(dir)
        .into_iter()
        .filter(|path| path.extension().is_some_and(|x| x == "eml"))
        .collect()
}

/// The project without `out/`: what no case may change.
fn inputs_fingerprint(root: &Path) -> String {
    let staging = tempfile::tempdir().expect("tmp");
    for entry in std::fs::read_dir(root).expect("project").flatten() {
        let name = entry.file_name();
        if name == "out" {
            continue;
        }
        let target = staging.path().join(&name);
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            overlay_all(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
    fingerprint(staging.path())
}

fn overlay_all(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("folder").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            overlay_all(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Runs one case; `Err` says what went wrong.
fn run_case(case: &Case) -> Result<(), String> {
    let project = make_project(case);
    let root = project.path();
    let before = inputs_fingerprint(root);
    let mut args = case.args.clone();
    if matches!(
        args.first().map(String::as_str),
        Some("run" | "check" | "lock")
    ) && !args.iter().any(|a| a == "--config")
    {
        args.extend(["--config".to_string(), "clientpulse.yaml".to_string()]);
    }
    let output: Output = clientpulse()
        .current_dir(root)
        .envs(case.env.iter().map(|(k, v)| (k, v)))
        .args(&args)
        .output()
        .map_err(|e| format!("cannot run: {e}"))?;
    let (err, out) = (stderr(&output), stdout(&output));
    let mut problems = Vec::new();
    if output.status.code() != Some(case.exit) {
        problems.push(format!(
            "exit {:?}, wanted {}",
            output.status.code(),
            case.exit
        ));
    }
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        problems.push("panicked".to_string());
    }
    for needle in &case.stderr {
        if !err.contains(needle.as_str()) {
            problems.push(format!("stderr lacks {needle:?}"));
        }
    }
    for needle in &case.stdout {
        if !out.contains(needle.as_str()) {
            problems.push(format!("stdout lacks {needle:?}"));
        }
    }
    if case.exit != 0 {
        if let Some(line) = err.lines().find(|l| !l.starts_with("error: ")) {
            problems.push(format!("not an `error: ` line: {line:?}"));
        }
        let sent = messages(&root.join("out"));
        if !sent.is_empty() {
            problems.push(format!("messages in an outbox: {sent:?}"));
        }
    }
    if inputs_fingerprint(root) != before {
        problems.push("changed the project outside out/".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n    stderr: {}",
            problems.join("; "),
            err.trim().replace('\n', "\n            ")
        ))
    }
}

#[test]
fn every_bad_input_gets_its_line_and_exit_code() {
    let cases = all_cases();
    assert!(
        cases.len() >= 100,
        "the corpus has {} cases, wants 100",
        cases.len()
    );
    let next = AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(index) else { break };
                    if let Err(problem) = run_case(case) {
                        failures
                            .lock()
                            .expect("lock")
                            .push(format!("{}: {problem}", case.name));
                    }
                }
            });
        }
    });
    let mut failures = failures.into_inner().expect("lock");
    failures.sort();
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
