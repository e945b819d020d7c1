//! A streaming Parquet table writer for the demo generator: rows are
//! buffered up to a fixed count, then written as a row group, so memory
//! stays bounded whatever the scale.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Decimal128Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;

/// Rows held before they are written out as one row group.
const ROWS_PER_FLUSH: usize = 65_536;

/// The kind of a demo column, which fixes its Arrow type.
#[derive(Clone, Copy)]
pub enum Kind {
    Text,
    Int,
    /// DECIMAL(18,2), given in cents.
    Money,
    Fraction,
    /// Microseconds since the epoch, UTC.
    Timestamp,
}

/// One cell. `None` is NULL.
#[derive(Clone)]
pub enum Cell {
    Text(Option<String>),
    Int(Option<i32>),
    Money(i64),
    Fraction(Option<f64>),
    Timestamp(Option<i64>),
}

pub fn text(value: impl Into<String>) -> Cell {
    Cell::Text(Some(value.into()))
}

pub fn at(micros: i64) -> Cell {
    Cell::Timestamp(Some(micros))
}

pub struct TableWriter {
    schema: SchemaRef,
    columns: Vec<Vec<Cell>>,
    writer: ArrowWriter<File>,
    /// For an event table: the timestamp column whose week each row group
    /// holds, and the rows of each week waiting to be written.
    by_week: Option<(usize, BTreeMap<i64, Rows>)>,
}

/// Rows waiting to be written, each a cell per column.
type Rows = Vec<Vec<Cell>>;

/// Rows of one week held before they are written out as one row group,
/// in an event table written week by week.
const ROWS_PER_WEEK_FLUSH: usize = 32_768;

/// Microseconds in a week, and from the epoch to its first Monday.
const WEEK: i64 = 7 * 86_400_000_000;
const FIRST_MONDAY: i64 = 4 * 86_400_000_000;

impl TableWriter {
    /// Creates `<dir>/<name>/part-0.parquet` with the given columns; a
    /// trailing `?` on a name marks it nullable.
    pub fn create(dir: &Path, name: &str, columns: &[(&str, Kind)]) -> std::io::Result<Self> {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(column, kind)| {
                let (column, nullable) = match column.strip_suffix('?') {
                    Some(column) => (column, true),
                    None => (*column, false),
                };
                let data_type = match kind {
                    Kind::Text => DataType::Utf8,
                    Kind::Int => DataType::Int32,
                    Kind::Money => DataType::Decimal128(18, 2),
                    Kind::Fraction => DataType::Float64,
                    Kind::Timestamp => {
                        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
                    }
                };
                Field::new(column, data_type, nullable)
            })
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let folder = dir.join(name);
        std::fs::create_dir_all(&folder)?;
        let file = File::create(folder.join("part-0.parquet"))?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(ROWS_PER_FLUSH))
            .build();
        let writer = ArrowWriter::try_new(file, Arc::clone(&schema), Some(properties))
            .map_err(std::io::Error::other)?;
        Ok(TableWriter {
            columns: vec![Vec::new(); schema.fields().len()],
            schema,
            writer,
            by_week: None,
        })
    }

    /// As [`TableWriter::create`], for an event table whose rows come in
    /// any order: each row group holds the rows of one week (Monday to
    /// Monday, UTC) of `time_column`, as a table appended week by week
    /// does. A query for a window then reads only the row groups whose
    /// time statistics overlap it.
    pub fn create_by_week(
        dir: &Path,
        name: &str,
        columns: &[(&str, Kind)],
        time_column: &str,
    ) -> std::io::Result<Self> {
        let mut table = TableWriter::create(dir, name, columns)?;
        let index = table
            .schema
            .index_of(time_column)
            .map_err(std::io::Error::other)?;
        table.by_week = Some((index, BTreeMap::new()));
        Ok(table)
    }

    pub fn push(&mut self, row: Vec<Cell>) -> std::io::Result<()> {
        if let Some((index, weeks)) = &mut self.by_week {
            let week = match row.get(*index) {
                Some(Cell::Timestamp(Some(t))) => (t - FIRST_MONDAY).div_euclid(WEEK),
                _ => i64::MIN,
            };
            let rows = weeks.entry(week).or_default();
            rows.push(row);
            if rows.len() >= ROWS_PER_WEEK_FLUSH {
                let rows = std::mem::take(rows);
                self.write_rows(rows)?;
            }
            return Ok(());
        }
        for (column, cell) in self.columns.iter_mut().zip(row) {
            column.push(cell);
        }
        if self.columns.first().map_or(0, Vec::len) >= ROWS_PER_FLUSH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.columns.first().is_none_or(Vec::is_empty) {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|cells| to_array(std::mem::take(cells)))
            .collect::<Result<_, _>>()?;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), arrays)
            .map_err(std::io::Error::other)?;
        self.writer.write(&batch).map_err(std::io::Error::other)?;
        self.writer.flush().map_err(std::io::Error::other)
    }

    /// Writes `rows` (of one week) as one row group.
    fn write_rows(&mut self, rows: Rows) -> std::io::Result<()> {
        for row in rows {
            for (column, cell) in self.columns.iter_mut().zip(row) {
                column.push(cell);
            }
        }
        self.flush()
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        if let Some((_, weeks)) = self.by_week.take() {
            for (_, rows) in weeks {
                if !rows.is_empty() {
                    self.write_rows(rows)?;
                }
            }
        }
        self.flush()?;
        self.writer.close().map_err(std::io::Error::other)?;
        Ok(())
    }
}

fn to_array(cells: Vec<Cell>) -> std::io::Result<ArrayRef> {
    let mismatch = || std::io::Error::other("demo generator: a row has a cell of the wrong kind");
    let Some(first) = cells.first() else {
        return Err(mismatch());
    };
    Ok(match first {
        Cell::Text(_) => Arc::new(StringArray::from(
            cells
                .into_iter()
                .map(|c| match c {
                    Cell::Text(v) => Ok(v),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Cell::Int(_) => Arc::new(Int32Array::from(
            cells
                .into_iter()
                .map(|c| match c {
                    Cell::Int(v) => Ok(v),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Cell::Money(_) => Arc::new(
            Decimal128Array::from(
                cells
                    .into_iter()
                    .map(|c| match c {
                        Cell::Money(v) => Ok(i128::from(v)),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .with_precision_and_scale(18, 2)
            .map_err(std::io::Error::other)?,
        ),
        Cell::Fraction(_) => Arc::new(Float64Array::from(
            cells
                .into_iter()
                .map(|c| match c {
                    Cell::Fraction(v) => Ok(v),
                    _ => Err(mismatch()),
                })
                .collect::<Result<Vec<_>, _>>()?,
        )),
        Cell::Timestamp(_) => Arc::new(
            TimestampMicrosecondArray::from(
                cells
                    .into_iter()
                    .map(|c| match c {
                        Cell::Timestamp(v) => Ok(v),
                        _ => Err(mismatch()),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
            .with_timezone("UTC"),
        ),
    })
}
