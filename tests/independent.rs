//! Every numeric metric against an independent computation of metrics.md:
//! plain Rust loops over the Parquet rows, no SQL and no code of the
//! crate's, on demo warehouses (seeds and end dates) no other test uses.
//! The same warehouse is then rewritten with DOUBLE money and a
//! Hive-partitioned `usage_events`, and must give the same figures.
//! Last, the identities that must hold between metrics are checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};

use crate::support::warehouse::{instants, micros, partition_by_day, read_table, write_batches};
use crate::support::{DEFAULT_DELIVERY, Project, metric, run, stderr};

const DAY: i64 = 86_400_000_000;

/// Every numeric metric id with SQL in queries/.
pub const CATALOGUE: &[&str] = &[
    "nps",
    "nps_margin",
    "csat",
    "csat_average",
    "ces",
    "ces_average",
    "mrr",
    "arr",
    "paying_clients",
    "arpc",
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "net_new_mrr",
    "gross_mrr_churn_rate",
    "net_mrr_churn_rate",
    "nrr",
    "grr",
    "revenue_growth_per_client",
    "clv",
    "new_clients",
    "churned_clients",
    "client_churn_rate",
    "client_retention_rate",
    "repeat_purchase_rate",
    "first_response_time",
    "time_to_resolution",
    "open_tickets",
    "project_on_time_rate",
    "overdue_projects",
    "onboarding_completion_rate",
    "active_client_rate",
    "stickiness",
    "feature_adoption",
    "feedback",
];

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

/// The warehouse as plain rows.
struct Data {
    subscriptions: Vec<(String, f64, i64, Option<i64>)>,
    orders: Vec<(String, f64, i64)>,
    answers: Vec<Answer>,
    tickets: Vec<(i64, Option<i64>, Option<i64>)>,
    projects: Vec<(i64, Option<i64>)>,
    onboarding: Vec<(i64, Option<i64>, Option<f64>)>,
    usage: Vec<(String, String, i64)>,
    features: Vec<(String, String, String, i64)>,
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

fn load(root: &Path) -> Data {
    let mut data = Data {
        subscriptions: Vec::new(),
        orders: Vec::new(),
        answers: Vec::new(),
        tickets: Vec::new(),
        projects: Vec::new(),
        onboarding: Vec::new(),
        usage: Vec::new(),
        features: Vec::new(),
    };
    for b in read_table(root, "subscriptions") {
        let (c, amount, months, discount) = (
            texts(&b, "client_id"),
            numbers(&b, "amount"),
            numbers(&b, "billing_period_months"),
            numbers(&b, "discount_pct"),
        );
        let (start, end) = (instants(&b, "started_at"), instants(&b, "ended_at"));
        for i in 0..b.num_rows() {
            let monthly = amount[i].expect("amount") * (1.0 - discount[i].unwrap_or(0.0))
                / months[i].expect("months");
            data.subscriptions.push((
                c[i].clone().expect("c"),
                monthly,
                start[i].expect("s"),
                end[i],
            ));
        }
    }
    for b in read_table(root, "orders") {
        let (c, amount, at) = (
            texts(&b, "client_id"),
            numbers(&b, "amount"),
            instants(&b, "ordered_at"),
        );
        for i in 0..b.num_rows() {
            data.orders.push((
                c[i].clone().expect("c"),
                amount[i].expect("a"),
                at[i].expect("t"),
            ));
        }
    }
    for b in read_table(root, "survey_responses") {
        let (id, c, r, s) = (
            texts(&b, "response_id"),
            texts(&b, "client_id"),
            texts(&b, "respondent_id"),
            texts(&b, "survey"),
        );
        let (score, scale, at) = (
            numbers(&b, "score"),
            numbers(&b, "scale_max"),
            instants(&b, "responded_at"),
        );
        for i in 0..b.num_rows() {
            data.answers.push(Answer {
                id: id[i].clone().expect("id"),
                client: c[i].clone().expect("c"),
                respondent: r[i].clone().expect("r"),
                survey: s[i].clone().expect("s"),
                score: score[i].expect("score"),
                scale: scale[i].expect("scale"),
                at: at[i].expect("at"),
            });
        }
    }
    for b in read_table(root, "tickets") {
        let (o, f, r) = (
            instants(&b, "opened_at"),
            instants(&b, "first_response_at"),
            instants(&b, "resolved_at"),
        );
        for i in 0..b.num_rows() {
            data.tickets.push((o[i].expect("opened"), f[i], r[i]));
        }
    }
    for b in read_table(root, "projects") {
        let (due, done) = (instants(&b, "due_at"), instants(&b, "completed_at"));
        for i in 0..b.num_rows() {
            data.projects.push((due[i].expect("due"), done[i]));
        }
    }
    for b in read_table(root, "onboarding") {
        let (s, c, t) = (
            instants(&b, "started_at"),
            instants(&b, "completed_at"),
            numbers(&b, "target_days"),
        );
        for i in 0..b.num_rows() {
            data.onboarding.push((s[i].expect("start"), c[i], t[i]));
        }
    }
    for b in read_table(root, "usage_events") {
        let (c, u, at) = (
            texts(&b, "client_id"),
            texts(&b, "user_id"),
            instants(&b, "occurred_at"),
        );
        let feature = texts(&b, "feature");
        for i in 0..b.num_rows() {
            data.usage.push((
                c[i].clone().expect("c"),
                u[i].clone().expect("u"),
                at[i].expect("t"),
            ));
            data.features.push((
                c[i].clone().expect("c"),
                u[i].clone().expect("u"),
                feature[i].clone().expect("feature"),
                at[i].expect("t"),
            ));
        }
    }
    data
}

/// mrr_c(t) of every client with a row active at t.
fn client_mrr(data: &Data, t: i64) -> BTreeMap<String, f64> {
    let mut mrr = BTreeMap::new();
    for (client, monthly, start, end) in &data.subscriptions {
        if *start <= t && end.is_none_or(|e| e > t) {
            *mrr.entry(client.clone()).or_insert(0.0) += monthly;
        }
    }
    mrr
}

fn paying(mrr: &BTreeMap<String, f64>) -> BTreeSet<String> {
    mrr.iter()
        .filter(|(_, v)| **v > 0.0)
        .map(|(c, _)| c.clone())
        .collect()
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator != 0.0).then(|| numerator / denominator)
}

