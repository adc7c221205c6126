package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/castellan-iam/castellan"
)

// statusOf maps error kinds to HTTP statuses; every HTTP surface answers
// a kind with the same status, in its own body.
var statusOf = map[castellan.Kind]int{
	castellan.EINVALID:         http.StatusBadRequest,
	castellan.ENOTFOUND:        http.StatusNotFound,
	castellan.ECONFLICT:        http.StatusConflict,
	castellan.EUNAUTHENTICATED: http.StatusUnauthorized,
	castellan.EFORBIDDEN:       http.StatusForbidden,
	castellan.EPRECONDITION:    http.StatusPreconditionFailed,
	castellan.ETOOLARGE:        http.StatusRequestEntityTooLarge,
	castellan.ERATELIMITED:     http.StatusTooManyRequests,
	castellan.EINTERNAL:        http.StatusInternalServerError,
	castellan.EUNAVAILABLE:     http.StatusServiceUnavailable,
}

// Status is the HTTP status of an error of kind.
func Status(kind castellan.Kind) int { return statusOf[kind] }

// storeRetryAfter is when a client should retry after a 503: soon enough to
// come back quickly from a failover, late enough not to hammer a store
// that is recovering.
const storeRetryAfter = 2 * time.Second

// PublicError is err as a client may see it. An error that is not a
// castellan.Error, or is internal, is logged with the request ID and
// becomes "internal error"; an unavailable store is logged as a warning.
func PublicError(ctx context.Context, err error) *castellan.Error {
	var e *castellan.Error
	if !errors.As(err, &e) || e.Kind == castellan.EINTERNAL {
		Logger(ctx).Error("internal error", "err", err)
		e = castellan.Errorf(castellan.EINTERNAL, castellan.CodeInternal, "internal error; quote the request ID to the operator")
	}
	if e.Kind == castellan.EUNAVAILABLE {
		Logger(ctx).Warn("store unavailable", "err", err)
	}
	return e
}
