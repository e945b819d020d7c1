//! Storage: how clientpulse reaches a place named by URL, a local folder or
//! a prefix of an S3-compatible bucket, for the warehouse (read through the
//! catalog), the archive and the demo generator (written whole objects at a
//! time).
//!
//! Only this module and the catalog know `object_store`: this one builds
//! the stores (endpoint, region, addressing, plain HTTP only when asked,
//! time-outs and retries with back-off) and turns their errors into lines
//! that say what failed where; the catalog reads tables through them.
//! Credentials come from the environment only (the standard AWS variables
//! and the provider chain object_store follows), so no secret is ever held
//! in a config, a message or an artefact.

pub mod snapshot;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::buffered::BufWriter;
use object_store::path::Path as StorePath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use thiserror::Error;
use tokio::io::AsyncWriteExt;
use url::Url;

/// How to reach S3-compatible storage: the config's `s3` section over the
/// standard AWS variables. Never holds a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct S3Settings {
    /// Overrides `AWS_ENDPOINT_URL`; `None` for AWS itself.
    pub endpoint: Option<String>,
    /// Overrides `AWS_REGION`.
    pub region: Option<String>,
    /// Overrides `AWS_VIRTUAL_HOSTED_STYLE_REQUEST`.
    pub addressing: Option<Addressing>,
    /// Plain `http://` endpoints; overrides `AWS_ALLOW_HTTP`.
    pub allow_http: Option<bool>,
    /// The longest one request may take, body included.
    pub timeout: Duration,
    /// The longest a connection may take to open.
    pub connect_timeout: Duration,
    /// Retries of a request that failed for a transient reason (5xx, 429,
    /// a reset or timed-out connection), with exponential back-off.
    pub retries: u32,
    /// No retry starts later than this after the first try.
    pub retry_timeout: Duration,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            endpoint: None,
            region: None,
            addressing: None,
            allow_http: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retries: 5,
            retry_timeout: Duration::from_secs(120),
        }
    }
}

/// How a bucket is named in a request's URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Addressing {
    /// `https://endpoint/bucket/key`: MinIO, Ceph, Garage and local servers.
    Path,
    /// `https://bucket.endpoint/key`: AWS's default.
    VirtualHosted,
}

/// What a place is to the run, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Warehouse,
    Archive,
    DemoWarehouse,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Warehouse => "the warehouse",
            Role::Archive => "the archive",
            Role::DemoWarehouse => "the demo warehouse",
        })
    }
}

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("invalid URL for {role} `{url}`: {reason}")]
    InvalidUrl {
        role: Role,
        url: String,
        reason: String,
    },
    #[error(
        "{role} at {url}: the endpoint {endpoint} is plain HTTP; set `s3.allow_http: true` in the config (or AWS_ALLOW_HTTP=true) if that is intended"
    )]
    PlainHttp {
        role: Role,
        url: String,
        endpoint: String,
    },
    #[error("cannot reach {role} at {url} (endpoint {endpoint}): {reason}")]
    Unreachable {
        role: Role,
        url: String,
        endpoint: String,
        reason: String,
    },
    #[error(
        "{role} at {url} refused the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN): {reason}"
    )]
    CredentialsRefused {
        role: Role,
        url: String,
        reason: String,
    },
    #[error("the bucket `{bucket}` of {role} at {url} does not exist at the endpoint {endpoint}")]
    MissingBucket {
        role: Role,
        url: String,
        bucket: String,
        endpoint: String,
    },
    #[error("{role} at {url}: cannot {action} `{key}`: {reason}")]
    Object {
        role: Role,
        url: String,
        action: &'static str,
        key: String,
        reason: String,
    },
}

impl StorageError {
    /// Whether the URL or the settings are wrong (the user's files), as
    /// opposed to the way to the place or the place itself.
    pub fn is_invalid_setting(&self) -> bool {
        matches!(
            self,
            StorageError::InvalidUrl { .. } | StorageError::PlainHttp { .. }
        )
    }

