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
    /// The whole file, header included, as executed.
    pub sql: String,
    /// SHA-256 of the file's bytes, so a report can be tied to its SQL.
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
                Ok(query) => {
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

const HEADER_KEYS: &[&str] = &["id", "version", "description", "window", "unit", "owner"];

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
                    "unit `{text}` is not one of score, fraction, money, count, seconds, points"
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
                sql: text.to_string(),
                sha256: hex::encode(Sha256::digest(text.as_bytes())),
            })
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
