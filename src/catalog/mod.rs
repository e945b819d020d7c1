//! Stage 2, the warehouse catalog: finds the warehouse's tables (on disk or
//! in an S3-compatible bucket), checks them against the contract of
//! `warehouse.md`, and registers them in a DataFusion session.
//!
//! Only this module knows `object_store`. Everything after it sees tables
//! by name through the session, so the same queries run on a local folder,
//! a bucket, or a Ballista cluster (whose nodes open the warehouse with
//! [`node_stores`]).
//!
//! The warehouse is opened read-only: the store registered in the session
//! is a [`read_only::ReadOnlyStore`], so no query, plan or later feature
//! can create, replace or delete anything under a warehouse root.

#[cfg(feature = "ballista")]
pub mod node_stores;
pub mod partitions;
pub mod read_only;
pub mod spilled;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::JoinType;
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{Expr, SessionContext, cast, col, ident, lit};
use futures::TryStreamExt;
use object_store::ObjectStore;
use thiserror::Error;

use crate::fault::Fault;
use crate::storage::snapshot::SnapshotStore;
use crate::storage::{self, Place, Role, S3Settings, StorageError};
use read_only::ReadOnlyStore;

#[derive(Debug, Error)]
pub enum CatalogError {
    /// The root, the way to it, or the bucket: see [`StorageError`].
    #[error("{0}")]
    Storage(StorageError),
    #[error(
        "nothing at all under the warehouse root {root}{endpoint}: is the root (or its prefix) right, and has the export run?"
    )]
    EmptyRoot { root: String, endpoint: String },
    #[error("warehouse table `{table}` not found: no Parquet file under {location}{needed_by}")]
    MissingTable {
        table: String,
        location: String,
        needed_by: NeededBy,
    },
    #[error("warehouse table `{table}` has no column `{column}` ({location}){needed_by}")]
    MissingColumn {
        table: String,
        column: String,
        location: String,
        needed_by: NeededBy,
    },
    #[error(
        "warehouse table `{table}` column `{column}` is {found}, but warehouse.md wants {wanted} ({location})"
    )]
    WrongType {
        table: String,
        column: String,
        found: String,
        wanted: ColumnKind,
        location: String,
    },
    #[error("cannot read warehouse table `{table}` at {location}: {reason}")]
    Unreadable {
        table: String,
        location: String,
        reason: String,
    },
    /// The way to the warehouse failed (network, credentials) while a
    /// table was read where the catalog has no [`Place`] to name it by
    /// (splitting it among segments or books, listing segments): the
    /// warehouse's access, as a metric's query meeting it is (exit 5), not
    /// its data.
    #[error("cannot reach the warehouse reading table `{table}` at {location}: {reason}")]
    Unreachable {
        table: String,
        location: String,
        reason: String,
    },
    /// Reading a table (splitting it among segments or books, say) did
    /// not fit in `engine.memory_limit`: the run's fault, not the data's
    /// (exit 1).
    #[error(
        "warehouse table `{table}` at {location} did not fit in the memory engine.memory_limit allows (raise it): {reason}"
    )]
    OutOfMemory {
        table: String,
        location: String,
        reason: String,
    },
}

impl CatalogError {
    /// Whose fault it is: the config that points at the warehouse, the
    /// warehouse's data, or the way to it (network, credentials, bucket).
    pub fn fault(&self) -> Fault {
        match self {
            CatalogError::Storage(error) if error.is_invalid_setting() => Fault::Input,
            CatalogError::Storage(error) if error.is_access() => Fault::WarehouseAccess,
            CatalogError::Unreachable { .. } => Fault::WarehouseAccess,
            CatalogError::OutOfMemory { .. } => Fault::Internal,
            CatalogError::MissingTable { table, .. }
                if !CONTRACT.iter().any(|t| t.name == table.as_str()) =>
            {
                // Not a table of warehouse.md: the query that names it is
                // at fault (a typo, or a table this warehouse lacks).
                Fault::Input
            }
            _ => Fault::Data,
        }
    }

    /// An object store error met while reading `table` of `place`: the way
    /// to the warehouse (network, credentials, bucket) or the table itself.
    fn from_store(place: &Place, table: &str, location: &str, error: &object_store::Error) -> Self {
        match place.error("read", location, error) {
            error if error.is_access() => CatalogError::Storage(error),
            _ => CatalogError::Unreadable {
                table: table.to_string(),
                location: location.to_string(),
                reason: storage::one_line(&error.to_string()),
            },
        }
    }

    /// A DataFusion error met while reading `table`, sorted like
    /// [`CatalogError::from_store`] when an object store error caused it
    /// (without `place`, as [`storage::is_access_fault`] sorts a metric's).
    fn from_datafusion(
        place: Option<&Place>,
        table: &str,
        location: &str,
        error: &datafusion::error::DataFusionError,
    ) -> Self {
        use datafusion::error::DataFusionError;
        let root = error.find_root();
        if let (DataFusionError::ObjectStore(store), Some(place)) = (root, place) {
            return CatalogError::from_store(place, table, location, store);
        }
        let (table, location) = (table.to_string(), location.to_string());
        let reason = without_repeated_prefix(&storage::one_line(&error.to_string())).to_string();
        match root {
            DataFusionError::ObjectStore(store) if storage::is_access_fault(store) => {
                CatalogError::Unreachable {
                    table,
                    location,
                    reason,
                }
            }
            // Out of memory is the run's fault, not the table's.
            DataFusionError::ResourcesExhausted(_) => CatalogError::OutOfMemory {
                table,
                location,
                reason,
            },
            _ => CatalogError::Unreadable {
                table,
                location,
                reason,
            },
        }
    }
}

