-- materialise: run
-- Shared table: each client's tickets folded into one value
-- (ticket_spans: when each was opened and resolved), one row per
-- client_id, every ticket that could be open at an instant of a window the
-- run reads (opened before $run_end, not resolved before $run_start). A
-- metric reads how many of a client's tickets are open at a window's end
-- with open_tickets_at(spans, t, opened_before), and when the oldest of
-- them was opened with oldest_open_at(spans, t, opened_before): the
-- tickets are read once per run, not joined to every window in every
-- at-risk query.
client_tickets AS (
    SELECT client_id, ticket_spans(opened_at, resolved_at) AS spans
    FROM tickets
    WHERE opened_at < $run_end
      AND (resolved_at IS NULL OR resolved_at >= $run_start)
    GROUP BY client_id
)
