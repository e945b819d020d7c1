//! Run state that must outlive a process: the ledger of messages already
//! sent for a period, and the [`archive`] that keeps it (with the run's
//! artefacts) beyond the machine that ran it.
//!
//! The ledger is `<out>/<period>/sent.json`, and `<archive>/<period>/sent.json`
//! when the config names an archive: opened, the two are merged; each record
//! is written to both. Delivery records each message
//! the moment the SMTP server accepts it, and skips every message already
//! recorded, so a re-run after a partial failure sends only the rest and a
//! cron job that fires twice sends nothing twice. Writes are atomic (a temp
//! file renamed over the old one), so a crash leaves the old or the new
//! ledger, never half of one. A run holds its week's ledger (a lock on the
//! week's folder) until delivery is over, so that two runs of one week on
//! one machine never both send: the second waits, then skips what the
//! first sent.

pub mod archive;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use archive::Archive;

use crate::fault::Fault;
use crate::storage::StorageError;

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
    #[error(
        "cannot lock {path} against another run delivering the same week: {source} (a local fault: the out folder's file system must support file locks)"
    )]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The archive could not be read or written: nothing more is sent,
    /// since what an earlier runner sent cannot be known or recorded.
    #[error("{0} (nothing further is sent while the archive's ledger cannot be read or written)")]
    Archive(StorageError),
}

impl StateError {
    /// A wrong archive URL or setting is the user's; every other fault of
    /// the run's own state is local (exit 1, outputs.md).
    pub fn fault(&self) -> Fault {
        match self {
            StateError::Archive(error) if error.is_invalid_setting() => Fault::Input,
            _ => Fault::Internal,
        }
    }
}

/// One message the SMTP server accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SentMessage {
    pub message_id: String,
    pub audience: String,
    pub recipient: String,
    pub sent_at: String,
    /// SHA-256 of the message as sent (empty in ledgers of earlier
    /// versions).
    #[serde(default)]
    pub content_sha256: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    sent: Vec<SentMessage>,
}

/// What has been sent for one period. While it is open, no other run
/// (process) on this machine can open the same period folder's ledger:
/// see [`SentLedger::open_or_wait`].
#[derive(Debug)]
pub struct SentLedger {
    path: PathBuf,
    file: LedgerFile,
    archive: Archive,
    period: String,
    /// The period folder, locked (`flock`) until the ledger is dropped.
    _lock: std::fs::File,
}

impl SentLedger {
    pub const FILE_NAME: &'static str = "sent.json";

    /// Opens the ledger of a period folder (empty if there is none yet),
    /// merged with the archived one: a message either records as sent was
    /// sent.
    pub async fn open(
        period_dir: &Path,
        archive: &Archive,
        period: &str,
    ) -> Result<SentLedger, StateError> {
        Self::open_or_wait(period_dir, archive, period, || {}).await
    }

