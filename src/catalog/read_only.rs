//! The only way the catalog reaches a warehouse: an object store that can
//! read and list, and refuses every write.
//!
//! A reporting job must never write into what it reads. Rather than trust
//! every code path (a `COPY … TO` slipped into a query, a future feature
//! that caches next to the data), the store DataFusion is given for the
//! warehouse cannot put, copy, rename or delete: the fault is impossible,
//! not merely absent.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};

/// Forwards reads to the wrapped store; every write fails with
/// `PermissionDenied`.
#[derive(Debug)]
pub struct ReadOnlyStore {
    inner: Arc<dyn ObjectStore>,
}

impl ReadOnlyStore {
    pub fn new(inner: Arc<dyn ObjectStore>) -> ReadOnlyStore {
        ReadOnlyStore { inner }
    }
}

impl fmt::Display for ReadOnlyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReadOnly({})", self.inner)
    }
}

fn refused(path: &Path) -> object_store::Error {
    object_store::Error::PermissionDenied {
        path: path.to_string(),
        source: "clientpulse opens every warehouse read-only".into(),
    }
}

#[async_trait]
impl ObjectStore for ReadOnlyStore {
    async fn put_opts(
        &self,
        location: &Path,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> Result<PutResult> {
        Err(refused(location))
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        _opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        Err(refused(location))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        locations
            .map(|location| location.and_then(|path| Err(refused(&path))))
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, _from: &Path, to: &Path, _options: CopyOptions) -> Result<()> {
        Err(refused(to))
    }

    async fn rename_opts(&self, from: &Path, _to: &Path, _options: RenameOptions) -> Result<()> {
        Err(refused(from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    #[tokio::test]
    async fn reads_pass_and_writes_are_refused() {
        let inner = Arc::new(InMemory::new());
        let path = Path::from("clients/part-0.parquet");
        inner
            .put(&path, PutPayload::from_static(b"data"))
            .await
            .expect("seed the store");
        let store = ReadOnlyStore::new(inner.clone());
        let read = store.get(&path).await.expect("read").bytes().await;
        assert_eq!(read.expect("bytes").as_ref(), b"data");
        assert_eq!(store.list(None).count().await, 1);

        let other = Path::from("clients/part-1.parquet");
        let denied = |result: Result<()>| {
            matches!(result, Err(object_store::Error::PermissionDenied { .. }))
        };
        assert!(matches!(
            store.put(&other, PutPayload::from_static(b"x")).await,
            Err(object_store::Error::PermissionDenied { .. })
        ));
        assert!(store.put_multipart(&other).await.is_err());
        assert!(denied(store.delete(&path).await));
        assert!(denied(store.copy(&path, &other).await));
        assert!(denied(store.rename(&path, &other).await));
        // The wrapped store is untouched.
        assert_eq!(inner.list(None).count().await, 1);
        assert!(inner.get(&path).await.is_ok());
    }
}
