//! The six figures of the first path against an independent computation of
//! metrics.md: plain Rust loops over the Parquet rows, no SQL, no code of
//! the crate's, on a demo warehouse (seed and end date) that no other test
//! uses, with decimal money.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::support::warehouse::micros;
use crate::support::{Project, clientpulse, metric, run, stderr};

const DAY: i64 = 86_400_000_000;

fn read_table(root: &Path, table: &str) -> Vec<RecordBatch> {
    let mut batches = Vec::new();
    for entry in std::fs::read_dir(root.join(table)).expect("table folder") {
        let file = std::fs::File::open(entry.expect("entry").path()).expect("open parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        batches.extend(reader.map(|b| b.expect("batch")));
    }
    batches
}

fn texts(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = cast(batch.column_by_name(column).expect(column), &DataType::Utf8).expect("utf8");
    let array = array.as_string::<i32>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i).to_string()))
        .collect()
}

fn numbers(batch: &RecordBatch, column: &str) -> Vec<Option<f64>> {
    let array = cast(
        batch.column_by_name(column).expect(column),
        &DataType::Float64,
    )
    .expect("f64");
    let array = array.as_primitive::<Float64Type>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i)))
        .collect()
}

fn instants(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    let array = batch.column_by_name(column).expect(column);
    let array = cast(array, &DataType::Int64).expect("i64");
    let array = array.as_primitive::<Int64Type>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i)))
        .collect()
}

struct Subscription {
    client: String,
    monthly: f64,
    start: i64,
    end: Option<i64>,
}

fn subscriptions(root: &Path) -> Vec<Subscription> {
    let mut rows = Vec::new();
    for batch in read_table(root, "subscriptions") {
        let client = texts(&batch, "client_id");
        let amount = numbers(&batch, "amount");
        let months = numbers(&batch, "billing_period_months");
        let discount = numbers(&batch, "discount_pct");
        let start = instants(&batch, "started_at");
        let end = instants(&batch, "ended_at");
        for i in 0..batch.num_rows() {
            rows.push(Subscription {
                client: client[i].clone().expect("client"),
                monthly: amount[i].expect("amount") * (1.0 - discount[i].unwrap_or(0.0))
                    / months[i].expect("months"),
                start: start[i].expect("start"),
                end: end[i],
            });
        }
    }
    rows
}

/// mrr_c(t) for every client with an active row at t.
fn client_mrr(rows: &[Subscription], t: i64) -> BTreeMap<String, f64> {
    let mut mrr = BTreeMap::new();
    for row in rows
        .iter()
        .filter(|r| r.start <= t && r.end.is_none_or(|e| e > t))
    {
        *mrr.entry(row.client.clone()).or_insert(0.0) += row.monthly;
    }
    mrr
}

fn paying(mrr: &BTreeMap<String, f64>) -> BTreeSet<String> {
    mrr.iter()
        .filter(|(_, v)| **v > 0.0)
        .map(|(c, _)| c.clone())
        .collect()
}

struct Answer {
    id: String,
    client: String,
    respondent: String,
    survey: String,
    score: f64,
    scale: f64,
    at: i64,
}

fn answers(root: &Path) -> Vec<Answer> {
    let mut rows = Vec::new();
    for batch in read_table(root, "survey_responses") {
        let id = texts(&batch, "response_id");
        let client = texts(&batch, "client_id");
        let respondent = texts(&batch, "respondent_id");
        let survey = texts(&batch, "survey");
        let score = numbers(&batch, "score");
        let scale = numbers(&batch, "scale_max");
        let at = instants(&batch, "responded_at");
        for i in 0..batch.num_rows() {
            rows.push(Answer {
                id: id[i].clone().expect("id"),
                client: client[i].clone().expect("client"),
                respondent: respondent[i].clone().expect("respondent"),
                survey: survey[i].clone().expect("survey"),
                score: score[i].expect("score"),
                scale: scale[i].expect("scale"),
                at: at[i].expect("at"),
            });
        }
    }
    rows
}

fn assert_relative(id: &str, actual: f64, expected: f64) {
    let scale = expected.abs().max(1e-12);
    assert!(
        ((actual - expected) / scale).abs() <= 1e-9 || actual == expected,
        "{id}: clientpulse says {actual}, the independent computation {expected}"
    );
}

#[test]
fn the_six_figures_agree_with_an_independent_computation() {
    let project = Project::new("warehouse");
    let root = project.path().join("warehouse");
    let output = run(clientpulse().args(["demo-data", "--out"]).arg(&root).args([
        "--seed",
        "977",
        "--end",
        "2026-03-11",
        "--scale",
        "2",
    ]));
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(&mut project.command(&["run", "--period", "2026-W09"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let report = project.report_json("2026-W09");
    let value = |id: &str| metric(&report, id)["value"].as_f64();

    // 2026-W09 is 23 Feb to 2 Mar 2026: b = 2026-03-02T00:00Z.
    let b = micros("2026-03-02T00:00:00Z");
    let subscriptions = subscriptions(&root);
    let at_end = client_mrr(&subscriptions, b);
    let mrr: f64 = at_end.values().sum();
    assert_relative("mrr", value("mrr").expect("mrr"), mrr);
    let paying_at_end = paying(&at_end);
    assert_eq!(value("paying_clients"), Some(paying_at_end.len() as f64));

    let a = b - 30 * DAY;
    let start = paying(&client_mrr(&subscriptions, a));
    let churned = start.difference(&paying_at_end).count();
    assert_eq!(value("churned_clients"), Some(churned as f64));
    assert_eq!(
        metric(&report, "client_churn_rate")["sample_size"],
        start.len()
    );
    assert_relative(
        "client_churn_rate",
        value("client_churn_rate").expect("churn"),
        churned as f64 / start.len() as f64,
    );

    let answers = answers(&root);
    let nps_start = b - 90 * DAY;
    let mut latest: BTreeMap<(&str, &str), &Answer> = BTreeMap::new();
    for answer in answers
        .iter()
        .filter(|x| x.survey == "nps" && x.at >= nps_start && x.at < b)
    {
        let key = (answer.client.as_str(), answer.respondent.as_str());
        let newer = latest
            .get(&key)
            .is_none_or(|kept| (answer.at, &answer.id) > (kept.at, &kept.id));
        if newer {
            latest.insert(key, answer);
        }
    }
    let n = latest.len() as f64;
    let promoters = latest.values().filter(|x| x.score >= 9.0).count() as f64;
    let detractors = latest.values().filter(|x| x.score <= 6.0).count() as f64;
    assert!(
        n > 30.0,
        "the demo has enough NPS answers to mean something"
    );
    assert_relative(
        "nps",
        value("nps").expect("nps"),
        100.0 * (promoters - detractors) / n,
    );

    let csat_start = b - 28 * DAY;
    let csat: Vec<&Answer> = answers
        .iter()
        .filter(|x| x.survey == "csat" && x.at >= csat_start && x.at < b)
        .collect();
    let satisfied = csat
        .iter()
        .filter(|x| match x.scale as i64 {
            5 => x.score >= 4.0,
            7 => x.score >= 6.0,
            10 => x.score >= 7.0,
            _ => false,
        })
        .count();
    assert_relative(
        "csat",
        value("csat").expect("csat"),
        satisfied as f64 / csat.len() as f64,
    );
}
