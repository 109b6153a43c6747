-- What a job's stored next fire was computed from: its schedule (kind,
-- expression, time zone, interval, anchor, time) and whether it is enabled,
-- as the scheduler's fingerprint text. When the config's job no longer
-- matches, the scheduler computes the next fire again (and closes claimed
-- fires that no longer hold as `skipped`). NULL: written before this column
-- existed (kept as it is) or by a force-run before the first tick (computed).
-- `deleted`: the job is no longer in the config.
ALTER TABLE job_state ADD COLUMN schedule_fp TEXT;
-- The loop's "when is the next fire" and a tick's "what is due (within the
-- lookahead)" read this; without it both scanned every job.
CREATE INDEX job_state_by_next ON job_state (next_run_at_ms);