    /// Whether the place could not be reached at all (network, credentials,
    /// bucket), as opposed to one object of it.
    pub fn is_access(&self) -> bool {
        matches!(
            self,
            StorageError::Unreachable { .. }
                | StorageError::CredentialsRefused { .. }
                | StorageError::MissingBucket { .. }
        )
    }
}

/// Whether a store error met while a query read the warehouse is a fault
/// of the way to it (network, credentials, permissions) rather than of
/// the data: the metrics stage asks here, so that only storage and the
/// catalog know object_store.
pub fn is_access_fault(error: &object_store::Error) -> bool {
    matches!(
        error,
        object_store::Error::Generic { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
    )
}

/// A place opened: a store and the prefix inside it that the URL names.
#[derive(Debug, Clone)]
pub struct Place {
    pub role: Role,
    /// The URL as the user gave it, without a trailing slash.
    pub url: String,
    /// `s3://bucket` or `file://`: where a DataFusion session registers
    /// [`Place::store`].
    pub store_url: Url,
    pub store: Arc<dyn ObjectStore>,
    /// The prefix inside the store.
    pub base: StorePath,
    /// The S3 endpoint, for messages; `None` for a local folder.
    pub endpoint: Option<String>,
    /// The bucket; `None` for a local folder.
    pub bucket: Option<String>,
}

/// The local folder of a `file://` or plain-path URL, if it is local.
pub fn local_path(url: &str) -> Option<PathBuf> {
    if url.starts_with("file://") {
        return Url::parse(url).ok()?.to_file_path().ok();
    }
    (!url.contains("://")).then(|| PathBuf::from(url))
}

/// Opens the place `url` names: `s3://bucket/prefix`, `file:///path` or an
/// absolute path. Nothing is requested yet; faults show on first use.
pub fn open(url: &str, role: Role, settings: &S3Settings) -> Result<Place, StorageError> {
    let invalid = |reason: String| StorageError::InvalidUrl {
        role,
        url: url.to_string(),
        reason,
    };
    let parsed = if url.contains("://") {
        Url::parse(url).map_err(|e| invalid(e.to_string()))?
    } else {
        Url::from_directory_path(url)
            .map_err(|()| invalid("a local path must be absolute".to_string()))?
    };
    let trimmed = url.trim_end_matches('/').to_string();
    match parsed.scheme() {
        "file" => {
            let path = parsed
                .to_file_path()
                .map_err(|()| invalid("not a local path".to_string()))?;
            let base = StorePath::from_absolute_path(&path).map_err(|e| invalid(e.to_string()))?;
            Ok(Place {
                role,
                url: trimmed,
                store_url: Url::parse("file://").map_err(|e| invalid(e.to_string()))?,
                store: Arc::new(object_store::local::LocalFileSystem::new()),
                base,
                endpoint: None,
                bucket: None,
            })
        }
        "s3" | "s3a" => {
            let bucket = parsed
                .host_str()
                .filter(|bucket| !bucket.is_empty())
                .ok_or_else(|| invalid("an s3:// URL needs a bucket".to_string()))?
                .to_string();
            let builder = s3_builder(&bucket, settings);
            let endpoint = builder
                .get_config_value(&AmazonS3ConfigKey::Endpoint)
                .unwrap_or_else(|| {
                    let region = builder
                        .get_config_value(&AmazonS3ConfigKey::Region)
                        .unwrap_or_else(|| "us-east-1".to_string());
                    format!("https://s3.{region}.amazonaws.com")
                });
            let allow_http = settings.allow_http.unwrap_or_else(|| {
                std::env::var("AWS_ALLOW_HTTP")
                    .is_ok_and(|value| value.eq_ignore_ascii_case("true"))
            });
            if endpoint.starts_with("http://") && !allow_http {
                return Err(StorageError::PlainHttp {
                    role,
                    url: trimmed,
                    endpoint,
                });
            }
            let store = builder
                .with_allow_http(allow_http)
                .build()
                .map_err(|e| invalid(one_line(&e.to_string())))?;
            let store_url =
                Url::parse(&format!("s3://{bucket}")).map_err(|e| invalid(e.to_string()))?;
            Ok(Place {
                role,
                url: trimmed,
                store_url,
                store: Arc::new(store),
                base: StorePath::from(parsed.path().trim_matches('/')),
                endpoint: Some(endpoint),
                bucket: Some(bucket),
            })
        }
        other => Err(invalid(format!(
            "unsupported scheme `{other}` (a folder, file:// or s3://)"
        ))),
    }
}

/// The S3 client: the standard AWS variables, then the config's settings
/// over them.
fn s3_builder(bucket: &str, settings: &S3Settings) -> AmazonS3Builder {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &settings.region {
        builder = builder.with_region(region);
    }
    if let Some(addressing) = settings.addressing {
        builder =
            builder.with_virtual_hosted_style_request(addressing == Addressing::VirtualHosted);
    }
    let client = ClientOptions::new()
        .with_timeout(settings.timeout)
        .with_connect_timeout(settings.connect_timeout);
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: settings.retries as usize,
        retry_timeout: settings.retry_timeout,
    };
    builder.with_client_options(client).with_retry(retry)
}