/// `text` without a leading `Kind: ` said twice: DataFusion's error and
/// the Parquet error it wraps each name their kind ("Parquet error:
/// Parquet error: Invalid Parquet file").
fn without_repeated_prefix(text: &str) -> &str {
    let mut text = text;
    while let Some(at) = text.find(": ") {
        let (prefix, rest) = text.split_at(at + 2);
        if !rest.starts_with(prefix) {
            break;
        }
        text = rest;
    }
    text
}

/// The query files that need a table, for error messages.
#[derive(Debug, Clone, Default)]
pub struct NeededBy(pub Vec<String>);

impl fmt::Display for NeededBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.0.is_empty() {
            write!(f, "; needed by {}", self.0.join(", "))?;
        }
        Ok(())
    }
}

/// What a contract column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Integer,
    /// DECIMAL or floating point.
    Number,
    Timestamp,
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnKind::Text => "a string",
            ColumnKind::Integer => "an integer",
            ColumnKind::Number => "a number (DECIMAL(18,2) or DOUBLE)",
            ColumnKind::Timestamp => "a TIMESTAMP",
        })
    }
}

impl ColumnKind {
    fn accepts(self, data_type: &DataType) -> bool {
        let data_type = match data_type {
            DataType::Dictionary(_, value) => value.as_ref(),
            other => other,
        };
        match self {
            ColumnKind::Text => matches!(
                data_type,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            ),
            ColumnKind::Integer => data_type.is_integer(),
            ColumnKind::Number => data_type.is_numeric(),
            ColumnKind::Timestamp => matches!(data_type, DataType::Timestamp(_, _)),
        }
    }
}

/// One table of the warehouse contract.
pub struct ContractTable {
    pub name: &'static str,
    pub columns: &'static [(&'static str, ColumnKind)],
}

use ColumnKind::{Integer, Number, Text, Timestamp};

/// The tables of `warehouse.md`. Extra columns are allowed and ignored.
pub const CONTRACT: &[ContractTable] = &[
    ContractTable {
        name: "clients",
        columns: &[
            ("client_id", Text),
            ("name", Text),
            ("segment", Text),
            ("region", Text),
            ("account_manager", Text),
            ("created_at", Timestamp),
        ],
    },
    ContractTable {
        name: "subscriptions",
        columns: &[
            ("subscription_id", Text),
            ("client_id", Text),
            ("plan", Text),
            ("amount", Number),
            ("currency", Text),
            ("billing_period_months", Integer),
            ("discount_pct", Number),
            ("started_at", Timestamp),
            ("ended_at", Timestamp),
        ],
    },
    ContractTable {
        name: "orders",
        columns: &[
            ("order_id", Text),
            ("client_id", Text),
            ("ordered_at", Timestamp),
            ("amount", Number),
            ("currency", Text),
        ],
    },
    ContractTable {
        name: "survey_responses",
        columns: &[
            ("response_id", Text),
            ("client_id", Text),
            ("respondent_id", Text),
            ("survey", Text),
            ("score", Integer),
            ("scale_max", Integer),
            ("comment", Text),
            ("touchpoint", Text),
            ("responded_at", Timestamp),
        ],
    },
    ContractTable {
        name: "tickets",
        columns: &[
            ("ticket_id", Text),
            ("client_id", Text),
            ("priority", Text),
            ("opened_at", Timestamp),
            ("first_response_at", Timestamp),
            ("resolved_at", Timestamp),
        ],
    },
    ContractTable {
        name: "projects",
        columns: &[
            ("project_id", Text),
            ("client_id", Text),
            ("name", Text),
            ("due_at", Timestamp),
            ("completed_at", Timestamp),
        ],
    },
    ContractTable {
        name: "onboarding",
        columns: &[
            ("client_id", Text),
            ("started_at", Timestamp),
            ("completed_at", Timestamp),
            ("target_days", Integer),
        ],
    },
    ContractTable {
        name: "usage_events",
        columns: &[
            ("client_id", Text),
            ("user_id", Text),
            ("feature", Text),
            ("occurred_at", Timestamp),
        ],
    },
];

/// The event-time column of each contract table that a `date=` partition
/// folder stands for, and that the data gate's freshness is measured by.
pub const EVENT_TIME: &[(&str, &str)] = &[
    ("usage_events", "occurred_at"),
    ("orders", "ordered_at"),
    ("survey_responses", "responded_at"),
    ("tickets", "opened_at"),
];

/// A warehouse root whose object store is registered in a session.
pub struct Warehouse {
    /// Where the warehouse is and how it is reached; its URL never holds
    /// secrets (credentials come from the environment).
    place: Place,
    /// What the session reads through: read-only, and for a remote root a
    /// snapshot that lists each table once and fetches each file once.
    store: Arc<dyn ObjectStore>,
}

impl Warehouse {
    /// Resolves the root and registers its object store with `ctx`.
    /// `root` is `s3://bucket/prefix`, `file:///path` or an absolute path.
    pub fn open(
        ctx: &SessionContext,
        root: &str,
        s3: &S3Settings,
    ) -> Result<Warehouse, CatalogError> {
        let place = storage::open(root, Role::Warehouse, s3).map_err(CatalogError::Storage)?;
        let read_only: Arc<dyn ObjectStore> =
            Arc::new(ReadOnlyStore::new(Arc::clone(&place.store)));
        let store: Arc<dyn ObjectStore> = if place.bucket.is_some() {
            let snapshot = SnapshotStore::new(read_only).map_err(|error| {
                CatalogError::Storage(StorageError::Object {
                    role: Role::Warehouse,
                    url: place.url.clone(),
                    action: "make a local snapshot folder for",
                    key: std::env::temp_dir().display().to_string(),
                    reason: error.to_string(),
                })
            })?;
            Arc::new(snapshot)
        } else {
            read_only
        };
        ctx.register_object_store(&place.store_url, Arc::clone(&store));
        Ok(Warehouse { place, store })
    }

