-- café
x AS (SELECT 1)
