package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/danielgtaylor/huma/v2"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
)

// TestOpenAPI checks that /v1/openapi.json is a valid OpenAPI 3.1 document
// and that every operation has an ID, a summary, a success schema and
// documented problem+json errors.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/castellan.db")
	spec := fetchOpenAPI(t, e)
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Fatalf("got OpenAPI %s, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("%s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}

	var raw struct {
		Paths map[string]map[string]struct {
			OperationID string                 `json:"operationId"`
			Tags        []string               `json:"tags"`
			Summary     string                 `json:"summary"`
			Security    *[]map[string][]string `json:"security"`
			RequestBody *struct {
				Content map[string]any `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(spec, &raw); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for path, methods := range raw.Paths {
		for method, op := range methods {
			name := strings.ToUpper(method) + " " + path
			seen[name] = true
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s: no operationId or summary", name)
			}
			if compatibility(op.Tags) {
				continue // another cloud's error body; its package tests it
			}
			public := op.Security != nil && len(*op.Security) == 0
			var success bool
			for status, resp := range op.Responses {
				if strings.HasPrefix(status, "2") {
					for _, media := range resp.Content {
						success = success || len(media.Schema) > 0
					}
					continue
				}
				if resp.Content["application/problem+json"].Schema["$ref"] != "#/components/schemas/Problem" {
					t.Errorf("%s %s: error response is not a Problem: %+v", name, status, resp.Content)
				}
			}
			if !success {
				t.Errorf("%s: no success response with a schema", name)
			}
			if op.OperationID == "get-metrics" {
				continue // Prometheus text from promhttp, documented by hand
			}
			wantErrors := []string{"400", "500"}
			if op.OperationID != "get-health" {
				wantErrors = append(wantErrors, "503") // store.unavailable
			}
			if !public {
				wantErrors = append(wantErrors, "401", "403")
			}
			if op.RequestBody != nil {
				wantErrors = append(wantErrors, "413", "415")
				if op.RequestBody.Content["application/json"] == nil && op.RequestBody.Content["application/x-ndjson"] == nil {
					t.Errorf("%s: request body is not JSON", name)
				}
			}
			for _, status := range wantErrors {
				if _, ok := op.Responses[status]; !ok {
					t.Errorf("%s: error %s not documented", name, status)
				}
			}
		}
	}
	// TestRoleMatrix fails for an operation without a row, so every
	// operation is also run and checked against the document there.
	if len(seen) < 40 {
		t.Errorf("document has %d operations, want the whole API", len(seen))
	}

	// The documented project name pattern is the one the domain enforces.
	var createBody struct {
		Properties map[string]struct{ Pattern string } `json:"properties"`
	}
	if err := json.Unmarshal(raw.Components.Schemas["ProjectCreateBody"], &createBody); err != nil {
		t.Fatal(err)
	}
	if got := createBody.Properties["name"].Pattern; got != castellan.ProjectNamePattern {
		t.Fatalf("OpenAPI project name pattern %q, domain %q", got, castellan.ProjectNamePattern)
	}
}

func TestOperationsEndpoints(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/castellan.db")
	resp := e.do(t, request{method: "GET", path: "/healthz"})
	wantStatus(t, resp, http.StatusOK)
	resp = e.do(t, request{method: "GET", path: "/readyz"})
	wantStatus(t, resp, http.StatusOK)
	var ready struct {
		Status   string
		Revision int64
	}
	resp.decode(t, &ready)
	if ready.Status != "ready" || ready.Revision != e.globex.Revision {
		t.Fatalf("got %+v, want revision %d", ready, e.globex.Revision)
	}

	// A caller's request ID is kept when it is sane and replaced otherwise.
	resp = e.do(t, request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "abc-123"}})
	if got := resp.header.Get("X-Request-Id"); got != "abc-123" {
		t.Fatalf("got request ID %q, want abc-123", got)
	}
	if got := resp.header.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("got Cache-Control %q, want no-store", got)
	}
	resp = e.do(t, request{method: "GET", path: "/healthz", header: map[string]string{"X-Request-Id": "bad id\u00e9"}})
	if got := resp.header.Get("X-Request-Id"); got == "" || strings.Contains(got, " ") {
		t.Fatalf("got request ID %q, want a fresh one", got)
	}

	e.do(t, request{method: "GET", path: "/v1/organizations/" + e.acme.OrganizationID + "/projects", token: e.acme.Token})
	resp = e.do(t, request{method: "GET", path: "/metrics"})
	wantStatus(t, resp, http.StatusOK)
	for _, line := range []string{
		`castellan_http_requests_total{method="GET",route="GET /healthz",status="200"} 3`,
		`castellan_http_requests_total{method="GET",route="GET /v1/organizations/{org}/projects",status="200"} 1`,
		`castellan_http_request_duration_seconds_bucket{method="GET",route="GET /readyz",le="+Inf"} 1`,
	} {
		if !strings.Contains(string(resp.body), line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

// TestOperationActions checks that every operation names an action of the
// service catalogue (the public ones excepted): the authorizer and the
// roles speak of nothing else.
func TestOperationActions(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/castellan.db")
	cat := e.db.Services().Catalog
	srv := api.New(http.NewServeMux(), api.Config{Services: e.db.Services(), Version: "test"})
	n := 0
	for path, item := range srv.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Patch, item.Delete, item.Put} {
			if op == nil {
				continue
			}
			n++
			action, _ := op.Metadata["action"].(string)
			public := op.Security != nil && len(op.Security) == 0
			if public && action == "" {
				continue
			}
			if !cat.HasAction(action) {
				t.Errorf("%s %s: action %q is not in the service catalogue", op.Method, path, action)
			}
		}
	}
	if n < 30 {
		t.Fatalf("saw %d operations", n)
	}
}

// TestOpenAPILintable checks what the ecosystem's linters (Redocly's
// recommended rules, Spectral's spectral:oas) ask of the document: a
// license, a contact and servers, every tag declared with a description, and every
// operation described with at least one 4xx answer.
func TestOpenAPILintable(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/castellan.db")
	var doc struct {
		Info struct {
			License *struct{ Name string } `json:"license"`
			Contact *struct{ URL string }  `json:"contact"`
		} `json:"info"`
		Servers []struct{ URL string } `json:"servers"`
		Tags    []struct{ Name, Description string }
		Paths   map[string]map[string]struct {
			Description string                     `json:"description"`
			Tags        []string                   `json:"tags"`
			Responses   map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(fetchOpenAPI(t, e), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info.License == nil || doc.Info.License.Name == "" {
		t.Error("info.license: missing")
	}
	if doc.Info.Contact == nil || doc.Info.Contact.URL == "" {
		t.Error("info.contact: missing")
	}
	if len(doc.Servers) == 0 || doc.Servers[0].URL == "" || strings.HasSuffix(doc.Servers[0].URL, "/") {
		t.Errorf("servers: got %+v, want a URL without a trailing slash", doc.Servers)
	}
	declared := map[string]bool{}
	for _, tag := range doc.Tags {
		if tag.Description == "" {
			t.Errorf("tag %q: no description", tag.Name)
		}
		declared[tag.Name] = true
	}
	used := map[string]bool{}
	for path, methods := range doc.Paths {
		for method, op := range methods {
			name := strings.ToUpper(method) + " " + path
			if op.Description == "" {
				t.Errorf("%s: no description", name)
			}
			for _, tag := range op.Tags {
				used[tag] = true
				if !declared[tag] {
					t.Errorf("%s: tag %q is not declared", name, tag)
				}
			}
			has4xx := false
			for status := range op.Responses {
				has4xx = has4xx || strings.HasPrefix(status, "4")
			}
			if !has4xx {
				t.Errorf("%s: no 4xx response", name)
			}
		}
	}
	for tag := range declared {
		if !used[tag] {
			t.Errorf("tag %q is declared but no operation has it", tag)
		}
	}
}
