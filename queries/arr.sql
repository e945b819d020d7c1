-- id: arr
-- version: 1
-- description: Annual recurring revenue: 12 times MRR
-- window: as_of_end
-- unit: money
-- name: Annual recurring revenue
-- section: Revenue
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
SELECT
    12 * COALESCE(SUM(mrr), 0) AS value,
    COUNT(*) FILTER (WHERE mrr > 0) AS sample_size
FROM mrr_at_end
