package web_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/web"
)

// FuzzDuplicateKey checks duplicateKey against a count: in valid JSON
// every colon outside strings ends one key, and decoding into maps keeps
// one key of each name per object, so the two counts differ exactly when
// some object names a key twice.
func FuzzDuplicateKey(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `"a"`, `1`, `null`, `{"a":1}`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`,
		`[{"a":1},{"a":1}]`, `{"a":[{"b":1},{"c":1,"c":2}]}`, `{"a\u0062":1,"ab":2}`, `{"a":"x:y","b":"\":"}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"r":18,"a":19}`,
		`{"a":1} {"a":1,"a":2}`, `{"a":1,`, `[1,2,{"x":[[],{}]},3]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := web.DuplicateKey(data)
		if path != "" && !strings.HasPrefix(path, "body") {
			t.Fatalf("path %q does not start at body", path)
		}
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		if dup := colonsOutsideStrings(data) != keysIn(v); dup != (path != "") {
			t.Fatalf("%q: got path %q, want a duplicate: %v", data, path, dup)
		}
	})
}

func colonsOutsideStrings(data []byte) int {
	n, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && c == ':':
			n++
		}
	}
	return n
}

func keysIn(v any) int {
	n := 0
	switch v := v.(type) {
	case map[string]any:
		for _, child := range v {
			n += 1 + keysIn(child)
		}
	case []any:
		for _, child := range v {
			n += keysIn(child)
		}
	}
	return n
}

// BenchmarkDuplicateKey scans a body of the size and shape of a decision
// request, which every POST /v1/authorize pays for.
func BenchmarkDuplicateKey(b *testing.B) {
	body := []byte(`{"principal": {"type": "user", "id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "organizationId": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"},
		"action": "compute:StartInstance", "resource": "project/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d", "context": {"sourceIp": "10.1.2.3"}}`)
	b.ReportAllocs()
	for b.Loop() {
		if web.DuplicateKey(body) != "" {
			b.Fatal("duplicate reported")
		}
	}
}
