-- Organizations, the node tree, users, API tokens, the revision counter, the
-- change log and the audit log.
CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  DATETIME NOT NULL,
    updated_by  TEXT NOT NULL,
    revision    INTEGER NOT NULL
);
CREATE UNIQUE INDEX organizations_name ON organizations (name);

-- nodes holds the tree of every organization: one root (id = organization
-- id), then OUs, accounts and projects linked by parent_id. Deleting never
-- cascades through the tree: a node with children, or an organization
-- with nodes, cannot be deleted by accident.
CREATE TABLE nodes (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    kind        TEXT NOT NULL CHECK (kind IN ('root', 'ou', 'account', 'project')),
    parent_id   TEXT REFERENCES nodes (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  DATETIME NOT NULL,
    updated_by  TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    CHECK ((kind = 'root') = (parent_id IS NULL))
);
CREATE UNIQUE INDEX nodes_one_root ON nodes (org_id) WHERE kind = 'root';
CREATE UNIQUE INDEX nodes_sibling_name ON nodes (parent_id, kind, name) WHERE parent_id IS NOT NULL;
CREATE INDEX nodes_org_kind_name ON nodes (org_id, kind, name, id);
CREATE INDEX nodes_parent ON nodes (parent_id);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    login_id   TEXT NOT NULL,
    email      TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    created_by TEXT NOT NULL,
    updated_at DATETIME NOT NULL,
    updated_by TEXT NOT NULL,
    revision   INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_org_email ON users (org_id, email);
CREATE UNIQUE INDEX users_org_login ON users (org_id, login_id);

-- api_tokens keeps only the SHA-256 of each token; org_id and user_id are
-- NULL for operator tokens.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('operator', 'user')),
    org_id      TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  DATETIME,
    CHECK ((kind = 'operator') = (user_id IS NULL))
);
CREATE UNIQUE INDEX api_tokens_secret_hash ON api_tokens (secret_hash);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- revision_counter has one row; taking the next revision locks it until
-- commit, so revisions become visible in the order they were taken.
CREATE TABLE revision_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO revision_counter (id, value) VALUES (1, 0);

CREATE TABLE change_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    revision    INTEGER NOT NULL,
    org_id      TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    operation   TEXT NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    occurred_at DATETIME NOT NULL
);
CREATE INDEX change_log_revision ON change_log (revision);

CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    occurred_at DATETIME NOT NULL,
    actor_type  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor_org   TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    target_name TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    source_ip   TEXT NOT NULL,
    summary     TEXT NOT NULL
);
CREATE INDEX audit_events_org_revision ON audit_events (org_id, revision DESC, id DESC);
