//! Run state that must outlive a process: the ledger of messages already
//! sent for a period.
//!
//! The ledger is `<out>/<period>/sent.json`. Delivery records each message
//! the moment the SMTP server accepts it, and skips every message already
//! recorded, so a re-run after a partial failure sends only the rest and a
//! cron job that fires twice sends nothing twice. Writes are atomic (a temp
//! file renamed over the old one), so a crash leaves the old or the new
//! ledger, never half of one.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StateError {
    #[error("cannot read the sent-ledger {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error(
        "cannot write {path}: {source} (a local fault: check the folder's permissions and free space)"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One message the SMTP server accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SentMessage {
    pub message_id: String,
    pub audience: String,
    pub recipient: String,
    pub sent_at: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    sent: Vec<SentMessage>,
}

/// What has been sent for one period.
#[derive(Debug)]
pub struct SentLedger {
    path: PathBuf,
    file: LedgerFile,
}

impl SentLedger {
    pub const FILE_NAME: &'static str = "sent.json";

    /// Opens the ledger of a period folder (empty if there is none yet).
    pub fn open(period_dir: &Path) -> Result<SentLedger, StateError> {
        let path = period_dir.join(Self::FILE_NAME);
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| StateError::Read {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => LedgerFile::default(),
            Err(error) => {
                return Err(StateError::Read {
                    path,
                    message: error.to_string(),
                });
            }
        };
        Ok(SentLedger { path, file })
    }

    pub fn was_sent(&self, message_id: &str) -> bool {
        self.file.sent.iter().any(|m| m.message_id == message_id)
    }

    pub fn sent(&self) -> &[SentMessage] {
        &self.file.sent
    }

    /// Records a sent message and saves the ledger at once.
    pub fn record(&mut self, message: SentMessage) -> Result<(), StateError> {
        self.file.sent.push(message);
        let write_error = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(&self.file)
            .map_err(|e| write_error(std::io::Error::other(e)))?;
        write_atomically(&self.path, text.as_bytes()).map_err(write_error)
    }
}

/// Writes a run's artefacts (`name`, bytes) into `dir`, each atomically.
pub fn write_artefacts(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), StateError> {
    for (name, bytes) in files {
        let path = dir.join(name);
        write_atomically(&path, bytes).map_err(|source| StateError::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temp file in the same folder and a
/// rename, so readers see the old file or the new one, never a torn one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = SentLedger::open(dir.path()).unwrap();
        assert!(!ledger.was_sent("<a@b>"));
        ledger
            .record(SentMessage {
                message_id: "<a@b>".into(),
                audience: "leadership".into(),
                recipient: "ceo@example.com".into(),
                sent_at: "2026-11-23T06:00:00Z".into(),
            })
            .unwrap();
        let reopened = SentLedger::open(dir.path()).unwrap();
        assert!(reopened.was_sent("<a@b>"));
        assert_eq!(reopened.sent().len(), 1);
    }
}
