-- id: new_clients
-- version: 1
-- description: Clients whose first instant of paying is in the window (a, b]
-- window: 30d
-- unit: count
-- name: New clients
-- section: Clients
-- format: count
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
WITH first_paid AS (
    SELECT client_id, MIN(started_at) AS first_at
    FROM row_mrr
    WHERE mrr > 0 AND (ended_at IS NULL OR ended_at > started_at)
    GROUP BY client_id
)
SELECT
    COUNT(*) AS value,
    COUNT(*) AS sample_size
FROM first_paid
WHERE first_at > $window_start AND first_at <= $window_end
