-- id: probe
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
COPY (SELECT * FROM clients) TO 'warehouse/clients/stolen.parquet'
