-- id: probe
-- version: 1
-- description: Übersicht der Kündigungen
-- window: 30d
-- unit: count
-- uses: client_mrr
/* Übersicht: Kündigungen */
    WITH own AS (SELECT COUNT(*) AS n FROM client_movements WHERE mrr_b = 0 AND mrr_a > 0)
SELECT n AS value, n AS sample_size FROM own