    /// [`SentLedger::open`], once no other run holds the period folder's
    /// ledger open; `waiting` is called first if one does. Two runs of the
    /// same week on one machine (the scheduler's and one by hand, a cron
    /// job fired twice) would otherwise both read a ledger without the
    /// other's messages and both send them. The second waits for the
    /// first to finish delivering, then reads what it sent and sends only
    /// the rest. (Runners on different machines share the archive's
    /// ledger, which cannot be locked: run one at a time, as the README's
    /// CI and Kubernetes examples do.)
    pub async fn open_or_wait(
        period_dir: &Path,
        archive: &Archive,
        period: &str,
        waiting: impl FnOnce(),
    ) -> Result<SentLedger, StateError> {
        let lock = lock_folder(period_dir, waiting).await?;
        hold_point();
        let path = period_dir.join(Self::FILE_NAME);
        let mut file = match std::fs::read_to_string(&path) {
            Ok(text) => parse_ledger(&text, &path.display().to_string())?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => LedgerFile::default(),
            Err(error) => {
                return Err(StateError::Read {
                    path,
                    message: error.to_string(),
                });
            }
        };
        let mut ledger_changed = false;
        let archive_behind;
        if let Some(archived) = archive.read_ledger(period).await? {
            let source = archive.ledger_url(period).unwrap_or_default();
            let text = String::from_utf8_lossy(&archived);
            let archived = parse_ledger(&text, &source)?;
            archive_behind = file.sent.iter().any(|local| {
                !archived
                    .sent
                    .iter()
                    .any(|a| a.message_id == local.message_id)
            });
            for message in archived.sent {
                if !file.sent.iter().any(|m| m.message_id == message.message_id) {
                    file.sent.push(message);
                    ledger_changed = true;
                }
            }
        } else {
            archive_behind = !file.sent.is_empty();
        }
        let ledger = SentLedger {
            path,
            file,
            archive: archive.clone(),
            period: period.to_string(),
            _lock: lock,
        };
        if ledger_changed || archive_behind {
            ledger.save().await?;
        }
        Ok(ledger)
    }

    pub fn was_sent(&self, message_id: &str) -> bool {
        self.file.sent.iter().any(|m| m.message_id == message_id)
    }

    /// How many times the ledger records `message_id` as sent (more than
    /// once only through `--resend`).
    pub fn times_sent(&self, message_id: &str) -> usize {
        self.file
            .sent
            .iter()
            .filter(|m| m.message_id == message_id)
            .count()
    }

    pub fn sent(&self) -> &[SentMessage] {
        &self.file.sent
    }

    /// Where the ledger is, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records a sent message and saves the ledger at once, locally and in
    /// the archive.
    pub async fn record(&mut self, message: SentMessage) -> Result<(), StateError> {
        self.file.sent.push(message);
        self.save().await
    }

    async fn save(&self) -> Result<(), StateError> {
        let write_error = |source| StateError::Write {
            path: self.path.clone(),
            source,
        };
        let text = serde_json::to_string_pretty(&self.file)
            .map_err(|e| write_error(std::io::Error::other(e)))?;
        write_atomically(&self.path, text.as_bytes()).map_err(write_error)?;
        self.archive
            .write_ledger(&self.period, text.into_bytes())
            .await
    }
}

