package castellan

import (
	"context"
	"strconv"
	"sync/atomic"
)

// ConsistencyTokenHeader carries a revision both ways: every answer to a
// request whose write committed names the write's revision in it, and a
// request that carries it is answered only once this process has
// applied that revision (at least), so that a client reads its own
// writes on any replica. The token is the revision in decimal.
const ConsistencyTokenHeader = "Consistency-Token"

// ParseConsistencyToken returns the revision of a consistency token: a
// positive decimal integer.
func ParseConsistencyToken(s string) (int64, bool) {
	rev, err := strconv.ParseInt(s, 10, 64)
	if err != nil || rev <= 0 || strconv.FormatInt(rev, 10) != s {
		return 0, false
	}
	return rev, true
}

// writeRevisions collects the newest revision committed by the writes
// made with a context (WithWriteRevisions).
type writeRevisions struct{ newest atomic.Int64 }

type writeRevisionsKey struct{}

// WithWriteRevisions returns a context whose writes note their
// revisions, for WrittenRevision: the HTTP plumbing gives one to every
// request, to answer with a Consistency-Token.
func WithWriteRevisions(ctx context.Context) context.Context {
	return context.WithValue(ctx, writeRevisionsKey{}, &writeRevisions{})
}

// NoteWriteRevision records that a write made with ctx committed at
// revision (the store calls it after each commit, and the API for an
// Idempotency-Key answer replayed from its first request's write).
func NoteWriteRevision(ctx context.Context, revision int64) {
	w, ok := ctx.Value(writeRevisionsKey{}).(*writeRevisions)
	if !ok {
		return
	}
	for {
		old := w.newest.Load()
		if revision <= old || w.newest.CompareAndSwap(old, revision) {
			return
		}
	}
}

// WrittenRevision returns the newest revision committed by a write made
// with ctx, or 0 when none committed (or ctx does not note them).
func WrittenRevision(ctx context.Context) int64 {
	if w, ok := ctx.Value(writeRevisionsKey{}).(*writeRevisions); ok {
		return w.newest.Load()
	}
	return 0
}
