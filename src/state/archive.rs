//! The archive: a copy of every run's artefacts and sent-ledger kept where
//! it outlives the machine that ran it (a folder, or `s3://bucket/prefix`),
//! under `<archive>/<period>/`.
//!
//! The archived ledger is the one that counts for exactly-once delivery: a
//! run reads it back before sending and writes it after every accepted
//! message, so a fresh CI runner with an empty out folder never sends again
//! what an earlier runner sent. Artefacts are uploaded whole (multipart when
//! large, aborted on failure), so the archive holds each file complete or
//! not at all.

use std::path::Path;

use bytes::Bytes;

use super::{SentLedger, StateError};
use crate::storage::{self, Place, Role, S3Settings};

/// Where a run's history is kept; [`Archive::none`] keeps nothing.
#[derive(Debug, Clone)]
pub struct Archive {
    place: Option<Place>,
}

impl Archive {
    /// No archive: the out folder is the only record.
    pub fn none() -> Archive {
        Archive { place: None }
    }

    /// The archive at `url` (a folder or `s3://bucket/prefix`).
    pub fn open(url: &str, s3: &S3Settings) -> Result<Archive, StateError> {
        let place = storage::open(url, Role::Archive, s3).map_err(StateError::Archive)?;
        Ok(Archive { place: Some(place) })
    }

    /// Where the archive is, for messages.
    pub fn url(&self) -> Option<&str> {
        self.place.as_ref().map(|place| place.url.as_str())
    }

    /// Copies every artefact of `period_dir` to `<archive>/<period>/`: the
    /// report, its images and the messages. The ledger is not copied here:
    /// it is written only through [`SentLedger`], merged with the archived
    /// one, so a stale local copy can never replace a fuller archived one.
    pub async fn keep(&self, period_dir: &Path, period: &str) -> Result<usize, StateError> {
        let Some(place) = &self.place else {
            return Ok(0);
        };
        let mut files = Vec::new();
        collect_files(period_dir, &mut files).map_err(|source| StateError::Write {
            path: period_dir.to_path_buf(),
            source,
        })?;
        let mut kept = 0;
        for file in files {
            let Ok(relative) = file.strip_prefix(period_dir) else {
                continue;
            };
            let name = relative
                .components()
                .map(|part| part.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if name == SentLedger::FILE_NAME || name.ends_with(".tmp") {
                continue;
            }
            place
                .upload(&format!("{period}/{name}"), &file)
                .await
                .map_err(StateError::Archive)?;
            kept += 1;
        }
        Ok(kept)
    }

    /// The archived ledger of `period`, if there is one.
    pub(super) async fn read_ledger(&self, period: &str) -> Result<Option<Bytes>, StateError> {
        match &self.place {
            Some(place) => place
                .read(&format!("{period}/{}", SentLedger::FILE_NAME))
                .await
                .map_err(StateError::Archive),
            None => Ok(None),
        }
    }

    /// Replaces the archived ledger of `period`, whole.
    pub(super) async fn write_ledger(
        &self,
        period: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StateError> {
        match &self.place {
            Some(place) => place
                .write(&format!("{period}/{}", SentLedger::FILE_NAME), bytes)
                .await
                .map_err(StateError::Archive),
            None => Ok(()),
        }
    }

    /// The URL of the archived ledger, for messages.
    pub(super) fn ledger_url(&self, period: &str) -> Option<String> {
        self.place
            .as_ref()
            .map(|place| place.url_of(&format!("{period}/{}", SentLedger::FILE_NAME)))
    }
}

/// Every file under `dir`, sorted, so uploads happen in a stable order.
fn collect_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}
