-- Groups and their members, custom roles and grants. Built-in roles live in
-- the service catalogue, not here, so grants.role_id is either a built-in
-- role ID or the UUID of a custom role and has no foreign key. Names use the
-- "C" collation, as in 0001.
CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT NOT NULL,
    revision    BIGINT NOT NULL
);
CREATE UNIQUE INDEX groups_org_name ON groups (org_id, name);

CREATE TABLE group_members (
    org_id   TEXT NOT NULL,
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at TIMESTAMPTZ NOT NULL,
    added_by TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_org_user ON group_members (org_id, user_id);
-- Deleting a user cascades by user_id alone.
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL CHECK (kind IN ('organization', 'project', 'service')),
    actions     JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT NOT NULL,
    revision    BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_org_name ON roles (org_id, name);

CREATE TABLE grants (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('organization', 'project', 'resource')),
    subject_type TEXT NOT NULL CHECK (subject_type IN ('user', 'group', 'serviceAccount')),
    subject_id   TEXT NOT NULL,
    expires_at   TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL,
    revision     BIGINT NOT NULL
);
CREATE UNIQUE INDEX grants_identity ON grants (org_id, role_id, scope, subject_type, subject_id);
CREATE INDEX grants_org_subject ON grants (org_id, subject_type, subject_id, scope);
CREATE INDEX grants_org_scope ON grants (org_id, scope);
CREATE INDEX grants_org_role ON grants (org_id, role_id);
CREATE INDEX grants_expires_at ON grants (expires_at) WHERE expires_at IS NOT NULL;
