package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/castellan-iam/castellan"
)

// enqueueMail writes a mail to the outbox in the transaction of the change
// it tells about: if the change commits, the mail is sent (at least once);
// if not, it never existed. It returns the mail's ID, which the sender
// puts in the headers as idempotency key.
func (tx *Tx) enqueueMail(ctx context.Context, orgID, to string, template castellan.MailTemplate, data map[string]string) (string, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("mail data: %w", err)
	}
	id := newID()
	_, err = tx.exec(ctx, `INSERT INTO outbox (id, org_id, to_address, template, data, status, attempts, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`, id, orgID, to, string(template), string(body), tx.now, tx.now)
	if err != nil {
		return "", fmt.Errorf("enqueue mail: %w", err)
	}
	return id, nil
}

// OutboxService implements castellan.OutboxService: the sender's side of
// the outbox that the store's own writes fill.
type OutboxService struct{ db *DB }

var _ castellan.OutboxService = (*OutboxService)(nil)

// Outbox returns the outbox service of db.
func (db *DB) Outbox() *OutboxService { return &OutboxService{db: db} }

// bookkeeping runs fn in a write transaction that takes no revision and
// records nothing, and commits it when fn returns nil.
//
// Claiming and marking mails are writes of the store but not changes of
// an organization: nobody audits that a sender leased a mail, and
// followers of the change log have nothing to learn from it. They
// therefore stay out of update, which would take (and serialize on) the
// revision counter and roll back a transaction that records no change.
// fn must not call tx.record.
func (db *DB) bookkeeping(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer sqlTx.Rollback()
	tx := &Tx{
		Tx:    sqlTx,
		db:    db,
		now:   db.now().UTC().Truncate(time.Microsecond),
		actor: castellan.Actor(ctx),
		info:  castellan.RequestInfoFrom(ctx),
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

const mailColumns = `id, org_id, to_address, template, %s, status, attempts, next_attempt_at, last_error, created_at, sent_at`

func (db *DB) mailColumns() string { return fmt.Sprintf(mailColumns, db.dialect.jsonText("data")) }

func scanMail(row scanner) (*castellan.Mail, error) {
	var (
		m      castellan.Mail
		data   string
		sentAt sql.NullTime
	)
	err := row.Scan(&m.ID, &m.OrganizationID, &m.To, &m.Template, &data, &m.Status, &m.Attempts,
		&m.NextAttemptAt, &m.LastError, &m.CreatedAt, &sentAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(data), &m.Data); err != nil {
		return nil, fmt.Errorf("mail %s data: %w", m.ID, err)
	}
	m.NextAttemptAt, m.CreatedAt = m.NextAttemptAt.UTC(), m.CreatedAt.UTC()
	if sentAt.Valid {
		t := sentAt.Time.UTC()
		m.SentAt = &t
	}
	return &m, nil
}

// ClaimDueMail implements castellan.OutboxService. On PostgreSQL the due
// rows are selected FOR UPDATE SKIP LOCKED, so replicas claiming at the
// same moment take disjoint sets instead of waiting for each other; the
// lease is then written and counted as an attempt before the transaction
// commits. SQLite has one writer, which does the same alone.
func (s *OutboxService) ClaimDueMail(ctx context.Context, limit int, lease time.Duration) ([]*castellan.Mail, error) {
	if limit <= 0 || lease <= 0 {
		return nil, castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidField, "claim needs a positive limit and lease")
	}
	var mails []*castellan.Mail
	err := s.db.bookkeeping(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT id FROM outbox
			WHERE status = 'pending' AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until <= ?)
			ORDER BY next_attempt_at, id LIMIT ?`+s.db.dialect.lockSkip, tx.now, tx.now, limit)
		if err != nil {
			return fmt.Errorf("select due mail: %w", err)
		}
		ids, err := collect(rows, scanString)
		if err != nil || len(ids) == 0 {
			return err
		}
		in, args := inList(ids)
		rows, err = tx.query(ctx, `UPDATE outbox SET locked_until = ?, attempts = attempts + 1 WHERE id IN `+in+
			` RETURNING `+s.db.mailColumns(), append([]any{tx.now.Add(lease)}, args...)...)
		if err != nil {
			return fmt.Errorf("lease mail: %w", err)
		}
		mails, err = collect(rows, scanMail)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(mails, func(a, b *castellan.Mail) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return mails, nil
}

// MarkMailSent implements castellan.OutboxService.
func (s *OutboxService) MarkMailSent(ctx context.Context, id string) error {
	return s.db.bookkeeping(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE outbox SET status = 'sent', sent_at = ?, locked_until = NULL
			WHERE id = ? AND status <> 'sent'`, tx.now, id)
		if err != nil {
			return fmt.Errorf("mark mail sent: %w", err)
		}
		if err := mailExists(ctx, tx, id, res); err != nil {
			return err
		}
		return scrubMail(ctx, tx, id)
	})
}