/// PostgreSQL's percentile_cont over unsorted values.
fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return None;
    }
    let rank = p * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

fn mean(values: &[f64]) -> Option<f64> {
    ratio(values.iter().sum(), values.len() as f64)
}

/// Every figure of metrics.md for the week ending at `b`, by id; extras
/// as `id.extra`.
fn expected(data: &Data, b: i64) -> BTreeMap<String, Option<f64>> {
    let mut out: BTreeMap<String, Option<f64>> = BTreeMap::new();
    let mut put = |id: &str, value: Option<f64>| {
        out.insert(id.to_string(), value);
    };

    // Revenue as of end.
    let at_b = client_mrr(data, b);
    let mrr_b: f64 = at_b.values().sum();
    let paying_b = paying(&at_b);
    put("mrr", Some(mrr_b));
    put("arr", Some(12.0 * mrr_b));
    put("paying_clients", Some(paying_b.len() as f64));
    put("arpc", ratio(mrr_b, paying_b.len() as f64));

    // Movements over (a, b].
    let movements = |days: i64| {
        let a = b - days * DAY;
        let (at_a, at_b) = (client_mrr(data, a), client_mrr(data, b));
        let clients: BTreeSet<&String> = at_a.keys().chain(at_b.keys()).collect();
        clients
            .into_iter()
            .map(|c| {
                let before = data
                    .subscriptions
                    .iter()
                    .any(|(client, monthly, start, end)| {
                        client == c
                            && *monthly > 0.0
                            && *start < a
                            && end.is_none_or(|e| e > *start)
                    });
                (
                    at_a.get(c).copied().unwrap_or(0.0),
                    at_b.get(c).copied().unwrap_or(0.0),
                    before,
                )
            })
            .collect::<Vec<_>>()
    };
    let m30 = movements(30);
    let sum = |f: &dyn Fn(&(f64, f64, bool)) -> f64| m30.iter().map(f).sum::<f64>();
    let new = sum(&|&(a, b, p)| if a == 0.0 && b > 0.0 && !p { b } else { 0.0 });
    let reactivation = sum(&|&(a, b, p)| if a == 0.0 && b > 0.0 && p { b } else { 0.0 });
    let expansion = sum(&|&(a, b, _)| if a > 0.0 && b > a { b - a } else { 0.0 });
    let contraction = sum(&|&(a, b, _)| if b > 0.0 && b < a { a - b } else { 0.0 });
    let churned = sum(&|&(a, b, _)| if a > 0.0 && b == 0.0 { a } else { 0.0 });
    let mrr_a = sum(&|&(a, _, _)| a);
    put("new_mrr", Some(new));
    put("reactivation_mrr", Some(reactivation));
    put("expansion_mrr", Some(expansion));
    put("contraction_mrr", Some(contraction));
    put("churned_mrr", Some(churned));
    put(
        "net_new_mrr",
        Some(new + reactivation + expansion - contraction - churned),
    );
    put("gross_mrr_churn_rate", ratio(churned + contraction, mrr_a));
    put(
        "net_mrr_churn_rate",
        ratio(churned + contraction - expansion - reactivation, mrr_a),
    );
    let m365 = movements(365);
    let (kept, capped, base) = m365
        .iter()
        .filter(|(a, _, _)| *a > 0.0)
        .fold((0.0, 0.0, 0.0), |(k, c, s), (a, b, _)| {
            (k + b, c + b.min(*a), s + a)
        });
    put("nrr", ratio(kept, base));
    put("grr", ratio(capped, base));

    // Clients over 30 days.
    let a = b - 30 * DAY;
    let at_a = client_mrr(data, a);
    let paying_a = paying(&at_a);
    let churned_clients = paying_a.difference(&paying_b).count() as f64;
    put("churned_clients", Some(churned_clients));
    put(
        "client_churn_rate",
        ratio(churned_clients, paying_a.len() as f64),
    );
    let mut first_paid: BTreeMap<&String, i64> = BTreeMap::new();
    for (client, monthly, start, end) in &data.subscriptions {
        if *monthly > 0.0 && end.is_none_or(|e| e > *start) {
            let first = first_paid.entry(client).or_insert(*start);
            *first = (*first).min(*start);
        }
    }
    put(
        "new_clients",
        Some(first_paid.values().filter(|t| **t > a && **t <= b).count() as f64),
    );
    let restarted: BTreeSet<&String> = data
        .subscriptions
        .iter()
        .filter(|(c, m, s, _)| *m > 0.0 && *s > a && *s <= b && !paying_a.contains(c))
        .map(|(c, _, _, _)| c)
        .collect();
    put(
        "client_retention_rate",
        ratio(
            paying_b.len() as f64 - restarted.len() as f64,
            paying_a.len() as f64,
        ),
    );
    let ordered = |from: i64, to: i64| -> BTreeSet<&String> {
        data.orders
            .iter()
            .filter(|(_, _, t)| *t >= from && *t < to)
            .map(|(c, _, _)| c)
            .collect()
    };
    let before = ordered(a - 30 * DAY, a);
    let now = ordered(a, b);
    put(
        "repeat_purchase_rate",
        ratio(
            before.intersection(&now).count() as f64,
            before.len() as f64,
        ),
    );

    // Revenue growth over 90 days, CLV over 365.
    let a90 = b - 90 * DAY;
    let mut growth: BTreeMap<&String, (f64, f64, bool, bool)> = BTreeMap::new();
    for (c, amount, t) in &data.orders {
        let entry = growth.entry(c).or_insert((0.0, 0.0, false, false));
        if *t >= a90 && *t < b {
            entry.0 += amount;
            entry.2 = true;
        } else if *t >= a90 - 90 * DAY && *t < a90 {
            entry.1 += amount;
            entry.3 = true;
        }
    }
    let both: Vec<_> = growth.values().filter(|g| g.2 && g.3).collect();
    put(
        "revenue_growth_per_client",
        ratio(
            both.iter().map(|g| g.0).sum(),
            both.iter().map(|g| g.1).sum(),
        )
        .map(|r| r - 1.0),
    );
    let year: Vec<_> = data
        .orders
        .iter()
        .filter(|(_, _, t)| *t >= b - 365 * DAY && *t < b)
        .collect();
    let revenue: f64 = year.iter().map(|(_, a, _)| a).sum();
    let clients: BTreeSet<&String> = year.iter().map(|(c, _, _)| c).collect();
    let churn = ratio(churned_clients, paying_a.len() as f64).filter(|c| *c != 0.0);
    let clv = match (
        ratio(revenue, year.len() as f64),
        ratio(year.len() as f64, clients.len() as f64),
        churn,
    ) {
        (Some(aov), Some(per_client), Some(churn)) => Some(aov * (per_client / 12.0) / churn),
        _ => None,
    };
    put("clv", clv);

    // Satisfaction.
    let answers = |survey: &str, days: i64| -> Vec<&Answer> {
        data.answers
            .iter()
            .filter(|x| x.survey == survey && x.at >= b - days * DAY && x.at < b)
            .collect()
    };
    let mut latest: BTreeMap<(&str, &str), &Answer> = BTreeMap::new();
    for x in answers("nps", 90) {
        let key = (x.client.as_str(), x.respondent.as_str());
        if latest
            .get(&key)
            .is_none_or(|k| (x.at, &x.id) > (k.at, &k.id))
        {
            latest.insert(key, x);
        }
    }
    let n = latest.len() as f64;
    let p = latest.values().filter(|x| x.score >= 9.0).count() as f64;
    let d = latest.values().filter(|x| x.score <= 6.0).count() as f64;
    put("nps", ratio(100.0 * (p - d), n));
    put(
        "nps_margin",
        (n > 0.0).then(|| 1.96 * 100.0 * ((p / n + d / n - (p / n - d / n).powi(2)) / n).sqrt()),
    );
    let csat = answers("csat", 28);
    let satisfied = csat
        .iter()
        .filter(|x| {
            x.score
                >= match x.scale as i64 {
                    5 => 4.0,
                    7 => 6.0,
                    _ => 7.0,
                }
        })
        .count();
    put("csat", ratio(satisfied as f64, csat.len() as f64));
    let five: Vec<f64> = csat
        .iter()
        .filter(|x| x.scale == 5.0)
        .map(|x| x.score)
        .collect();
    put("csat_average", mean(&five));
    let ces = answers("ces", 28);
    put(
        "ces",
        ratio(
            ces.iter().filter(|x| x.score >= 5.0).count() as f64,
            ces.len() as f64,
        ),
    );
    put(
        "ces_average",
        mean(&ces.iter().map(|x| x.score).collect::<Vec<_>>()),
    );

    // Support and delivery.
    let a7 = b - 7 * DAY;
    let responses: Vec<f64> = data
        .tickets
        .iter()
        .filter(|(o, f, _)| *o >= a7 && *o < b && f.is_some_and(|f| f < b))
        .map(|(o, f, _)| (f.unwrap_or_default() - o) as f64 / 1e6)
        .collect();
    put("first_response_time", percentile(&responses, 0.5));
    put("first_response_time.p90", percentile(&responses, 0.9));
    put("first_response_time.mean", mean(&responses));
    let resolutions: Vec<f64> = data
        .tickets
        .iter()
        .filter(|(_, _, r)| r.is_some_and(|r| r >= a7 && r < b))
        .map(|(o, _, r)| (r.unwrap_or_default() - o) as f64 / 1e6)
        .collect();
    put("time_to_resolution", percentile(&resolutions, 0.5));
    put("time_to_resolution.p90", percentile(&resolutions, 0.9));
    put("time_to_resolution.mean", mean(&resolutions));
    let open: Vec<_> = data
        .tickets
        .iter()
        .filter(|(o, _, r)| *o < b && r.is_none_or(|r| r >= b))
        .collect();
    put("open_tickets", Some(open.len() as f64));
    put(
        "open_tickets.unanswered",
        Some(
            open.iter()
                .filter(|(_, f, _)| f.is_none_or(|f| f >= b))
                .count() as f64,
        ),
    );
    let a28 = b - 28 * DAY;
    let completed: Vec<_> = data
        .projects
        .iter()
        .filter(|(_, c)| c.is_some_and(|c| c >= a28 && c < b))
        .collect();
    put(
        "project_on_time_rate",
        ratio(
            completed
                .iter()
                .filter(|(due, c)| c.is_some_and(|c| c <= *due))
                .count() as f64,
            completed.len() as f64,
        ),
    );
    put(
        "overdue_projects",
        Some(
            data.projects
                .iter()
                .filter(|(due, c)| *due < b && c.is_none_or(|c| c >= b))
                .count() as f64,
        ),
    );
    let deadlines: Vec<(i64, Option<i64>)> = data
        .onboarding
        .iter()
        .map(|(s, c, t)| (s + t.unwrap_or(30.0) as i64 * DAY, *c))
        .filter(|(deadline, _)| *deadline >= a && *deadline < b)
        .collect();
    put(
        "onboarding_completion_rate",
        ratio(
            deadlines
                .iter()
                .filter(|(deadline, c)| c.is_some_and(|c| c <= *deadline))
                .count() as f64,
            deadlines.len() as f64,
        ),
    );

    // Engagement over 28 days (UTC days).
    let events: Vec<_> = data
        .usage
        .iter()
        .filter(|(_, _, t)| *t >= a28 && *t < b)
        .collect();
    let active_clients: BTreeSet<&String> = events.iter().map(|(c, _, _)| c).collect();
    put(
        "active_client_rate",
        ratio(
            paying_b
                .iter()
                .filter(|c| active_clients.contains(c))
                .count() as f64,
            paying_b.len() as f64,
        ),
    );
    let users: BTreeSet<(&String, &String)> = events.iter().map(|(c, u, _)| (c, u)).collect();
    let user_days: BTreeSet<(&String, &String, i64)> = events
        .iter()
        .map(|(c, u, t)| (c, u, t.div_euclid(DAY)))
        .collect();
    put(
        "stickiness",
        ratio(user_days.len() as f64 / 28.0, users.len() as f64),
    );
    // Feature adoption of the features the test config names (one of which
    // nobody uses: 0, not missing).
    for feature in ["dashboards", "api", "teleport"] {
        let adopters: BTreeSet<(&String, &String)> = data
            .features
            .iter()
            .filter(|(_, _, f, t)| f == feature && *t >= a28 && *t < b)
            .map(|(c, u, _, _)| (c, u))
            .collect();
        put(
            &format!("feature_adoption:{feature}"),
            ratio(adopters.len() as f64, users.len() as f64),
        );
    }
    out
}

