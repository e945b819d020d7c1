-- id: open_tickets
-- version: 2
-- description: Tickets opened before the week's end and not resolved by then; also how many have no first response
-- window: as_of_end
-- unit: count
-- name: Open tickets
-- section: Support and delivery
-- format: count
-- drivers: sum
-- owner: data-team
-- windows: table
--
-- Version 2 gives the figures of version 1 for every week a run needs in
-- one query over the table `windows`, a row per window (`window_end`).
-- A window without open tickets keeps its row (the LEFT JOIN), with
-- counts of 0: only matched tickets (t.ticket_id set) are counted.
SELECT
    w.window_end,
    COUNT(t.ticket_id) AS value,
    COUNT(t.ticket_id) FILTER (
        WHERE t.first_response_at IS NULL OR t.first_response_at >= w.window_end
    ) AS unanswered,
    COUNT(t.ticket_id) AS sample_size
FROM windows AS w
LEFT JOIN tickets AS t
  ON t.opened_at < w.window_end
 AND (t.resolved_at IS NULL OR t.resolved_at >= w.window_end)
GROUP BY w.window_end
