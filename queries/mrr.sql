-- id: mrr
-- version: 1
-- description: Monthly recurring revenue of the subscriptions active at the week's end
-- window: as_of_end
-- unit: money
-- name: Monthly recurring revenue
-- section: Revenue
-- format: money
-- drivers: sum
-- owner: data-team
-- uses: client_mrr
SELECT
    COALESCE(SUM(mrr), 0) AS value,
    COUNT(*) FILTER (WHERE mrr > 0) AS sample_size
FROM mrr_at_end
