-- Identity federations: the OpenID Connect providers an organization's
-- federated users sign in with. The client secret is sealed under the
-- operator's key-encryption key as access key secrets are, the
-- federation's ID bound as additional data; both NULL for a public
-- client. Lists (scopes, allowed domains, group mappings) are JSON.
CREATE TABLE federations (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    name_lower      TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    issuer          TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    secret_sealed   BYTEA,
    secret_kek_id   TEXT,
    scopes          TEXT NOT NULL,
    email_claim     TEXT NOT NULL,
    name_claim      TEXT NOT NULL,
    groups_claim    TEXT NOT NULL,
    allowed_domains TEXT NOT NULL,
    auto_provision  BOOLEAN NOT NULL,
    mfa_by_idp      BOOLEAN NOT NULL,
    trust_email     BOOLEAN NOT NULL DEFAULT FALSE,
    group_mappings  TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    updated_by      TEXT NOT NULL,
    revision        BIGINT NOT NULL
);
CREATE UNIQUE INDEX federations_org_name ON federations (org_id, name_lower);

-- A federated user is bound to its provider's subject (the ID token's
-- sub) at its first sign-in; (federation, subject) finds it from then on.
ALTER TABLE users ADD COLUMN federation_subject TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_federation_subject ON users (federation_id, federation_subject)
    WHERE status <> 'deleted' AND federation_subject <> '';
CREATE INDEX users_federation ON users (org_id, federation_id) WHERE federation_id <> '';
