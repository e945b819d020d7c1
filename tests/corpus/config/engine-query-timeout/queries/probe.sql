-- id: probe
-- version: 1
-- description: a query that counts to a billion, one row at a time
-- window: 7d
-- unit: count
WITH RECURSIVE counter(n) AS (
    SELECT 1
    UNION ALL
    SELECT n + 1 FROM counter WHERE n < 1000000000
)
SELECT CAST(MAX(n) AS DOUBLE) AS value, COUNT(*) AS sample_size FROM counter
