//! What moved a figure: hand-made warehouses whose change is pure mix,
//! pure rate, or a sum of segment deltas, through the whole binary, with
//! the contributions worked out by hand in the comments.

use serde_json::Value;

use crate::support::warehouse::{Fixture, Money, V, answer, client, subscription};
use crate::support::{DEFAULT_DELIVERY, Project, metric, run, stderr};

/// In both NPS windows (W46: 2026-08-18..11-16, W47: 2026-08-25..11-23).
const BOTH_WEEKS: &str = "2026-10-01T12:00:00Z";
/// In W47's window only.
const THIS_WEEK: &str = "2026-11-18T12:00:00Z";

/// A project over `fixture`'s warehouse running `metrics` by segment,
/// with no benchmarks (so any meaningful change is material), after its
/// run of 2026-W47.
fn project_run(fixture: &Fixture, metrics: &[&str]) -> Project {
    fixture.empty_rest();
    let root = fixture.root.display().to_string();
    let project = Project::new(&root);
    project.write_config_with(&root, metrics, DEFAULT_DELIVERY);
    std::fs::write(project.path().join("benchmarks.yaml"), "{}\n").expect("benchmarks");
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert!(output.status.success(), "{}", stderr(&output));
    project
}

/// The report.json of [`project_run`].
fn report(fixture: &Fixture, metrics: &[&str]) -> Value {
    project_run(fixture, metrics).report_json("2026-W47")
}

/// Three clients whose MRR moves this week: SMB's S1 pays 100 both weeks,
/// S2 (SMB) starts at 200, Enterprise's E1 stops paying 300. MRR 400 → 300.
fn mrr_moves(fixture: &Fixture) {
    fixture.table(
        "clients",
        &[
            client("S1", "SMB"),
            client("S2", "SMB"),
            client("E1", "Enterprise"),
        ],
    );
    fixture.table(
        "subscriptions",
        &[
            subscription("s1", "S1", 100.0, 1, None, "2026-01-01T00:00:00Z", None),
            subscription("s2", "S2", 200.0, 1, None, "2026-11-18T00:00:00Z", None),
            subscription(
                "s3",
                "E1",
                300.0,
                1,
                None,
                "2026-01-01T00:00:00Z",
                Some("2026-11-18T00:00:00Z"),
            ),
        ],
    );
}

/// `count` NPS answers of `score` by fresh respondents of `client`.
fn answers(
    rows: &mut Vec<Vec<V>>,
    client: &'static str,
    score: i32,
    count: usize,
    at: &'static str,
) {
    for _ in 0..count {
        let n = rows.len();
        let respondent: &'static str = Box::leak(format!("r{n}").into_boxed_str());
        rows.push(answer(
            &format!("a{n}"),
            client,
            respondent,
            "nps",
            score,
            10,
            at,
        ));
    }
}

fn drivers(metric: &Value) -> Vec<(&str, &str, f64)> {
    metric["drivers"]
        .as_array()
        .unwrap_or_else(|| panic!("no drivers in {metric}"))
        .iter()
        .map(|d| {
            assert_eq!(d["dimension"], "segment");
            (
                d["segment"].as_str().expect("segment"),
                d["effect"].as_str().expect("effect"),
                d["contribution"].as_f64().expect("contribution"),
            )
        })
        .collect()
}

fn contribution(drivers: &[(&str, &str, f64)], segment: &str, effect: &str) -> f64 {
    drivers
        .iter()
        .find(|(s, e, _)| *s == segment && *e == effect)
        .map(|d| d.2)
        .unwrap_or_else(|| panic!("no {segment} {effect} in {drivers:?}"))
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-9,
        "expected {expected}, got {actual}"
    );
}

