//! Property tests: every parser of a user's file, fed random bytes and
//! random trees of YAML and SQL headers, returns problems and never
//! panics. (The corpus holds the inputs we thought of; these find the
//! ones we did not.)

use std::path::Path;

use chrono_tz::Tz;
use clientpulse::config;
use clientpulse::metrics::QueryLibrary;
use clientpulse::metrics::library::parse_query_file;
use clientpulse::period::{Period, Window};
use clientpulse::report::render::Templates;
use proptest::prelude::*;

/// Words that mean something to clientpulse, so that random trees reach
/// past "unknown field" into validation.
const WORDS: &[&str] = &[
    "warehouse",
    "root",
    "reporting",
    "currency",
    "timezone",
    "metrics",
    "id",
    "window",
    "version",
    "audiences",
    "name",
    "recipients",
    "delivery",
    "mode",
    "smtp",
    "outbox",
    "from",
    "retries",
    "nps",
    "mrr",
    "30d",
    "as_of_end",
    "EUR",
    "UTC",
    "Europe/Paris",
    "direction",
    "target",
    "watch_band",
    "min_sample",
    "segments",
    "higher_is_better",
    "Enterprise",
    "business_calendar",
    "hours",
    "09:00-17:30",
    "working_days",
    "mon",
    "holidays",
    "ceo@example.com",
    "../..",
    "Ü",
    "",
    " ",
    "\t",
    "\u{0}",
    "-",
    "*",
    "&a",
    "!!binary",
];

fn yaml_tree() -> impl Strategy<Value = serde_yaml::Value> {
    let leaf = prop_oneof![
        Just(serde_yaml::Value::Null),
        any::<bool>().prop_map(serde_yaml::Value::Bool),
        any::<i64>().prop_map(|n| serde_yaml::Value::Number(n.into())),
        any::<f64>().prop_map(|n| serde_yaml::Value::Number(n.into())),
        prop::sample::select(WORDS).prop_map(|w| serde_yaml::Value::String(w.to_string())),
        ".{0,12}".prop_map(serde_yaml::Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_yaml::Value::Sequence),
            prop::collection::vec((prop::sample::select(WORDS), inner), 0..6).prop_map(|entries| {
                serde_yaml::Value::Mapping(
                    entries
                        .into_iter()
                        .map(|(k, v)| (serde_yaml::Value::String(k.to_string()), v))
                        .collect(),
                )
            }),
        ]
    })
}

fn yaml_text() -> impl Strategy<Value = String> {
    yaml_tree().prop_map(|tree| serde_yaml::to_string(&tree).unwrap_or_default())
}

const SQL_BITS: &[&str] = &[
    "SELECT 1 AS value, 1 AS sample_size",
    "WITH",
    "with x AS (SELECT 1)",
    "/* Übersicht */",
    "-- a comment",
    "$window_start",
    "'unterminated",
    ";",
    "DROP TABLE clients",
    "COPY (SELECT 1) TO '/tmp/x'",
    "RECURSIVE",
    "FROM client_movements",
    "\u{feff}",
    "    ",
    "\n",
    "é",
];

fn header_line() -> impl Strategy<Value = String> {
    (
        prop::sample::select(
            &[
                "id",
                "version",
                "description",
                "window",
                "unit",
                "owner",
                "uses",
                "colour",
                "",
            ][..],
        ),
        prop_oneof![
            prop::sample::select(WORDS).prop_map(str::to_string),
            prop::sample::select(
                &["probe", "1", "0", "7d", "count", "client_mrr, nps_answers"][..]
            )
            .prop_map(str::to_string),
            ".{0,10}",
        ],
    )
        .prop_map(|(key, value)| format!("-- {key}: {value}"))
}

fn query_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(header_line(), 0..8),
        prop::collection::vec(prop::sample::select(SQL_BITS), 0..8),
    )
        .prop_map(|(header, body)| format!("{}\n{}", header.join("\n"), body.join(" ")))
}

/// A folder holding `config` as clientpulse.yaml and `benchmarks` beside it.
fn config_folder(config: &[u8], benchmarks: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("clientpulse.yaml"), config).expect("write");
    std::fs::write(dir.path().join("benchmarks.yaml"), benchmarks).expect("write");
    dir
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn config_from_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = config_folder(&bytes, b"");
        let loaded = config::load(&dir.path().join("clientpulse.yaml"));
        prop_assert!(loaded.config.is_none() || loaded.problems.is_empty());
    }

    #[test]
    fn config_from_random_yaml_trees(config in yaml_text(), benchmarks in yaml_text()) {
        let dir = config_folder(config.as_bytes(), benchmarks.as_bytes());
        let loaded = config::load(&dir.path().join("clientpulse.yaml"));
        // A random tree is never a whole valid config: it must say why.
        prop_assert!(loaded.config.is_none());
        prop_assert!(!loaded.problems.is_empty());
    }

    #[test]
    fn benchmarks_from_random_trees(text in yaml_text()) {
        let mut problems = Vec::new();
        let _ = config::benchmarks::parse(Path::new("benchmarks.yaml"), &text, &mut problems);
    }

    #[test]
    fn benchmarks_from_random_text(text in ".{0,256}") {
        let mut problems = Vec::new();
        let _ = config::benchmarks::parse(Path::new("benchmarks.yaml"), &text, &mut problems);
    }

    #[test]
    fn query_headers_from_random_trees(text in query_text()) {
        let _ = parse_query_file(Path::new("probe.sql"), &text);
    }

    #[test]
    fn query_library_with_random_files(
        query in query_text(),
        fragment in prop::collection::vec(prop::sample::select(SQL_BITS), 0..6),
        bytes in prop::collection::vec(any::<u8>(), 0..128),
    ) {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("shared")).expect("mkdir");
        std::fs::write(dir.path().join("probe.sql"), format!("-- uses: client_mrr\n{query}")).expect("write");
        std::fs::write(dir.path().join("bytes.sql"), &bytes).expect("write");
        std::fs::write(dir.path().join("shared/client_mrr.sql"), fragment.join(" ")).expect("write");
        std::fs::write(dir.path().join("queries.lock"), &bytes).expect("write");
        let (library, _) = QueryLibrary::load(dir.path());
        let _ = library.verify_lock(dir.path());
    }

    #[test]
    fn periods_and_windows_from_random_text(text in ".{0,16}", zone in prop::sample::select(&["UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Tehran", "Pacific/Apia"][..])) {
        let zone: Tz = zone.parse().expect("zone");
        let _ = Period::parse(&text, zone);
        let _ = Window::parse(&text);
    }

    #[test]
    fn every_week_of_every_year_in_zones_with_gaps(year in 1900i32..2200, week in 1u32..54, zone in prop::sample::select(&["Europe/Berlin", "America/Sao_Paulo", "Asia/Tehran", "Pacific/Apia", "America/Havana"][..])) {
        let zone: Tz = zone.parse().expect("zone");
        if let Ok(period) = Period::parse(&format!("{year}-W{week:02}"), zone) {
            prop_assert!(period.start < period.end);
            let window = period.window(Window::Days(28));
            prop_assert!(window.start < window.end);
        }
    }

    #[test]
    fn templates_from_random_text(html in ".{0,64}", text in prop::collection::vec(prop::sample::select(&["{{", "}}", "{{#each metrics}}", "{{/each}}", "{{> x}}", "{{title}}", "{{{", "{{!", "x"][..]), 0..8)) {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("report.html.hbs"), &html).expect("write");
        std::fs::write(dir.path().join("report.txt.hbs"), text.concat()).expect("write");
        let _ = Templates::load(Some(dir.path()));
    }
}
