-- id: probe
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
SELECT COUNT(*) AS value, COUNT(*) AS sample_size FROM read_parquet('warehouse/clients/part-0.parquet')
