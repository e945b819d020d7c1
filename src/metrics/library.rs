//! The query library: every `*.sql` file under `queries/`, with its header.
//!
//! A query file starts with a header of `-- key: value` lines:
//!
//! ```sql
//! -- id: nps
//! -- version: 1
//! -- description: Net Promoter Score of the window's latest answers
//! -- window: 90d
//! -- unit: score
//! -- owner: data-team@example.com
//! SELECT nps(score) AS value, COUNT(*) AS sample_size FROM …
//! ```
//!
//! The body is one SELECT returning one row with a `value` and a
//! `sample_size` column (more numeric columns become extra fields of the
//! metric in report.json). Window bounds reach it only as the bound
//! parameters `$window_start` and `$window_end`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::diagnostic::{self, Diagnostic};
use crate::period::Window;

/// The unit of a metric's value, as metrics.md states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// NPS-like score, -100..100.
    Score,
    /// A rate, 0.0123 = 1.23 %.
    Fraction,
    /// Money in the reporting currency.
    Money,
    /// A number of things.
    Count,
    /// A duration.
    Seconds,
    /// An average of answers on their own scale.
    Points,
    /// Not a number: a list of comments.
    Comments,
}

impl Unit {
    fn parse(text: &str) -> Option<Unit> {
        Some(match text {
            "score" => Unit::Score,
            "fraction" => Unit::Fraction,
            "money" => Unit::Money,
            "count" => Unit::Count,
            "seconds" => Unit::Seconds,
            "points" => Unit::Points,
            "comments" => Unit::Comments,
            _ => return None,
        })
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        f.write_str(&text)
    }
}

/// How a metric's figures read: fixed by the query's header, so that a
/// data team's own metric renders like a shipped one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// In the reporting currency: "€98,765", "€12.50".
    Money,
    /// A fraction shown as a percentage: 0.123 → "12.3 %".
    Percent,
    /// A score such as NPS: "−18".
    Score,
    /// An average on its own scale: "3.74".
    Points,
    /// Seconds shown as "3h 12m".
    Duration,
    /// A whole number: "1,204".
    Count,
    /// Not a figure: a list of items (comments, features, clients).
    List,
}

impl Format {
    const NAMES: &'static str = "money, percent, score, points, duration, count, list";

    fn parse(text: &str) -> Option<Format> {
        Some(match text {
            "money" => Format::Money,
            "percent" => Format::Percent,
            "score" => Format::Score,
            "points" => Format::Points,
            "duration" => Format::Duration,
            "count" => Format::Count,
            "list" => Format::List,
            _ => return None,
        })
    }

    /// The format of a unit, where the header names none.
    pub fn of_unit(unit: Unit) -> Format {
        match unit {
            Unit::Score => Format::Score,
            Unit::Fraction => Format::Percent,
            Unit::Money => Format::Money,
            Unit::Count => Format::Count,
            Unit::Seconds => Format::Duration,
            Unit::Points => Format::Points,
            Unit::Comments => Format::List,
        }
    }
}

/// What the report needs to know about a metric, from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    /// The name a reader knows it by (`-- name:`); the id, worded, if none.
    pub name: String,
    /// The report section it belongs in (`-- section:`).
    pub section: String,
    pub format: Format,
    /// For list metrics, the label of each kind of item
    /// (`-- items: testimonial=Testimonials, to_fix=What to fix`).
    pub item_labels: Vec<(String, String)>,
    /// How the figure is made of its segments' figures (`-- drivers:`),
    /// which says how its week-on-week change splits over them; `None`
    /// when it does not split (a median, a margin of error).
    pub composition: Option<Composition>,
    /// Set by `-- headline: items`: the metric's figures are its items
    /// (feature adoption: a share per feature), its own figure is NULL by
    /// design. The report shows the items' range where a figure would be,
    /// and no segments (a segment's figure would be NULL too).
    pub items_only: bool,
}

/// How a metric's figure over all clients is made of its figures over a
/// partition of them (`-- drivers:` in the query header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Composition {
    /// `sum`: the parts add up to the whole (money, counts).
    Sum,
    /// `weighted_mean`: the whole is the mean of the parts weighted by
    /// their `sample_size` (NPS, CSAT, churn and other rates).
    WeightedMean,
}

impl Composition {
    const NAMES: &'static str = "sum, weighted_mean";

    fn parse(text: &str) -> Option<Composition> {
        Some(match text {
            "sum" => Composition::Sum,
            "weighted_mean" => Composition::WeightedMean,
            _ => return None,
        })
    }
}

/// The section of a metric whose header names none.
pub const DEFAULT_SECTION: &str = "More metrics";

