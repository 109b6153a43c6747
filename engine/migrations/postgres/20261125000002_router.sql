-- Router state shared by every replica (DESIGN §3): cooldowns per
-- (provider, model), a circuit per provider, and every routing decision.

-- A row exists only while something is wrong with the model; success deletes
-- it, so the hot path reads an (almost always) empty table.
CREATE TABLE model_cooldown (
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    -- Consecutive failures; picks the step of the backoff ladder.
    failures BIGINT NOT NULL,
    -- 0 while only counting transient failures (not cooling down yet).
    until_ms BIGINT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    -- After the cooldown, exactly one caller (any replica) probes.
    probe_owner TEXT,
    probe_until_ms BIGINT NOT NULL DEFAULT 0,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (provider, model)
);

CREATE TABLE provider_circuit (
    provider TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    -- 0: closed. In the future: open. In the past: half-open (one probe).
    open_until_ms BIGINT NOT NULL,
    times_opened BIGINT NOT NULL,
    probe_owner TEXT,
    probe_until_ms BIGINT NOT NULL DEFAULT 0,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE decision (
    decision_id BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    agent_id TEXT,
    requested TEXT NOT NULL,
    candidate TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    harness TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    next TEXT,
    detail TEXT NOT NULL,
    latency_ms BIGINT NOT NULL
);
CREATE INDEX decision_by_run ON decision (run_id, decision_id);
CREATE INDEX decision_by_time ON decision (at_ms);
CREATE INDEX decision_by_provider ON decision (provider, at_ms);

-- What the model saw and said, per run, in order.
CREATE TABLE transcript_entry (
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
