//! Bad input of every kind: each gives one clear error line per problem,
//! naming the file, line or table at fault, with exit code 2 (config,
//! query, usage) or 3 (the data), and never a panic or a sent message.

use crate::fixture::write_boundary_warehouse;
use crate::support::warehouse::{Fixture, Money, V, answer, subscription};
use crate::support::{Project, assert_clean_failure, eml_files, repo, run, stderr};

fn project_with_fixture() -> Project {
    let project = Project::new("warehouse");
    write_boundary_warehouse(&project.path().join("warehouse"), Money::Decimal);
    project
}

fn assert_nothing_written(project: &Project) {
    assert!(eml_files(&project.out().join("2026-W47/outbox")).is_empty());
}

#[test]
fn a_missing_table_is_a_data_error_naming_the_table() {
    let project = project_with_fixture();
    std::fs::remove_dir_all(project.path().join("warehouse/subscriptions")).expect("rm");
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(&output, 3, &["`subscriptions`", "not found", "mrr.v3.sql"]);
    assert_nothing_written(&project);
}

#[test]
fn a_missing_column_is_a_data_error_naming_table_and_column() {
    let project = project_with_fixture();
    let fixture = Fixture::new(&project.path().join("warehouse"), Money::Decimal);
    fixture.table_without(
        "subscriptions",
        &["discount_pct"],
        &[subscription(
            "S1",
            "A",
            10.0,
            1,
            None,
            "2026-01-01T00:00:00Z",
            None,
        )],
    );
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(&output, 3, &["`subscriptions`", "no column `discount_pct`"]);
}

/// One subscription row, written as its own Parquet file (`without` some
/// columns, money as `money`) beside the fixture's `subscriptions/part-0`,
/// as `subscriptions/<name>`.
fn another_subscriptions_file(project: &Project, name: &str, without: &[&str], money: Money) {
    let elsewhere = tempfile::tempdir().expect("tmp");
    let fixture = Fixture::new(elsewhere.path(), money);
    fixture.table_without(
        "subscriptions",
        without,
        &[subscription(
            "S-late",
            "A",
            10.0,
            1,
            None,
            "2026-01-01T00:00:00Z",
            None,
        )],
    );
    std::fs::copy(
        elsewhere.path().join("subscriptions/part-0.parquet"),
        project.path().join("warehouse/subscriptions").join(name),
    )
    .expect("copy");
}

#[test]
fn a_file_without_a_column_the_other_files_have_is_named() {
    // The table's schema is all its files' together, so the column is
    // there; this one file would be read as NULLs.
    let project = project_with_fixture();
    another_subscriptions_file(
        &project,
        "part-1.parquet",
        &["discount_pct"],
        Money::Decimal,
    );
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(
        &output,
        3,
        &[
            "`subscriptions`",
            "no column `discount_pct`",
            "subscriptions/part-1.parquet",
        ],
    );
    assert!(!stderr(&output).contains("part-0.parquet"));
    assert_nothing_written(&project);
}

#[test]
fn a_broken_file_among_good_ones_is_named() {
    let project = project_with_fixture();
    let folder = project.path().join("warehouse/subscriptions");
    let bytes = std::fs::read(folder.join("part-0.parquet")).expect("read");
    std::fs::write(folder.join("part-1.parquet"), &bytes[..bytes.len() / 2]).expect("write");
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(
        &output,
        3,
        &["`subscriptions`", "subscriptions/part-1.parquet"],
    );
    assert!(!stderr(&output).contains("part-0.parquet"));
    assert_nothing_written(&project);
}

#[test]
fn files_of_one_table_with_different_types_are_named() {
    // DECIMAL money in part-0, DOUBLE in part-1: each alone is what
    // warehouse.md allows, together they are no one table.
    let project = project_with_fixture();
    another_subscriptions_file(&project, "part-1.parquet", &[], Money::Double);
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(
        &output,
        3,
        &[
            "`subscriptions`",
            "column `amount`",
            "subscriptions/part-0.parquet",
            "subscriptions/part-1.parquet",
        ],
    );
    assert_nothing_written(&project);
}

