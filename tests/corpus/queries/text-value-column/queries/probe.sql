-- id: probe
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
SELECT 'high' AS value, 1 AS sample_size
