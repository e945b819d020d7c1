//! Shared test support: hand-made Parquet warehouses, a project folder with
//! its own config, the real binary, and the real servers (S3 from moto,
//! SMTP from aiosmtpd) that `.ci/test` installs.

#![allow(dead_code)]

pub mod s3_proxy;
pub mod warehouse;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private certificate authority and a server certificate it signed for
/// 127.0.0.1, in `folder`: (ca.pem, server.pem, server.key).
pub fn make_certs(folder: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let status = Command::new(tool("python"))
        .arg(repo().join("tests/support/make_certs.py"))
        .arg(folder)
        .status()
        .expect("run make_certs.py");
    assert!(status.success(), "make_certs.py failed");
    (
        folder.join("ca.pem"),
        folder.join("server.pem"),
        folder.join("server.key"),
    )
}

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The clientpulse binary, with a fixed clock and no inherited SMTP URL.
pub fn clientpulse() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_clientpulse"));
    command
        .env("CLIENTPULSE_NOW", "2026-11-25T13:00:00Z")
        .env_remove("CLIENTPULSE_SMTP_URL")
        .stdin(Stdio::null());
    command
}

/// Runs a command and returns its output.
pub fn run(command: &mut Command) -> Output {
    command.output().expect("the clientpulse binary runs")
}

/// Makes a demo warehouse in the folder `out` (`demo-data --out OUT`,
/// then `args`: `--end`, `--seed`, `--scale`) and asserts it was made.
pub fn demo_data(out: &Path, args: &[&str]) {
    let output = run(clientpulse()
        .args(["demo-data", "--out"])
        .arg(out)
        .args(args));
    assert!(output.status.success(), "{}", stderr(&output));
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Asserts a clean failure: the exit code, no panic, and every stderr line
/// a one-line `error: …` that contains each of `needles`.
pub fn assert_clean_failure(output: &Output, code: i32, needles: &[&str]) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(code), "stderr:\n{err}");
    assert!(!err.contains("panicked"), "panicked:\n{err}");
    assert!(err.lines().count() >= 1);
    for line in err.lines() {
        assert!(
            line.starts_with("error: "),
            "not an error line: {line:?}\n{err}"
        );
    }
    for needle in needles {
        assert!(err.contains(needle), "stderr lacks {needle:?}:\n{err}");
    }
}

/// A project folder: a config that uses the repository's queries and
/// templates, a benchmarks file, and a warehouse folder to fill.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A project reading `warehouse` (a path or URL) with the given
    /// delivery section and metrics (all six by default).
    pub fn new(warehouse: &str) -> Project {
        let project = Project {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        project.write_config(warehouse, DEFAULT_DELIVERY);
        std::fs::copy(
            repo().join("config/benchmarks.yaml"),
            project.path().join("benchmarks.yaml"),
        )
        .expect("copy benchmarks");
        project
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn config(&self) -> PathBuf {
        self.path().join("clientpulse.yaml")
    }

    pub fn out(&self) -> PathBuf {
        self.path().join("out")
    }

    pub fn write_config(&self, warehouse: &str, delivery: &str) {
        self.write_config_with(
            warehouse,
            &[
                "nps",
                "csat",
                "client_churn_rate",
                "mrr",
                "paying_clients",
                "churned_clients",
            ],
            delivery,
        );
    }

    /// A config running `metrics`, in that order.
    pub fn write_config_with(&self, warehouse: &str, metrics: &[&str], delivery: &str) {
        let subset: Vec<&str> = metrics
            .iter()
            .copied()
            .filter(|id| ["nps", "csat"].contains(id))
            .collect();
        let cs_metrics = if subset.is_empty() {
            String::new()
        } else {
            format!("    metrics: [{}]\n", subset.join(", "))
        };
        let metrics: String = metrics.iter().map(|id| format!("  - id: {id}\n")).collect();
        let text = format!(
            "warehouse:\n  root: {warehouse}\nreporting:\n  currency: EUR\n  timezone: UTC\n  title: Client pulse\n  features: [dashboards, api, teleport]\nqueries: {queries}\ntemplates: {templates}\nbenchmarks: benchmarks.yaml\nout: out\nmetrics:\n{metrics}audiences:\n  - name: leadership\n    recipients: [ceo@example.com, cfo@example.com]\n  - name: customer-success\n    recipients: [cs-lead@example.com]\n{cs_metrics}{delivery}",
            queries = repo().join("queries").display(),
            templates = repo().join("report-templates").display(),
        );
        std::fs::write(self.config(), text).expect("write config");
    }

    /// `clientpulse <args> --config <this project's config>`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = clientpulse();
        command.args(args).arg("--config").arg(self.config());
        command
    }

    /// Copies the repository's queries (shared CTEs and lock included) into
    /// the project and points its config at the copy, for tests that edit
    /// them. Returns the copy's folder.
    pub fn own_queries(&self) -> PathBuf {
        let queries = self.path().join("queries");
        copy_files(&repo().join("queries"), &queries);
        copy_files(&repo().join("queries/shared"), &queries.join("shared"));
        let config = std::fs::read_to_string(self.config()).expect("config");
        let config: Vec<&str> = config
            .lines()
            .map(|l| {
                if l.starts_with("queries:") {
                    "queries: queries"
                } else {
                    l
                }
            })
            .collect();
        std::fs::write(self.config(), config.join("\n") + "\n").expect("write config");
        queries
    }

    pub fn report_json(&self, period: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.out().join(period).join("report.json"))
            .expect("report.json exists");
        serde_json::from_str(&text).expect("report.json is JSON")
    }
}

