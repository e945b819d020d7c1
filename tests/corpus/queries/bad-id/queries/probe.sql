-- id: Probe!
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
SELECT 1 AS value, 1 AS sample_size
