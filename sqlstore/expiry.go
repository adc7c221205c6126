package sqlstore

import (
	"time"

	"github.com/castellan-iam/castellan"
)

// futureExpiry checks an optional expiry (of a grant, of an access key)
// against the transaction's clock and returns it as stored: UTC, to the
// microsecond both backends keep. One already past would be a row that
// never works yet is listed, and for keys takes a place, so it is refused
// with the field and the rule "future".
func futureExpiry(field string, at *time.Time, now time.Time) (*time.Time, error) {
	if at == nil {
		return nil, nil
	}
	t := at.UTC().Truncate(time.Microsecond)
	if !t.After(now) {
		return nil, castellan.Invalid([]castellan.FieldError{{Field: field, Rule: "future", Message: "must be in the future"}})
	}
	return &t, nil
}
