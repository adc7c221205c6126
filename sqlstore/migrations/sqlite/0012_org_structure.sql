-- The organization's structure (seed 001): OUs and accounts are nodes;
-- every node keeps its materialized path of IDs ("/<root>/<ou>/<id>/"),
-- so ancestry, depth and subtrees are one indexed read. Structural
-- writes lock the organization's row, so concurrent moves serialize and
-- never make a cycle or exceed the depth limit.
ALTER TABLE nodes ADD COLUMN path TEXT NOT NULL DEFAULT '';
UPDATE nodes SET path = '/' || id || '/' WHERE kind = 'root';
UPDATE nodes SET path = '/' || parent_id || '/' || id || '/' WHERE kind <> 'root';
CREATE INDEX nodes_org_path ON nodes (org_id, path);
-- Account names are unique in their organization, whatever the parent.
CREATE UNIQUE INDEX nodes_account_name ON nodes (org_id, name) WHERE kind = 'account';

-- accounts holds what an account node has beyond a node: its root user,
-- how it joined, and the billing and inventory facts the operator sets
-- (the default Billing and ResourceInventory read them).
CREATE TABLE accounts (
    id                        TEXT PRIMARY KEY REFERENCES nodes (id),
    org_id                    TEXT NOT NULL REFERENCES organizations (id),
    email                     TEXT NOT NULL,
    root_user_id              TEXT NOT NULL,
    iam_role_name             TEXT NOT NULL DEFAULT '',
    addition_type             TEXT NOT NULL CHECK (addition_type IN ('created', 'invited')),
    management                BOOLEAN NOT NULL DEFAULT FALSE,
    joined_at                 DATETIME NOT NULL,
    payment_method_registered BOOLEAN NOT NULL DEFAULT FALSE,
    credit_assigned           BOOLEAN NOT NULL DEFAULT FALSE,
    resources_in_use          INTEGER NOT NULL DEFAULT 0,
    identity_center_delegated BOOLEAN NOT NULL DEFAULT FALSE,
    cloud_control             TEXT NOT NULL DEFAULT 'none' CHECK (cloud_control IN ('none', 'registering', 'registered')),
    delegates                 TEXT NOT NULL DEFAULT '[]',
    attributes_updated_at     DATETIME,
    attributes_updated_by     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX accounts_org ON accounts (org_id);
CREATE INDEX accounts_email ON accounts (email);

-- Invitations of existing accounts by root user email (lower-cased);
-- one pending invitation per organization and email.
CREATE TABLE account_invitations (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    email        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'cancelled')),
    account_id   TEXT NOT NULL DEFAULT '',
    created_at   DATETIME NOT NULL,
    created_by   TEXT NOT NULL,
    responded_at DATETIME,
    responded_by TEXT NOT NULL DEFAULT '',
    revision     INTEGER NOT NULL
);
CREATE INDEX account_invitations_org ON account_invitations (org_id, created_at, id);
CREATE INDEX account_invitations_email ON account_invitations (email, status);
CREATE UNIQUE INDEX account_invitations_pending ON account_invitations (org_id, email) WHERE status = 'pending';

-- Custom control policies; system ones (FullAccess) live in the code.
CREATE TABLE control_policies (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    document    TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  DATETIME NOT NULL,
    updated_by  TEXT NOT NULL,
    revision    INTEGER NOT NULL
);
CREATE UNIQUE INDEX control_policies_org_name ON control_policies (org_id, name);

-- Which policies are attached directly to which root, OU or account.
-- policy_id is a system policy's ID or a control_policies row's.
CREATE TABLE policy_attachments (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    node_id     TEXT NOT NULL REFERENCES nodes (id),
    policy_id   TEXT NOT NULL,
    attached_at DATETIME NOT NULL,
    attached_by TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    PRIMARY KEY (node_id, policy_id)
);
CREATE INDEX policy_attachments_policy ON policy_attachments (org_id, policy_id);
CREATE INDEX policy_attachments_node ON policy_attachments (org_id, node_id);
-- Every existing root gets FullAccess, as new roots do.
INSERT INTO policy_attachments (org_id, node_id, policy_id, attached_at, attached_by, revision)
    SELECT org_id, id, 'FullAccess', created_at, created_by, revision FROM nodes WHERE kind = 'root';

-- Grants may be made on OUs and accounts. SQLite cannot change a CHECK
-- constraint, so the table is rebuilt; nothing references it.
CREATE TABLE grants_new (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    scope_kind   TEXT NOT NULL CHECK (scope_kind IN ('organization', 'ou', 'account', 'project', 'resource')),
    subject_type TEXT NOT NULL CHECK (subject_type IN ('user', 'group', 'serviceAccount')),
    subject_id   TEXT NOT NULL,
    expires_at   DATETIME,
    created_at   DATETIME NOT NULL,
    created_by   TEXT NOT NULL,
    revision     INTEGER NOT NULL
);
INSERT INTO grants_new SELECT id, org_id, role_id, scope, scope_kind, subject_type, subject_id, expires_at, created_at, created_by, revision FROM grants;
DROP TABLE grants;
ALTER TABLE grants_new RENAME TO grants;
CREATE UNIQUE INDEX grants_identity ON grants (org_id, role_id, scope, subject_type, subject_id);
CREATE INDEX grants_org_subject ON grants (org_id, subject_type, subject_id, scope);
CREATE INDEX grants_org_scope ON grants (org_id, scope);
CREATE INDEX grants_org_role ON grants (org_id, role_id);
CREATE INDEX grants_expires_at ON grants (expires_at) WHERE expires_at IS NOT NULL;
