-- The decision log: decisions aggregated per organization, principal,
-- action and scope (the resource asked about), merged by the flusher of
-- every process that records (castellan serve --decision-log). Rows last
-- seen before the retention are pruned. Like the outbox's marks, the log
-- is bookkeeping: it takes no revision and writes no audit event.
CREATE TABLE decision_log (
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    principal_type  TEXT NOT NULL CHECK (principal_type IN ('user', 'serviceAccount')),
    principal_id    TEXT NOT NULL,
    action          TEXT NOT NULL,
    scope           TEXT NOT NULL,
    allowed_count   BIGINT NOT NULL,
    denied_count    BIGINT NOT NULL,
    first_seen      TIMESTAMPTZ NOT NULL,
    last_seen       TIMESTAMPTZ NOT NULL,
    last_allowed_at TIMESTAMPTZ,
    PRIMARY KEY (org_id, principal_type, principal_id, action, scope)
);
CREATE INDEX decision_log_last_seen ON decision_log (last_seen);

-- The processes that record decisions, each heartbeating at its flushes,
-- so that a reader of the log knows since when it has been recording.
-- sample_ppm is the sample rate in parts per million.
CREATE TABLE decision_log_recorders (
    id                TEXT PRIMARY KEY,
    mode              TEXT NOT NULL CHECK (mode IN ('sample', 'all')),
    sample_ppm        BIGINT NOT NULL,
    flush_interval_ms BIGINT NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL,
    seen_at           TIMESTAMPTZ NOT NULL
);
