//! `clientpulse schedule`: the next starts across daylight-saving changes
//! (from the command line), a run at each start that survives a failed one,
//! a missed start caught up only when the config says so, and a clean stop
//! on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{Project, run, stderr, stdout};

#[test]
fn next_starts_follow_the_zone_across_both_daylight_saving_changes() {
    let project = Project::new("warehouse");
    add(
        &project,
        "schedule:\n  cron: \"30 2 * * SUN\"\n  timezone: Europe/Paris\n",
    );
    let next = |now: &str| {
        let output = run(project
            .command(&["schedule", "--next", "3"])
            .env("CLIENTPULSE_NOW", now));
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        next("2026-10-17T12:00:00Z"),
        [
            "2026-10-18T02:30:00+02:00",
            "2026-10-25T02:30:00+02:00",
            "2026-11-01T02:30:00+01:00"
        ],
        "the repeated 02:30 of 25 October starts once"
    );
    assert_eq!(
        next("2027-03-20T12:00:00Z"),
        [
            "2027-03-21T02:30:00+01:00",
            "2027-03-28T03:00:00+02:00",
            "2027-04-04T02:30:00+02:00"
        ],
        "the missing 02:30 of 28 March starts right after the gap"
    );
}

fn add(project: &Project, text: &str) {
    let mut config = std::fs::read_to_string(project.config()).expect("config");
    config.push_str(text);
    std::fs::write(project.config(), config).expect("config");
}

/// The scheduler's stderr, line by line, as it comes.
struct Log {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Log {
    fn start(project: &Project) -> Log {
        let mut child = project
            .command(&["schedule"])
            .env_remove("CLIENTPULSE_NOW")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the scheduler");
        let (send, lines) = mpsc::channel();
        let err = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Log {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most a minute) for a line containing `needle`.
    fn wait_for(&mut self, needle: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                let found = line.contains(needle);
                self.seen.push(line);
                if found {
                    return;
                }
            }
        }
        let _ = self.child.kill();
        panic!(
            "no `{needle}` in the scheduler's log:\n{}",
            self.seen.join("\n")
        );
    }

    /// SIGTERM, then the exit status and the rest of the log.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(sent.success());
        let status = self.child.wait().expect("the scheduler exits");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.seen.push(line);
        }
        (status, self.seen.join("\n"))
    }
}

#[test]
fn each_start_runs_the_week_survives_a_failure_and_stops_on_sigterm() {
    let project = Project::new("warehouse");
    // Every two seconds; no warehouse yet, so the first runs fail.
    add(&project, "schedule:\n  cron: \"*/2 * * * * *\"\n");
    let mut log = Log::start(&project);
    log.wait_for("next run at");
    log.wait_for("run failed (exit 3)");
    log.wait_for("next run at");
    // The export lands; the next start reports the week.
    crate::support::demo_data(&project.path().join("warehouse"), &[]);
    log.wait_for("run finished: ");
    log.wait_for("next run at");
    let (status, text) = log.terminate();
    assert!(status.success(), "a clean stop: {status:?}\n{text}");
    assert!(text.contains("stopped (SIGTERM)"), "{text}");
    let weeks: Vec<_> = std::fs::read_dir(project.out())
        .expect("out")
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("report.json").is_file())
        .collect();
    assert_eq!(weeks.len(), 1, "the week just completed, reported");
    assert!(project.out().join("schedule.json").is_file());
}

#[test]
fn a_missed_start_is_caught_up_only_when_the_config_says_so() {
    let project = Project::new("warehouse");
    crate::support::demo_data(&project.path().join("warehouse"), &[]);
    // Monday 06:00: the last start is in the past and nothing recorded it.
    add(
        &project,
        "schedule:\n  cron: \"0 6 * * MON\"\n  catch_up: false\n",
    );
    let mut log = Log::start(&project);
    log.wait_for("next run at");
    let (status, text) = log.terminate();
    assert!(status.success());
    assert!(!text.contains("catching up"), "{text}");
    assert!(!project.out().join("schedule.json").exists());

    let config = std::fs::read_to_string(project.config()).expect("config");
    std::fs::write(
        project.config(),
        config.replace("catch_up: false", "catch_up: true"),
    )
    .expect("config");
    let mut log = Log::start(&project);
    log.wait_for("catching up the start of");
    log.wait_for("run finished: ");
    log.wait_for("next run at");
    let (status, _) = log.terminate();
    assert!(status.success());
    // Recorded: a restart does not catch up the same start again.
    let mut log = Log::start(&project);
    log.wait_for("next run at");
    let (_, text) = log.terminate();
    assert!(!text.contains("catching up the start"), "{text}");
}