    /// The root as the user gave it, for messages.
    pub fn root(&self) -> &str {
        &self.place.url
    }

    fn table_location(&self, table: &str) -> String {
        self.place.url_of(&format!("{table}/"))
    }

    /// Registers each of `tables` (with the queries that need them), after
    /// checking each against the contract. Every problem is returned.
    pub async fn register_tables(
        &self,
        ctx: &SessionContext,
        tables: &[(String, NeededBy)],
    ) -> Result<(), Vec<CatalogError>> {
        let mut problems = Vec::new();
        for (table, needed_by) in tables {
            if let Err(mut errors) = self.register_table(ctx, table, needed_by).await {
                // A warehouse that cannot be reached fails the same way for
                // every table: one line, at once, rather than one per table.
                if let Some(access) = errors
                    .iter()
                    .position(|e| e.fault() == Fault::WarehouseAccess)
                {
                    return Err(vec![errors.swap_remove(access)]);
                }
                problems.append(&mut errors);
            }
        }
        let all_missing = !tables.is_empty()
            && problems.len() == tables.len()
            && problems
                .iter()
                .all(|problem| matches!(problem, CatalogError::MissingTable { .. }));
        if all_missing && self.is_empty().await {
            // A wrong prefix (or an export that never ran): one line, not
            // one per table.
            return Err(vec![CatalogError::EmptyRoot {
                root: self.place.url.clone(),
                endpoint: self
                    .place
                    .endpoint
                    .as_ref()
                    .map(|endpoint| format!(" (endpoint {endpoint})"))
                    .unwrap_or_default(),
            }]);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Whether nothing at all is under the root.
    async fn is_empty(&self) -> bool {
        let base = (!self.place.base.as_ref().is_empty()).then_some(&self.place.base);
        match self.place.store.list_with_delimiter(base).await {
            Ok(listing) => listing.objects.is_empty() && listing.common_prefixes.is_empty(),
            Err(object_store::Error::NotFound { .. }) => true,
            Err(_) => false,
        }
    }

    async fn register_table(
        &self,
        ctx: &SessionContext,
        table: &str,
        needed_by: &NeededBy,
    ) -> Result<(), Vec<CatalogError>> {
        let location = self.table_location(table);
        let unreadable = |error: datafusion::error::DataFusionError| {
            vec![CatalogError::from_datafusion(
                Some(&self.place),
                table,
                &location,
                &error,
            )]
        };
        // Look before registering: DataFusion would report a missing table
        // as an empty schema or an IO error deep in planning, and would
        // skip a zero-byte file (a broken export) without a word.
        let prefix = self.place.key(table);
        let mut files: Vec<object_store::ObjectMeta> = match self
            .store
            .list(Some(&prefix))
            .try_filter(|meta| futures::future::ready(meta.location.as_ref().ends_with(".parquet")))
            .try_collect()
            .await
        {
            Ok(files) => files,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(error) => {
                return Err(vec![CatalogError::from_store(
                    &self.place,
                    table,
                    &location,
                    &error,
                )]);
            }
        };
        // In name order, so that every message about them is the same run
        // to run.
        files.sort_by(|a, b| a.location.cmp(&b.location));
        if files.is_empty() {
            return Err(vec![CatalogError::MissingTable {
                table: table.to_string(),
                location,
                needed_by: needed_by.clone(),
            }]);
        }
        let empty: Vec<String> = files
            .iter()
            .filter(|file| file.size == 0)
            .map(|file| file.location.filename().unwrap_or_default().to_string())
            .collect();
        if !empty.is_empty() {
            return Err(vec![CatalogError::Unreadable {
                table: table.to_string(),
                location: location.clone(),
                reason: format!(
                    "{} is empty (0 bytes): a broken export? Remove it or export again",
                    empty.join(", ")
                ),
            }]);
        }

        let store_url = self.place.store_url.as_str();
        let separator = if store_url.ends_with('/') { "" } else { "/" };
        let table_url = ListingTableUrl::parse(format!("{store_url}{separator}{prefix}/"))
            .map_err(unreadable)?;
        let state = ctx.state();
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        // Hive-style folders (`date=2026-11-20/`) become string columns.
        let partitions: Vec<String> = options
            .infer_partitions(&state, &table_url)
            .await
            .map_err(unreadable)?;
        let by_date = partitions.iter().any(|p| p == partitions::DATE_PARTITION);
        let options = options.with_table_partition_cols(
            partitions
                .into_iter()
                .map(|name| (name, DataType::Utf8))
                .collect(),
        );
        let schema = match options.infer_schema(&state, &table_url).await {
            Ok(schema) => schema,
            Err(error) => {
                // DataFusion's error names no file: find the ones at fault.
                let at_fault = self
                    .files_at_fault(&state, &table_url, table, &files)
                    .await
                    .unwrap_or_default();
                return Err(if at_fault.is_empty() {
                    unreadable(error)
                } else {
                    at_fault
                });
            }
        };
        check_contract(table, &location, &schema, needed_by)?;
        if files.len() > 1 {
            // The schema is every file's together: a file without a column
            // the others have would be read as NULLs in it, silently or as
            // an error that names no file.
            let mut problems = Vec::new();
            for (file, schema) in self.file_schemas(&state, &table_url, &files).await {
                match schema {
                    Ok(schema) => {
                        if let Err(mut found) = check_contract(table, &file, &schema, needed_by) {
                            problems.append(&mut found);
                        }
                    }
                    Err(error) => problems.push(CatalogError::from_datafusion(
                        Some(&self.place),
                        table,
                        &file,
                        &error,
                    )),
                }
            }
            if !problems.is_empty() {
                return Err(problems);
            }
        }
        let config = ListingTableConfig::new(table_url)
            .with_listing_options(options)
            .with_schema(schema);
        let listing: Arc<dyn TableProvider> =
            Arc::new(ListingTable::try_new(config).map_err(unreadable)?);
        let event_time = EVENT_TIME.iter().find(|(name, _)| *name == table);
        let provider = match event_time {
            Some((_, column)) if by_date => {
                Arc::new(partitions::DatePartitionedTable::new(listing, column))
            }
            _ => listing,
        };
        ctx.register_table(table, provider).map_err(unreadable)?;
        Ok(())
    }
}

impl Warehouse {
    /// A file's URL as the user would write it, under the root they gave.
    fn file_url(&self, file: &object_store::ObjectMeta) -> String {
        let path = file.location.as_ref();
        let base = self.place.base.as_ref();
        let relative = if base.is_empty() {
            path
        } else {
            path.strip_prefix(base)
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(path)
        };
        self.place.url_of(relative)
    }

    /// Each of `files`' own schema, read from its footer (served again by
    /// the snapshot, for a remote warehouse), with its URL, in order.
    async fn file_schemas(
        &self,
        state: &datafusion::execution::SessionState,
        table_url: &ListingTableUrl,
        files: &[object_store::ObjectMeta],
    ) -> Vec<(String, datafusion::error::Result<SchemaRef>)> {
        use datafusion::datasource::file_format::FileFormat;
        use futures::StreamExt;
        let store = match state.runtime_env().object_store(table_url) {
            Ok(store) => store,
            Err(error) => {
                let shared = Arc::new(error);
                return files
                    .iter()
                    .map(|file| {
                        let error = datafusion::error::DataFusionError::Shared(Arc::clone(&shared));
                        (self.file_url(file), Err(error))
                    })
                    .collect();
            }
        };
        let format = ParquetFormat::default();
        futures::stream::iter(files)
            .map(|file| {
                let (store, format) = (&store, &format);
                async move {
                    let schema = format
                        .infer_schema(state, store, std::slice::from_ref(file))
                        .await;
                    (self.file_url(file), schema)
                }
            })
            .buffered(16)
            .collect()
            .await
    }

    /// Where the files' schemas would not merge into one: each file that
    /// cannot be read on its own (a broken footer), or else each column
    /// whose type differs from one file to another, naming both files.
    /// `None` when neither explains it.
    async fn files_at_fault(
        &self,
        state: &datafusion::execution::SessionState,
        table_url: &ListingTableUrl,
        table: &str,
        files: &[object_store::ObjectMeta],
    ) -> Option<Vec<CatalogError>> {
        let schemas = self.file_schemas(state, table_url, files).await;
        let mut problems: Vec<CatalogError> = schemas
            .iter()
            .filter_map(|(file, schema)| {
                let error = schema.as_ref().err()?;
                Some(CatalogError::from_datafusion(
                    Some(&self.place),
                    table,
                    file,
                    error,
                ))
            })
            .collect();
        if !problems.is_empty() {
            return Some(problems);
        }
        // Each column's first type, and the file it came from.
        let mut first: std::collections::BTreeMap<String, (DataType, &str)> = Default::default();
        for (file, schema) in &schemas {
            let Ok(schema) = schema else { continue };
            for field in schema.fields() {
                match first.get(field.name()) {
                    None => {
                        first.insert(field.name().clone(), (field.data_type().clone(), file));
                    }
                    Some((kind, other)) if kind != field.data_type() => {
                        problems.push(CatalogError::Unreadable {
                            table: table.to_string(),
                            location: file.clone(),
                            reason: format!(
                                "column `{}` is {} in this file but {kind} in {other}: export every file of a table with the same types",
                                field.name(),
                                field.data_type()
                            ),
                        });
                    }
                    Some(_) => {}
                }
            }
        }
        (!problems.is_empty()).then_some(problems)
    }
}

/// A value of a client column that splits clients into segments; `None`
/// is the segment of clients with no value.
pub type SegmentValue = Option<String>;

/// The distinct values of `column` in `clients`, sorted, NULL last.
pub async fn segment_values(
    ctx: &SessionContext,
    column: &str,
) -> Result<Vec<SegmentValue>, CatalogError> {
    let location = format!("column `{column}`");
    let unreadable = |error: datafusion::error::DataFusionError| {
        CatalogError::from_datafusion(None, "clients", &location, &error)
    };
    let clients = ctx.table("clients").await.map_err(unreadable)?;
    if clients
        .schema()
        .field_with_unqualified_name(column)
        .is_err()
    {
        return Err(CatalogError::MissingColumn {
            table: "clients".to_string(),
            column: column.to_string(),
            location: "the warehouse".to_string(),
            needed_by: NeededBy(vec!["reporting.breakdowns".to_string()]),
        });
    }
    let batches = clients
        .select(vec![cast(ident(column), DataType::Utf8).alias("value")])
        .and_then(|frame| frame.distinct())
        .map_err(unreadable)?
        .collect()
        .await
        .map_err(unreadable)?;
    let mut values: Vec<SegmentValue> = Vec::new();
    for batch in &batches {
        let column = batch.column(0).as_string::<i32>();
        for row in 0..column.len() {
            values.push(column.is_valid(row).then(|| column.value(row).to_string()));
        }
    }
    values.sort_by(|a, b| match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(a), Some(b)) => a.cmp(b),
    });
    Ok(values)
}

