-- The transactional outbox: mails written in the transaction of the change
-- they tell about and delivered by the sender afterwards.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL,
    to_address      TEXT NOT NULL,
    template        TEXT NOT NULL,
    data            JSONB NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    locked_until    TIMESTAMPTZ,
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_org_created ON outbox (org_id, created_at DESC, id DESC);
