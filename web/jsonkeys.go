package web

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// isJSONBody reports whether r's body is to be read as JSON: huma decodes
// a body without Content-Type as JSON too.
func isJSONBody(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// smallObjectKeys is how many keys of one object duplicateKey compares
// one by one before it indexes them in a map: most objects are small,
// and a map for each would cost more than the scan.
const smallObjectKeys = 16

// jsonFrame is one open object or array on the way to the current token.
type jsonFrame struct {
	object bool
	// wantKey: the next string of an object is a key, not a value.
	wantKey bool
	// key is the object's current key; index the array's current element.
	key   string
	index int
	keys  []string
	seen  map[string]struct{}
}

// addKey records key and reports whether the object already had it.
func (f *jsonFrame) addKey(key string) bool {
	if f.seen != nil {
		if _, dup := f.seen[key]; dup {
			return true
		}
		f.seen[key] = struct{}{}
		return false
	}
	for _, k := range f.keys {
		if k == key {
			return true
		}
	}
	f.keys = append(f.keys, key)
	if len(f.keys) > smallObjectKeys {
		f.seen = make(map[string]struct{}, 2*len(f.keys))
		for _, k := range f.keys {
			f.seen[k] = struct{}{}
		}
		f.keys = nil
	}
	return false
}

// duplicateKey returns the path of the first key that an object of the
// JSON document data names twice (body.grants[0].roleId), or "" when
// every object's keys are distinct. Go's decoder keeps the last of two
// equal keys where other parsers keep the first or refuse, and two
// parsers reading one body differently is how authorization bypasses
// start. Keys compare after unescaping, so "name" and "n\u0061me" are one
// key. A body that is not JSON gives "": the decoder refuses it later
// with its own message.
//
// jsontext's validation (RFC 7493: valid UTF-8, unique names after
// unescaping) clears almost every body without allocating; only a body it
// refuses is walked again to find the path of the duplicate, if that is
// what it refused for.
func duplicateKey(data []byte) string {
	if jsontext.Value(data).IsValid() {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []jsonFrame
	// valueDone moves the innermost open container past a finished value.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.object {
			top.wantKey = true
		} else {
			top.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, jsonFrame{object: t == '{', wantKey: t == '{'})
				continue
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top := len(stack) - 1; top >= 0 && stack[top].wantKey {
				if stack[top].addKey(t) {
					stack[top].key = t
					return jsonPath(stack)
				}
				stack[top].key, stack[top].wantKey = t, false
				continue
			}
		}
		valueDone()
		if len(stack) == 0 {
			return "" // the one top-level value is complete
		}
	}
}

// jsonPath names the current position of stack as a field path.
func jsonPath(stack []jsonFrame) string {
	var b strings.Builder
	b.WriteString("body")
	for _, f := range stack {
		if f.object {
			b.WriteByte('.')
			b.WriteString(f.key)
			continue
		}
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(f.index))
		b.WriteByte(']')
	}
	return b.String()
}
