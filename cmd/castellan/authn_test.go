package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func TestParseTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", nil, false},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, false},
		{" 10.0.0.0/8 , 192.0.2.1,2001:db8::/32,", []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"}, false},
		{"::ffff:192.0.2.1", []string{"192.0.2.1/32"}, false},
		{"10.1.2.3/8", []string{"10.0.0.0/8"}, false},
		{"10.0.0.0/33", nil, true},
		{"proxy.internal", nil, true},
	} {
		got, err := parseTrustedProxies(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: got error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if !slices.Equal(s, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.in, s, tc.want)
		}
	}
}

// TestServeTrustedProxiesAndKeyUses runs serve behind a trusted proxy (the
// test itself, from CASTELLAN_TRUSTED_PROXIES): the forwarded address is
// the one audited, and a key token's last use, noted in memory, is written
// when the server stops.
func TestServeTrustedProxiesAndKeyUses(t *testing.T) {
	url := sqltest.SQLiteURL(t)
	boot := decodeOneObject(t, mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json", "--database", url),
		"organizationId", "ownerUserId", "token", "passwordLink")
	org := "/v1/organizations/" + boot["organizationId"]
	srv := startServe(t, envOf(map[string]string{"CASTELLAN_TRUSTED_PROXIES": "127.0.0.1,::1"}), "--listen", "127.0.0.1:0", "--database", url)
	call := func(method, path, token, body string, out any) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7")
		resp, err := srv.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: got %d %s", method, path, resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	var project castellan.Project
	call("POST", org+"/projects", boot["token"], `{"name":"web"}`, &project)
	var key castellan.NewAccessKey
	call("POST", org+"/users/"+boot["ownerUserId"]+"/accessKeys", boot["token"], `{"name":"ci","projectId":"`+project.ID+`"}`, &key)
	var token castellan.AccessToken
	call("POST", "/v1/tokens", "", `{"keyId":"`+key.ID+`","secret":"`+key.Secret+`"}`, &token)
	var events struct{ AuditEvents []castellan.AuditEvent }
	call("GET", org+"/audit-events", token.Token, "", &events)
	if len(events.AuditEvents) == 0 {
		t.Fatal("no audit events")
	}
	for _, ev := range events.AuditEvents {
		if ev.Action != "organizations:BootstrapOrganization" && ev.SourceIP != "203.0.113.7" {
			t.Errorf("%s: got source IP %q, want the forwarded 203.0.113.7", ev.Action, ev.SourceIP)
		}
	}
	exchanged := events.AuditEvents[0].OccurredAt // newest first: the exchange

	// The bootstrap token was read from the store once and then answered
	// from memory; the key's token was read once. /metrics says so.
	resp, err := srv.client.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for name, want := range map[string]string{
		"castellan_token_cache_hits_total": "1", "castellan_token_cache_misses_total": "2", "castellan_token_cache_entries": "2",
	} {
		if m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(metrics); m == nil || string(m[1]) != want {
			t.Errorf("%s: got %q, want %s", name, m, want)
		}
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	db := sqltest.MustOpen(t, url, nil)
	k, err := db.AccessKeys().FindAccessKeyByID(context.Background(), boot["organizationId"], key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if k.LastUsedAt == nil || !k.LastUsedAt.After(exchanged) {
		t.Fatalf("lastUsedAt: got %v, want the GET after the exchange at %v", k.LastUsedAt, exchanged)
	}
}
