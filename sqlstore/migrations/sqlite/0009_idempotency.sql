-- Requests made with an Idempotency-Key whose write committed. The write's
-- transaction inserts the row, so the key is taken exactly when the write
-- is done; the API then stores the answer, sealed under the key (only
-- key_hash, a hash of the key, is kept). Keys belong to an organization
-- (empty for operators and for calls without a token) and a caller. Rows
-- count for 24 hours after created_at; a sweep deletes older ones, and a
-- write with an expired key deletes its old row first.
CREATE TABLE idempotency_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    caller_type  TEXT NOT NULL,
    caller_id    TEXT NOT NULL,
    key_hash     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    created_at   DATETIME NOT NULL,
    answer       TEXT
);
CREATE UNIQUE INDEX idempotency_keys_key ON idempotency_keys (org_id, caller_type, caller_id, key_hash);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
