-- Operator config is stored as an append-only chain of revisions (DESIGN §6).
-- A revision is never updated or deleted: rollback writes a new revision whose
-- body is an older one's.
CREATE TABLE config_revision (
    config_revision_id INTEGER PRIMARY KEY,
    -- 0 for the first revision. NOT NULL plus UNIQUE makes history linear:
    -- two writers starting from the same base race for the same parent_id and
    -- exactly one wins; the loser gets a conflict instead of a lost update.
    -- (A NULL root would let two replicas each seed their own first revision.)
    parent_id INTEGER NOT NULL UNIQUE,
    -- sha256 over the parent's hash and this body: names the revision in
    -- If-Match headers, and differs for two revisions with equal bodies.
    hash TEXT NOT NULL UNIQUE,
    author TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    -- The whole config as JSON text.
    body TEXT NOT NULL
);
