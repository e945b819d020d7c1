//! Hand-made warehouses: a few rows per table, written as real Parquet in
//! the schema of warehouse.md, so each test can state its rows and work
//! out the expected figures by hand.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clientpulse::catalog::{CONTRACT, ColumnKind};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::array::{
    ArrayRef, Decimal128Array, Float64Array, Int32Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// How money columns are stored: both must work (warehouse.md).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Money {
    Decimal,
    Double,
}

/// One cell of a fixture row.
#[derive(Clone, Debug)]
pub enum V {
    S(&'static str),
    Str(String),
    I(i32),
    F(f64),
    /// An instant, RFC 3339.
    T(&'static str),
    Null,
}

pub fn micros(instant: &str) -> i64 {
    instant
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap_or_else(|e| panic!("bad instant {instant}: {e}"))
        .timestamp_micros()
}

/// A folder of tables being written.
pub struct Fixture {
    pub root: PathBuf,
    pub money: Money,
}

impl Fixture {
    pub fn new(root: &Path, money: Money) -> Fixture {
        std::fs::create_dir_all(root).expect("warehouse root");
        Fixture {
            root: root.to_path_buf(),
            money,
        }
    }

    /// Writes `table` with the contract's columns (minus `without`) from
    /// rows given in the contract's column order.
    pub fn table_without(&self, table: &str, without: &[&str], rows: &[Vec<V>]) {
        let contract = CONTRACT
            .iter()
            .find(|t| t.name == table)
            .unwrap_or_else(|| panic!("no contract table {table}"));
        let mut fields = Vec::new();
        let mut arrays: Vec<ArrayRef> = Vec::new();
        for (index, (column, kind)) in contract.columns.iter().enumerate() {
            if without.contains(column) {
                continue;
            }
            let cells: Vec<&V> = rows.iter().map(|row| &row[index]).collect();
            let (data_type, array) = self.column(*kind, &cells, *column == "amount");
            fields.push(Field::new(*column, data_type, true));
            arrays.push(array);
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), arrays).expect("fixture batch");
        let dir = self.root.join(table);
        std::fs::create_dir_all(&dir).expect("table dir");
        let file = std::fs::File::create(dir.join("part-0.parquet")).expect("parquet file");
        let mut writer = ArrowWriter::try_new(file, schema, None).expect("parquet writer");
        writer.write(&batch).expect("write batch");
        writer.close().expect("close parquet");
    }

    pub fn table(&self, table: &str, rows: &[Vec<V>]) {
        self.table_without(table, &[], rows);
    }

    /// Writes every contract table not written yet, empty.
    pub fn empty_rest(&self) {
        for table in CONTRACT {
            if !self.root.join(table.name).exists() {
                self.table(table.name, &[]);
            }
        }
    }

    fn column(&self, kind: ColumnKind, cells: &[&V], is_money: bool) -> (DataType, ArrayRef) {
        fn bad<T>(cell: &V) -> T {
            panic!("cell {cell:?} does not fit this column")
        }
        match kind {
            ColumnKind::Text => (
                DataType::Utf8,
                Arc::new(StringArray::from(
                    cells
                        .iter()
                        .map(|c| match c {
                            V::S(s) => Some(s.to_string()),
                            V::Str(s) => Some(s.clone()),
                            V::Null => None,
                            other => bad(other),
                        })
                        .collect::<Vec<_>>(),
                )),
            ),
            ColumnKind::Integer => (
                DataType::Int32,
                Arc::new(Int32Array::from(
                    cells
                        .iter()
                        .map(|c| match c {
                            V::I(i) => Some(*i),
                            V::Null => None,
                            other => bad(other),
                        })
                        .collect::<Vec<_>>(),
                )),
            ),
            ColumnKind::Number => {
                let values: Vec<Option<f64>> = cells
                    .iter()
                    .map(|c| match c {
                        V::F(f) => Some(*f),
                        V::I(i) => Some(f64::from(*i)),
                        V::Null => None,
                        other => bad(other),
                    })
                    .collect();
                // discount_pct is a fraction, not money: always a double.
                if self.money == Money::Decimal && is_money {
                    let cents: Vec<Option<i128>> = values
                        .iter()
                        .map(|v| v.map(|v| (v * 100.0).round() as i128))
                        .collect();
                    (
                        DataType::Decimal128(18, 2),
                        Arc::new(
                            Decimal128Array::from(cents)
                                .with_precision_and_scale(18, 2)
                                .expect("decimal"),
                        ),
                    )
                } else {
                    (DataType::Float64, Arc::new(Float64Array::from(values)))
                }
            }
            ColumnKind::Timestamp => (
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                Arc::new(
                    TimestampMicrosecondArray::from(
                        cells
                            .iter()
                            .map(|c| match c {
                                V::T(t) => Some(micros(t)),
                                V::Null => None,
                                other => bad(other),
                            })
                            .collect::<Vec<_>>(),
                    )
                    .with_timezone("UTC"),
                ),
            ),
        }
    }
}

/// A subscription row in contract order.
pub fn subscription(
    id: &'static str,
    client: &'static str,
    amount: f64,
    months: i32,
    discount: Option<f64>,
    start: &'static str,
    end: Option<&'static str>,
) -> Vec<V> {
    vec![
        V::S(id),
        V::S(client),
        V::S("plan"),
        V::F(amount),
        V::S("EUR"),
        V::I(months),
        discount.map_or(V::Null, V::F),
        V::T(start),
        end.map_or(V::Null, V::T),
    ]
}

/// A survey answer in contract order.
pub fn answer(
    id: &str,
    client: &'static str,
    respondent: &'static str,
    survey: &'static str,
    score: i32,
    scale: i32,
    at: &'static str,
) -> Vec<V> {
    vec![
        V::Str(id.to_string()),
        V::S(client),
        V::S(respondent),
        V::S(survey),
        V::I(score),
        V::I(scale),
        V::Null,
        V::Null,
        V::T(at),
    ]
}

/// A client row in contract order.
pub fn client(id: &'static str, segment: &'static str) -> Vec<V> {
    vec![
        V::S(id),
        V::S(id),
        V::S(segment),
        V::S("EMEA"),
        V::S("am@example.com"),
        V::T("2025-01-01T00:00:00Z"),
    ]
}

/// The names of the contract's tables.
pub fn contract_tables() -> Vec<&'static str> {
    CONTRACT.iter().map(|t| t.name).collect()
}