/// The segment values of every breakdown column, together: every column
/// clients lack is an error.
pub async fn all_segments(
    ctx: &SessionContext,
    breakdowns: &[String],
) -> Result<BTreeSet<String>, Vec<CatalogError>> {
    let mut segments = BTreeSet::new();
    let mut missing = Vec::new();
    for dimension in breakdowns {
        match segment_values(ctx, dimension).await {
            Ok(values) => segments.extend(values.into_iter().flatten()),
            Err(error) => missing.push(error),
        }
    }
    if missing.is_empty() {
        Ok(segments)
    } else {
        Err(missing)
    }
}

/// The column a table's rows carry, while they are split into slices, of
/// their client's value; and the client column they are joined on. Never
/// in a slice: the split drops them.
const SLICE_KEY: &str = "__clientpulse_slice_key";
const SLICE_CLIENT: &str = "__clientpulse_slice_client_id";

/// Registers in each session of `slices` each of `tables` of `base`,
/// restricted to the clients whose `column` holds the slice's value:
/// every query then computes its metric over that segment exactly as it
/// does over all clients. The values are expression literals, never SQL
/// text.
///
/// Each table is read once for all the slices: its rows are joined to
/// their client's value and split among the slices, each kept in memory
/// while it fits in what is left of the slice's own `memory_bytes` (see
/// [`split_in_memory`]); a slice that does not fit stays a view over the
/// warehouse. One query per table and slice read each table once per
/// slice: three times for the segments, five for the books, and a third
/// of the segments' time at scale 160 went to making their slices.
pub async fn register_slices(
    base: &SessionContext,
    slices: &[(SessionContext, SegmentValue)],
    tables: &BTreeSet<String>,
    column: &str,
    memory_bytes: usize,
) -> Result<(), CatalogError> {
    let location = format!("the segments of {column}");
    let failed = |table: &str, error: datafusion::error::DataFusionError| {
        CatalogError::from_datafusion(None, table, &location, &error)
    };
    let value_of_client = cast(ident(column), DataType::Utf8);
    let clients = base
        .table("clients")
        .await
        .map_err(|e| failed("clients", e))?;
    // Each (client, value) once: the rows of a client listed with two
    // values go to both slices, as a semi-join per slice took them.
    let keys = clients
        .clone()
        .select(vec![
            col("client_id").alias(SLICE_CLIENT),
            value_of_client.clone().alias(SLICE_KEY),
        ])
        .and_then(|frame| frame.distinct())
        .map_err(|e| failed("clients", e))?;
    let values: Vec<&SegmentValue> = slices.iter().map(|(_, value)| value).collect();
    let mut rooms = vec![memory_bytes; slices.len()];
    for table in tables {
        let whole = if table == "clients" {
            Ok(clients.clone())
        } else {
            base.table(table.as_str()).await
        }
        .map_err(|e| failed(table, e))?;
        let own = whole.schema().inner().clone();
        let keyed = if table == "clients" {
            whole.with_column(SLICE_KEY, value_of_client.clone())
        } else {
            // The clients' keys on the left, held by the hash join
            // (`in_written_order`).
            let mut columns: Vec<Expr> = own
                .fields()
                .iter()
                .map(|field| ident(field.name()))
                .collect();
            columns.push(col(SLICE_KEY));
            keys.clone()
                .join(
                    whole,
                    JoinType::Inner,
                    &[SLICE_CLIENT],
                    &["client_id"],
                    None,
                )
                .and_then(|joined| joined.select(columns))
                .map(in_written_order)
        }
        .map_err(|e| failed(table, e))?;
        let held = split_in_memory(own, keyed, &values, &mut rooms)
            .await
            .map_err(|e| failed(table, e))?;
        for ((target, value), held) in slices.iter().zip(held) {
            let provider = match held {
                Some(memory) => memory,
                None => restricted(base, &clients, table, column, value)
                    .await
                    .map_err(|e| failed(table, e))?
                    .into_view(),
            };
            target
                .register_table(table.as_str(), provider)
                .map_err(|e| failed(table, e))?;
        }
    }
    Ok(())
}

