-- Console sessions. The cookie holds a random secret; secret_hash is its
-- SHA-256 (32 random bytes need no slow hash). id is the public name of a
-- session, never the secret. A session ends at expires_at, or when unused
-- for idle_timeout_seconds after last_seen_at (which moves at most once a
-- minute); the policy in force at sign-in is kept with the row.
CREATE TABLE console_sessions (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id              TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash          TEXT NOT NULL,
    state                TEXT NOT NULL CHECK (state IN ('mfa_pending', 'password_change', 'complete')),
    created_at           TIMESTAMPTZ NOT NULL,
    last_seen_at         TIMESTAMPTZ NOT NULL,
    expires_at           TIMESTAMPTZ NOT NULL,
    idle_timeout_seconds BIGINT NOT NULL,
    source_ip            TEXT NOT NULL,
    user_agent           TEXT NOT NULL
);
CREATE UNIQUE INDEX console_sessions_secret ON console_sessions (secret_hash);
CREATE INDEX console_sessions_user ON console_sessions (org_id, user_id, created_at);

-- Every failed sign-in of a known organization, also for login names
-- that match no user (user_id NULL). The lockout counts a user's rows
-- newer than both the window and users.failures_since.
CREATE TABLE sign_in_failures (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    login_tried TEXT NOT NULL,
    reason      TEXT NOT NULL,
    failed_at   TIMESTAMPTZ NOT NULL,
    source_ip   TEXT NOT NULL
);
CREATE INDEX sign_in_failures_user ON sign_in_failures (org_id, user_id, failed_at);

-- locked_until refuses sign-ins until then; failures_since restarts the
-- count after a success or a lockout.
ALTER TABLE users ADD COLUMN locked_until TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN failures_since TIMESTAMPTZ;