/// Header fields that only say how a metric reads. They are left out of
/// the SHA-256, which ties a figure to the SQL that computed it: renaming a
/// metric or moving it to another section does not change what ran.
const PRESENTATION_KEYS: &[&str] = &["name", "section", "format", "items", "drivers", "headline"];

/// One version of one metric's SQL.
#[derive(Debug, Clone)]
pub struct QueryFile {
    pub id: String,
    pub version: u32,
    pub description: String,
    pub window: Window,
    pub unit: Unit,
    pub presentation: Presentation,
    pub owner: Option<String>,
    /// Set by `-- windows: table`: the query reads its windows from the
    /// table `windows` (one row per week: `window_start`, `window_end`,
    /// `previous_window_start`) and returns its rows for each, with a
    /// `window_end` column, so that one query gives every week of a trend.
    /// Otherwise it computes one window, bound as `$window_start` and
    /// `$window_end`.
    pub windowed: bool,
    pub path: PathBuf,
    /// Shared CTE fragments (`queries/shared/<name>.sql`) the query uses.
    pub uses: Vec<String>,
    /// The SQL as published: the file with every shared CTE it uses
    /// composed in, shared tables included. It runs as it is anywhere (in
    /// `check`, say), computing the shared tables inline.
    pub sql: String,
    /// The shared tables (`-- materialise: run`) it uses, which a run
    /// computes once and registers in its sessions.
    pub shared_tables: Vec<SharedTable>,
    /// `sql` without the shared tables' CTEs: what runs in a session where
    /// the run registered them. Same as `sql` when it uses none.
    pub sql_over_shared_tables: String,
    /// SHA-256 of `sql`, so a report is tied to exactly what ran, shared
    /// definitions included.
    pub sha256: String,
}

/// A shared CTE marked `-- materialise: run`: a table the run computes
/// once, over every window any metric of the run reads from it (bound as
/// `$run_start` and `$run_end`), and that each metric then reads for its
/// own window. The figures are the same as with the CTE inline, since a
/// metric only reads rows of its own windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedTable {
    /// Its name, the file's stem and its one CTE's name (`usage_days`).
    pub name: String,
    pub path: PathBuf,
    /// `WITH <its CTE> SELECT * FROM <name>`: the table in one statement.
    /// For a windowed one, the shared CTEs listed before it by the query
    /// that uses it come first, since it reads them.
    pub sql: String,
    /// Set by `-- windows: table` in its file: it reads the table
    /// `windows` (the weeks of the run's trend) and has a row per window
    /// (`window_end`), so that the metrics that share it compute what they
    /// share once for every week, not once per metric, segment and book.
    pub windowed: bool,
    /// `sql` without the shared tables it reads (`reads`): what runs once
    /// the run has registered them.
    pub sql_over_shared_tables: String,
    /// The shared tables listed before it, which it may read.
    pub reads: Vec<String>,
}

/// A file of `queries/shared/`.
#[derive(Debug, Clone)]
struct Fragment {
    /// The CTEs, as written.
    text: String,
    /// Set when the file is a shared table (`-- materialise: run`).
    table: Option<SharedTable>,
}

/// All query files, by id and version.
#[derive(Debug, Clone, Default)]
pub struct QueryLibrary {
    by_id: BTreeMap<String, BTreeMap<u32, QueryFile>>,
}

