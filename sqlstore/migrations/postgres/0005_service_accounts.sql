-- Service accounts: principals for programs, one project's each. The
-- project reference does not cascade (the tree never does): deleting a
-- project deletes its service accounts and their grants explicitly, with
-- their change-log rows. Grants name service accounts by subject_id, as
-- they name users and groups, without a foreign key. Names use the "C"
-- collation, as in 0001.
CREATE TABLE service_accounts (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    project_id  TEXT NOT NULL REFERENCES nodes (id),
    name        TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    created_by  TEXT NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT NOT NULL,
    revision    BIGINT NOT NULL
);
-- Names are unique in the project; the index also serves the list of a
-- project's accounts by name and the check of the project reference when
-- a node is deleted.
CREATE UNIQUE INDEX service_accounts_project_name ON service_accounts (project_id, name);
-- Deleting an organization cascades by org_id.
CREATE INDEX service_accounts_org ON service_accounts (org_id);
