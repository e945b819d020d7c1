-- id: probe
-- version: 1
-- window: 7d
-- unit: count
SELECT 1 AS value, 1 AS sample_size