impl QueryLibrary {
    /// Loads every `*.sql` file directly in `dir`. Returns the files that
    /// loaded and every problem of the others, so that callers can report
    /// all of them together without cascading errors.
    pub fn load(dir: &Path) -> (QueryLibrary, Vec<Diagnostic>) {
        let mut problems = Vec::new();
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
                .collect(),
            Err(error) => {
                let problem =
                    Diagnostic::in_file(dir, format!("cannot read the queries folder: {error}"));
                return (QueryLibrary::default(), vec![problem]);
            }
        };
        entries.sort();
        let fragments = load_fragments(&dir.join("shared"), &mut problems);
        let mut library = QueryLibrary::default();
        for path in entries {
            let text = match diagnostic::read_text(&path) {
                Ok(text) => text,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            match parse_query_file(&path, &text) {
                Ok(mut query) => {
                    let mut used = Vec::new();
                    let mut inline = Vec::new();
                    let mut tables_before = Vec::new();
                    for name in &query.uses {
                        match fragments.get(name) {
                            Some(fragment) => {
                                match &fragment.table {
                                    Some(table) if table.windowed => {
                                        match windowed_table(table, &fragment.text, &used, &inline)
                                        {
                                            Ok(table) => query.shared_tables.push(SharedTable {
                                                reads: tables_before.clone(),
                                                ..table
                                            }),
                                            Err(message) => problems
                                                .push(Diagnostic::in_file(&table.path, message)),
                                        }
                                        tables_before.push(table.name.clone());
                                    }
                                    Some(table) => {
                                        query.shared_tables.push(table.clone());
                                        tables_before.push(table.name.clone());
                                    }
                                    None => inline.push(fragment.text.as_str()),
                                }
                                used.push(fragment.text.as_str());
                            }
                            None => problems.push(Diagnostic::in_file(
                                &path,
                                format!("uses `{name}`, but there is no shared/{name}.sql"),
                            )),
                        }
                    }
                    let composed = compose(&text, &used).and_then(|sql| {
                        compose(&text, &inline).map(|over_tables| (sql, over_tables))
                    });
                    (query.sql, query.sql_over_shared_tables) = match composed {
                        Ok(both) => both,
                        Err(message) => {
                            problems.push(Diagnostic::in_file(
                                &path,
                                format!("cannot read the SQL: {message}"),
                            ));
                            continue;
                        }
                    };
                    if let Some(message) = only_reads(&query.sql) {
                        let line = body(&text)
                            .ok()
                            .map(|body| line_of_offset(&text, body.start));
                        problems.push(Diagnostic::at_line(&path, line, message));
                        continue;
                    }
                    // Composition only touches the body, so dropping the
                    // presentation lines from the composed header hashes
                    // exactly what the composed SQL runs.
                    query.sha256 = sha256(&without_presentation(&query.sql));
                    let versions = library.by_id.entry(query.id.clone()).or_default();
                    if let Some(other) = versions.get(&query.version) {
                        problems.push(Diagnostic::in_file(
                            &path,
                            format!(
                                "metric `{}` version {} is also defined in {}",
                                query.id,
                                query.version,
                                other.path.display()
                            ),
                        ));
                    } else {
                        versions.insert(query.version, query);
                    }
                }
                Err(mut errors) => problems.append(&mut errors),
            }
        }
        (library, problems)
    }

    /// The pinned version of `id`, or its latest.
    pub fn select(&self, id: &str, version: Option<u32>) -> Option<&QueryFile> {
        let versions = self.by_id.get(id)?;
        match version {
            Some(version) => versions.get(&version),
            None => versions.values().next_back(),
        }
    }

    /// Every version of every metric, by id then version.
    pub fn all(&self) -> impl Iterator<Item = &QueryFile> {
        self.by_id.values().flat_map(|versions| versions.values())
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// The versions that exist for `id`, for error messages.
    pub fn versions(&self, id: &str) -> Vec<u32> {
        self.by_id
            .get(id)
            .map(|v| v.keys().copied().collect())
            .unwrap_or_default()
    }
}

/// Shared CTE fragments by name (`shared/<name>.sql`).
fn load_fragments(dir: &Path, problems: &mut Vec<Diagnostic>) -> BTreeMap<String, Fragment> {
    let mut fragments = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return fragments;
    };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.extension().is_none_or(|ext| ext != "sql") {
            continue;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match diagnostic::read_text(&path) {
            Ok(text) => text,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let table = if materialised(&text) {
            match shared_table(&name, &text) {
                Ok(sql) => Some(SharedTable {
                    name: name.clone(),
                    path: path.clone(),
                    sql_over_shared_tables: sql.clone(),
                    sql,
                    windowed: leading_field(&text, "windows") == Some("table"),
                    reads: Vec::new(),
                }),
                Err(message) => {
                    problems.push(Diagnostic::in_file(&path, message));
                    continue;
                }
            }
        } else {
            None
        };
        fragments.insert(name, Fragment { text, table });
    }
    fragments
}

/// Whether a shared file's leading comments hold `-- materialise: run`.
fn materialised(text: &str) -> bool {
    leading_field(text, "materialise") == Some("run")
}

/// The value of `-- key: value` among a shared file's leading comments.
fn leading_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .map(str::trim)
        .take_while(|line| line.is_empty() || line.starts_with("--"))
        .filter_map(|line| line.strip_prefix("--")?.split_once(':'))
        .find(|(name, _)| name.trim() == key)
        .map(|(_, value)| value.trim())
}

/// A windowed shared table as a query that uses it computes it: after the
/// shared CTEs the query lists before it (`before`, of which `inline` are
/// not shared tables), which it may read.
fn windowed_table(
    table: &SharedTable,
    text: &str,
    before: &[&str],
    inline: &[&str],
) -> Result<SharedTable, String> {
    let select = format!("SELECT * FROM {}", table.name);
    let with = |fragments: &[&str]| {
        let mut all = fragments.to_vec();
        all.push(text);
        compose(&select, &all)
    };
    Ok(SharedTable {
        sql: with(before)?,
        sql_over_shared_tables: with(inline)?,
        ..table.clone()
    })
}