pub const DEFAULT_DELIVERY: &str =
    "delivery:\n  mode: outbox\n  from: Client Pulse <clientpulse@example.com>\n";

/// Copies the files (not folders) of `from` into `to`.
pub fn copy_files(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

/// The value of metric `id` in a report.json.
pub fn metric<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["metrics"]
        .as_array()
        .and_then(|metrics| metrics.iter().find(|m| m["id"] == id))
        .unwrap_or_else(|| panic!("metric {id} in report.json"))
}

/// A program from the test virtualenv or node folder that `.ci/test`
/// makes, or PATH.
fn tool(name: &str) -> PathBuf {
    for folder in ["target/test-venv/bin", "target/test-node/node_modules/.bin"] {
        let installed = repo().join(folder).join(name);
        if installed.exists() {
            return installed;
        }
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.exists())
    });
    on_path.unwrap_or_else(|| {
        panic!("`{name}` not found: run the tests with `bash .ci/test`, which installs the test servers")
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on port {port} within 60 s");
}

/// Starts `command` (output to `log`, for a failing test to show) and
/// waits until it listens on `port`.
pub fn start_listening(command: &mut Command, port: u16, log: &Path, what: &str) -> Server {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    let mut child = command
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    wait_for_port(port, &mut child, what);
    Server {
        child,
        port,
        key: "",
    }
}

/// A child process killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    /// The access key id (and secret) an S3 server accepts.
    pub key: &'static str,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// moto's S3-compatible HTTP server on a free loopback port.
pub fn start_s3() -> Server {
    start_moto(false)
}

/// moto enforcing authentication: every key it was not given is refused
/// (403 InvalidAccessKeyId), as a real bucket refuses wrong credentials.
pub fn start_s3_with_auth() -> Server {
    start_moto(true)
}

fn start_moto(auth: bool) -> Server {
    let port = free_port();
    let mut command = Command::new(tool("moto_server"));
    if auth {
        command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
    }
    let mut child = command
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    wait_for_port(port, &mut child, "moto_server");
    Server {
        child,
        port,
        key: "test",
    }
}

/// s3rver (npm), a second S3-compatible server, with `buckets` made; it
/// knows one key pair, [`S3RVER_KEY`] for both id and secret.
pub fn start_s3rver(buckets: &[&str]) -> Server {
    let port = free_port();
    let data = tempfile::tempdir().expect("temp dir").keep();
    let mut command = Command::new(tool("s3rver"));
    command
        .arg("-d")
        .arg(&data)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "--silent"]);
    for bucket in buckets {
        command.args(["--configure-bucket", bucket]);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start s3rver");
    wait_for_port(port, &mut child, "s3rver");
    Server {
        child,
        port,
        key: S3RVER_KEY,
    }
}

