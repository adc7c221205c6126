-- Access keys of users and service accounts, one project's each. The
-- secret is kept as its SHA-256 only. Owners and projects are named
-- without foreign keys, as grants name subjects: a key whose owner or
-- project is gone is refused at exchange and at every request.
CREATE TABLE access_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id   TEXT NOT NULL,
    owner_type   TEXT NOT NULL CHECK (owner_type IN ('user', 'serviceAccount')),
    owner_id     TEXT NOT NULL,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
    expires_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL,
    last_used_at TIMESTAMPTZ,
    revision     BIGINT NOT NULL
);
-- Serves the per-owner limit and the owner's list.
CREATE INDEX access_keys_owner ON access_keys (org_id, owner_type, owner_id, project_id);
CREATE INDEX access_keys_org_created ON access_keys (org_id, created_at, id);

-- Bearer tokens issued for access keys, by the SHA-256 of the token.
-- Deleting the key deletes them.
CREATE TABLE access_key_tokens (
    token_hash TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES access_keys (id) ON DELETE CASCADE,
    issued_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX access_key_tokens_key ON access_key_tokens (key_id);
