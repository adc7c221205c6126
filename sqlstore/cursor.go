package sqlstore

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/castellan-iam/castellan"
)

// cursor is the content of a page token: which list issued it and the sort
// key of the last row returned. Keyset pagination on a unique key keeps
// pages stable while rows are inserted: nothing is skipped or repeated.
type cursor struct {
	List string   `json:"l"`
	Key  []string `json:"k"`
}

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c) // a struct of strings always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses a page token issued for list with keys sort-key
// columns; "" means the first page (nil cursor).
func decodeCursor(token, list string, keys int) (*cursor, error) {
	if token == "" {
		return nil, nil
	}
	bad := errBadPageToken()
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, bad
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.List != list || len(c.Key) != keys {
		return nil, bad
	}
	for _, k := range c.Key {
		// Keys go to the database as text, which PostgreSQL refuses
		// when not UTF-8 or holding NUL.
		if !utf8.ValidString(k) || strings.ContainsRune(k, 0) {
			return nil, bad
		}
	}
	return &c, nil
}

// errBadPageToken is the error for a page token this store did not issue
// for the list it is given to.
func errBadPageToken() error {
	return &castellan.Error{
		Kind: castellan.EINVALID, Code: castellan.CodeInvalidPageToken,
		Message: "page_token was not issued by this list",
		Fields:  []castellan.FieldError{{Field: "pageToken", Rule: "format", Message: "must be a nextPageToken returned by the same list"}},
	}
}

// pageOf trims a result fetched with limit size+1 to size and returns the
// token of the next page, made from the last row kept, or "" at the end.
func pageOf[T any](rows []T, size int, next func(last T) cursor) ([]T, string) {
	if len(rows) <= size {
		return rows, ""
	}
	rows = rows[:size]
	return rows, encodeCursor(next(rows[size-1]))
}
