package api

import (
	"net/http"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
	"github.com/danielgtaylor/huma/v2"
)

// rateLimited is the 429 problem with a Retry-After header in whole
// seconds, rounded up.
func rateLimited(what string, wait time.Duration) error {
	err := castellan.Errorf(castellan.ERATELIMITED, castellan.CodeRateLimited, "too many requests %s; retry later", what)
	return huma.ErrorWithHeaders(err, http.Header{"Retry-After": {web.RetryAfter(wait)}})
}
