//! The UDFs' SQL behaviour, in sqllogictest files (`tests/slt/*.slt`), run
//! against a session made by the crate's own `register_udfs`, with a
//! business calendar (Paris office hours, Christmas off) and the report
//! time zone Europe/Paris, so that time-zone and DST edges can be tested.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::NaiveTime;
use clientpulse::calendar::BusinessCalendar;
use clientpulse::metrics::{self, udf::UdfSettings};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::support::repo;

struct DataFusionDb {
    ctx: SessionContext,
}

#[derive(Debug)]
struct SqlError(String);

impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SqlError {}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for DataFusionDb {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let error = |e: datafusion::error::DataFusionError| SqlError(e.to_string());
        let frame = self.ctx.sql(sql).await.map_err(error)?;
        let is_query = sql.trim_start().to_ascii_lowercase().starts_with("select")
            || sql.trim_start().to_ascii_lowercase().starts_with("with");
        let schema = frame.schema().clone();
        let batches = frame.collect().await.map_err(error)?;
        if !is_query {
            return Ok(DBOutput::StatementComplete(0));
        }
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| SqlError(e.to_string()))?;
            // Floats as Rust prints them (7200, not arrow's 7200.0).
            let floats: Vec<Option<ArrayRef>> = batch
                .columns()
                .iter()
                .map(|c| {
                    c.data_type()
                        .is_floating()
                        .then(|| cast(c, &DataType::Float64).ok())
                        .flatten()
                })
                .collect();
            for row in 0..batch.num_rows() {
                rows.push(
                    formatters
                        .iter()
                        .zip(&floats)
                        .map(|(f, float)| match float {
                            Some(array) if array.is_valid(row) => {
                                array.as_primitive::<Float64Type>().value(row).to_string()
                            }
                            _ => f.value(row).to_string(),
                        })
                        .collect(),
                );
            }
        }
        let types = schema
            .fields()
            .iter()
            .map(|f| {
                if f.data_type().is_integer() {
                    DefaultColumnType::Integer
                } else if f.data_type().is_floating() {
                    DefaultColumnType::FloatingPoint
                } else {
                    DefaultColumnType::Text
                }
            })
            .collect();
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "clientpulse"
    }
}

fn settings() -> UdfSettings {
    let paris = "Europe/Paris".parse().expect("zone");
    UdfSettings {
        timezone: paris,
        calendar: Some(BusinessCalendar {
            timezone: paris,
            working_days: [true, true, true, true, true, false, false],
            opens: NaiveTime::from_hms_opt(9, 0, 0).expect("time"),
            closes: NaiveTime::from_hms_opt(17, 0, 0).expect("time"),
            holidays: BTreeSet::from(
                [chrono::NaiveDate::from_ymd_opt(2026, 12, 25).expect("date")],
            ),
        }),
    }
}

#[test]
fn udf_sql_logic_tests() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/slt"))
        .expect("tests/slt")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "every UDF has its .slt file");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for file in files {
        let mut runner = sqllogictest::Runner::new(|| async {
            Ok(DataFusionDb {
                ctx: metrics::new_session(&settings(), &Default::default()).expect("session"),
            })
        });
        runtime
            .block_on(runner.run_file_async(&file))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}