#[test]
fn a_query_that_does_not_parse_names_its_file() {
    // A data team adds version 5 of NPS, with a typo.
    let project = project_with_fixture();
    let queries = project.own_queries();
    let v5 = std::fs::read_to_string(queries.join("nps.v4.sql"))
        .expect("read")
        .replace("-- version: 4", "-- version: 5")
        .replace("GROUP BY w.window_end", "WHERE WHERE GROUP BY w.window_end");
    assert!(v5.contains("WHERE WHERE"), "the typo is in");
    std::fs::write(queries.join("nps.v5.sql"), v5).expect("write");
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(&output, 2, &["nps.v5.sql"]);
    // `check` wants it published first, then names it as unplannable.
    let output = run(&mut project.command(&["check"]));
    assert_clean_failure(
        &output,
        2,
        &["nps.v5.sql", "not published", "clientpulse lock"],
    );
    assert!(run(&mut project.command(&["lock"])).status.success());
    let output = run(&mut project.command(&["check"]));
    assert_clean_failure(&output, 2, &["nps.v5.sql"]);
}

#[test]
fn an_edited_published_query_is_caught() {
    let project = project_with_fixture();
    let queries = project.own_queries();
    assert!(run(&mut project.command(&["check"])).status.success());
    let path = queries.join("churned_clients.sql");
    let edited = std::fs::read_to_string(&path)
        .expect("read")
        .replace("mrr_b = 0", "mrr_b <= 0");
    std::fs::write(&path, edited).expect("write");
    for command in [
        vec!["check"],
        vec!["run", "--period", "2026-W47"],
        vec!["lock"],
    ] {
        let output = run(&mut project.command(&command));
        assert_clean_failure(
            &output,
            2,
            &[
                "churned_clients.sql",
                "version 1 is published",
                "add version 4",
            ],
        );
    }
    // Editing a shared CTE changes every query that uses it.
    let output = {
        std::fs::write(
            &path,
            std::fs::read(repo().join("queries/churned_clients.sql")).expect("orig"),
        )
        .expect("restore");
        let shared = queries.join("shared/nps_answers.sql");
        let edited = std::fs::read_to_string(&shared)
            .expect("read")
            .replace("DESC, response_id DESC", "DESC");
        std::fs::write(&shared, edited).expect("write");
        run(&mut project.command(&["check"]))
    };
    assert_clean_failure(&output, 2, &["nps.sql", "nps_margin.sql"]);
}

#[test]
fn a_benchmark_for_an_unknown_metric_names_file_and_line() {
    let project = project_with_fixture();
    let path = project.path().join("benchmarks.yaml");
    let mut text = std::fs::read_to_string(&path).expect("read");
    let line = text.lines().count() + 2;
    text.push_str("\nhappiness_index:\n  direction: higher_is_better\n  target: 1\n");
    std::fs::write(&path, text).expect("write");
    for command in [vec!["run", "--period", "2026-W47"], vec!["check"]] {
        let output = run(&mut project.command(&command));
        assert_clean_failure(
            &output,
            2,
            &[
                &format!("benchmarks.yaml:{line}"),
                "unknown metric `happiness_index`",
            ],
        );
    }
}

#[test]
fn an_invalid_period_label() {
    let project = project_with_fixture();
    let output = run(&mut project.command(&["run", "--period", "2026-W99"]));
    assert_clean_failure(&output, 2, &["2026-W99", "no ISO week 99"]);
    let output = run(&mut project.command(&["run", "--period", "last-week"]));
    assert_clean_failure(&output, 2, &["last-week"]);
}

