package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/castellan-iam/castellan"
)

// Revisions is how far this process has applied the change log: the
// change feed (changefeed.Feed), which every in-memory derivative of the
// store (the token cache, the authorization index) follows.
type Revisions interface {
	// WaitFor returns nil once this process has applied revision, or
	// ctx's error if ctx ends first.
	WaitFor(ctx context.Context, revision int64) error
}

// DefaultConsistencyWait is how long a request that names a revision
// waits for it by default (--consistency-wait).
const DefaultConsistencyWait = 2 * time.Second

// MaxConsistencyWait bounds --consistency-wait: a client waiting longer
// is better told to retry (on another replica, perhaps).
const MaxConsistencyWait = 30 * time.Second

// AwaitRevision waits, at most wait, until revisions has applied
// revision. It returns EUNAVAILABLE (revision.not_applied, a 503 with
// Retry-After) when the wait ends first, and ctx's error when the
// request ends.
func AwaitRevision(ctx context.Context, revisions Revisions, wait time.Duration, revision int64) error {
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err := revisions.WaitFor(waitCtx, revision)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return castellan.Errorf(castellan.EUNAVAILABLE, castellan.CodeRevisionNotApplied,
			"this server has not applied revision %d yet (waited %s): retry in a moment", revision, wait)
	}
	return err
}

// awaitToken holds a request that carries a Consistency-Token until this
// process has applied the token's revision (AwaitRevision). Only
// authenticated requests wait: the plumbing calls it once it knows the
// caller, so that nobody anonymous can hold requests or make the change
// feed read the store at will.
func (p *Plumbing) awaitToken(r *http.Request) error {
	token := r.Header.Get(castellan.ConsistencyTokenHeader)
	if token == "" {
		return nil
	}
	revision, ok := castellan.ParseConsistencyToken(token)
	if !ok {
		return &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeInvalidConsistencyToken,
			Message: castellan.ConsistencyTokenHeader + " must be a revision as a write's answer gave it (a positive decimal integer)",
			Fields: []castellan.FieldError{{Field: "header." + castellan.ConsistencyTokenHeader, Rule: "format",
				Message: "must be a positive decimal integer"}}}
	}
	return AwaitRevision(r.Context(), p.revisions, p.consistencyWait, revision)
}
