//! Tables the run computes and keeps on local disk rather than in memory:
//! a shared table (`-- materialise: run`) too large for its share of
//! `engine.memory_limit` is written once to the spill folder (the same
//! one DataFusion's sorts spill to, `engine.spill_dir`) as Parquet, and
//! its metrics read it there. Without this, each metric that uses it
//! computed it again from the warehouse: at scale 1600 that was a pass
//! over 114 M events per query.
//!
//! The file belongs to the table: it is deleted when the last reference
//! to the table (the session's, a segment's view) is dropped.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::SpillFile;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use futures::TryStreamExt;

/// Rows per Parquet row group: what the writer buffers before it writes
/// (a few MiB of a shared table's narrow rows), and what lets two
/// partitions read the file side by side.
const ROWS_PER_GROUP: usize = 65_536;

/// A table written to disk, and what it took there.
pub struct Spilled {
    pub table: Arc<dyn TableProvider>,
    /// The file's size.
    pub bytes: u64,
}

/// Writes `held` and then the rest of `stream` (the same rows as
/// `schema`) to a Parquet file in `ctx`'s spill folder, and returns a
/// table over it. `None` when the session has no local spill folder
/// (spilling disabled, or a backend that is not a local file): the
/// caller then computes the table where it is used.
pub async fn to_disk(
    ctx: &SessionContext,
    schema: SchemaRef,
    held: Vec<RecordBatch>,
    mut stream: SendableRecordBatchStream,
) -> Result<Option<Spilled>> {
    let disk = Arc::clone(&ctx.runtime_env().disk_manager);
    if !disk.tmp_files_enabled() {
        return Ok(None);
    }
    let file = disk.create_tmp_file("a shared table larger than its memory")?;
    let Some(path) = file.path().map(|path| path.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .build();
    let mut writer =
        ArrowWriter::try_new(file.open_writer()?, Arc::clone(&schema), Some(properties))?;
    for batch in held {
        writer.write(&batch)?;
    }
    while let Some(batch) = stream.try_next().await? {
        writer.write(&batch)?;
    }
    writer.into_inner()?.finish()?;
    let bytes = std::fs::metadata(&path)?.len();
    // Read back with the table's own schema: the reader would otherwise
    // turn BINARY into BINARY VIEW, which the UDFs over these values do
    // not take.
    let options = ParquetReadOptions {
        file_extension: "",
        ..Default::default()
    }
    .schema(&schema);
    let inner = ctx.read_parquet(path.as_str(), options).await?.into_view();
    Ok(Some(Spilled {
        table: Arc::new(OnDisk { file, inner }),
        bytes,
    }))
}

/// A table over a file of the spill folder, which lives as long as it.
struct OnDisk {
    file: Arc<dyn SpillFile>,
    inner: Arc<dyn TableProvider>,
}

impl fmt::Debug for OnDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnDisk")
            .field("file", &self.file.path())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl TableProvider for OnDisk {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }
}