/// `table` of `base` restricted to the clients whose `column` is `value`:
/// the view a slice that does not fit in memory stays.
async fn restricted(
    base: &SessionContext,
    clients: &datafusion::dataframe::DataFrame,
    table: &str,
    column: &str,
    value: &SegmentValue,
) -> datafusion::error::Result<datafusion::dataframe::DataFrame> {
    let in_segment = match value {
        Some(value) => cast(ident(column), DataType::Utf8).eq(lit(value.clone())),
        None => ident(column).is_null(),
    };
    let members = clients.clone().filter(in_segment)?;
    if table == "clients" {
        return Ok(members);
    }
    // The segment's clients on the left, the side a hash join holds
    // (a view is planned in the querying session, whose optimiser may
    // still swap the sides by their statistics).
    members
        .select(vec![col("client_id").alias("segment_client_id")])?
        .join(
            base.table(table).await?,
            JoinType::RightSemi,
            &["segment_client_id"],
            &["client_id"],
            None,
        )
}

/// `frame` with its joins' sides as written: the clients on the left,
/// which a hash join holds whole. The optimiser would swap them by the
/// tables' statistics, and a distinct of the clients has none, so it held
/// the other side: a table that went to disk for want of memory
/// (client_uses at demo scale 1600 under a 136 MiB limit) then took the
/// whole pool, which cannot spill.
fn in_written_order(frame: datafusion::dataframe::DataFrame) -> datafusion::dataframe::DataFrame {
    let (mut state, plan) = frame.into_parts();
    state.config_mut().options_mut().optimizer.join_reordering = false;
    datafusion::dataframe::DataFrame::new(state, plan)
}

