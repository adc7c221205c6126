-- Second factors of users: one TOTP factor each (RFC 6238: SHA-1, six
-- digits, 30-second steps) and its single-use recovery codes.
--
-- The TOTP secret is stored as it is, unlike passwords, tokens and
-- recovery codes: checking a code means computing it from the secret, so
-- a hash would be useless. Whoever can read this table can compute codes;
-- the password is still needed besides.
--
-- secret is the confirmed factor (NULL until ConfirmTOTP); pending_secret
-- is one being enrolled (NULL when none). last_step is the time step
-- (Unix time / 30) of the last code accepted: a code is accepted only for
-- a newer step, so no code works twice.
CREATE TABLE user_totp (
    user_id        TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret         TEXT,
    last_step      BIGINT NOT NULL DEFAULT 0,
    confirmed_at   TIMESTAMPTZ,
    pending_secret TEXT,
    pending_at     TIMESTAMPTZ
);

-- Recovery codes by their SHA-256; using one deletes its row.
CREATE TABLE user_recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- The organization's mandate: every user needs a second factor.
ALTER TABLE organizations ADD COLUMN mfa_required BOOLEAN NOT NULL DEFAULT FALSE;
