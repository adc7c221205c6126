package storetest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func testTokens(t *testing.T, open Opener) {
	t.Run("Bootstrap", func(t *testing.T) { testTokensBootstrap(t, open) })
	t.Run("ErrUnauthenticated", func(t *testing.T) { testTokensErrUnauthenticated(t, open) })
	t.Run("Operator", func(t *testing.T) { testTokensOperator(t, open) })
	t.Run("DeletedOrganization", func(t *testing.T) { testTokensDeletedOrganization(t, open) })
}

func testTokensBootstrap(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := context.Background()
	res := must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
	if !castellan.ValidID(res.OrganizationID) || !castellan.ValidID(res.OwnerUserID) || !castellan.ValidTokenSyntax(res.Token) || res.Revision <= 0 {
		t.Fatalf("got %+v", res)
	}
	p := must(s.Tokens.Authenticate(ctx, res.Token))(t)
	want := castellan.Principal{Type: castellan.PrincipalUser, ID: res.OwnerUserID, OrganizationID: res.OrganizationID}
	if p != want {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	org := must(s.Organizations.FindOrganizationByID(ctx, res.OrganizationID))(t)
	if org.Name != "Acme" || org.CreatedBy != "system:castellan" {
		t.Fatalf("got %+v", org)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org.ID, castellan.AuditFilter{}))(t)
	if len(events) != 1 || events[0].Action != "organizations:BootstrapOrganization" || events[0].Revision != res.Revision {
		t.Fatalf("got events %+v", events)
	}
	whole, err := json.Marshal(events[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(whole), strings.TrimPrefix(res.Token, castellan.TokenPrefix)) {
		t.Fatal("the audit event holds the token")
	}
	before := takeSnapshot(t, s, org.ID)
	_, err = s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "x@acme.example"})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeOrgNameTaken)
	_, err = s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Other", OwnerEmail: "not-an-email"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	unchanged(t, s, org.ID, before)
}

func testTokensErrUnauthenticated(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := context.Background()
	res := must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
	flipped := res.Token[:len(res.Token)-1] + string("AB"[strings.IndexByte("AB", res.Token[len(res.Token)-1])+1&1])
	for _, token := range []string{"", "cst_short", strings.ToUpper(res.Token), flipped, res.Token + "x"} {
		_, err := s.Tokens.Authenticate(ctx, token)
		wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
	}
}

func testTokensOperator(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := context.Background()
	op := must(s.Tokens.CreateOperatorToken(ctx))(t)
	p := must(s.Tokens.Authenticate(ctx, op.Token))(t)
	if p.Type != castellan.PrincipalOperator || p.ID != op.ID || p.OrganizationID != "" {
		t.Fatalf("got %+v", p)
	}
}

func testTokensDeletedOrganization(t *testing.T, open Opener) {
	s := open(t, nil)
	ctx := context.Background()
	res := must(s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
	must(s.Organizations.DeleteOrganization(operatorCtx("r"), res.OrganizationID))(t)
	_, err := s.Tokens.Authenticate(ctx, res.Token)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated)
}
