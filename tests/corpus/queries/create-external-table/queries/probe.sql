-- id: probe
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 'warehouse/clients'
