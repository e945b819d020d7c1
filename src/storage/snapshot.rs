//! A run's snapshot of a remote warehouse: each prefix listed once, each
//! object's footer read once and each object downloaded once (whole, on
//! first read of its data, into a temporary folder deleted with the store),
//! every later listing and read served from those.
//!
//! Why: a report runs every metric for the week, each of its trend weeks
//! and each segment: hundreds of scans of the same few tables. Read from S3
//! scan by scan, the number of requests (and the bill, and the exposure to
//! a flaky network) would grow with the number of metrics, weeks and
//! segments; through the snapshot it is one listing per table, one footer
//! read per file (its schema) and one GET per file the windows need,
//! whatever the report asks. A file smaller than the footer read is whole
//! after it. And every query of
//! a run sees the same files, even if an export lands in the middle of it.
//!
//! Files no query reads (date partitions outside every window) are never
//! downloaded. Writes go to the wrapped store, which the catalog makes a
//! [`ReadOnlyStore`](crate::catalog::read_only::ReadOnlyStore): refused.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, RenameOptions, Result,
};
use tokio::io::AsyncWriteExt;
use tokio::sync::OnceCell;

type Listing = Arc<Vec<ObjectMeta>>;

/// Serves reads of `inner` from one listing per prefix and one download per
/// object.
pub struct SnapshotStore {
    shared: Arc<Shared>,
}

struct Shared {
    inner: Arc<dyn ObjectStore>,
    /// Where downloaded objects are kept; removed when the store drops.
    folder: tempfile::TempDir,
    local: LocalFileSystem,
    listings: Mutex<HashMap<String, Arc<OnceCell<Listing>>>>,
    downloads: Mutex<HashMap<Path, Arc<OnceCell<ObjectMeta>>>>,
    tails: Mutex<HashMap<Path, Arc<OnceCell<Tail>>>>,
    next_temp: AtomicU64,
}

/// The end of an object, from `start` to its last byte, read for its
/// footer (Parquet keeps its schema and statistics there) and kept in a
/// local file.
struct Tail {
    start: u64,
    file: PathBuf,
}

impl SnapshotStore {
    /// A snapshot of `inner`, kept in a new temporary folder.
    pub fn new(inner: Arc<dyn ObjectStore>) -> std::io::Result<SnapshotStore> {
        let folder = tempfile::Builder::new()
            .prefix("clientpulse-snapshot-")
            .tempdir()?;
        let local =
            LocalFileSystem::new_with_prefix(folder.path()).map_err(std::io::Error::other)?;
        Ok(SnapshotStore {
            shared: Arc::new(Shared {
                inner,
                folder,
                local,
                listings: Mutex::new(HashMap::new()),
                downloads: Mutex::new(HashMap::new()),
                tails: Mutex::new(HashMap::new()),
                next_temp: AtomicU64::new(0),
            }),
        })
    }
}

impl fmt::Debug for SnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snapshot({})", self.shared.inner)
    }
}

impl fmt::Display for SnapshotStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Snapshot({})", self.shared.inner)
    }
}

impl Shared {
    /// Every object under `prefix`, from a listing already made of it or of
    /// a prefix holding it, or else from one new listing.
    async fn listing(&self, prefix: &Path) -> Result<Listing> {
        let wanted = prefix.as_ref().to_string();
        let (covering, cell) = {
            let listings = self.listings.lock().map_err(poisoned)?;
            let covering = listings.iter().find_map(|(listed, cell)| {
                let covers = listed.is_empty()
                    || wanted == *listed
                    || wanted.starts_with(&format!("{listed}/"));
                cell.get().filter(|_| covers).cloned()
            });
            let cell = listings.get(&wanted).cloned();
            (covering, cell)
        };
        if let Some(listing) = covering {
            let inside: Vec<ObjectMeta> = listing
                .iter()
                .filter(|meta| meta.location.prefix_matches(prefix))
                .cloned()
                .collect();
            return Ok(Arc::new(inside));
        }
        let cell = match cell {
            Some(cell) => cell,
            None => {
                let mut listings = self.listings.lock().map_err(poisoned)?;
                Arc::clone(listings.entry(wanted).or_default())
            }
        };
        let listing = cell
            .get_or_try_init(|| async {
                let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
                let metas: Vec<ObjectMeta> = self.inner.list(prefix).try_collect().await?;
                Ok::<_, object_store::Error>(Arc::new(metas))
            })
            .await?;
        Ok(Arc::clone(listing))
    }