/// Splits the rows of `keyed` (a table's own columns, `own`, then
/// [`SLICE_KEY`]) among `values`, one slice each, each read into memory
/// while it fits in its `rooms` left (which it then takes): every query
/// of the segment (a book runs each of its metrics for twelve weeks, and
/// the at-risk query reads some tables five times) then reads it there
/// instead of joining the whole table with the segment's clients again.
/// `None` for a slice that does not fit, which stays a view, so memory
/// stays bounded by the config whatever the warehouse's size. With no
/// room at all (a cluster run, where a table in this process cannot
/// travel), not even an empty slice is held. Reading stops once no slice
/// fits.
async fn split_in_memory(
    own: SchemaRef,
    keyed: datafusion::dataframe::DataFrame,
    values: &[&SegmentValue],
    rooms: &mut [usize],
) -> datafusion::error::Result<Vec<Option<Arc<dyn TableProvider>>>> {
    use datafusion::arrow::array::StringArray;
    use datafusion::arrow::compute::kernels::cmp::eq;
    use datafusion::arrow::compute::{filter_record_batch, is_null};
    let mut filling: Vec<Filling> = rooms.iter().map(|room| Filling::new(*room)).collect();
    if filling.iter().any(Filling::fits) {
        let mut stream = keyed.execute_stream().await?;
        while let Some(batch) = stream.try_next().await? {
            let (Some(keys), Some(columns)) = (
                batch.column_by_name(SLICE_KEY),
                batch.columns().get(..own.fields().len()),
            ) else {
                return datafusion::common::internal_err!(
                    "a table's rows came without their client's value"
                );
            };
            let rows = RecordBatch::try_new(Arc::clone(&own), columns.to_vec())?;
            for (slice, value) in filling.iter_mut().zip(values) {
                if !slice.fits() {
                    continue;
                }
                let in_slice = match value {
                    Some(value) => eq(keys, &StringArray::new_scalar(value.as_str()))?,
                    None => is_null(keys)?,
                };
                slice.push(filter_record_batch(&rows, &in_slice)?);
            }
            if !filling.iter().any(Filling::fits) {
                break;
            }
        }
    }
    let mut slices = Vec::with_capacity(values.len());
    for (slice, room) in filling.into_iter().zip(rooms.iter_mut()) {
        slices.push(match slice.batches {
            Some(batches) => {
                *room -= slice.held.bytes();
                let table =
                    datafusion::datasource::MemTable::try_new(Arc::clone(&own), vec![batches])?;
                Some(Arc::new(table) as Arc<dyn TableProvider>)
            }
            None => None,
        });
    }
    Ok(slices)
}

/// One slice of a table being read into memory: its rows while they fit
/// in the room it was given, and `None` from the batch that did not (the
/// slice then stays a view, and what it had read is let go at once).
struct Filling {
    room: usize,
    held: HeldBytes,
    batches: Option<Vec<RecordBatch>>,
}

impl Filling {
    /// With no room, nothing is held, not even an empty slice.
    fn new(room: usize) -> Self {
        let batches = (room > 0).then(Vec::new);
        Filling {
            room,
            held: HeldBytes::default(),
            batches,
        }
    }

    fn fits(&self) -> bool {
        self.batches.is_some()
    }

    fn push(&mut self, batch: RecordBatch) {
        if self.held.add(&batch) > self.room {
            self.batches = None;
        } else if let Some(batches) = &mut self.batches {
            batches.push(batch);
        }
    }
}

/// The memory batches held together take: each allocation counted once.
/// A batch's own `get_array_memory_size` counts every buffer it points
/// into whole, and the batches of an aggregation are slices of a few
/// large arrays, so summing it counted them many times over (a 100 MiB
/// table of users' days came to several GiB).
#[derive(Debug, Default)]
pub struct HeldBytes {
    seen: std::collections::HashSet<usize>,
    bytes: usize,
}