/// NPS whose segments keep their scores while Enterprise's share of the
/// answers grows: the whole change is mix.
#[test]
fn an_nps_change_that_is_pure_mix() {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    fixture.table(
        "clients",
        &[client("S1", "SMB"), client("E1", "Enterprise")],
    );
    let mut rows = Vec::new();
    // SMB: 100 promoters, 100 detractors: NPS 0 in both weeks.
    answers(&mut rows, "S1", 10, 100, BOTH_WEEKS);
    answers(&mut rows, "S1", 0, 100, BOTH_WEEKS);
    // Enterprise: 50 promoters and 50 passives (NPS 50) in both weeks,
    // and 150 more of each this week (still NPS 50).
    answers(&mut rows, "E1", 10, 50, BOTH_WEEKS);
    answers(&mut rows, "E1", 8, 50, BOTH_WEEKS);
    answers(&mut rows, "E1", 10, 150, THIS_WEEK);
    answers(&mut rows, "E1", 8, 150, THIS_WEEK);
    fixture.table("survey_responses", &rows);
    let report = report(&fixture, &["nps"]);
    let nps = metric(&report, "nps");
    // W46: (0·200 + 50·100) / 300 = 16.67; W47: (0·200 + 50·400) / 600 = 33.33.
    assert_close(nps["previous"].as_f64().expect("previous"), 50.0 / 3.0);
    assert_close(nps["value"].as_f64().expect("value"), 100.0 / 3.0);
    let drivers = drivers(nps);
    // Enterprise's weight 1/3 → 2/3 at a score of 50: mix +16.67; every
    // rate effect is zero, SMB's mix too (its score is 0).
    assert_close(contribution(&drivers, "Enterprise", "mix"), 50.0 / 3.0);
    assert_close(contribution(&drivers, "SMB", "mix"), 0.0);
    assert_close(contribution(&drivers, "Enterprise", "rate"), 0.0);
    assert_close(contribution(&drivers, "SMB", "rate"), 0.0);
    assert_eq!(drivers[0].0, "Enterprise", "largest first");
    assert_close(nps["drivers"][0]["share"].as_f64().expect("share"), 1.0);
}

