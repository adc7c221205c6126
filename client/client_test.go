package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/api"
	"github.com/castellan-iam/castellan/client"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

var system = castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalSystem, ID: "test"})

// server runs the API on SQLite with one organization whose owner holds
// an access key; it counts the exchanges it serves.
type server struct {
	url       string
	clock     *storetest.Clock
	services  castellan.Services
	org       string
	key       *castellan.NewAccessKey
	exchanges atomic.Int32
}

func newServer(t *testing.T) *server {
	t.Helper()
	s := &server{clock: storetest.NewClock()}
	db := sqltest.MustOpen(t, sqltest.SQLiteURL(t), s.clock.Now)
	s.services = db.Services()
	boot := storetest.Must(s.services.Tokens.BootstrapOrganization(system, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
	s.org = boot.OrganizationID
	project := storetest.Must(s.services.Projects.CreateProject(system, s.org, castellan.ProjectCreate{Name: "web"}))(t)
	s.key = storetest.Must(s.services.AccessKeys.CreateAccessKey(system, s.org, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: boot.OwnerUserID}, ProjectID: project.ID, Name: "ci",
	}))(t)
	h := apitest.Handler(s.services, apitest.Options{Clock: s.clock.Now, Revisions: apitest.Feed(t, db)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/tokens" {
			s.exchanges.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

func (s *server) setKeyStatus(t *testing.T, status string) {
	t.Helper()
	if _, err := s.services.AccessKeys.UpdateAccessKey(system, s.org, s.key.ID, castellan.AccessKeyUpdate{Status: &status}); err != nil {
		t.Fatal(err)
	}
}

func TestTransport(t *testing.T) {
	s := newServer(t)
	src := &client.KeyTokenSource{BaseURL: s.url, KeyID: s.key.ID, Secret: s.key.Secret, Now: s.clock.Now}
	hc := &http.Client{Transport: &client.Transport{Source: src}}
	users := s.url + "/v1/organizations/" + s.org + "/users"
	get := func(t *testing.T, wantExchanges int32) {
		t.Helper()
		resp, err := hc.Get(users)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET users: %d", resp.StatusCode)
		}
		if n := s.exchanges.Load(); n != wantExchanges {
			t.Fatalf("%d exchanges, want %d", n, wantExchanges)
		}
	}

	get(t, 1)
	get(t, 1) // the token is reused

	// Close to its expiry the token is renewed before it is sent.
	s.clock.Advance(castellan.AccessTokenLifetime - client.RenewBefore + time.Second)
	get(t, 2)

	// Disabling the key kills its tokens; enabled again, the key works,
	// and the transport recovers from the 401 by exchanging once more,
	// resending the body of a POST.
	s.setKeyStatus(t, castellan.AccessKeyDisabled)
	s.setKeyStatus(t, castellan.AccessKeyEnabled)
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/organizations/"+s.org+"/groups", bytes.NewReader([]byte(`{"name":"ops"}`)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		t.Fatalf("POST groups after re-exchange: %d", resp.StatusCode)
	}
	if n := s.exchanges.Load(); n != 3 {
		t.Fatalf("%d exchanges, want 3", n)
	}

	// A disabled key: the request fails with the API's problem.
	s.setKeyStatus(t, castellan.AccessKeyDisabled)
	_, err = hc.Get(users)
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || apiErr.Code != castellan.CodeUnauthenticated {
		t.Fatalf("got %v, want the 401 problem", err)
	}
}

func TestKeyTokenSourceRateLimited(t *testing.T) {
	s := newServer(t)
	for range api.DefaultExchangePerKey.Burst {
		src := &client.KeyTokenSource{BaseURL: s.url, KeyID: s.key.ID, Secret: s.key.Secret}
		if _, err := src.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	src := &client.KeyTokenSource{BaseURL: s.url, KeyID: s.key.ID, Secret: s.key.Secret}
	_, err := src.Token(context.Background())
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTooManyRequests || apiErr.RetryAfter != time.Second {
		t.Fatalf("got %v, want 429 with Retry-After 1s", err)
	}
}

// TestTransportKeepsTokenHome: the token goes to Castellan only, not to a
// host a redirect (or the caller) points the same client at; and a plain
// HTTP BaseURL is refused unless it is the loopback.
func TestTransportKeepsTokenHome(t *testing.T) {
	s := newServer(t)
	var leaked atomic.Value
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
	}))
	t.Cleanup(foreign.Close)
	foreignURL := strings.Replace(foreign.URL, "127.0.0.1", "localhost", 1) // another host than the API's
	src := &client.KeyTokenSource{BaseURL: s.url, KeyID: s.key.ID, Secret: s.key.Secret}
	hc := &http.Client{Transport: &client.Transport{Source: src}}
	resp, err := hc.Get(foreignURL + "/collect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, _ := leaked.Load().(string); got != "" {
		t.Fatalf("the foreign host got Authorization %q", got)
	}
	if n := s.exchanges.Load(); n != 0 {
		t.Fatalf("%d exchanges for a foreign request", n)
	}

	for _, base := range []string{"http://iam.example.com", "ftp://iam.example.com", "iam.example.com"} {
		src := &client.KeyTokenSource{BaseURL: base, KeyID: s.key.ID, Secret: s.key.Secret}
		if _, err := src.Token(context.Background()); err == nil || !strings.Contains(err.Error(), "BaseURL") {
			t.Errorf("BaseURL %s: got %v, want it refused", base, err)
		}
	}
}
