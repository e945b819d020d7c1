//! Tables the run computes and keeps on local disk rather than in memory:
//! a shared table (`-- materialise: run`) too large for its share of
//! `engine.memory_limit` is written once to the spill folder (the same
//! one DataFusion's sorts spill to, `engine.spill_dir`) as Parquet, and
//! its metrics read it there. Without this, each metric that uses it
//! computed it again from the warehouse: at scale 1600 that was a pass
//! over 114 M events per query.
//!
//! The file belongs to the table: it is deleted, with the folder made for
//! it, when the last reference to the table (the session's, a segment's
//! view) is dropped.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::datasource::TableProvider;
use datafusion::execution::SendableRecordBatchStream;
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
///
/// The file is `<a folder of its own>/<name>/part-0.parquet`: a scan of it
/// then counts its rows under the table's name in `run --profile`, as a
/// warehouse file counts under its folder's (under the spill file's
/// random name, every table on disk was counted as one).
pub async fn to_disk(
    ctx: &SessionContext,
    name: &str,
    schema: SchemaRef,
    held: Vec<RecordBatch>,
    mut stream: SendableRecordBatchStream,
) -> Result<Option<Spilled>> {
    let disk = Arc::clone(&ctx.runtime_env().disk_manager);
    if !disk.tmp_files_enabled() {
        return Ok(None);
    }
    // The spill folder DataFusion uses (its sorts' files go there too),
    // found from a file it makes there.
    let probe = disk.create_tmp_file("a shared table larger than its memory")?;
    let Some(spill) = probe
        .path()
        .and_then(|path| path.parent())
        .map(Path::to_path_buf)
    else {
        return Ok(None);
    };
    drop(probe);
    let folder = tempfile::Builder::new()
        .prefix(".clientpulse-")
        .tempdir_in(&spill)?;
    let table_folder = folder.path().join(folder_name(name));
    std::fs::create_dir(&table_folder)?;
    let path = table_folder.join("part-0.parquet");
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP))
        .build();
    let mut writer = ArrowWriter::try_new(
        std::io::BufWriter::new(std::fs::File::create(&path)?),
        Arc::clone(&schema),
        Some(properties),
    )?;
    for batch in held {
        writer.write(&batch)?;
    }
    while let Some(batch) = stream.try_next().await? {
        writer.write(&batch)?;
    }
    // Written out whole before it is read: a write error here, not a
    // short file later.
    writer
        .into_inner()?
        .into_inner()
        .map_err(|error| error.into_error())?;
    let bytes = std::fs::metadata(&path)?.len();
    // Read back with the table's own schema: the reader would otherwise
    // turn BINARY into BINARY VIEW, which the UDFs over these values do
    // not take.
    let options = ParquetReadOptions {
        file_extension: "",
        ..Default::default()
    }
    .schema(&schema);
    let path = path.to_string_lossy().into_owned();
    let inner = ctx.read_parquet(path.as_str(), options).await?.into_view();
    Ok(Some(Spilled {
        table: Arc::new(OnDisk { folder, inner }),
        bytes,
    }))
}

/// `name` as a folder name: a shared table's name is its file's, letters,
/// digits and `_`; anything else is replaced, so that the folder is one
/// plain path segment.
fn folder_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "table".to_string()
    } else {
        cleaned
    }
}

/// A table over a file of the spill folder, which lives as long as it:
/// the folder holding the file goes with the table.
struct OnDisk {
    folder: tempfile::TempDir,
    inner: Arc<dyn TableProvider>,
}

impl fmt::Debug for OnDisk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnDisk")
            .field("folder", &self.folder.path())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_folder_is_one_plain_path_segment() {
        assert_eq!(folder_name("user_days"), "user_days");
        assert_eq!(folder_name("../x=1"), "___x_1");
        assert_eq!(folder_name(""), "table");
    }
}