impl HeldBytes {
    /// Counts `batch`'s allocations not counted yet; returns the total.
    pub fn add(&mut self, batch: &RecordBatch) -> usize {
        for column in batch.columns() {
            self.add_data(&column.to_data());
        }
        self.bytes
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn add_data(&mut self, data: &datafusion::arrow::array::ArrayData) {
        let nulls = data.nulls().map(|nulls| nulls.buffer());
        for buffer in data.buffers().iter().chain(nulls) {
            if self.seen.insert(buffer.data_ptr().as_ptr() as usize) {
                self.bytes += buffer.capacity();
            }
        }
        for child in data.child_data() {
            self.add_data(child);
        }
    }
}

/// Compares a table's schema with the contract's columns for it.
fn check_contract(
    table: &str,
    location: &str,
    schema: &SchemaRef,
    needed_by: &NeededBy,
) -> Result<(), Vec<CatalogError>> {
    let Some(contract) = CONTRACT.iter().find(|t| t.name == table) else {
        return Ok(()); // a table of the data team's own: no contract to hold
    };
    let mut problems = Vec::new();
    for (column, kind) in contract.columns {
        match schema.field_with_name(column) {
            Err(_) => problems.push(CatalogError::MissingColumn {
                table: table.to_string(),
                column: column.to_string(),
                location: location.to_string(),
                needed_by: needed_by.clone(),
            }),
            Ok(field) if !kind.accepts(field.data_type()) => {
                problems.push(CatalogError::WrongType {
                    table: table.to_string(),
                    column: column.to_string(),
                    found: field.data_type().to_string(),
                    wanted: *kind,
                    location: location.to_string(),
                })
            }
            Ok(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Rows each table gave an executed plan, by table name, after pruning
/// (files, row groups, pages): what the query actually read. A table's
/// name is its folder in the warehouse (the path segment before the file
/// and any `column=value` partition folders); a segment's slice held in
/// memory counts as `(in memory)`. Run after the plan has been executed.
pub fn rows_read(
    plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
) -> std::collections::BTreeMap<String, u64> {
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::datasource::physical_plan::FileScanConfig;
    use datafusion::datasource::source::DataSourceExec;

    let mut rows = std::collections::BTreeMap::new();
    let mut pending = vec![Arc::clone(plan)];
    while let Some(node) = pending.pop() {
        pending.extend(node.children().into_iter().cloned());
        let Some(source) = node.downcast_ref::<DataSourceExec>() else {
            continue;
        };
        let source = source.data_source();
        let (table, read) = if let Some(files) = source.downcast_ref::<FileScanConfig>() {
            let read = node
                .metrics()
                .and_then(|metrics| metrics.output_rows())
                .unwrap_or(0) as u64;
            let table = files
                .file_groups
                .iter()
                .flat_map(|group| group.files())
                .find_map(|file| table_of(&file.object_meta.location))
                .unwrap_or_else(|| "(files)".to_string());
            (table, read)
        } else if let Some(memory) = source.downcast_ref::<MemorySourceConfig>() {
            // A memory scan keeps no row count: it reads all it holds.
            let held = memory.partitions().iter().flatten();
            let rows: usize = held.map(|batch| batch.num_rows()).sum();
            ("(in memory)".to_string(), rows as u64)
        } else {
            continue;
        };
        *rows.entry(table).or_insert(0) += read;
    }
    rows
}

/// The table a warehouse file belongs to: its folder, above any
/// `column=value` partition folders.
fn table_of(location: &object_store::path::Path) -> Option<String> {
    let parts: Vec<_> = location.parts().collect();
    let folders = parts.split_last().map(|(_, folders)| folders)?;
    folders
        .iter()
        .rev()
        .find(|part| !part.as_ref().contains('='))
        .map(|part| part.as_ref().to_string())
}

/// The local folder of a `file://` or plain-path root, if it is local.
pub fn local_root(root: &str) -> Option<std::path::PathBuf> {
    storage::local_path(root)
}

/// The names of the contract's tables.
pub fn contract_table_names() -> BTreeSet<&'static str> {
    CONTRACT.iter().map(|t| t.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_said_twice_is_said_once() {
        assert_eq!(
            without_repeated_prefix(
                "Parquet error: Parquet error: Invalid Parquet file. Corrupt footer"
            ),
            "Parquet error: Invalid Parquet file. Corrupt footer"
        );
        assert_eq!(
            without_repeated_prefix("Arrow error: Parquet error: x: x"),
            "Arrow error: Parquet error: x: x"
        );
        assert_eq!(without_repeated_prefix("a: a: a: b"), "a: b");
        assert_eq!(without_repeated_prefix("no colon"), "no colon");
    }

    #[test]
    fn held_bytes_count_each_allocation_once() {
        use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
        let ids: ArrayRef = Arc::new(StringArray::from_iter_values(
            (0..1000).map(|i| format!("client-{i}")),
        ));
        let numbers: ArrayRef = Arc::new(Int64Array::from_iter_values(0..1000));
        let batch = RecordBatch::try_from_iter([("id", ids), ("n", numbers)]).unwrap();
        let mut whole = HeldBytes::default();
        let one = whole.add(&batch);
        assert!(one >= 1000 * 8 + 1000 * 4, "{one}");
        // The same arrays in ten slices, as an aggregation emits them.
        let mut sliced = HeldBytes::default();
        for start in (0..1000).step_by(100) {
            sliced.add(&batch.slice(start, 100));
        }
        assert_eq!(sliced.bytes(), one);
        // Ten slices each counted whole is what summing their own sizes did.
        let summed: usize = (0..1000)
            .step_by(100)
            .map(|start| batch.slice(start, 100).get_array_memory_size())
            .sum();
        assert!(summed > 5 * one, "{summed} {one}");
        // Another batch over the same buffers adds nothing.
        let copy = RecordBatch::try_new(
            batch.schema(),
            batch
                .columns()
                .iter()
                .map(|c| datafusion::arrow::array::make_array(c.to_data().clone()))
                .collect(),
        )
        .unwrap();
        assert_eq!(whole.add(&copy), one);
    }

    /// The rows of `table` in `ctx`, as `client_id:n` sorted, and whether
    /// it is held in memory (not a view).
    async fn slice_of(ctx: &SessionContext, table: &str) -> (Vec<String>, bool) {
        use datafusion::arrow::util::display::array_value_to_string;
        let held = ctx.table_provider(table).await.unwrap().table_type()
            == datafusion::datasource::TableType::Base;
        let batches = ctx.table(table).await.unwrap().collect().await.unwrap();
        let mut rows = Vec::new();
        for batch in &batches {
            for row in 0..batch.num_rows() {
                let cell =
                    |column: usize| array_value_to_string(batch.column(column), row).unwrap();
                rows.push(format!("{}:{}", cell(0), cell(1)));
            }
        }
        rows.sort();
        (rows, held)
    }

    #[tokio::test]
    async fn each_table_is_split_among_the_slices_once_and_a_slice_that_does_not_fit_is_a_view() {
        use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
        use datafusion::datasource::MemTable;
        let base = SessionContext::new();
        let table = |columns: Vec<(&str, ArrayRef)>| {
            let batch = RecordBatch::try_from_iter(columns).unwrap();
            Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap())
        };
        let ids = |ids: &[&str]| -> ArrayRef { Arc::new(StringArray::from(ids.to_vec())) };
        // c3 has no segment; c9 is no client at all.
        base.register_table(
            "clients",
            table(vec![
                ("client_id", ids(&["c1", "c2", "c3", "c4"])),
                (
                    "segment",
                    Arc::new(StringArray::from(vec![
                        Some("A"),
                        Some("B"),
                        None,
                        Some("A"),
                    ])),
                ),
            ]),
        )
        .unwrap();
        base.register_table(
            "tickets",
            table(vec![
                ("client_id", ids(&["c1", "c2", "c3", "c4", "c9", "c1"])),
                ("n", Arc::new(Int64Array::from(vec![1, 2, 3, 4, 9, 10]))),
            ]),
        )
        .unwrap();
        let tables: BTreeSet<String> = ["clients", "tickets"].map(String::from).into();
        let values = [Some("A".to_string()), Some("B".to_string()), None];
        let expected = [vec!["c1:1", "c1:10", "c4:4"], vec!["c2:2"], vec!["c3:3"]];
        // Room for every slice; for none (each a view over the warehouse);
        // none at all (a cluster run). The same rows every time.
        for room in [usize::MAX / 4, 1, 0] {
            let slices: Vec<(SessionContext, SegmentValue)> = values
                .iter()
                .map(|value| (SessionContext::new(), value.clone()))
                .collect();
            register_slices(&base, &slices, &tables, "segment", room)
                .await
                .unwrap();
            for ((target, value), expected) in slices.iter().zip(&expected) {
                let (rows, held) = slice_of(target, "tickets").await;
                assert_eq!(rows, *expected, "{value:?} with room {room}");
                assert_eq!(held, room > 1, "{value:?} with room {room}");
                let (clients, _) = slice_of(target, "clients").await;
                let mut members: Vec<&str> = expected.iter().map(|row| &row[..2]).collect();
                members.dedup();
                let segment = value.clone().unwrap_or_default();
                let listed: Vec<String> =
                    members.iter().map(|c| format!("{c}:{segment}")).collect();
                assert_eq!(clients, listed, "{value:?} with room {room}");
            }
        }
    }

    /// The slices' joins hold the side written first (the clients), even
    /// where the statistics call the other side smaller: a table that went
    /// to disk (client_uses at demo scale 1600 under a 136 MiB limit) is
    /// smaller on disk than the clients, and held whole it took the pool.
    #[tokio::test]
    async fn a_slice_join_holds_the_side_written_first() {
        use datafusion::arrow::array::{ArrayRef, StringArray};
        use datafusion::datasource::MemTable;
        use datafusion::physical_plan::displayable;
        let ctx = SessionContext::new();
        let table = |name: &str, rows: usize| {
            let ids: ArrayRef = Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("c{i}")),
            ));
            let batch = RecordBatch::try_from_iter([(name, ids)]).unwrap();
            Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap())
        };
        ctx.register_table("many", table("many_id", 50_000))
            .unwrap();
        ctx.register_table("few", table("few_id", 10)).unwrap();
        let joined = ctx
            .table("many")
            .await
            .unwrap()
            .join(
                ctx.table("few").await.unwrap(),
                JoinType::Inner,
                &["many_id"],
                &["few_id"],
                None,
            )
            .unwrap();
        let held_first = |frame: datafusion::dataframe::DataFrame| async move {
            let plan = frame.create_physical_plan().await.unwrap();
            let text = displayable(plan.as_ref()).indent(true).to_string();
            // The hash join's first key, `on=[(held, probed)]`, is of
            // the side it holds.
            let many = text.find("many_id@").unwrap_or(usize::MAX);
            let few = text.find("few_id@").unwrap_or(usize::MAX);
            (many < few, text)
        };
        // By the statistics, the optimiser holds the smaller side.
        let (many_first, text) = held_first(joined.clone()).await;
        assert!(!many_first, "{text}");
        // As written, the side written first.
        let (many_first, text) = held_first(in_written_order(joined)).await;
        assert!(many_first, "{text}");
    }

