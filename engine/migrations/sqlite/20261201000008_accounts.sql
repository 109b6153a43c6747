-- Users, console sessions and API tokens (docs/SECURITY.md). Secrets are
-- never stored: passwords as argon2id PHC strings, session ids and token
-- secrets as SHA-256 hex (both are 256-bit random values).
CREATE TABLE app_user (
    name TEXT PRIMARY KEY,
    password_hash TEXT,
    role TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    -- 'password' or 'oidc:<issuer>': how this user logs in.
    source TEXT NOT NULL DEFAULT 'password',
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE TABLE app_session (
    id_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL REFERENCES app_user (name),
    created_at_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER,
    address TEXT
);
CREATE INDEX app_session_by_user ON app_session (user_name);

CREATE TABLE api_token (
    token_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    -- JSON: {"agents": [...]?, "readOnly": bool}
    scope TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER,
    revoked_at_ms INTEGER,
    last_used_ms INTEGER
);