    /// The object's size, time and tag as listed, if a listing holds it.
    fn listed(&self, location: &Path) -> Option<ObjectMeta> {
        let listings = self.listings.lock().ok()?;
        listings.values().find_map(|cell| {
            cell.get()?
                .iter()
                .find(|meta| &meta.location == location)
                .cloned()
        })
    }

    /// Downloads `location` whole into the snapshot folder, once.
    async fn download(&self, location: &Path) -> Result<ObjectMeta> {
        let cell = {
            let mut downloads = self.downloads.lock().map_err(poisoned)?;
            Arc::clone(downloads.entry(location.clone()).or_default())
        };
        let meta = cell
            .get_or_try_init(|| async {
                let fetched = self.inner.get(location).await?;
                let meta = fetched.meta.clone();
                let temp = self.folder.path().join(format!(
                    ".download-{}",
                    self.next_temp.fetch_add(1, Ordering::Relaxed)
                ));
                let io = |error: std::io::Error| object_store::Error::Generic {
                    store: "snapshot",
                    source: Box::new(error),
                };
                let mut file = tokio::fs::File::create(&temp).await.map_err(io)?;
                let mut body = fetched.into_stream();
                let mut written = 0u64;
                while let Some(chunk) = body.try_next().await? {
                    written += chunk.len() as u64;
                    file.write_all(&chunk).await.map_err(io)?;
                }
                file.flush().await.map_err(io)?;
                drop(file);
                if written != meta.size {
                    return Err(object_store::Error::Generic {
                        store: "snapshot",
                        source: format!(
                            "{location}: got {written} bytes of {} (the object changed or the connection broke)",
                            meta.size
                        )
                        .into(),
                    });
                }
                let target = self.local_file(location);
                if let Some(parent) = target.parent() {
                    tokio::fs::create_dir_all(parent).await.map_err(io)?;
                }
                tokio::fs::rename(&temp, &target).await.map_err(io)?;
                Ok::<_, object_store::Error>(meta)
            })
            .await?;
        Ok(meta.clone())
    }

    /// Whether `location` is downloaded already.
    fn is_downloaded(&self, location: &Path) -> bool {
        self.downloads
            .lock()
            .ok()
            .and_then(|downloads| downloads.get(location).map(|cell| cell.initialized()))
            .unwrap_or(false)
    }

    /// The tail of `location` from `start`, read once; `None` when the
    /// tail read so far begins after `start`.
    async fn tail(&self, location: &Path, start: u64, size: u64) -> Result<Option<Arc<TailRead>>> {
        let cell = {
            let mut tails = self.tails.lock().map_err(poisoned)?;
            Arc::clone(tails.entry(location.clone()).or_default())
        };
        let tail = cell
            .get_or_try_init(|| async {
                let options = GetOptions {
                    range: Some(GetRange::Bounded(start..size)),
                    ..GetOptions::default()
                };
                let bytes = self
                    .inner
                    .get_opts(location, options)
                    .await?
                    .bytes()
                    .await?;
                let file = self.folder.path().join(format!(
                    ".tail-{}",
                    self.next_temp.fetch_add(1, Ordering::Relaxed)
                ));
                tokio::fs::write(&file, &bytes).await.map_err(io_error)?;
                Ok::<_, object_store::Error>(Tail { start, file })
            })
            .await?;
        if tail.start > start {
            return Ok(None);
        }
        Ok(Some(Arc::new(TailRead {
            start: tail.start,
            file: tail.file.clone(),
        })))
    }

    fn local_file(&self, location: &Path) -> PathBuf {
        location
            .parts()
            .fold(self.folder.path().to_path_buf(), |path, part| {
                path.join(part.as_ref())
            })
    }
}

/// Where a tail is kept, for one read.
struct TailRead {
    start: u64,
    file: PathBuf,
}

