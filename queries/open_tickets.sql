-- id: open_tickets
-- version: 1
-- description: Tickets opened before the week's end and not resolved by then; also how many have no first response
-- window: as_of_end
-- unit: count
-- name: Open tickets
-- section: Support and delivery
-- format: count
-- drivers: sum
-- owner: data-team
SELECT
    COUNT(*) AS value,
    COUNT(*) FILTER (WHERE first_response_at IS NULL OR first_response_at >= $window_end) AS unanswered,
    COUNT(*) AS sample_size
FROM tickets
WHERE opened_at < $window_end
  AND (resolved_at IS NULL OR resolved_at >= $window_end)
