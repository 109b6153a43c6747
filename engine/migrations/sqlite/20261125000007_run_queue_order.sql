-- The dispatcher asks for the oldest runnable queued runs in
-- (queued_at_ms, run_id) order. With thousands of runs queued for the same
-- instant (fires claimed ahead), an index ending at queued_at_ms made every
-- pass read and sort all of them; with run_id in the index the pass reads
-- only the rows it returns. The Runs page's status filter uses the same order.
DROP INDEX run_by_status;
CREATE INDEX run_by_status ON run (status, queued_at_ms, run_id);
