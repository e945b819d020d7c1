//! Secrets come from the environment only and never reach stdout, stderr,
//! report.json, the sent-ledger or the outbox. Each is checked with a
//! recognisable secret, on runs that succeed and on runs that fail (where
//! error messages are most tempted to repeat what they were given).

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{
    Project, assert_clean_failure, free_port, run, start_s3, start_s3_with_auth, stderr, stdout,
};

const AWS_SECRET: &str = "AWS-SECRET-7f3a9c41";
const SMTP_URL_PASSWORD: &str = "SMTP-URL-PASSWORD-5e1d";
const SMTP_ENV_PASSWORD: &str = "SMTP-ENV-PASSWORD-9b2c";

/// Every byte of every file under `dir`, with its path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    crate::support::files_under(dir)
        .into_iter()
        .filter_map(|path| Some((path.display().to_string(), std::fs::read(&path).ok()?)))
        .collect()
}

fn assert_secret_nowhere(secret: &str, output: &Output, out: &Path) {
    assert!(
        !stdout(output).contains(secret),
        "stdout: {}",
        stdout(output)
    );
    assert!(
        !stderr(output).contains(secret),
        "stderr: {}",
        stderr(output)
    );
    for (path, bytes) in files(out) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{path} holds the secret"
        );
    }
}

fn demo_warehouse(project: &Project) -> std::path::PathBuf {
    let folder = project.path().join("warehouse");
    crate::support::demo_data(&folder, &["--end", "2026-11-25"]);
    folder
}

fn with_aws<'a>(command: &'a mut Command, endpoint: &str) -> &'a mut Command {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIACLIENTPULSETEST")
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("AWS_REGION", "us-east-1")
}

#[test]
fn the_s3_secret_key_never_reaches_an_output() {
    let local = Project::new("warehouse");
    let folder = demo_warehouse(&local);
    let s3 = start_s3();
    s3.upload("secrets", "wh", &folder);
    let remote = Project::new("s3://secrets/wh");

    for args in [vec!["run", "--period", "2026-W47"], vec!["check"]] {
        let output = run(with_aws(&mut remote.command(&args), &s3.endpoint()));
        assert!(output.status.success(), "{}", stderr(&output));
        assert_secret_nowhere(AWS_SECRET, &output, &remote.out());
    }
    assert!(remote.out().join("2026-W47/report.json").exists());

    // A bucket that refuses the key: its own line and exit code, no secret.
    let guarded = start_s3_with_auth();
    let output = run(with_aws(
        &mut remote.command(&["run", "--period", "2026-W46"]),
        &guarded.endpoint(),
    ));
    assert_clean_failure(
        &output,
        5,
        &["refused the credentials", "InvalidAccessKeyId"],
    );
    assert_secret_nowhere(AWS_SECRET, &output, &remote.out());

    // No server at all: unreachable, exit 5, no secret.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let output = run(with_aws(&mut remote.command(&["check"]), &closed));
    assert_clean_failure(
        &output,
        5,
        &["cannot reach the warehouse at s3://secrets/wh"],
    );
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert_secret_nowhere(AWS_SECRET, &output, &remote.out());
}

#[test]
fn smtp_passwords_never_reach_an_output() {
    let project = Project::new("warehouse");
    demo_warehouse(&project);
    let closed = free_port();

    // From the URL variable.
    project.write_config(
        "warehouse",
        "delivery:\n  mode: smtp\n  from: Client Pulse <clientpulse@example.com>\n  retries: 1\n  smtp:\n    host: smtp.invalid\n",
    );
    let output = run(project.command(&["run", "--period", "2026-W47"]).env(
        "CLIENTPULSE_SMTP_URL",
        format!("smtp://pulse:{SMTP_URL_PASSWORD}@127.0.0.1:{closed}"),
    ));
    assert_clean_failure(&output, 4, &["3 of 3"]);
    assert_secret_nowhere(SMTP_URL_PASSWORD, &output, &project.out());

    // From the variables the config names.
    project.write_config(
        "warehouse",
        &format!(
            "delivery:\n  mode: smtp\n  from: Client Pulse <clientpulse@example.com>\n  retries: 1\n  smtp:\n    host: 127.0.0.1\n    port: {closed}\n    tls: none\n    username_env: PULSE_SMTP_USER\n    password_env: PULSE_SMTP_PASSWORD\n"
        ),
    );
    let output = run(project
        .command(&["run", "--period", "2026-W47"])
        .env("PULSE_SMTP_USER", "pulse")
        .env("PULSE_SMTP_PASSWORD", SMTP_ENV_PASSWORD));
    assert_clean_failure(&output, 4, &["3 of 3"]);
    assert_secret_nowhere(SMTP_ENV_PASSWORD, &output, &project.out());
    // The outbox was written, so the search above read real messages.
    assert!(project.out().join("2026-W47/outbox").exists());
}
