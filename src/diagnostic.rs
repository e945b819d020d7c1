//! One problem found in a user's file, positioned like a compiler message.
//!
//! Config, benchmark and query loading all report through this type so that
//! `check` can list every problem of every file in one go, each as
//! `file:line:column: message`.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in a file the user edits, with as exact a position as we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn at(file: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    pub fn at_line(file: &Path, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column: None,
            message: message.into(),
        }
    }

    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        Self::at_line(file, None, message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// Several diagnostics, printed one per line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, diagnostic) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The largest file a user edits that clientpulse reads (config,
/// benchmarks, queries, templates, lock): far above any real one, far
/// below what would hurt memory or time.
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Reads a file a user edits as UTF-8 text, refusing one that is too
/// large or not UTF-8, with a problem that says where.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|error| Diagnostic::in_file(path, format!("cannot read: {error}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| Diagnostic::in_file(path, format!("cannot read: {error}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(Diagnostic::in_file(
            path,
            format!(
                "is larger than {} KiB: not a file clientpulse reads",
                MAX_INPUT_BYTES / 1024
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|error| {
        let valid_up_to = error.utf8_error().valid_up_to();
        not_utf8(path, error.as_bytes(), valid_up_to)
    })
}

/// The problem of a file that is not UTF-8, at the first bad byte.
pub fn not_utf8(path: &Path, bytes: &[u8], valid_up_to: usize) -> Diagnostic {
    let before = bytes.get(..valid_up_to).unwrap_or(bytes);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |newline| newline + 1);
    Diagnostic::at(
        path,
        line,
        before.len() - line_start + 1,
        "is not valid UTF-8: save the file as UTF-8",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_the_first_byte_that_is_not_utf8() {
        let problem = not_utf8(Path::new("a.sql"), b"ok\nab\xffc", 5);
        assert_eq!(
            problem.to_string(),
            "a.sql:2:3: is not valid UTF-8: save the file as UTF-8"
        );
    }
}