/// Every record batch of `table`'s Parquet files, in any folder layout.
pub fn read_table(root: &Path, table: &str) -> Vec<RecordBatch> {
    let mut files = Vec::new();
    let mut folders = vec![root.join(table)];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).expect("table folder") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "parquet") {
                files.push(path);
            }
        }
    }
    let mut batches = Vec::new();
    for path in files {
        let file = std::fs::File::open(path).expect("open parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        batches.extend(reader.map(|b| b.expect("batch")));
    }
    batches
}

/// A timestamp column as microseconds.
pub fn instants(batch: &RecordBatch, column: &str) -> Vec<Option<i64>> {
    let array = cast(
        batch.column_by_name(column).expect(column),
        &DataType::Int64,
    )
    .expect("i64");
    let array = array.as_primitive::<Int64Type>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i)))
        .collect()
}

/// Writes `batches` as one Parquet file at `path`.
pub fn write_batches(path: &Path, batches: &[RecordBatch]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create");
    let mut writer = ArrowWriter::try_new(file, batches[0].schema(), None).expect("writer");
    for batch in batches {
        writer.write(batch).expect("write");
    }
    writer.close().expect("close");
}

/// Rewrites `table` as Hive partitions by day of `column`
/// (`<table>/date=2026-11-20/part-0.parquet`), as many warehouses keep
/// their event tables.
pub fn partition_by_day(root: &Path, table: &str, column: &str) {
    const DAY: i64 = 86_400_000_000;
    let rows = read_table(root, table);
    std::fs::remove_dir_all(root.join(table)).expect("rm");
    let mut days: std::collections::BTreeSet<i64> = std::collections::BTreeSet::new();
    for batch in &rows {
        days.extend(
            instants(batch, column)
                .into_iter()
                .flatten()
                .map(|t| t.div_euclid(DAY)),
        );
    }
    for day in days {
        let parts: Vec<RecordBatch> = rows
            .iter()
            .map(|batch| {
                let keep: datafusion::arrow::array::BooleanArray = instants(batch, column)
                    .into_iter()
                    .map(|t| Some(t.is_some_and(|t| t.div_euclid(DAY) == day)))
                    .collect();
                filter_record_batch(batch, &keep).expect("filter")
            })
            .filter(|b| b.num_rows() > 0)
            .collect();
        let date = chrono::DateTime::from_timestamp_micros(day * DAY)
            .expect("date")
            .date_naive();
        write_batches(
            &root.join(format!("{table}/date={date}/part-0.parquet")),
            &parts,
        );
    }
}