fn assert_agrees(
    report: &serde_json::Value,
    expected: &BTreeMap<String, Option<f64>>,
    label: &str,
) {
    for (key, want) in expected {
        let got = if let Some((id, item)) = key.split_once(':') {
            metric(report, id)["items"]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["label"] == item))
                .and_then(|i| i["value"].as_f64())
        } else {
            let (id, field) = key.split_once('.').unwrap_or((key, "value"));
            metric(report, id)[field].as_f64()
        };
        match (got, want) {
            (None, None) => {}
            (Some(got), Some(want)) => {
                let scale = want.abs().max(1e-9);
                assert!(
                    ((got - want) / scale).abs() <= 1e-9,
                    "{label}: {key} is {got}, the independent computation says {want}"
                );
            }
            _ => panic!("{label}: {key} is {got:?}, the independent computation says {want:?}"),
        }
    }
}

fn run_catalogue(project: &Project, period: &str) -> serde_json::Value {
    let output = run(&mut project.command(&["run", "--period", period]));
    assert!(output.status.success(), "{}", stderr(&output));
    project.report_json(period)
}

/// Rewrites money as DOUBLE and `usage_events` as Hive partitions by day.
fn rewrite_as_double_and_partitioned(root: &Path) {
    for table in ["subscriptions", "orders"] {
        let batches: Vec<RecordBatch> = read_table(root, table)
            .into_iter()
            .map(|batch| {
                let schema = batch.schema();
                let mut fields = Vec::new();
                let mut columns: Vec<ArrayRef> = Vec::new();
                for (field, column) in schema.fields().iter().zip(batch.columns()) {
                    if field.name() == "amount" {
                        fields.push(Field::new("amount", DataType::Float64, true));
                        columns.push(cast(column, &DataType::Float64).expect("to double"));
                    } else {
                        fields.push(field.as_ref().clone());
                        columns.push(column.clone());
                    }
                }
                RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("batch")
            })
            .collect();
        std::fs::remove_dir_all(root.join(table)).expect("rm");
        write_batches(&root.join(table).join("part-0.parquet"), &batches);
    }
    partition_by_day(root, "usage_events", "occurred_at");
}