impl Place {
    /// The key of `name` (a `/`-separated path) under this place.
    pub fn key(&self, name: &str) -> StorePath {
        let base = self.base.as_ref();
        if base.is_empty() {
            StorePath::from(name)
        } else {
            StorePath::from(format!("{base}/{name}"))
        }
    }

    /// The URL of `name` under this place, for messages.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }

    /// Turns a store error met on `key` into what failed, where.
    pub fn error(
        &self,
        action: &'static str,
        key: &str,
        error: &object_store::Error,
    ) -> StorageError {
        use object_store::Error as E;
        let text = error_chain(error);
        let reason = s3_error_words(&text);
        let role = self.role;
        let url = self.url.clone();
        let endpoint = self.endpoint.clone().unwrap_or_default();
        if let Some(bucket) = self
            .bucket
            .clone()
            .filter(|_| text.contains("NoSuchBucket"))
        {
            return StorageError::MissingBucket {
                role,
                url,
                bucket,
                endpoint,
            };
        }
        match error {
            E::PermissionDenied { .. } | E::Unauthenticated { .. } => {
                StorageError::CredentialsRefused { role, url, reason }
            }
            // The S3 client reports some HTTP refusals as generic errors
            // whose words carry the status.
            E::Generic { .. } if refused_credentials(&text) => {
                StorageError::CredentialsRefused { role, url, reason }
            }
            E::Generic { .. } | E::JoinError { .. } if self.endpoint.is_some() => {
                StorageError::Unreachable {
                    role,
                    url,
                    endpoint,
                    reason,
                }
            }
            _ => StorageError::Object {
                role,
                url,
                action,
                key: key.to_string(),
                reason,
            },
        }
    }

    /// The names (paths relative to the place) of every object under it.
    pub async fn list_names(&self) -> Result<Vec<String>, StorageError> {
        let base = self.base.as_ref().to_string();
        let metas: Vec<object_store::ObjectMeta> =
            match self.store.list(Some(&self.base)).try_collect().await {
                Ok(metas) => metas,
                Err(object_store::Error::NotFound { .. }) => Vec::new(),
                Err(error) => return Err(self.error("list", &base, &error)),
            };
        Ok(metas
            .into_iter()
            .map(|meta| {
                let key = meta.location.as_ref();
                key.strip_prefix(&base)
                    .unwrap_or(key)
                    .trim_start_matches('/')
                    .to_string()
            })
            .collect())
    }

