package sso_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sso"
)

// TestPublicClientRefusesPrivateNetworks: by default the client never
// connects to a loopback (or private) address, so a federation naming
// one learns nothing, while a client that allows them reaches it.
func TestPublicClientRefusesPrivateNetworks(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Error(w, "INTERNAL-ONLY secret page", http.StatusForbidden)
	}))
	defer srv.Close()
	fc := &castellan.FederationClient{Federation: &castellan.Federation{ID: "f", Issuer: srv.URL, ClientID: "c", Scopes: []string{"openid"}}}

	_, _, err := sso.New(sso.Options{}).Begin(context.Background(), fc, "https://castellan.example/cb")
	var refusal *sso.Refusal
	if !errors.As(err, &refusal) || refusal.Reason != castellan.SSOProviderError || hits != 0 ||
		!strings.Contains(err.Error(), "not public") || strings.Contains(refusal.Detail, "INTERNAL") {
		t.Fatalf("default client: got %v (detail %q), %d requests reached the server", err, refusal.Detail, hits)
	}
	// Allowed, the request reaches it; what it answered stays out of
	// the detail meant for the audit log.
	_, _, err = sso.New(sso.Options{AllowPrivateNetworks: true}).Begin(context.Background(), fc, "https://castellan.example/cb")
	if !errors.As(err, &refusal) || hits != 1 || strings.Contains(refusal.Detail, "INTERNAL") || !strings.Contains(err.Error(), "INTERNAL") {
		t.Fatalf("allowing client: got %v (detail %q), %d requests", err, refusal.Detail, hits)
	}
}