/// The statement that computes a shared table: its file must define one
/// CTE, named after the file, that only reads.
fn shared_table(name: &str, text: &str) -> Result<String, String> {
    use datafusion::sql::parser::{DFParser, Statement};
    use datafusion::sql::sqlparser::ast::Statement as Sql;
    use datafusion::sql::sqlparser::dialect::GenericDialect;

    let sql = format!(
        "WITH\n{}\nSELECT * FROM {name}",
        text.trim().trim_end_matches(',')
    );
    let expected = format!(
        "a shared table (`-- materialise: run`) defines one CTE named after its file: `{name} AS (SELECT …)`"
    );
    let statements =
        DFParser::parse_sql_with_dialect(&sql, &GenericDialect {}).map_err(|error| {
            format!(
                "{expected}; cannot read it: {}",
                one_line(&error.to_string())
            )
        })?;
    let ctes = match statements.front() {
        Some(Statement::Statement(statement)) if statements.len() == 1 => match &**statement {
            Sql::Query(query) => query
                .with
                .as_ref()
                .map(|with| {
                    with.cte_tables
                        .iter()
                        .map(|cte| cte.alias.name.value.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    if ctes.len() == 1 && ctes.iter().all(|cte| cte == name) {
        Ok(sql)
    } else {
        Err(format!("{expected}; it defines {}", ctes.len()))
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const HEADER_KEYS: &[&str] = &[
    "id",
    "version",
    "description",
    "window",
    "unit",
    "owner",
    "uses",
    "name",
    "section",
    "format",
    "items",
    "drivers",
    "headline",
    "windows",
];

/// Parses a query file's header; every problem of the file is returned.
pub fn parse_query_file(path: &Path, text: &str) -> Result<QueryFile, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut fields: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        // The header is the leading run of `-- key: value` lines; the
        // first other line (SQL, a blank comment, prose) ends it.
        let Some(comment) = trimmed.strip_prefix("--") else {
            break;
        };
        let Some((key, value)) = comment.split_once(':') else {
            break;
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            break;
        }
        match HEADER_KEYS.iter().find(|k| **k == key) {
            Some(known) => {
                if fields
                    .insert(known, (line_number, value.trim().to_string()))
                    .is_some()
                {
                    problems.push(Diagnostic::at_line(
                        path,
                        Some(line_number),
                        format!("header field `{key}` appears twice"),
                    ));
                }
            }
            None => problems.push(Diagnostic::at_line(
                path,
                Some(line_number),
                format!(
                    "unknown header field `{key}` (expected one of: {})",
                    HEADER_KEYS.join(", ")
                ),
            )),
        }
    }
    let mut required = |key: &str| -> Option<(usize, String)> {
        let field = fields.get(key).cloned();
        if field.is_none() {
            problems.push(Diagnostic::at_line(
                path,
                Some(1),
                format!("the header has no `-- {key}:` line"),
            ));
        }
        field
    };
    let id = required("id");
    let version = required("version");
    let description = required("description");
    let window = required("window");
    let unit = required("unit");

    let id = id.and_then(|(line, id)| {
        let valid = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            problems.push(Diagnostic::at_line(
                path,
                Some(line),
                format!("metric id `{id}` must be lower-case letters, digits and `_`"),
            ));
        }
        valid.then_some(id)
    });
    let version = version.and_then(|(line, text)| match text.parse::<u32>() {
        Ok(version) if version > 0 => Some(version),
        _ => {
            problems.push(Diagnostic::at_line(
                path,
                Some(line),
                format!("version `{text}` must be a whole number from 1"),
            ));
            None
        }
    });
    let window = window.and_then(|(line, text)| {
        let window = Window::parse(&text);
        if window.is_none() {
            problems.push(Diagnostic::at_line(
                path,
                Some(line),
                format!(
                    "window `{text}` is neither `as_of_end` nor a number of days such as `30d`"
                ),
            ));
        }
        window
    });
    let unit = unit.and_then(|(line, text)| {
        let unit = Unit::parse(&text);
        if unit.is_none() {
            problems.push(Diagnostic::at_line(
                path,
                Some(line),
                format!(
                    "unit `{text}` is not one of score, fraction, money, count, seconds, points, comments"
                ),
            ));
        }
        unit
    });
    let format = fields.get("format").and_then(|(line, text)| {
        let format = Format::parse(text);
        if format.is_none() {
            problems.push(Diagnostic::at_line(
                path,
                Some(*line),
                format!("format `{text}` is not one of {}", Format::NAMES),
            ));
        }
        format
    });
    let composition = fields.get("drivers").and_then(|(line, text)| {
        let composition = Composition::parse(text);
        if composition.is_none() {
            problems.push(Diagnostic::at_line(
                path,
                Some(*line),
                format!("drivers `{text}` is not one of {}", Composition::NAMES),
            ));
        }
        composition
    });
    // A header field that is either absent or one word, which sets a flag.
    let mut flag = |key: &str, word: &str, meaning: &str, otherwise: &str| match fields.get(key) {
        None => false,
        Some((_, text)) if text == word => true,
        Some((line, text)) => {
            problems.push(Diagnostic::at_line(
                path,
                Some(*line),
                format!(
                    "{key} `{text}` is not `{word}` ({meaning}); leave the line out for {otherwise}"
                ),
            ));
            false
        }
    };
    let items_only = flag(
        "headline",
        "items",
        "a metric whose figures are its items, its own figure NULL",
        "a metric with a figure",
    );
    let windowed = flag(
        "windows",
        "table",
        "a query that reads every week it computes from the table `windows`",
        "a query of one window",
    );
    let mut item_labels = Vec::new();
    if let Some((line, text)) = fields.get("items") {
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some((kind, label)) if !kind.trim().is_empty() && !label.trim().is_empty() => {
                    item_labels.push((kind.trim().to_string(), label.trim().to_string()))
                }
                _ => problems.push(Diagnostic::at_line(
                    path,
                    Some(*line),
                    format!("items: `{pair}` is not `kind=Label` (e.g. `to_fix=What to fix`)"),
                )),
            }
        }
    }
    for key in ["name", "section"] {
        if let Some((line, text)) = fields.get(key)
            && text.is_empty()
        {
            problems.push(Diagnostic::at_line(
                path,
                Some(*line),
                format!("header field `{key}` is empty"),
            ));
        }
    }
    match (id, version, description, window, unit) {
        (Some(id), Some(version), Some((_, description)), Some(window), Some(unit))
            if problems.is_empty() =>
        {
            let presentation = Presentation {
                name: fields
                    .get("name")
                    .map(|(_, name)| name.clone())
                    .unwrap_or_else(|| worded(&id)),
                section: fields
                    .get("section")
                    .map(|(_, section)| section.clone())
                    .unwrap_or_else(|| DEFAULT_SECTION.to_string()),
                format: format.unwrap_or(Format::of_unit(unit)),
                item_labels,
                composition,
                items_only,
            };
            Ok(QueryFile {
                id,
                version,
                description,
                window,
                unit,
                presentation,
                owner: fields.get("owner").map(|(_, owner)| owner.clone()),
                windowed,
                path: path.to_path_buf(),
                uses: fields
                    .get("uses")
                    .map(|(_, uses)| {
                        uses.split(',')
                            .map(|name| name.trim().to_string())
                            .filter(|name| !name.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                sql: text.to_string(),
                shared_tables: Vec::new(),
                sql_over_shared_tables: text.to_string(),
                sha256: sha256(&without_presentation(text)),
            })
        }
        _ => Err(problems),
    }
}

/// `id` as words: `time_to_value` → "Time to value".
pub fn worded(id: &str) -> String {
    let words = id.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The text without its presentation header lines, for the SHA-256.
fn without_presentation(text: &str) -> String {
    let mut in_header = true;
    text.split_inclusive('\n')
        .filter(|line| {
            if !in_header {
                return true;
            }
            let trimmed = line.trim();
            let key = trimmed
                .strip_prefix("--")
                .and_then(|comment| comment.split_once(':'))
                .map(|(key, _)| key.trim());
            // The header ends where `parse_query_file` says it does.
            match key {
                Some(key) if PRESENTATION_KEYS.contains(&key) => false,
                Some(key) if !key.is_empty() && !key.contains(char::is_whitespace) => true,
                Some(_) => {
                    in_header = false;
                    true
                }
                None if trimmed.is_empty() => true,
                None => {
                    in_header = false;
                    true
                }
            }
        })
        .collect()
}

/// The 1-based line of a byte offset.
fn line_of_offset(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Where a query's SQL starts, from its tokens: the first token that is
/// neither whitespace nor a comment (`--` or `/* */`, in any script), and
/// whether it is `WITH` (and where the CTE list starts: after `WITH` or
/// `WITH RECURSIVE`). Byte offsets into `text`.
struct Body {
    start: usize,
    /// Where the query's own CTE list starts, when it has one.
    ctes: Option<usize>,
    /// The keyword(s) before that list, as written (`WITH`, `WITH RECURSIVE`).
    with: String,
}

fn body(text: &str) -> Result<Body, String> {
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::keywords::Keyword;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

    let tokens = Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .map_err(|error| error.to_string())?;
    let mut words = tokens
        .iter()
        .filter(|token| !matches!(token.token, Token::Whitespace(_) | Token::EOF));
    let offset = |location: datafusion::sql::sqlparser::tokenizer::Location| {
        byte_offset(text, location.line, location.column)
    };
    let Some(first) = words.next() else {
        return Ok(Body {
            start: text.len(),
            ctes: None,
            with: String::new(),
        });
    };
    let start = offset(first.span.start);
    let is = |token: &Token, keyword: Keyword| matches!(token, Token::Word(word) if word.keyword == keyword);
    if !is(&first.token, Keyword::WITH) {
        return Ok(Body {
            start,
            ctes: None,
            with: String::new(),
        });
    }
    let mut end = offset(first.span.end);
    if let Some(next) = words
        .next()
        .filter(|next| is(&next.token, Keyword::RECURSIVE))
    {
        end = offset(next.span.end);
    }
    let with = text
        .get(start..end)
        .unwrap_or("WITH")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Body {
        start,
        ctes: Some(end),
        with,
    })
}

/// The byte offset of a 1-based line and character column in `text`.
fn byte_offset(text: &str, line: u64, column: u64) -> usize {
    let mut offset = 0;
    for (index, line_text) in text.split_inclusive('\n').enumerate() {
        if index as u64 + 1 == line {
            return offset
                + line_text
                    .char_indices()
                    .nth(column.saturating_sub(1) as usize)
                    .map_or(line_text.len(), |(at, _)| at);
        }
        offset += line_text.len();
    }
    text.len()
}

/// `sql` (a windowed query's composed SQL) with the CTE `windows` in
/// front: one row per window, `count` of them, each bound from
/// parameters (`$window_<k>_start`, `$window_<k>_end`,
/// `$window_<k>_previous_start`, `$window_<k>_churn_start`, k from 1),
/// never from text.
pub fn with_windows(sql: &str, count: usize) -> Result<String, String> {
    let rows = (1..=count)
        .map(|k| {
            format!(
                "({}, {}, {}, {})",
                instant(&format!("$window_{k}_start")),
                instant(&format!("$window_{k}_end")),
                instant(&format!("$window_{k}_previous_start")),
                instant(&format!("$window_{k}_churn_start")),
            )
        })
        .collect::<Vec<_>>()
        .join(",\n        ");
    // One VALUES, not a UNION of one-row SELECTs: a query reads `windows`
    // several times, and the optimizer's passes over a dozen unions per
    // read were a fifth of the time spent planning.
    let windows = format!(
        "windows AS (\n    SELECT column1 AS window_start, column2 AS window_end, \
         column3 AS previous_window_start, column4 AS churn_window_start\n    FROM (VALUES\n        {rows}\n    )\n)"
    );
    // Typed as the parameters are bound (UTC instants, microseconds): a
    // bare placeholder keeps no type once bound.
    fn instant(placeholder: &str) -> String {
        format!("arrow_cast({placeholder}, 'Timestamp(Microsecond, Some(\"UTC\"))')")
    }
    compose(sql, &[windows.as_str()])
}

/// Composes shared CTE fragments into a query: `WITH <shared>, <own CTEs>
/// SELECT …` when the query has a WITH of its own, `WITH <shared> SELECT …`
/// when not. Where the query starts and whether it has a WITH come from
/// its tokens, never from slicing its text. The fragments are trusted
/// files of the repository, never data.
fn compose(text: &str, fragments: &[&str]) -> Result<String, String> {
    if fragments.is_empty() {
        return Ok(text.to_string());
    }
    let body = body(text)?;
    let shared = fragments
        .iter()
        .map(|f| f.trim().trim_end_matches(','))
        .collect::<Vec<_>>()
        .join(",\n");
    let split = |at: usize| (text.get(..at).unwrap_or(text), text.get(at..).unwrap_or(""));
    Ok(match body.ctes {
        Some(ctes) => {
            let (head, _) = split(body.start);
            let (_, rest) = split(ctes);
            format!("{head}{}\n{shared},\n{rest}", body.with)
        }
        None => {
            let (head, rest) = split(body.start);
            format!("{head}WITH\n{shared}\n{rest}")
        }
    })
}

/// A query may only read: the composed SQL must be one `SELECT` (or
/// `WITH … SELECT`) statement. Returns what is wrong, or `None`. SQL that
/// does not parse is left to planning, which names the error.
fn only_reads(sql: &str) -> Option<String> {
    use datafusion::sql::parser::{DFParser, Statement};
    use datafusion::sql::sqlparser::ast::Statement as Sql;
    use datafusion::sql::sqlparser::dialect::GenericDialect;

    let statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {}).ok()?;
    if statements.is_empty() {
        return Some("the query has no SQL after its header".to_string());
    }
    if statements.len() != 1 {
        return Some(format!(
            "a query file holds one SELECT statement; this one holds {}",
            statements.len()
        ));
    }
    match statements.front() {
        Some(Statement::Statement(statement)) if matches!(**statement, Sql::Query(_)) => None,
        Some(Statement::Statement(statement)) => Some(format!(
            "a query may only read: `{}` is not a SELECT",
            first_words(&statement.to_string())
        )),
        Some(Statement::CopyTo(_)) => {
            Some("a query may only read: `COPY … TO` is not a SELECT".to_string())
        }
        Some(other) => Some(format!(
            "a query may only read: `{}` is not a SELECT",
            first_words(&other.to_string())
        )),
        None => None,
    }
}

/// The first few words of a statement, for a message.
fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// The lock file of published query versions, beside the queries.
pub const LOCK_FILE: &str = "queries.lock";

/// `id version sha256` of every published version.
pub fn read_lock(dir: &Path) -> Result<BTreeMap<(String, u32), String>, Diagnostic> {
    let path = dir.join(LOCK_FILE);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let text = diagnostic::read_text(&path)?;
    let mut lock = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [id, version, sha] if sha.len() == 64 => match version.parse::<u32>() {
                Ok(version) => {
                    lock.insert((id.to_string(), version), sha.to_string());
                }
                Err(_) => {
                    return Err(Diagnostic::at_line(
                        &path,
                        Some(index + 1),
                        "expected `id version sha256`",
                    ));
                }
            },
            _ => {
                return Err(Diagnostic::at_line(
                    &path,
                    Some(index + 1),
                    "expected `id version sha256`",
                ));
            }
        }
    }
    Ok(lock)
}

impl QueryLibrary {
    /// Checks every version against the lock: a published version whose SQL
    /// changed is an error (add a version instead); an unpublished one is
    /// reported by [`QueryLibrary::unpublished`].
    pub fn verify_lock(&self, dir: &Path) -> Vec<Diagnostic> {
        let lock = match read_lock(dir) {
            Ok(lock) => lock,
            Err(problem) => return vec![problem],
        };
        self.all()
            .filter_map(|query| {
                let published = lock.get(&(query.id.clone(), query.version))?;
                (published != &query.sha256).then(|| {
                    Diagnostic::in_file(
                        &query.path,
                        format!(
                            "metric `{}` version {} is published in {LOCK_FILE} but its SQL (or a shared CTE it uses) changed; keep it as it was and add version {} in a new file",
                            query.id,
                            query.version,
                            self.versions(&query.id).last().copied().unwrap_or(query.version) + 1
                        ),
                    )
                })
            })
            .collect()
    }

    /// Versions not in the lock yet.
    pub fn unpublished(&self, dir: &Path) -> Vec<&QueryFile> {
        let lock = read_lock(dir).unwrap_or_default();
        self.all()
            .filter(|q| !lock.contains_key(&(q.id.clone(), q.version)))
            .collect()
    }

    /// Adds every unpublished version to the lock; published ones stay as
    /// they are. Returns how many were added.
    pub fn publish(&self, dir: &Path) -> Result<usize, Diagnostic> {
        let mut lock = read_lock(dir)?;
        let before = lock.len();
        for query in self.all() {
            lock.entry((query.id.clone(), query.version))
                .or_insert_with(|| query.sha256.clone());
        }
        let mut text = String::from(
            "# Published query versions: id, version, SHA-256 of the SQL as run.\n# A published version never changes: add a new version instead.\n# `clientpulse lock` adds new versions.\n",
        );
        for ((id, version), sha) in &lock {
            text.push_str(&format!("{id} {version} {sha}\n"));
        }
        let path = dir.join(LOCK_FILE);
        std::fs::write(&path, text)
            .map_err(|error| Diagnostic::in_file(&path, format!("cannot write: {error}")))?;
        Ok(lock.len() - before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_come_first_with_one_row_of_placeholders_per_window() {
        let sql = with_windows("-- id: a\nWITH own AS (SELECT 2)\nSELECT 1", 3).unwrap();
        let (windows, rest) = sql.split_once("\n),\n").unwrap();
        assert!(windows.starts_with("-- id: a\nWITH\nwindows AS ("), "{sql}");
        // One VALUES with a row per window, never a union.
        assert_eq!(windows.matches("VALUES").count(), 1, "{sql}");
        assert_eq!(windows.matches("arrow_cast(").count(), 12, "{sql}");
        assert!(!windows.contains("UNION"), "{sql}");
        for k in 1..=3 {
            for column in ["start", "end", "previous_start", "churn_start"] {
                assert!(windows.contains(&format!("$window_{k}_{column}")), "{sql}");
            }
        }
        assert!(!windows.contains("$window_4_"), "{sql}");
        assert!(rest.trim_start().starts_with("own AS (SELECT 2)"), "{sql}");
        // One window: one row.
        let one = with_windows("SELECT 1", 1).unwrap();
        assert_eq!(one.matches("arrow_cast(").count(), 4, "{one}");
    }

    #[test]
    fn composes_shared_ctes() {
        let shared = "-- client MRR\nm AS (SELECT 1 AS x)\n";
        assert_eq!(
            compose("-- id: a\nWITH own AS (SELECT 2)\nSELECT 1", &[shared]).unwrap(),
            "-- id: a\nWITH\n-- client MRR\nm AS (SELECT 1 AS x),\n own AS (SELECT 2)\nSELECT 1"
        );
        assert_eq!(
            compose("-- id: a\nSELECT 1", &[shared]).unwrap(),
            "-- id: a\nWITH\n-- client MRR\nm AS (SELECT 1 AS x)\nSELECT 1"
        );
    }

    #[test]
    fn composes_after_multibyte_comments_and_indented_with() {
        let shared = "m AS (SELECT 1 AS x)";
        // A block comment in any script before the SQL, then an indented WITH.
        let text = "-- id: a\n/* Übersicht: Kündigungen */\n    with own AS (SELECT 2)\nSELECT 1";
        let sql = compose(text, &[shared]).unwrap();
        assert_eq!(
            sql,
            "-- id: a\n/* Übersicht: Kündigungen */\n    with\nm AS (SELECT 1 AS x),\n own AS (SELECT 2)\nSELECT 1"
        );
        assert_eq!(sql.matches("with").count() + sql.matches("WITH").count(), 1);
        // Multibyte text right where the old code sliced four bytes.
        let text = "-- id: a\n/*Ü*/SELECT 'Ü' AS value";
        assert_eq!(
            compose(text, &[shared]).unwrap(),
            "-- id: a\n/*Ü*/WITH\nm AS (SELECT 1 AS x)\nSELECT 'Ü' AS value"
        );
        let text = "WITH RECURSIVE r AS (SELECT 1) SELECT 1";
        assert_eq!(
            compose(text, &[shared]).unwrap(),
            "WITH RECURSIVE\nm AS (SELECT 1 AS x),\n r AS (SELECT 1) SELECT 1"
        );
        assert!(compose("SELECT 'unterminated", &[shared]).is_err());
    }

    #[test]
    fn only_single_selects_are_queries() {
        assert_eq!(only_reads("SELECT 1 AS value"), None);
        assert_eq!(only_reads("WITH a AS (SELECT 1) SELECT * FROM a"), None);
        assert!(
            only_reads("SELECT 1; SELECT 2")
                .unwrap()
                .contains("holds 2")
        );
        assert!(
            only_reads("DROP TABLE clients")
                .unwrap()
                .contains("DROP TABLE")
        );
        assert!(
            only_reads("COPY (SELECT 1) TO '/tmp/x.parquet'")
                .unwrap()
                .contains("COPY")
        );
        assert!(
            only_reads("INSERT INTO clients VALUES (1)")
                .unwrap()
                .contains("INSERT")
        );
        assert!(only_reads("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/x'").is_some());
        // Not parsable: planning will say why.
        assert_eq!(only_reads("SELEC 1"), None);
    }

    #[test]
    fn parses_header() {
        let text = "-- id: nps\n-- version: 2\n-- description: NPS\n-- window: 90d\n-- unit: score\n--\n-- Note: prose\nSELECT 1 AS value, 1 AS sample_size\n";
        let query = parse_query_file(Path::new("q/nps.sql"), text).unwrap();
        assert_eq!(query.id, "nps");
        assert_eq!(query.version, 2);
        assert_eq!(query.window, Window::Days(90));
        assert_eq!(query.sha256.len(), 64);
    }

    #[test]
    fn reports_every_header_problem() {
        let text = "-- id: NPS!\n-- version: zero\n-- colour: red\n-- window: forever\nSELECT 1\n";
        let problems = parse_query_file(Path::new("q.sql"), text).unwrap_err();
        let messages: Vec<_> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("q.sql:3: unknown header field `colour`"))
        );
        assert!(messages.iter().any(|m| m.contains("no `-- description:`")));
        assert!(
            messages
                .iter()
                .any(|m| m.contains("q.sql:1: metric id `NPS!`"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("q.sql:2: version `zero`"))
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("q.sql:4: window `forever`"))
        );
    }
}
