package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/castellan-iam/castellan"
)

// IdempotencyService implements castellan.IdempotencyService.
type IdempotencyService struct{ db *DB }

var _ castellan.IdempotencyService = (*IdempotencyService)(nil)

// Idempotency returns the idempotency service of db.
func (db *DB) Idempotency() *IdempotencyService { return &IdempotencyService{db: db} }

// idempotencyKeyWhere selects the row of one key; its arguments are
// idempotencyKeyArgs.
const idempotencyKeyWhere = `org_id = ? AND caller_type = ? AND caller_id = ? AND key_hash = ?`

func idempotencyKeyArgs(k castellan.IdempotencyKey, more ...any) []any {
	return append([]any{k.OrganizationID, string(k.CallerType), k.CallerID, k.KeyHash}, more...)
}

// FindIdempotencyRecord implements castellan.IdempotencyService.
func (s *IdempotencyService) FindIdempotencyRecord(ctx context.Context, key castellan.IdempotencyKey) (*castellan.IdempotencyRecord, error) {
	var (
		r      castellan.IdempotencyRecord
		answer sql.NullString
	)
	cutoff := s.db.now().UTC().Add(-castellan.IdempotencyWindow)
	err := s.db.queryRow(ctx, `SELECT id, request_hash, revision, created_at, answer FROM idempotency_keys
		WHERE `+idempotencyKeyWhere+` AND created_at > ?`, idempotencyKeyArgs(key, cutoff)...).
		Scan(&r.ID, &r.RequestHash, &r.Revision, &r.CreatedAt, &answer)
	if isNoRows(err) {
		return nil, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeNotFound, "no request with this idempotency key")
	}
	if err != nil {
		return nil, fmt.Errorf("find idempotency record: %w", err)
	}
	r.Answer = answer.String
	return &r, nil
}

// SaveIdempotentAnswer implements castellan.IdempotencyService. The
// answer is not a change of any organization: like the outbox's marks it
// takes no revision.
func (s *IdempotencyService) SaveIdempotentAnswer(ctx context.Context, m castellan.IdempotencyMarker, answer string) (bool, error) {
	var saved int64
	err := s.db.bookkeeping(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE idempotency_keys SET answer = ? WHERE id = ? AND `+idempotencyKeyWhere+` AND answer IS NULL`,
			append([]any{answer, m.ID}, idempotencyKeyArgs(m.Key)...)...)
		if err != nil {
			return fmt.Errorf("save idempotent answer: %w", err)
		}
		saved, err = res.RowsAffected()
		return err
	})
	return saved > 0, err
}

// DeleteExpiredIdempotencyRecords implements castellan.IdempotencyService.
func (s *IdempotencyService) DeleteExpiredIdempotencyRecords(ctx context.Context) (int, error) {
	var n int64
	err := s.db.bookkeeping(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM idempotency_keys WHERE created_at <= ?`, tx.now.Add(-castellan.IdempotencyWindow))
		if err != nil {
			return fmt.Errorf("delete expired idempotency records: %w", err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// checkIdempotencyKey refuses the write of a request whose
// Idempotency-Key another request has used in the last
// IdempotencyWindow. update calls it once it holds the revision counter,
// which serializes writers: a concurrent request with the same key that
// got there first has committed its record by then, so the write runs
// once. A second transaction of the request that wrote the record may
// proceed.
func (tx *Tx) checkIdempotencyKey(ctx context.Context) error {
	m, ok := castellan.IdempotencyFrom(ctx)
	if !ok {
		return nil
	}
	var id string
	err := tx.queryRow(ctx, `SELECT id FROM idempotency_keys WHERE `+idempotencyKeyWhere+` AND created_at > ?`,
		idempotencyKeyArgs(m.Key, tx.now.Add(-castellan.IdempotencyWindow))...).Scan(&id)
	switch {
	case isNoRows(err) || err == nil && id == m.ID:
		return nil
	case err != nil:
		return fmt.Errorf("check idempotency key: %w", err)
	}
	return castellan.Errorf(castellan.ECONFLICT, castellan.CodeIdempotencyInProgress,
		"another request with this Idempotency-Key has written first; retry to get its answer")
}

// recordIdempotencyKey writes the record of the request's Idempotency-Key
// in the transaction of its write, so that the key is taken if and only
// if the write commits. An expired record of the key goes first; a
// record the request wrote in an earlier transaction stays.
func (tx *Tx) recordIdempotencyKey(ctx context.Context) error {
	m, ok := castellan.IdempotencyFrom(ctx)
	if !ok {
		return nil
	}
	_, err := tx.exec(ctx, `DELETE FROM idempotency_keys WHERE `+idempotencyKeyWhere+` AND created_at <= ?`,
		idempotencyKeyArgs(m.Key, tx.now.Add(-castellan.IdempotencyWindow))...)
	if err != nil {
		return fmt.Errorf("record idempotency key: %w", err)
	}
	_, err = tx.exec(ctx, `INSERT INTO idempotency_keys (id, org_id, caller_type, caller_id, key_hash, request_hash, revision, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, caller_type, caller_id, key_hash) DO NOTHING`,
		append([]any{m.ID}, idempotencyKeyArgs(m.Key, m.RequestHash, tx.revision, tx.now)...)...)
	if err != nil {
		return fmt.Errorf("record idempotency key: %w", err)
	}
	return nil
}