/// The one access key (and secret) s3rver accepts.
pub const S3RVER_KEY: &str = "S3RVER";

impl Server {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket` and uploads `folder` under `prefix` (boto3).
    pub fn upload(&self, bucket: &str, prefix: &str, folder: &Path) {
        let status = Command::new(tool("python"))
            .arg(repo().join("tests/support/s3_upload.py"))
            .env("S3_TEST_KEY", self.key)
            .args([&self.endpoint(), bucket, prefix])
            .arg(folder)
            .status()
            .expect("run s3_upload.py");
        assert!(status.success(), "upload to S3 failed");
    }

    /// Creates an empty bucket.
    pub fn create_bucket(&self, bucket: &str) {
        let empty = tempfile::tempdir().expect("temp dir");
        self.upload(bucket, "", empty.path());
    }

    /// Every object of `bucket`: key and size.
    pub fn objects(&self, bucket: &str) -> Vec<(String, u64)> {
        let output = Command::new(tool("python"))
            .arg(repo().join("tests/support/s3_list.py"))
            .env("S3_TEST_KEY", self.key)
            .args([&self.endpoint(), bucket])
            .output()
            .expect("run s3_list.py");
        assert!(output.status.success(), "listing {bucket} failed");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let (key, size) = line.split_once('\t')?;
                Some((key.to_string(), size.parse().ok()?))
            })
            .collect()
    }

    /// The bytes of one object.
    pub fn object(&self, bucket: &str, key: &str) -> Vec<u8> {
        let folder = tempfile::tempdir().expect("temp dir");
        let target = folder.path().join("object");
        let status = Command::new(tool("python"))
            .args([
                "-c",
                "import os, sys, boto3; key = os.environ['S3_TEST_KEY']; boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id=key, aws_secret_access_key=key, region_name='us-east-1').download_file(sys.argv[2], sys.argv[3], sys.argv[4])",
                &self.endpoint(),
                bucket,
                key,
            ])
            .arg(&target)
            .env("S3_TEST_KEY", self.key)
            .status()
            .expect("run python");
        assert!(status.success(), "download of {bucket}/{key} failed");
        std::fs::read(target).expect("downloaded object")
    }

    /// The AWS variables that point a client at this server.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_ACCESS_KEY_ID", self.key.to_string()),
            ("AWS_SECRET_ACCESS_KEY", self.key.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }
}

/// A real SMTP server (aiosmtpd) writing what it accepts into `folder`,
/// refusing the recipients in `reject`.
pub fn start_smtp(folder: &Path, reject: &[&str]) -> Server {
    start_smtp_with(folder, reject, &[])
}

/// The same with `smtp_sink.py`'s options: `--starttls CERT KEY`,
/// `--implicit-tls CERT KEY`, `--auth USER PASSWORD`.
pub fn start_smtp_with(folder: &Path, reject: &[&str], options: &[&str]) -> Server {
    let port = free_port();
    let mut child = Command::new(tool("python"))
        .arg(repo().join("tests/support/smtp_sink.py"))
        .arg(port.to_string())
        .arg(folder)
        .args(reject)
        .args(options)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the SMTP server");
    if let Some(out) = child.stdout.take() {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        assert_eq!(line.trim(), "ready", "SMTP server did not start");
    }
    wait_for_port(port, &mut child, "SMTP server");
    Server {
        child,
        port,
        key: "test",
    }
}

/// The .eml files in a folder, sorted by name.
pub fn eml_files(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The names of a folder's entries, sorted.
pub fn entry_names(folder: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(folder)
        .expect("a folder to list")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Every file under `dir`, recursively (none if it does not exist).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}
