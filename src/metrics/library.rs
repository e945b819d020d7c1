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

use crate::diagnostic::Diagnostic;
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

/// One version of one metric's SQL.
#[derive(Debug, Clone)]
pub struct QueryFile {
    pub id: String,
    pub version: u32,
    pub description: String,
    pub window: Window,
    pub unit: Unit,
    pub owner: Option<String>,
    pub path: PathBuf,
    /// Shared CTE fragments (`queries/shared/<name>.sql`) the query uses.
    pub uses: Vec<String>,
    /// The SQL as executed: the file with its shared CTEs composed in.
    pub sql: String,
    /// SHA-256 of `sql`, so a report is tied to exactly what ran, shared
    /// definitions included.
    pub sha256: String,
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
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(error) => {
                    problems.push(Diagnostic::in_file(&path, format!("cannot read: {error}")));
                    continue;
                }
            };
            match parse_query_file(&path, &text) {
                Ok(mut query) => {
                    let mut used = Vec::new();
                    for name in &query.uses {
                        match fragments.get(name) {
                            Some(fragment) => used.push(fragment.as_str()),
                            None => problems.push(Diagnostic::in_file(
                                &path,
                                format!("uses `{name}`, but there is no shared/{name}.sql"),
                            )),
                        }
                    }
                    query.sql = compose(&text, &used);
                    query.sha256 = sha256(&query.sql);
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
fn load_fragments(dir: &Path, problems: &mut Vec<Diagnostic>) -> BTreeMap<String, String> {
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
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                fragments.insert(name, text);
            }
            Err(error) => {
                problems.push(Diagnostic::in_file(&path, format!("cannot read: {error}")))
            }
        }
    }
    fragments
}

const HEADER_KEYS: &[&str] = &[
    "id",
    "version",
    "description",
    "window",
    "unit",
    "owner",
    "uses",
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
    match (id, version, description, window, unit) {
        (Some(id), Some(version), Some((_, description)), Some(window), Some(unit))
            if problems.is_empty() =>
        {
            Ok(QueryFile {
                id,
                version,
                description,
                window,
                unit,
                owner: fields.get("owner").map(|(_, owner)| owner.clone()),
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
                sha256: sha256(text),
            })
        }
        _ => Err(problems),
    }
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Where a query's SQL starts: the first line that is neither blank nor a
/// comment.
fn body_start(text: &str) -> usize {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !trimmed.is_empty() && !trimmed.starts_with("--") {
            return offset;
        }
        offset += line.len();
    }
    text.len()
}

/// Composes shared CTE fragments into a query: `WITH <shared>, <own CTEs>
/// SELECT …` when the query has a WITH of its own, `WITH <shared> SELECT …`
/// when not. The fragments are trusted files of the repository, never
/// data.
fn compose(text: &str, fragments: &[&str]) -> String {
    if fragments.is_empty() {
        return text.to_string();
    }
    let start = body_start(text);
    let (head, body) = text.split_at(start);
    let shared = fragments
        .iter()
        .map(|f| f.trim().trim_end_matches(','))
        .collect::<Vec<_>>()
        .join(",\n");
    let has_with = body.len() >= 4
        && body[..4].eq_ignore_ascii_case("with")
        && body[4..].starts_with(char::is_whitespace);
    if has_with {
        format!("{head}WITH\n{shared},\n{}", &body[4..])
    } else {
        format!("{head}WITH\n{shared}\n{body}")
    }
}

/// The lock file of published query versions, beside the queries.
pub const LOCK_FILE: &str = "queries.lock";

/// `id version sha256` of every published version.
pub fn read_lock(dir: &Path) -> Result<BTreeMap<(String, u32), String>, Diagnostic> {
    let path = dir.join(LOCK_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(error) => return Err(Diagnostic::in_file(&path, format!("cannot read: {error}"))),
    };
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
    fn composes_shared_ctes() {
        let shared = "-- client MRR\nm AS (SELECT 1 AS x)\n";
        assert_eq!(
            compose("-- id: a\nWITH own AS (SELECT 2)\nSELECT 1", &[shared]),
            "-- id: a\nWITH\n-- client MRR\nm AS (SELECT 1 AS x),\n own AS (SELECT 2)\nSELECT 1"
        );
        assert_eq!(
            compose("-- id: a\nSELECT 1", &[shared]),
            "-- id: a\nWITH\n-- client MRR\nm AS (SELECT 1 AS x)\nSELECT 1"
        );
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
