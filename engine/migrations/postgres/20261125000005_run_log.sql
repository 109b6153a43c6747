-- Log lines that name a run (its router decisions, lane waits, reaping),
-- kept with the run so its page shows them after a restart too.
CREATE TABLE run_log (
    log_id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    level TEXT NOT NULL,
    line TEXT NOT NULL
);
CREATE INDEX run_log_by_run ON run_log (run_id, log_id);
