//! The object stores of a cluster node (a Ballista scheduler or executor):
//! the warehouse read-only, reached with the node's own environment.
//!
//! A node gets plans that name files by URL (`s3://bucket/key`,
//! `file:///path`), never a store. The first time a bucket is named, the
//! node opens it as `run` would (`AWS_*` variables for the endpoint,
//! region and credentials; see `storage::open`) and keeps it, wrapped in
//! [`ReadOnlyStore`]: a node, like the run that sends it work, can never
//! write where it reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::ObjectStore;
use url::Url;

use super::read_only::ReadOnlyStore;
use crate::storage::{self, Role, S3Settings};

/// Opens each bucket (and the local file system) once, read-only.
#[derive(Debug, Default)]
pub struct NodeStores {
    /// By `scheme://authority`.
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl NodeStores {
    pub fn new() -> NodeStores {
        NodeStores::default()
    }

    fn stores(&self) -> MutexGuard<'_, HashMap<String, Arc<dyn ObjectStore>>> {
        // A map of opened stores stays whole even if a holder panicked.
        self.stores
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn key(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.authority())
}

impl ObjectStoreRegistry for NodeStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        let read_only: Arc<dyn ObjectStore> = Arc::new(ReadOnlyStore::new(store));
        self.stores().insert(key(url), read_only)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.stores()
            .remove(&key(url))
            .ok_or_else(|| DataFusionError::Execution(format!("no object store for {url}")))
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let key = key(url);
        if let Some(store) = self.stores().get(&key) {
            return Ok(Arc::clone(store));
        }
        let root = match url.scheme() {
            "file" => "/".to_string(),
            "s3" | "s3a" => key.clone(),
            scheme => {
                return Err(DataFusionError::Execution(format!(
                    "a clientpulse node reads file:// and s3:// warehouses, not {scheme}://"
                )));
            }
        };
        let place = storage::open(&root, Role::Warehouse, &S3Settings::default())
            .map_err(|error| DataFusionError::Execution(error.to_string()))?;
        let store: Arc<dyn ObjectStore> = Arc::new(ReadOnlyStore::new(place.store));
        // Two tasks may open the same bucket at once: both get the first.
        Ok(Arc::clone(self.stores().entry(key).or_insert(store)))
    }
}