impl TailRead {
    async fn bytes(&self, range: &Range<u64>) -> Result<Bytes> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let mut file = tokio::fs::File::open(&self.file).await.map_err(io_error)?;
        file.seek(std::io::SeekFrom::Start(range.start - self.start))
            .await
            .map_err(io_error)?;
        let mut bytes = vec![0; (range.end - range.start) as usize];
        file.read_exact(&mut bytes).await.map_err(io_error)?;
        Ok(Bytes::from(bytes))
    }
}

fn io_error(error: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "snapshot",
        source: Box::new(error),
    }
}

/// The byte range a read asks for, in an object of `size` bytes.
fn requested(range: Option<&GetRange>, size: u64) -> Range<u64> {
    match range {
        None => 0..size,
        Some(GetRange::Bounded(range)) => range.start..range.end.min(size),
        Some(GetRange::Offset(start)) => *start..size,
        Some(GetRange::Suffix(length)) => size.saturating_sub(*length)..size,
    }
}

fn poisoned<T>(_: T) -> object_store::Error {
    object_store::Error::Generic {
        store: "snapshot",
        source: "a reader of the snapshot panicked".into(),
    }
}

/// Whether a read asks for something only the remote store can answer.
fn conditional(options: &GetOptions) -> bool {
    options.if_match.is_some()
        || options.if_none_match.is_some()
        || options.if_modified_since.is_some()
        || options.if_unmodified_since.is_some()
        || options.version.is_some()
}

