package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
)

// slowProjects makes every project creation take delay before it reaches
// the store, like a commit on a busy machine.
type slowProjects struct {
	castellan.ProjectService
	delay time.Duration
}

func (s slowProjects) CreateProject(ctx context.Context, orgID string, pc castellan.ProjectCreate) (*castellan.Project, error) {
	time.Sleep(s.delay)
	return s.ProjectService.CreateProject(ctx, orgID, pc)
}

// TestSlowWriteOutlivesBodyReadTimeout runs a write longer than the body
// read timeout: the deadline for reading the body must neither cancel the
// write nor poison the keep-alive connection for the next request.
func TestSlowWriteOutlivesBodyReadTimeout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		const bodyReadTimeout = 50 * time.Millisecond
		services := e.db.Services()
		services.Tokens = e.cache
		services.Projects = slowProjects{services.Projects, 6 * bodyReadTimeout}
		srv := httptest.NewUnstartedServer(apitest.Handler(services, apitest.Options{Clock: e.clock.Now, BodyReadTimeout: bodyReadTimeout, Revisions: e.store.Feed}))
		srv.Config.ReadHeaderTimeout = bodyReadTimeout
		srv.Start()
		t.Cleanup(srv.Close)

		var conns []string
		send := func(method, path, body string) (int, string) {
			t.Helper()
			req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+e.acme.Token)
			req.Header.Set("Content-Type", "application/json")
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				GotConn: func(info httptrace.GotConnInfo) { conns = append(conns, info.Conn.LocalAddr().String()) },
			}))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			return resp.StatusCode, string(b)
		}
		orgPath := "/v1/organizations/" + e.acme.OrganizationID
		if status, body := send("POST", orgPath+"/projects", `{"name":"slow-write"}`); status != http.StatusCreated {
			t.Fatalf("slow write: got %d %s, want 201", status, body)
		}
		projects, _, err := e.db.Projects().FindProjects(context.Background(), e.acme.OrganizationID, castellan.ProjectFilter{PageSize: castellan.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, p := range projects {
			found = found || p.Name == "slow-write"
		}
		if !found {
			t.Fatalf("the slow write's project is not in the store")
		}
		if status, body := send("GET", orgPath+"/projects", ""); status != http.StatusOK {
			t.Fatalf("next request on the connection: got %d %s, want 200", status, body)
		}
		if len(conns) != 2 || conns[0] != conns[1] {
			t.Fatalf("connections used: %v, want the same one twice", conns)
		}
	})
}