/// A week still under way (the clock says Wednesday 25 November 2026, in
/// 2026-W48) is refused, alone or at the end of a range: its report would
/// count part of the week, and once sent would stand as the week's in the
/// ledger. Nothing is computed, written or sent.
#[test]
fn a_week_that_has_not_ended() {
    let project = project_with_fixture();
    for args in [
        &["run", "--period", "2026-W48"][..],
        &["run", "--from", "2026-W46", "--to", "2026-W48"][..],
        &["run", "--period", "2027-W01", "--dry-run"][..],
    ] {
        let output = run(&mut project.command(args));
        let week = args
            .iter()
            .rev()
            .find(|a| a.contains("-W"))
            .expect("a week");
        assert_clean_failure(&output, 2, &[&format!("week {week} has not ended")]);
        assert!(
            !project.out().exists(),
            "{args:?} wrote {:?}",
            project.out()
        );
    }
    // The week that ended before the clock is the one reported.
    let output = run(&mut project.command(&["run", "--period", "2026-W47", "--dry-run"]));
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn unknown_config_keys_are_all_reported_with_positions() {
    let project = project_with_fixture();
    let text = std::fs::read_to_string(project.config()).expect("read");
    let text = text.replace("  timezone: UTC\n", "  timezone: UTC\n  colour: blue\n");
    let text = format!("{text}schedules: weekly\n");
    std::fs::write(project.config(), &text).expect("write");
    let colour_line = text.lines().position(|l| l.contains("colour")).unwrap_or(0) + 1;
    let schedules_line = text
        .lines()
        .position(|l| l.starts_with("schedules"))
        .unwrap_or(0)
        + 1;
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(
        &output,
        2,
        &[
            &format!("clientpulse.yaml:{colour_line}:3: reporting: unknown field `colour`"),
            &format!("clientpulse.yaml:{schedules_line}:1: unknown field `schedules`"),
        ],
    );
}

#[test]
fn a_wrong_type_names_the_key() {
    let project = project_with_fixture();
    let path = project.path().join("benchmarks.yaml");
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("target: 40", "target: forty");
    std::fs::write(&path, text).expect("write");
    let output = run(&mut project.command(&["check"]));
    assert_clean_failure(&output, 2, &["benchmarks.yaml:", "invalid type", "forty"]);
}

#[test]
fn data_in_another_currency_stops_the_run() {
    let project = project_with_fixture();
    let fixture = Fixture::new(&project.path().join("warehouse"), Money::Decimal);
    let mut usd = subscription("S9", "A", 10.0, 1, None, "2026-01-01T00:00:00Z", None);
    usd[4] = V::S("USD");
    fixture.table(
        "subscriptions",
        &[
            usd.clone(),
            usd,
            subscription("S1", "B", 10.0, 1, None, "2026-01-01T00:00:00Z", None),
        ],
    );
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(&output, 3, &["`subscriptions`", "`currency`", "2 row(s)"]);
    assert_nothing_written(&project);
}

#[test]
fn an_nps_answer_off_its_scale_stops_the_run() {
    let project = project_with_fixture();
    let fixture = Fixture::new(&project.path().join("warehouse"), Money::Decimal);
    fixture.table(
        "survey_responses",
        &[answer("X", "A", "r", "nps", 4, 5, "2026-11-01T00:00:00Z")],
    );
    let output = run(&mut project.command(&["run", "--period", "2026-W47"]));
    assert_clean_failure(
        &output,
        3,
        &["`survey_responses`", "`scale_max`", "1 row(s)"],
    );
}

#[test]
fn a_missing_config_file() {
    let project = project_with_fixture();
    let output = run(crate::support::clientpulse()
        .args(["run", "--config"])
        .arg(project.path().join("nope.yaml")));
    assert_clean_failure(&output, 2, &["nope.yaml"]);
}

#[test]
fn a_breakdown_by_a_column_clients_lack() {
    let project = project_with_fixture();
    let text = std::fs::read_to_string(project.config())
        .expect("read")
        .replace(
            "  timezone: UTC\n",
            "  timezone: UTC\n  breakdowns: [segment, tier]\n",
        );
    std::fs::write(project.config(), text).expect("write");
    for command in [vec!["check"], vec!["run", "--period", "2026-W47"]] {
        let output = run(&mut project.command(&command));
        assert_clean_failure(
            &output,
            3,
            &["`clients`", "no column `tier`", "reporting.breakdowns"],
        );
    }
}
