-- Scheduler state (DESIGN §5): per-job runtime state, runs, and lanes.

-- What the server knows about each job; never part of a config revision.
CREATE TABLE job_state (
    job_id TEXT PRIMARY KEY,
    -- NULL: nothing scheduled (a one-shot that fired, a disabled job).
    next_run_at_ms BIGINT,
    -- Set while a run of the job is running; cleared in the same
    -- transaction that closes the run, by the run or by the reaper.
    running_at_ms BIGINT,
    last_run_at_ms BIGINT,
    last_status TEXT,
    last_error TEXT,
    last_error_class TEXT,
    last_duration_ms BIGINT,
    consecutive_errors BIGINT NOT NULL DEFAULT 0,
    -- n of the last `manual:<jobId>:<n>` run id.
    manual_runs BIGINT NOT NULL DEFAULT 0,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE run (
    run_id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    -- cron | manual
    trigger TEXT NOT NULL,
    -- The fire this run is for; NULL for manual runs. With the UNIQUE
    -- below, a fire runs at most once however many replicas claim it.
    scheduled_for_ms BIGINT,
    -- queued | running | ok | error | timeout | cancelled | skipped
    status TEXT NOT NULL,
    queued_at_ms BIGINT NOT NULL,
    started_at_ms BIGINT,
    finished_at_ms BIGINT,
    duration_ms BIGINT,
    -- The whole run's budget ends here, queue wait included.
    deadline_ms BIGINT,
    error TEXT,
    error_class TEXT,
    -- What the scheduler wants an operator to know (missed fires, lane waits).
    note TEXT,
    model TEXT,
    harness TEXT,
    fallback_used BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    attempts BIGINT NOT NULL DEFAULT 0,
    lane TEXT NOT NULL,
    lane_wait_ms BIGINT,
    queue_ahead BIGINT,
    -- Which process runs it and until when its claim holds; renewed by the
    -- heartbeat. A run whose lease ran out is reaped as `abandoned`.
    owner TEXT,
    lease_until_ms BIGINT,
    cancel_requested BIGINT NOT NULL DEFAULT 0,
    -- Scheduled runs hold one of the global cron lane's slots while running.
    cron_slot BIGINT,
    UNIQUE (job_id, scheduled_for_ms)
);
CREATE INDEX run_by_status ON run (status, queued_at_ms);
CREATE INDEX run_by_job ON run (job_id, queued_at_ms);
CREATE INDEX run_by_agent ON run (agent_id, queued_at_ms);
CREATE INDEX run_by_time ON run (queued_at_ms);

-- Lanes are enforced by the database, so they hold across replicas: a lane
-- (one per agent) has at most one running run, and the global cron lane's
-- capacity is its number of slots, each held by at most one running run.
-- A claim that would break either fails with a unique violation.
CREATE UNIQUE INDEX run_one_running_per_lane ON run (lane) WHERE status = 'running';
CREATE UNIQUE INDEX run_cron_slot ON run (cron_slot) WHERE status = 'running' AND cron_slot IS NOT NULL;
