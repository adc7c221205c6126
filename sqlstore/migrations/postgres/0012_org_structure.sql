-- The organization's structure (seed 001): OUs and accounts are nodes;
-- every node keeps its materialized path of IDs ("/<root>/<ou>/<id>/"),
-- so ancestry, depth and subtrees are one indexed read. Structural
-- writes lock the organization's row, so concurrent moves serialize and
-- never make a cycle or exceed the depth limit.
ALTER TABLE nodes ADD COLUMN path TEXT COLLATE "C" NOT NULL DEFAULT '';
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
    joined_at                 TIMESTAMPTZ NOT NULL,
    payment_method_registered BOOLEAN NOT NULL DEFAULT FALSE,
    credit_assigned           BOOLEAN NOT NULL DEFAULT FALSE,
    resources_in_use          INTEGER NOT NULL DEFAULT 0,
    identity_center_delegated BOOLEAN NOT NULL DEFAULT FALSE,
    cloud_control             TEXT NOT NULL DEFAULT 'none' CHECK (cloud_control IN ('none', 'registering', 'registered')),
    delegates                 TEXT NOT NULL DEFAULT '[]',
    attributes_updated_at     TIMESTAMPTZ,
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
    created_at   TIMESTAMPTZ NOT NULL,
    created_by   TEXT NOT NULL,
    responded_at TIMESTAMPTZ,
    responded_by TEXT NOT NULL DEFAULT '',
    revision     BIGINT NOT NULL
);
CREATE INDEX account_invitations_org ON account_invitations (org_id, created_at, id);
CREATE INDEX account_invitations_email ON account_invitations (email, status);
CREATE UNIQUE INDEX account_invitations_pending ON account_invitations (org_id, email) WHERE status = 'pending';

-- Custom control policies; system ones (FullAccess) live in the code.
CREATE TABLE control_policies (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    document    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT NOT NULL,
    revision    BIGINT NOT NULL
);
CREATE UNIQUE INDEX control_policies_org_name ON control_policies (org_id, name);

-- Which policies are attached directly to which root, OU or account.
-- policy_id is a system policy's ID or a control_policies row's.
CREATE TABLE policy_attachments (
    org_id      TEXT NOT NULL REFERENCES organizations (id),
    node_id     TEXT NOT NULL REFERENCES nodes (id),
    policy_id   TEXT NOT NULL,
    attached_at TIMESTAMPTZ NOT NULL,
    attached_by TEXT NOT NULL,
    revision    BIGINT NOT NULL,
    PRIMARY KEY (node_id, policy_id)
);
CREATE INDEX policy_attachments_policy ON policy_attachments (org_id, policy_id);
CREATE INDEX policy_attachments_node ON policy_attachments (org_id, node_id);
-- Every existing root gets FullAccess, as new roots do.
INSERT INTO policy_attachments (org_id, node_id, policy_id, attached_at, attached_by, revision)
    SELECT org_id, id, 'FullAccess', created_at, created_by, revision FROM nodes WHERE kind = 'root';

-- Grants may be made on OUs and accounts.
ALTER TABLE grants DROP CONSTRAINT grants_scope_kind_check;
ALTER TABLE grants ADD CONSTRAINT grants_scope_kind_check CHECK (scope_kind IN ('organization', 'ou', 'account', 'project', 'resource'));