/// Locks `dir` (made if missing) for this process, waiting (after
/// calling `waiting`) while another holds it. The lock is the folder's
/// own, so that nothing is added to the run's artefacts, and goes with
/// the process: a run that crashes leaves no stale lock behind.
async fn lock_folder(dir: &Path, waiting: impl FnOnce()) -> Result<std::fs::File, StateError> {
    let failed = |source| StateError::Lock {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    let folder = std::fs::File::open(dir).map_err(failed)?;
    match folder.try_lock() {
        Ok(()) => Ok(folder),
        Err(std::fs::TryLockError::Error(error)) => Err(failed(error)),
        Err(std::fs::TryLockError::WouldBlock) => {
            waiting();
            tokio::task::spawn_blocking(move || folder.lock().map(|()| folder))
                .await
                .map_err(|e| failed(std::io::Error::other(e)))?
                .map_err(failed)
        }
    }
}

/// The variable that makes a debug build, once it holds a week's ledger,
/// create the file it names and wait (two minutes at most) until that
/// file is gone: how the tests make a second run meet the first's ledger
/// open. Release builds do not have it.
pub const HOLD_LEDGER_VARIABLE: &str = "CLIENTPULSE_TEST_HOLD_LEDGER";

#[cfg(debug_assertions)]
fn hold_point() {
    let Some(marker) = std::env::var_os(HOLD_LEDGER_VARIABLE) else {
        return;
    };
    let marker = PathBuf::from(marker);
    if std::fs::write(&marker, b"held").is_err() {
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while marker.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(not(debug_assertions))]
fn hold_point() {}

fn parse_ledger(text: &str, source: &str) -> Result<LedgerFile, StateError> {
    serde_json::from_str(text).map_err(|e| StateError::Read {
        path: PathBuf::from(source),
        message: e.to_string(),
    })
}

/// `text` as one safe file name: letters, digits, `.`, `-`, `_` and `@`
/// kept, anything else (a `/`, a space) `_`, and never `.` or `..`.
pub fn file_name(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.chars().all(|c| c == '.') {
        format!("_{name}")
    } else {
        name
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

    fn sent(id: &str) -> SentMessage {
        SentMessage {
            message_id: id.into(),
            audience: "leadership".into(),
            recipient: "ceo@example.com".into(),
            sent_at: "2026-11-23T06:00:00Z".into(),
            content_sha256: String::new(),
        }
    }

    #[tokio::test]
    async fn a_week_s_ledger_is_open_in_one_place_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let none = Archive::none();
        let mut first = SentLedger::open(dir.path(), &none, "2026-W47")
            .await
            .unwrap();
        // Another open file of the folder (as another process has) cannot
        // take the lock while the ledger is open.
        let other = std::fs::File::open(dir.path()).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        let waited = std::sync::atomic::AtomicBool::new(false);
        let second = SentLedger::open_or_wait(dir.path(), &none, "2026-W47", || {
            waited.store(true, std::sync::atomic::Ordering::SeqCst)
        });
        let recorded = async {
            first.record(sent("<a@b>")).await.unwrap();
            drop(first);
        };
        let (second, ()) = tokio::join!(second, recorded);
        // The second waited for the first, and reads what it recorded.
        let second = second.unwrap();
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
        assert!(second.was_sent("<a@b>"));
        assert!(other.try_lock().is_err(), "held by the second");
        drop(second);
        assert!(other.try_lock().is_ok(), "free once the ledger is closed");
    }

    #[tokio::test]
    async fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let none = Archive::none();
        let mut ledger = SentLedger::open(dir.path(), &none, "2026-W47")
            .await
            .unwrap();
        assert!(!ledger.was_sent("<a@b>"));
        ledger.record(sent("<a@b>")).await.unwrap();
        drop(ledger);
        let reopened = SentLedger::open(dir.path(), &none, "2026-W47")
            .await
            .unwrap();
        assert!(reopened.was_sent("<a@b>"));
        assert_eq!(reopened.sent().len(), 1);
    }

    #[tokio::test]
    async fn a_fresh_out_folder_learns_what_the_archive_says_was_sent() {
        let archive_dir = tempfile::tempdir().unwrap();
        let url = archive_dir.path().display().to_string();
        let archive = Archive::open(&url, &crate::storage::S3Settings::default()).unwrap();
        let first_runner = tempfile::tempdir().unwrap();
        let mut ledger = SentLedger::open(first_runner.path(), &archive, "2026-W47")
            .await
            .unwrap();
        ledger.record(sent("<a@b>")).await.unwrap();
        assert!(
            archive_dir
                .path()
                .join("2026-W47")
                .join("sent.json")
                .is_file()
        );

        // A second runner, its out folder empty, with one record of its own
        // the archive lacks: both are kept, in both places.
        let second_runner = tempfile::tempdir().unwrap();
        std::fs::write(
            second_runner.path().join("sent.json"),
            serde_json::to_string(&LedgerFile {
                sent: vec![sent("<c@d>")],
            })
            .unwrap(),
        )
        .unwrap();
        let ledger = SentLedger::open(second_runner.path(), &archive, "2026-W47")
            .await
            .unwrap();
        assert!(ledger.was_sent("<a@b>") && ledger.was_sent("<c@d>"));
        let third_runner = tempfile::tempdir().unwrap();
        let ledger = SentLedger::open(third_runner.path(), &archive, "2026-W47")
            .await
            .unwrap();
        assert_eq!(ledger.sent().len(), 2);
    }
}
