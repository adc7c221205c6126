package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestDocs: /docs, without a token, shows every operation of the
// OpenAPI document and every schema, as a page that runs no script and
// loads nothing.
func TestDocs(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/castellan.db")
	var doc struct {
		Paths      map[string]map[string]struct{ OperationID string } `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(fetchOpenAPI(t, e), &doc); err != nil {
		t.Fatal(err)
	}
	resp, err := e.srv.Client().Get(e.srv.URL + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /docs: %d %v", resp.StatusCode, err)
	}
	page := string(body)
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q", csp)
	}
	ops := 0
	for path, methods := range doc.Paths {
		for method, op := range methods {
			ops++
			if !strings.Contains(page, `id="op-`+op.OperationID+`"`) {
				t.Errorf("%s %s (%s) is not in the reference", strings.ToUpper(method), path, op.OperationID)
			}
		}
	}
	if got := strings.Count(page, `<section class="op" id="op-`); got != ops {
		t.Errorf("the reference shows %d operations, the document has %d", got, ops)
	}
	for name := range doc.Components.Schemas {
		if !strings.Contains(page, `id="schema-`+name+`"`) {
			t.Errorf("schema %s is not in the reference", name)
		}
	}
	if !strings.Contains(page, `<span class="method">POST</span> <code>/v1/authorize</code>`) {
		t.Error("POST /v1/authorize is not shown with its method and path")
	}
}
