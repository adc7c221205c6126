package castellan

import (
	"context"
	"time"
)

// IdempotencyWindow is how long the first answer to a request with an
// Idempotency-Key is replayed; after it the key may be used again.
const IdempotencyWindow = 24 * time.Hour

// MaxIdempotencyKeyLength bounds an Idempotency-Key: 1 to this many
// printable ASCII characters (a UUID is the usual choice).
const MaxIdempotencyKeyLength = 255

// IdempotencyKey names the records of one Idempotency-Key: keys are
// scoped to an organization and a caller, so two callers never see each
// other's keys. KeyHash is a hash of the key; the key itself, which
// unlocks the stored answer, is never stored.
type IdempotencyKey struct {
	// OrganizationID is the caller's organization; empty for operators
	// and for calls that need no token.
	OrganizationID string
	CallerType     PrincipalType
	CallerID       string
	KeyHash        string
}

// IdempotencyMarker travels in the context of a request that carries an
// Idempotency-Key: the store's write transaction that records a change
// also records the key (row ID), in the same commit, and refuses to run
// when a live record of the key already exists.
type IdempotencyMarker struct {
	// ID is the record's ID, chosen by the request: only the request that
	// wrote the record may store its answer.
	ID  string
	Key IdempotencyKey
	// RequestHash identifies the request (method, path and body) the key
	// was first used for.
	RequestHash string
}

// IdempotencyRecord is a request with an Idempotency-Key whose write
// committed.
type IdempotencyRecord struct {
	// ID is the IdempotencyMarker.ID of the request that wrote it.
	ID          string
	RequestHash string
	// Revision is the revision of the write.
	Revision  int64
	CreatedAt time.Time
	// Answer is the stored answer, opaque to the store (the API keeps it
	// sealed under the key); empty until the request stored it.
	Answer string
}

type idempotencyKey struct{}

// WithIdempotency returns a context whose write transaction records m.
func WithIdempotency(ctx context.Context, m IdempotencyMarker) context.Context {
	return context.WithValue(ctx, idempotencyKey{}, m)
}

// IdempotencyFrom returns the marker carried by ctx, if any.
func IdempotencyFrom(ctx context.Context) (IdempotencyMarker, bool) {
	m, ok := ctx.Value(idempotencyKey{}).(IdempotencyMarker)
	return m, ok
}

// IdempotencyService keeps the requests made with an Idempotency-Key and
// their answers for IdempotencyWindow. Records are written by the write
// transaction itself (see IdempotencyMarker); the service reads them and
// stores the answers.
type IdempotencyService interface {
	// FindIdempotencyRecord returns the record of key written in the last
	// IdempotencyWindow. Returns ENOTFOUND if there is none.
	FindIdempotencyRecord(ctx context.Context, key IdempotencyKey) (*IdempotencyRecord, error)
	// SaveIdempotentAnswer stores the answer of the request of m. It
	// reports false, and stores nothing, when that request committed no
	// write (no record of m.ID exists) or its answer is already stored.
	SaveIdempotentAnswer(ctx context.Context, m IdempotencyMarker, answer string) (bool, error)
	// DeleteExpiredIdempotencyRecords removes the records older than
	// IdempotencyWindow and returns how many.
	DeleteExpiredIdempotencyRecords(ctx context.Context) (int, error)
}
