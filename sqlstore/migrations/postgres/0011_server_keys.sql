-- Keys the server keeps for itself, the same for every replica of the
-- store, made on first use. console_sign_in signs the console sign-in
-- form's token (an HMAC of its cookie's random value), so that only the
-- server can mint a cookie and token pair.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
