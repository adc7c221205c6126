-- SCIM tokens: bearer tokens an identity provider provisions users and
-- groups with. Only the secret's SHA-256 is kept. A token acts as its
-- creator (actor_user_id); federation_id ('' for none) is the federation
-- of the users it creates.
CREATE TABLE scim_tokens (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    federation_id TEXT NOT NULL DEFAULT '',
    actor_user_id TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    TEXT NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    revision      BIGINT NOT NULL
);
CREATE UNIQUE INDEX scim_tokens_secret_hash ON scim_tokens (secret_hash);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, created_at);
