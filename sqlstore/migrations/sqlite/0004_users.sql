-- The user model of the users issue: profile, access settings, passwords,
-- tombstones and invitations. Login IDs and emails are unique per
-- organization case-insensitively, among users that are not deleted, so
-- that a deleted user's login ID can be registered again. The *_lower
-- columns serve uniqueness, sorting and prefix search; the store fills
-- them with Go's strings.ToLower.
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN nickname TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN middle_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN contact_email TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN mobile TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN memo TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN account_type TEXT NOT NULL DEFAULT 'local' CHECK (account_type IN ('local', 'federated'));
ALTER TABLE users ADD COLUMN federation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN console_access BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN api_access BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN mfa_mandatory BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN password_reset_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN use_console_permit_ip BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN console_permit_ips TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN use_api_allow_source BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN api_allow_sources TEXT NOT NULL DEFAULT '[]';
-- password_hash is an argon2id PHC string; NULL for users without a
-- password (invited, federated, API-only).
ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN password_changed_at DATETIME;
ALTER TABLE users ADD COLUMN last_login_at DATETIME;
ALTER TABLE users ADD COLUMN deleted_at DATETIME;
ALTER TABLE users ADD COLUMN login_id_lower TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN email_lower TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN name_lower TEXT NOT NULL DEFAULT '';
UPDATE users SET login_id_lower = lower(login_id), email_lower = lower(email);

DROP INDEX users_org_email;
DROP INDEX users_org_login;
CREATE UNIQUE INDEX users_org_email ON users (org_id, email_lower) WHERE status <> 'deleted';
CREATE UNIQUE INDEX users_org_login ON users (org_id, login_id_lower) WHERE status <> 'deleted';
-- One index per sort of the user list, each ending in the ID for keyset
-- pagination; the login and name ones also serve prefix search.
CREATE INDEX users_org_created ON users (org_id, created_at, id);
CREATE INDEX users_org_login_sort ON users (org_id, login_id_lower, id);
CREATE INDEX users_org_name ON users (org_id, name_lower, id);
-- The status filter: counting a status's users, listing a rare status.
CREATE INDEX users_org_status ON users (org_id, status, id);

-- invitations keeps the SHA-256 of each link's token. A new link for the
-- user voids the open ones; accepting one marks it used.
CREATE TABLE invitations (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME,
    voided_at  DATETIME,
    created_at DATETIME NOT NULL,
    created_by TEXT NOT NULL
);
CREATE UNIQUE INDEX invitations_token_hash ON invitations (token_hash);
CREATE INDEX invitations_user ON invitations (user_id);