    #[test]
    fn running_out_of_memory_reading_a_table_is_the_runs_fault() {
        use datafusion::error::DataFusionError;
        let exhausted = DataFusionError::Context(
            "hash join".to_string(),
            Box::new(DataFusionError::ResourcesExhausted("pool".to_string())),
        );
        let error =
            CatalogError::from_datafusion(None, "tickets", "the segments of segment", &exhausted);
        assert!(matches!(error, CatalogError::OutOfMemory { .. }), "{error}");
        assert_eq!(error.fault(), Fault::Internal);
        assert!(error.to_string().contains("engine.memory_limit"), "{error}");
        let broken = DataFusionError::Execution("bad page".to_string());
        let error =
            CatalogError::from_datafusion(None, "tickets", "the segments of segment", &broken);
        assert_eq!(error.fault(), Fault::Data, "{error}");
    }

    #[test]
    fn losing_the_way_to_the_warehouse_while_splitting_a_table_is_an_access_fault() {
        use datafusion::error::DataFusionError;
        let reset = DataFusionError::Context(
            "split".to_string(),
            Box::new(DataFusionError::ObjectStore(Box::new(
                object_store::Error::Generic {
                    store: "S3",
                    source: "connection reset by peer".into(),
                },
            ))),
        );
        let error =
            CatalogError::from_datafusion(None, "tickets", "the segments of segment", &reset);
        assert_eq!(error.fault(), Fault::WarehouseAccess, "{error}");
        let text = error.to_string();
        assert!(text.contains("cannot reach the warehouse"), "{text}");
        assert!(
            text.contains("`tickets`") && text.contains("connection reset"),
            "{text}"
        );
        // A file the store says is not there is the data's fault.
        let gone = DataFusionError::ObjectStore(Box::new(object_store::Error::NotFound {
            path: "tickets/part-0.parquet".to_string(),
            source: "gone".into(),
        }));
        let error =
            CatalogError::from_datafusion(None, "tickets", "the segments of segment", &gone);
        assert_eq!(error.fault(), Fault::Data, "{error}");
    }

    #[test]
    fn a_file_belongs_to_its_folder_above_any_partition_folders() {
        let table = |path: &str| table_of(&object_store::path::Path::from(path));
        assert_eq!(
            table("usage_events/part-0.parquet").as_deref(),
            Some("usage_events")
        );
        assert_eq!(
            table("demo/usage_events/date=2026-11-20/part-0.parquet").as_deref(),
            Some("usage_events")
        );
        assert_eq!(
            table("wh/tickets/year=2026/month=11/a.parquet").as_deref(),
            Some("tickets")
        );
        assert_eq!(table("part-0.parquet"), None);
    }
}