    /// The bytes of `name`, or `None` when there is no such object.
    pub async fn read(&self, name: &str) -> Result<Option<Bytes>, StorageError> {
        let key = self.key(name);
        let fetched = match self.store.get(&key).await {
            Ok(result) => result.bytes().await,
            Err(error) => Err(error),
        };
        match fetched {
            Ok(bytes) => Ok(Some(bytes)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(self.error("read", key.as_ref(), &error)),
        }
    }

    /// Writes `bytes` as `name`, whole: readers see the old object or the
    /// new one, never part of it.
    pub async fn write(&self, name: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let key = self.key(name);
        self.store
            .put(&key, bytes.into())
            .await
            .map(|_| ())
            .map_err(|error| self.error("write", key.as_ref(), &error))
    }

    /// Copies the local file `from` to `name`, streaming: one request for a
    /// small file, a multipart upload (completed or aborted, never left
    /// half-visible) for a large one.
    pub async fn upload(&self, name: &str, from: &Path) -> Result<(), StorageError> {
        let key = self.key(name);
        let failed = |reason: String| StorageError::Object {
            role: self.role,
            url: self.url.clone(),
            action: "upload",
            key: key.to_string(),
            reason,
        };
        let mut file = tokio::fs::File::open(from)
            .await
            .map_err(|e| failed(format!("cannot read {}: {e}", from.display())))?;
        let mut writer = BufWriter::new(Arc::clone(&self.store), key.clone());
        let copied = tokio::io::copy(&mut file, &mut writer).await;
        let finished = match copied {
            Ok(_) => writer.shutdown().await,
            Err(error) => Err(error),
        };
        if let Err(error) = finished {
            let _ = writer.abort().await;
            return Err(failed(one_line(&error.to_string())));
        }
        Ok(())
    }
}

/// An error and its sources, as one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let words = cause.to_string();
        if !text.contains(&words) {
            text.push_str(": ");
            text.push_str(&words);
        }
        source = cause.source();
    }
    one_line(&text)
}

/// Whether a store's message says the server refused who we are.
fn refused_credentials(message: &str) -> bool {
    ["401 Unauthorized", "403 Forbidden"]
        .iter()
        .any(|status| message.contains(status))
}

/// An S3 error body (XML) cut down to its code and message, which say what
/// is wrong; the request id and the XML around them do not.
pub fn s3_error_words(message: &str) -> String {
    let between = |open: &str, close: &str| {
        let start = message.find(open)? + open.len();
        let end = message[start..].find(close)? + start;
        Some(
            message[start..end]
                .trim_start_matches("<![CDATA[")
                .trim_end_matches("]]>")
                .to_string(),
        )
    };
    match (message.find("<?xml"), between("<Code>", "</Code>")) {
        (Some(xml), Some(code)) => {
            let words = between("<Message>", "</Message>").unwrap_or_default();
            format!(
                "{}: {code}: {words}",
                message[..xml].trim_end().trim_end_matches(':')
            )
        }
        _ => message.to_string(),
    }
}

/// Store messages can span lines; a CI log wants one.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_refused_unless_asked() {
        let settings = S3Settings {
            endpoint: Some("http://127.0.0.1:9".to_string()),
            allow_http: Some(false),
            ..S3Settings::default()
        };
        let refused = open("s3://bucket/prefix", Role::Warehouse, &settings);
        assert!(matches!(refused, Err(StorageError::PlainHttp { .. })));
        let allowed = S3Settings {
            allow_http: Some(true),
            ..settings
        };
        let place = open("s3://bucket/prefix/", Role::Warehouse, &allowed).expect("opens");
        assert_eq!(place.url, "s3://bucket/prefix");
        assert_eq!(
            place.key("clients/a.parquet").as_ref(),
            "prefix/clients/a.parquet"
        );
        assert_eq!(place.endpoint.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn s3_error_bodies_shrink_to_code_and_message() {
        let body = "Client error with status 403 Forbidden: <?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code><Message>The key is wrong</Message><RequestId>1</RequestId></Error>";
        assert_eq!(
            s3_error_words(body),
            "Client error with status 403 Forbidden: InvalidAccessKeyId: The key is wrong"
        );
    }

    #[test]
    fn urls_without_a_bucket_or_with_other_schemes_are_refused() {
        let settings = S3Settings::default();
        assert!(open("s3:///prefix", Role::Archive, &settings).is_err());
        assert!(open("gs://bucket", Role::Archive, &settings).is_err());
        assert!(open("relative/path", Role::Archive, &settings).is_err());
    }
}