#[test]
fn every_metric_agrees_with_an_independent_computation() {
    for (seed, end, period, b) in [
        ("977", "2026-03-11", "2026-W09", "2026-03-02T00:00:00Z"),
        ("4242", "2026-09-30", "2026-W39", "2026-09-28T00:00:00Z"),
    ] {
        let project = Project::new("warehouse");
        project.write_config_with("warehouse", CATALOGUE, DEFAULT_DELIVERY);
        let root = project.path().join("warehouse");
        crate::support::demo_data(&root, &["--seed", seed, "--end", end, "--scale", "2"]);
        let want = expected(&load(&root), micros(b));
        assert!(want["nps"].is_some() && want["mrr"].is_some_and(|m| m > 0.0));

        let report = run_catalogue(&project, period);
        assert_agrees(&report, &want, "decimal money");
        check_identities(&report);

        rewrite_as_double_and_partitioned(&root);
        let report = run_catalogue(&project, period);
        assert_agrees(&report, &want, "double money, partitioned usage");
    }
}

/// The identities of issue 3 that must hold between figures.
fn check_identities(report: &serde_json::Value) {
    let v = |id: &str| metric(report, id)["value"].as_f64().unwrap_or(f64::NAN);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
    assert!(close(v("arr"), 12.0 * v("mrr")), "arr = 12 * mrr");
    let movements = v("new_mrr") + v("reactivation_mrr") + v("expansion_mrr")
        - v("contraction_mrr")
        - v("churned_mrr");
    assert!(
        close(v("net_new_mrr"), movements),
        "net_new_mrr is the movements' sum"
    );
    // mrr(a) from the gross churn: (churned + contraction) / rate, when the
    // rate is positive; else from the 30-day-old MRR in the trend is not
    // exact, so use arpc-free algebra: mrr(b) - net_new = mrr(a).
    let mrr_a = v("mrr") - v("net_new_mrr");
    let gross = metric(report, "gross_mrr_churn_rate")["value"].as_f64();
    if let Some(gross) = gross.filter(|g| *g > 0.0) {
        assert!(
            close(mrr_a, (v("churned_mrr") + v("contraction_mrr")) / gross),
            "net_new = mrr(b) - mrr(a)"
        );
    }
    assert!(v("grr") <= 1.0 + 1e-12, "grr <= 1");
    assert!(v("grr") <= v("nrr") + 1e-12, "grr <= nrr");
    let s = metric(report, "client_churn_rate")["sample_size"]
        .as_f64()
        .unwrap_or_default();
    let e = v("paying_clients");
    assert!(
        close(v("client_churn_rate") * s, v("churned_clients")),
        "churn = churned / S"
    );
    let n = e - v("client_retention_rate") * s;
    let returning_or_new = e - (s - v("churned_clients"));
    assert!(
        (n - n.round()).abs() < 1e-9,
        "E - retention * S is the whole number N"
    );
    assert!(
        n.round() >= returning_or_new - 1e-9,
        "N holds every client paying at b but not at a"
    );
}