#[async_trait]
impl ObjectStore for SnapshotStore {
    // Writes go to the wrapped store, which refuses them: the snapshot
    // serves reads only.
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.shared.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.shared.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let shared = &self.shared;
        if conditional(&options) {
            return shared.inner.get_opts(location, options).await;
        }
        if options.head {
            if let Some(meta) = shared.listed(location) {
                return Ok(GetResult {
                    payload: GetResultPayload::Stream(stream::empty().boxed()),
                    range: 0..meta.size,
                    meta,
                    attributes: Default::default(),
                });
            }
            return shared.inner.get_opts(location, options).await;
        }
        // A read of the end of a file not downloaded yet (a footer, the
        // schema) is served by one tail read; any other read downloads the
        // whole file.
        if !shared.is_downloaded(location)
            && let Some(meta) = shared.listed(location)
        {
            let range = requested(options.range.as_ref(), meta.size);
            let whole = range.start == 0 && range.end >= meta.size;
            if !whole
                && range.end == meta.size
                && let Some(tail) = shared.tail(location, range.start, meta.size).await?
            {
                let bytes = tail.bytes(&range).await?;
                return Ok(GetResult {
                    payload: GetResultPayload::Stream(stream::once(async { Ok(bytes) }).boxed()),
                    range,
                    meta,
                    attributes: Default::default(),
                });
            }
        }
        let meta = shared.download(location).await?;
        let mut result = shared
            .local
            .get_opts(
                location,
                GetOptions {
                    range: options.range,
                    ..GetOptions::default()
                },
            )
            .await?;
        // The remote object's identity, not the local copy's.
        result.meta = meta;
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let shared = &self.shared;
        if !shared.is_downloaded(location)
            && let Some(meta) = shared.listed(location)
            && let Some(first) = ranges.iter().map(|range| range.start).min()
            && first > 0
            && ranges.iter().all(|range| range.end <= meta.size)
        {
            // Ranges inside a tail read already (a page index next to the
            // footer) are served from it.
            let cell = shared
                .tails
                .lock()
                .ok()
                .and_then(|tails| tails.get(location).cloned());
            if cell.is_some_and(|cell| cell.get().is_some_and(|tail| tail.start <= first))
                && let Some(tail) = shared.tail(location, first, meta.size).await?
            {
                let mut parts = Vec::with_capacity(ranges.len());
                for range in ranges {
                    parts.push(tail.bytes(range).await?);
                }
                return Ok(parts);
            }
        }
        self.shared.download(location).await?;
        self.shared.local.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.shared.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        let shared = Arc::clone(&self.shared);
        let prefix = prefix.cloned().unwrap_or_default();
        stream::once(async move { shared.listing(&prefix).await })
            .map_ok(|listing| stream::iter(listing.as_ref().clone().into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        let offset = offset.clone();
        self.list(prefix)
            .try_filter(move |meta| futures::future::ready(meta.location > offset))
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        let prefix = prefix.cloned().unwrap_or_default();
        let listing = self.shared.listing(&prefix).await?;
        let depth = prefix.parts().count();
        let mut common_prefixes = Vec::new();
        let mut objects = Vec::new();
        for meta in listing.iter() {
            let parts: Vec<_> = meta.location.parts().collect();
            if parts.len() == depth + 1 {
                objects.push(meta.clone());
            } else if parts.len() > depth + 1 {
                let folder = Path::from_iter(parts.into_iter().take(depth + 1));
                if !common_prefixes.contains(&folder) {
                    common_prefixes.push(folder);
                }
            }
        }
        Ok(ListResult {
            common_prefixes,
            objects,
        })
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.shared.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.shared.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;

    /// Counts the requests that reach the wrapped store.
    #[derive(Debug, Default)]
    struct Counts {
        lists: std::sync::atomic::AtomicUsize,
        gets: std::sync::atomic::AtomicUsize,
    }

    #[tokio::test]
    async fn lists_once_and_downloads_once() {
        let remote = Arc::new(InMemory::new());
        for key in [
            "wh/usage/date=2026-11-01/a.parquet",
            "wh/usage/date=2026-11-02/b.parquet",
            "wh/clients/c.parquet",
        ] {
            remote
                .put(&Path::from(key), PutPayload::from(key.as_bytes().to_vec()))
                .await
                .unwrap();
        }
        let counts = Arc::new(Counts::default());
        let counting = Arc::new(Counting {
            inner: remote.clone(),
            counts: Arc::clone(&counts),
        });
        // As the catalog builds it: the snapshot over a read-only store.
        let read_only = Arc::new(crate::catalog::read_only::ReadOnlyStore::new(counting));
        let snapshot = SnapshotStore::new(read_only).unwrap();
        let usage = Path::from("wh/usage");
        for _ in 0..3 {
            assert_eq!(snapshot.list(Some(&usage)).count().await, 2);
        }
        // A partition inside a listed table is served from its listing.
        let day = Path::from("wh/usage/date=2026-11-01");
        assert_eq!(snapshot.list(Some(&day)).count().await, 1);
        let folders = snapshot.list_with_delimiter(Some(&usage)).await.unwrap();
        assert_eq!(folders.common_prefixes.len(), 2);
        assert!(folders.objects.is_empty());
        // `usage` is not a prefix of `usage_other`.
        assert_eq!(
            snapshot
                .list(Some(&Path::from("wh/usage_other")))
                .count()
                .await,
            0
        );
        assert_eq!(counts.lists.load(Ordering::Relaxed), 2);

        let file = Path::from("wh/usage/date=2026-11-01/a.parquet");
        let whole = snapshot.get(&file).await.unwrap().bytes().await.unwrap();
        assert_eq!(whole.as_ref(), b"wh/usage/date=2026-11-01/a.parquet");
        let part = snapshot.get_range(&file, 3..8).await.unwrap();
        assert_eq!(part.as_ref(), b"usage");
        let parts = snapshot.get_ranges(&file, &[0..2, 9..13]).await.unwrap();
        assert_eq!(parts, vec![Bytes::from("wh"), Bytes::from("date")]);
        let head = snapshot.head(&file).await.unwrap();
        assert_eq!(head.size, whole.len() as u64);
        assert_eq!(counts.gets.load(Ordering::Relaxed), 1);

        assert!(
            snapshot
                .put(&file, PutPayload::from_static(b"x"))
                .await
                .is_err()
        );
        assert!(snapshot.delete(&file).await.is_err());
        assert_eq!(remote.list(None).count().await, 3);
    }

    #[derive(Debug)]
    struct Counting {
        inner: Arc<InMemory>,
        counts: Arc<Counts>,
    }

    impl fmt::Display for Counting {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Counting")
        }
    }

    #[async_trait]
    impl ObjectStore for Counting {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            opts: PutOptions,
        ) -> Result<PutResult> {
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }
        async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
            self.counts.gets.fetch_add(1, Ordering::Relaxed);
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, Result<Path>>,
        ) -> BoxStream<'static, Result<Path>> {
            self.inner.delete_stream(locations)
        }
        fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
            self.counts.lists.fetch_add(1, Ordering::Relaxed);
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
            self.counts.lists.fetch_add(1, Ordering::Relaxed);
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
        async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
            self.inner.rename_opts(from, to, options).await
        }
    }
}
