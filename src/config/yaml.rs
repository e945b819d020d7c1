//! Section-wise YAML loading that reports every problem of a file at once.
//!
//! serde stops at the first error of a document. A config file is a mapping
//! of independent top-level sections, so we cut the text at each top-level
//! key and deserialize every section on its own, padded with blank lines so
//! that serde_yaml's line numbers still point into the real file. One broken
//! section then costs one error, not the rest of the file's diagnosis.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::diagnostic::Diagnostic;

/// One top-level key of a YAML file with the text of its section.
struct Section {
    key: String,
    line: usize,
    /// The section's text, preceded by as many newlines as lines before it.
    padded: String,
}

/// Cuts block-style YAML into top-level sections. Returns `None` when the
/// document is not a plain block mapping (flow style, anchors across
/// sections, several documents), in which case the caller parses it whole.
fn split_sections(text: &str) -> Option<Vec<Section>> {
    let mut sections: Vec<Section> = Vec::new();
    let mut current: Option<(String, usize, Vec<&str>)> = None;
    for (index, line) in text.lines().enumerate() {
        let starts_section = line
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != '#');
        if starts_section {
            if line.starts_with("---") && current.is_none() && sections.is_empty() {
                continue; // a document marker before the first key
            }
            let key = top_level_key(line)?;
            if let Some((key, start, lines)) = current.take() {
                sections.push(make_section(key, start, &lines));
            }
            current = Some((key, index, vec![line]));
        } else if let Some((_, _, lines)) = current.as_mut() {
            lines.push(line);
        } else if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            // Indented content before any key: not a block mapping.
            return None;
        }
    }
    if let Some((key, start, lines)) = current.take() {
        sections.push(make_section(key, start, &lines));
    }
    Some(sections)
}

fn make_section(key: String, start: usize, lines: &[&str]) -> Section {
    let mut padded = "\n".repeat(start);
    for line in lines {
        padded.push_str(line);
        padded.push('\n');
    }
    Section {
        key,
        line: start + 1,
        padded,
    }
}

/// The key of a line such as `metrics:` or `"nps": {…}`; `None` for
/// anything that is not a simple `key:` line.
fn top_level_key(line: &str) -> Option<String> {
    if line.starts_with(['&', '*', '!', '{', '[', '-', '?', '|', '>', '%', '@', '`']) {
        return None;
    }
    let (key, rest) = line.split_once(':')?;
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty()).then(|| key.to_string())
}

/// Turns a serde_yaml error into a problem that names file, line, column.
fn problem_from_serde(path: &Path, text: &str, error: &serde_yaml::Error) -> Diagnostic {
    let mut message = strip_location(&error.to_string());
    if message.contains("repetition limit exceeded") || message.contains("recursion limit exceeded")
    {
        message.push_str(" (YAML anchors and aliases expand too far: write the values out)");
    }
    match error.location() {
        Some(location) => {
            // YAML's own words for a tab are obscure; say what to do.
            let line = text.lines().nth(location.line().saturating_sub(1));
            if line.is_some_and(|line| {
                line.trim_end().starts_with(|c: char| c.is_whitespace()) && line.contains('\t')
            }) {
                message.push_str(" (tabs cannot indent YAML: use spaces)");
            }
            Diagnostic::at(path, location.line(), location.column(), message)
        }
        None => Diagnostic::in_file(path, message),
    }
}

/// Whether `key` is a top-level key of the text, even of a section that
/// did not parse: a section that is there but broken is not "missing".
pub fn has_top_level_key(text: &str, key: &str) -> bool {
    line_of_top_level_key(text, key).is_some()
}

/// serde_yaml appends " at line L column C" to its messages; we print the
/// position in front, compiler-style, so drop the duplicate.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

/// Loads a file whose top level is a mapping, deserializing each top-level
/// key into `T` (a struct whose fields are all optional, so that a section
/// alone is a valid `T`) and merging them with `merge`. Problems of every
/// section are appended to `problems`; sections that fail are left out.
/// `None` when the file is not YAML at all (its one problem is added).
pub fn load_sections<T: DeserializeOwned + Default>(
    path: &Path,
    text: &str,
    merge: impl Fn(&mut T, T),
    problems: &mut Vec<Diagnostic>,
) -> Option<T> {
    // A syntax error makes any cutting meaningless: report it alone, and
    // tell the caller there is nothing to validate.
    if let Err(error) = serde_yaml::from_str::<serde_yaml::Value>(text) {
        problems.push(problem_from_serde(path, text, &error));
        return None;
    }
    let Some(sections) = split_sections(text) else {
        return match serde_yaml::from_str::<T>(text) {
            Ok(value) => Some(value),
            Err(error) => {
                problems.push(problem_from_serde(path, text, &error));
                Some(T::default())
            }
        };
    };
    let mut merged = T::default();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for section in sections {
        if let Some(first) = seen.insert(section.key.clone(), section.line) {
            problems.push(Diagnostic::at(
                path,
                section.line,
                1,
                format!("duplicate key `{}` (first at line {first})", section.key),
            ));
            continue;
        }
        match serde_yaml::from_str::<T>(&section.padded) {
            Ok(value) => merge(&mut merged, value),
            Err(error) => problems.push(problem_from_serde(path, text, &error)),
        }
    }
    Some(merged)
}

/// The 1-based line of a top-level key in a file, for problems found after
/// parsing (a benchmark for an unknown metric, say).
pub fn line_of_top_level_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| top_level_key(line).as_deref() == Some(key))
        .map(|index| index + 1)
}

/// The 1-based line of the first `key: value` (at any depth) whose value is
/// `value`, for problems about a list entry such as `- id: nps`.
pub fn line_of_entry(text: &str, key: &str, value: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            let trimmed = line.trim_start().trim_start_matches("- ").trim_start();
            trimmed
                .strip_prefix(key)
                .and_then(|rest| rest.trim_start().strip_prefix(':'))
                .map(|rest| {
                    let rest = rest.split(" #").next().unwrap_or(rest);
                    rest.trim().trim_matches(|c| c == '"' || c == '\'') == value
                })
                .unwrap_or(false)
        })
        .map(|index| index + 1)
}

/// The 1-based line of the first line that holds `needle` as written (a
/// recipient in a flow list, say); `None` when it was written escaped.
pub fn line_containing(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    text.lines()
        .position(|line| line.contains(needle))
        .map(|index| index + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_block_mapping_into_sections_with_true_lines() {
        let text = "# comment\na: 1\nb:\n  c: 2\n\nd: [1, 2]\n";
        let sections = split_sections(text).unwrap();
        let keys: Vec<_> = sections.iter().map(|s| (s.key.as_str(), s.line)).collect();
        assert_eq!(keys, vec![("a", 2), ("b", 3), ("d", 6)]);
        assert!(sections[1].padded.starts_with("\n\nb:\n  c: 2"));
    }

    #[test]
    fn flow_documents_are_not_split() {
        assert!(split_sections("{a: 1}\n").is_none());
    }

    #[test]
    fn finds_list_entries() {
        let text = "metrics:\n  - id: nps\n  - id: \"csat\"  # note\n";
        assert_eq!(line_of_entry(text, "id", "csat"), Some(3));
        assert_eq!(line_of_top_level_key(text, "metrics"), Some(1));
    }
}
