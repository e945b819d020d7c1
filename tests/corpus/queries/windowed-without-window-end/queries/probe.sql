-- id: probe
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
-- windows: table
SELECT COUNT(*) AS value, COUNT(*) AS sample_size
FROM windows
