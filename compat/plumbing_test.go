package compat_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/web"
)

// TestPlumbingErrorsInEachShape: what the plumbing refuses before an
// adapter runs (no such route, a method the route does not serve, a body
// too large, not UTF-8, with a key twice, a query that is not UTF-8)
// answers in the shape of the API the path is under, with no Castellan
// problem document and nothing internal in it.
func TestPlumbingErrorsInEachShape(t *testing.T) {
	b := sqltest.Backends()[0]
	s := newSite(t, b.URL(t), 0)
	big := `{"emails": ["` + strings.Repeat("a", web.MaxBodyBytes) + `"]}`
	type shape func(t *testing.T, status int, body []byte)
	ncloudShape := func(t *testing.T, status int, body []byte) {
		var e struct {
			Error *struct{ ErrorCode, Message, Details string }
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.ErrorCode == "" || e.Error.Message == "" {
			t.Fatalf("%d %s: not the sub-account API's error body", status, body)
		}
	}
	cloudruShape := func(t *testing.T, status int, body []byte) {
		var e struct {
			Code    *int
			Message string
			Details []any
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Code == nil || e.Message == "" || e.Details == nil {
			t.Fatalf("%d %s: not the gateway's error body", status, body)
		}
	}
	for _, c := range []struct {
		name, method, path, contentType, body string
		status                                int
		shape                                 shape
	}{
		{"NcloudNoRoute", "GET", "/compat/ncloud/api/v1/nothing", "", "", 404, ncloudShape},
		{"NcloudMethod", "DELETE", "/compat/ncloud/api/v1/sub-accounts", "", "", 404, ncloudShape},
		{"NcloudTooLarge", "POST", "/compat/ncloud/api/v1/sub-accounts", "application/json", big, 413, ncloudShape},
		{"NcloudNotUTF8", "POST", "/compat/ncloud/api/v1/sub-accounts", "application/json", "{\"name\": \"\xff\"}", 400, ncloudShape},
		{"NcloudDuplicateKey", "POST", "/compat/ncloud/api/v1/sub-accounts", "application/json", `{"name": "a", "name": "b"}`, 400, ncloudShape},
		{"NcloudQuery", "GET", "/compat/ncloud/api/v1/users/x?includeDeleted=%ff", "", "", 400, ncloudShape},
		{"CloudruNoRoute", "GET", "/compat/cloudru/api/v1/nothing", "", "", 404, cloudruShape},
		{"CloudruMethod", "PUT", "/compat/cloudru/api/v1/permissions", "", "", 405, cloudruShape},
		{"CloudruTooLarge", "POST", "/compat/cloudru/api/v1/permissions", "application/json", big, 429, cloudruShape},
		{"CloudruNotUTF8", "POST", "/compat/cloudru/api/v1/permissions", "application/json", "{\"role\": \"\xff\"}", 400, cloudruShape},
		{"CloudruDuplicateKey", "POST", "/compat/cloudru/api/v1/permissions", "application/json", `{"role": "a", "role": "b"}`, 400, cloudruShape},
		{"CloudruQuery", "POST", "/compat/cloudru/api/v1/permissions?x=%00", "", "", 400, cloudruShape},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, token := range []string{"", s.token} {
				req, err := http.NewRequest(c.method, s.srv.URL+c.path, strings.NewReader(c.body))
				if err != nil {
					t.Fatal(err)
				}
				if c.contentType != "" {
					req.Header.Set("Content-Type", c.contentType)
				}
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("got %d %s %s, want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status)
				}
				c.shape(t, resp.StatusCode, body)
				if strings.Contains(string(body), "castellan") || strings.Contains(string(body), "sql") {
					t.Fatalf("%s: names the implementation", body)
				}
			}
		})
	}
}