/// NPS whose segments keep their share of the answers while SMB's
/// detractors become promoters: the whole change is SMB's rate.
#[test]
fn an_nps_change_that_is_pure_rate() {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    fixture.table(
        "clients",
        &[client("S1", "SMB"), client("E1", "Enterprise")],
    );
    let mut rows = Vec::new();
    answers(&mut rows, "S1", 10, 50, BOTH_WEEKS);
    answers(&mut rows, "S1", 0, 50, BOTH_WEEKS);
    // The same 50 SMB detractors answer 10 this week: the latest answer
    // of each respondent counts, so SMB goes from NPS 0 to 100 on the
    // same 100 respondents.
    let detractors: Vec<Vec<V>> = rows[50..100].to_vec();
    for (i, row) in detractors.into_iter().enumerate() {
        let mut newer = row;
        newer[0] = V::Str(format!("again{i}"));
        newer[4] = V::I(10);
        newer[8] = V::T(THIS_WEEK);
        rows.push(newer);
    }
    answers(&mut rows, "E1", 10, 50, BOTH_WEEKS);
    answers(&mut rows, "E1", 8, 50, BOTH_WEEKS);
    fixture.table("survey_responses", &rows);
    let report = report(&fixture, &["nps"]);
    let nps = metric(&report, "nps");
    // W46: (0·100 + 50·100) / 200 = 25; W47: (100·100 + 50·100) / 200 = 75.
    assert_close(nps["previous"].as_f64().expect("previous"), 25.0);
    assert_close(nps["value"].as_f64().expect("value"), 75.0);
    let drivers = drivers(nps);
    // SMB's score +100 at a weight of 1/2 both weeks: rate +50, nothing else.
    assert_eq!(drivers[0], ("SMB", "rate", 50.0));
    for (segment, effect, contribution) in &drivers[1..] {
        assert_eq!(*contribution, 0.0, "{segment} {effect}");
    }
    // The segments' own previous values are in report.json too.
    let smb = nps["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .find(|s| s["segment"] == "SMB")
        .expect("SMB");
    assert_eq!(smb["previous"].as_f64(), Some(0.0));
    assert_eq!(smb["value"].as_f64(), Some(100.0));
}

/// MRR, a sum: each segment contributes its own change, and the
/// contributions add up to the total's.
#[test]
fn an_additive_metric_splits_into_segment_deltas_that_sum_to_the_change() {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    mrr_moves(&fixture);
    let report = report(&fixture, &["mrr", "paying_clients"]);
    let mrr = metric(&report, "mrr");
    assert_eq!(mrr["previous"].as_f64(), Some(400.0));
    assert_eq!(mrr["value"].as_f64(), Some(300.0));
    let drivers = drivers(mrr);
    assert_eq!(
        drivers,
        vec![("Enterprise", "delta", -300.0), ("SMB", "delta", 200.0)]
    );
    assert_eq!(mrr["drivers"][0]["share"].as_f64(), Some(3.0));
    // Paying clients: SMB +1, Enterprise -1, a change of 0: not material,
    // so no drivers.
    let paying = metric(&report, "paying_clients");
    assert_eq!(paying["value"], paying["previous"]);
    assert!(paying.get("drivers").is_none(), "{paying}");
}

/// The e-mail says what moved a material change, in the metric's own
/// units, largest first.
#[test]
fn the_email_names_the_segments_that_moved_the_figure() {
    let dir = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(dir.path(), Money::Decimal);
    mrr_moves(&fixture);
    let project = project_run(&fixture, &["mrr"]);
    let html = std::fs::read_to_string(project.out().join("2026-W47/report.html")).expect("html");
    // Enterprise alone is three times the change; SMB works against it.
    let line = "By segment: Enterprise -€300.00 (300 %) · SMB +€200.00 (against)";
    assert!(html.contains(line), "no driver line in {html}");
    let eml = crate::support::eml_files(&project.out().join("2026-W47/outbox"));
    let text = mail_parser::MessageParser::default()
        .parse(&std::fs::read(&eml[0]).expect("eml"))
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .expect("a text part");
    assert!(text.contains(line), "no driver line in {text}");
}

/// Every shipped metric whose header declares `drivers:` really is made
/// of its segments that way: on a demo warehouse, split by segment and by
/// region, each material change gets drivers in both breakdowns, and each
/// breakdown's contributions sum to the change.
#[test]
fn every_declared_split_adds_up_on_the_demo() {
    use clientpulse::metrics::QueryLibrary;
    let repo = crate::support::repo();
    let (library, problems) = QueryLibrary::load(&repo.join("queries"));
    assert!(problems.is_empty(), "{problems:?}");
    let mut ids: Vec<String> = library
        .all()
        .filter(|q| {
            library
                .select(&q.id, None)
                .is_some_and(|latest| latest.path == q.path)
        })
        .filter(|q| q.presentation.composition.is_some())
        .map(|q| q.id.clone())
        .collect();
    ids.sort();
    assert!(ids.len() >= 20, "{ids:?}");

    let project = Project::new("warehouse");
    crate::support::demo_data(
        &project.path().join("warehouse"),
        &["--end", "2026-11-25", "--seed", "71"],
    );
    let metrics: String = ids.iter().map(|id| format!("  - id: {id}\n")).collect();
    let at_risk = std::fs::read_to_string(repo.join("config/clientpulse.yaml"))
        .expect("shipped config")
        .split("\nat_risk:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .map(|section| format!("at_risk:\n{section}\n"))
        .expect("the shipped at_risk section");
    std::fs::write(
        project.config(),
        format!(
            "warehouse:\n  root: warehouse\nreporting:\n  currency: EUR\n  timezone: UTC\n  title: Client pulse\n  breakdowns: [segment, region]\nqueries: {}\ntemplates: {}\nbenchmarks: benchmarks.yaml\nout: out\nmetrics:\n{metrics}audiences:\n  - name: data-team\n    recipients: [data@example.com]\n{DEFAULT_DELIVERY}{at_risk}",
            repo.join("queries").display(),
            repo.join("report-templates").display(),
        ),
    )
    .expect("config");
    std::fs::write(project.path().join("benchmarks.yaml"), "{}\n").expect("benchmarks");
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = project.report_json("2026-W47");
    let mut explained = 0;
    for id in &ids {
        let metric = metric(&report, id);
        let has_margin = metric.get("margin").is_some_and(|m| !m.is_null());
        let change = match (metric["value"].as_f64(), metric["previous"].as_f64()) {
            (Some(now), Some(before)) => now - before,
            _ => continue,
        };
        if metric["change_meaningful"] == true && !has_margin {
            assert!(
                metric.get("drivers").is_some(),
                "{id} has no drivers: {metric}"
            );
        }
        let Some(drivers) = metric["drivers"].as_array() else {
            continue;
        };
        explained += 1;
        for dimension in ["segment", "region"] {
            let sum: f64 = drivers
                .iter()
                .filter(|d| d["dimension"] == dimension)
                .map(|d| d["contribution"].as_f64().expect("contribution"))
                .sum();
            assert!(
                (sum - change).abs() <= 1e-9 * change.abs().max(1.0),
                "{id} by {dimension}: contributions sum to {sum}, the change is {change}"
            );
        }
    }
    assert!(explained >= 5, "only {explained} metrics explained");
}
