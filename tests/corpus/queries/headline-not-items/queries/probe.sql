-- id: probe
-- version: 1
-- description: a probe
-- window: 7d
-- unit: count
-- windows: table
-- headline: first
SELECT w.window_end, COUNT(*) AS value, COUNT(*) AS sample_size
FROM windows AS w
GROUP BY w.window_end