// MarkMailFailed implements castellan.OutboxService.
func (s *OutboxService) MarkMailFailed(ctx context.Context, id, reason string, retryAt *time.Time) error {
	return s.db.bookkeeping(ctx, func(tx *Tx) error {
		q := `UPDATE outbox SET status = 'dead', last_error = ?, locked_until = NULL WHERE id = ? AND status = 'pending'`
		args := []any{reason, id}
		if retryAt != nil {
			q = `UPDATE outbox SET next_attempt_at = ?, last_error = ?, locked_until = NULL WHERE id = ? AND status = 'pending'`
			args = []any{retryAt.UTC().Truncate(time.Microsecond), reason, id}
		}
		res, err := tx.exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("mark mail failed: %w", err)
		}
		if err := mailExists(ctx, tx, id, res); err != nil || retryAt != nil {
			return err
		}
		return scrubMail(ctx, tx, id)
	})
}

// scrubMail redacts the links and tokens of a mail that will not be sent
// again, so that the outbox (and its backups) hold no usable invitation
// or reset once it has done its work.
func scrubMail(ctx context.Context, tx *Tx, id string) error {
	var raw string
	if err := tx.queryRow(ctx, `SELECT `+tx.db.dialect.jsonText("data")+` FROM outbox WHERE id = ?`, id).Scan(&raw); err != nil {
		return err
	}
	var data map[string]string
	if err := json.Unmarshal([]byte(raw), &data); err != nil {
		return fmt.Errorf("mail %s data: %w", id, err)
	}
	if !castellan.RedactMailSecrets(data) {
		return nil
	}
	body, err := json.Marshal(data)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `UPDATE outbox SET data = ? WHERE id = ?`, string(body), id)
	return err
}

// mailExists tells a mark that changed nothing because the mail was
// already past it (nil) from one whose mail does not exist (ENOTFOUND).
func mailExists(ctx context.Context, tx *Tx, id string, res sql.Result) error {
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	var one int
	err := tx.queryRow(ctx, `SELECT 1 FROM outbox WHERE id = ?`, id).Scan(&one)
	if isNoRows(err) {
		return notFound(castellan.CodeMailNotFound, "mail", id)
	}
	return err
}

// MailCounts are the outbox's mails by state, for metrics.
type MailCounts struct {
	// Queued mails wait for their first attempt (or are in it); Retried
	// ones failed at least once and wait for another; Sent and Dead ones
	// are done, delivered or given up.
	Queued, Retried, Sent, Dead int64
}

// CountMail counts the outbox's mails of every organization by state.
// /metrics calls it at every scrape, so each count is a range of the
// outbox_due index by status rather than a pass over every mail ever
// written: the pending mails are few, and the done ones are counted in
// the index alone.
func (s *OutboxService) CountMail(ctx context.Context) (MailCounts, error) {
	var c MailCounts
	err := s.db.queryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND last_error = ''),
		(SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND last_error <> ''),
		(SELECT COUNT(*) FROM outbox WHERE status = 'sent'),
		(SELECT COUNT(*) FROM outbox WHERE status = 'dead')`).Scan(&c.Queued, &c.Retried, &c.Sent, &c.Dead)
	if err != nil {
		return MailCounts{}, fmt.Errorf("count mail: %w", err)
	}
	return c, nil
}

// FindMail implements castellan.OutboxService: newest first by creation
// time, then ID, on keyset pages.
func (s *OutboxService) FindMail(ctx context.Context, f castellan.MailFilter) ([]*castellan.Mail, string, error) {
	const list = "mail"
	cur, err := decodeCursor(f.PageToken, list, 2)
	if err != nil {
		return nil, "", err
	}
	size := castellan.PageSize(f.PageSize)
	q := `SELECT ` + s.db.mailColumns() + ` FROM outbox WHERE 1 = 1`
	var args []any
	for _, cond := range []struct {
		column string
		value  *string
	}{{"org_id", f.OrganizationID}, {"status", f.Status}, {"to_address", f.To}} {
		if cond.value != nil {
			q, args = q+` AND `+cond.column+` = ?`, append(args, *cond.value)
		}
	}
	if cur != nil {
		created, err := time.Parse(time.RFC3339Nano, cur.Key[0])
		if err != nil {
			return nil, "", errBadPageToken()
		}
		created = created.UTC()
		q, args = q+` AND (created_at < ? OR (created_at = ? AND id < ?))`, append(args, created, created, cur.Key[1])
	}
	rows, err := s.db.query(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, size+1)...)
	if err != nil {
		return nil, "", err
	}
	mails, err := collect(rows, scanMail)
	if err != nil {
		return nil, "", err
	}
	mails, next := pageOf(mails, size, func(m *castellan.Mail) cursor {
		return cursor{List: list, Key: []string{m.CreatedAt.Format(time.RFC3339Nano), m.ID}}
	})
	return mails, next, nil
}
