-- Role identities: assumable roles, the sub-account API's role users
-- (principal type IamRole). A name is unique in its organization
-- case-insensitively (name_lower). They go with their organization.
CREATE TABLE role_identities (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    name_lower  TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('account', 'server', 'sso', 'service')),
    description TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    created_by  TEXT NOT NULL,
    revision    INTEGER NOT NULL
);
CREATE UNIQUE INDEX role_identities_org_name ON role_identities (org_id, name_lower);

-- One assumption of a role identity, with its source identity. Ending it
-- or deleting its role sets deleted_at: the tombstone keeps the role's
-- name and resource name, so it reads the same after the role is gone.
CREATE TABLE role_sessions (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_identity_id TEXT NOT NULL,
    role_name        TEXT NOT NULL,
    role_rn          TEXT NOT NULL,
    source_type      TEXT NOT NULL CHECK (source_type IN ('IamUser', 'Server', 'FederatedUser', 'NcloudService')),
    source_id        TEXT NOT NULL DEFAULT '',
    source_provider  TEXT NOT NULL DEFAULT '',
    created_at       DATETIME NOT NULL,
    created_by       TEXT NOT NULL,
    expires_at       DATETIME NOT NULL,
    deleted_at       DATETIME,
    revision         INTEGER NOT NULL
);
CREATE INDEX role_sessions_org_role ON role_sessions (org_id, role_identity_id) WHERE deleted_at IS NULL;
