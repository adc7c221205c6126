package guard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// check asks about Acme's owner starting an instance in the project.
func (f *fixture) check() castellan.AuthzRequest {
	return castellan.AuthzRequest{
		Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: f.ids[owner], OrganizationID: f.org},
		Action:    "compute:StartInstance", Resource: "project/" + f.project,
	}
}

func init() {
	deciders := []string{owner, admin, authorizer, operator}
	rowSets = append(rowSets, []row{
		{op: "Decisions.Authorize", allowed: deciders, call: func(ctx context.Context, f *fixture, _ castellan.Services) error {
			_, err := f.decisions.Authorize(ctx, f.check())
			return err
		}},
		{op: "Decisions.Explain", allowed: deciders, call: func(ctx context.Context, f *fixture, _ castellan.Services) error {
			_, err := f.decisions.Explain(ctx, f.check())
			return err
		}},
		{op: "Decisions.AuthorizeBatch", allowed: deciders, call: func(ctx context.Context, f *fixture, _ castellan.Services) error {
			_, err := f.decisions.AuthorizeBatch(ctx, []castellan.AuthzRequest{f.check(), f.check()})
			return err
		}},
		{op: "Decisions.LookupResources", allowed: deciders, call: func(ctx context.Context, f *fixture, _ castellan.Services) error {
			_, _, err := f.decisions.LookupResources(ctx, castellan.LookupResourcesRequest{Principal: f.check().Principal, Action: "compute:StartInstance", ResourceType: "project"})
			return err
		}},
		{op: "Decisions.LookupSubjects", allowed: deciders, call: func(ctx context.Context, f *fixture, _ castellan.Services) error {
			_, _, err := f.decisions.LookupSubjects(ctx, castellan.LookupSubjectsRequest{OrganizationID: f.org, Action: "compute:StartInstance", Resource: "project/" + f.project})
			return err
		}},
		{op: "Decisions.SimulateControlPolicy", allowed: orgManagers, call: func(ctx context.Context, f *fixture, _ castellan.Services) error {
			_, err := f.decisions.SimulateControlPolicy(ctx, f.org, f.newPolicy(`forbid (principal, action, resource);`),
				castellan.ControlPolicySimulation{Operation: castellan.SimulateAttach, TargetID: f.org})
			return err
		}},
	})
}

// TestDecisionRefusals checks what the decision API refuses before it
// decides: a caller without a principal, a principal that is not a user
// or service account (an operator would be allowed everything), and a
// caller who may not ask; a batch names the refused check.
func TestDecisionRefusals(t *testing.T) {
	f, _, principals := newFixture(t, sqltest.SQLiteURL(t))
	as := func(p string) context.Context { return castellan.WithPrincipal(system, principals[p]) }
	asOperator := f.check()
	asOperator.Principal = castellan.Principal{Type: castellan.PrincipalOperator, ID: f.ids[owner], OrganizationID: f.org}
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		reqs  []castellan.AuthzRequest
		code  string
		field string
	}{
		{"without a principal", system, []castellan.AuthzRequest{f.check()}, castellan.CodeUnauthenticated, ""},
		{"about an operator", as(owner), []castellan.AuthzRequest{asOperator}, castellan.CodeInvalidField, "checks[0].principal.type"},
		{"by a reader", as(reader), []castellan.AuthzRequest{f.check()}, castellan.CodePermissionDenied, ""},
		{"about another organization", as(otherOwner), []castellan.AuthzRequest{f.check()}, castellan.CodePermissionDenied, ""},
		{"with a bad resource second", as(authorizer), []castellan.AuthzRequest{f.check(), {Principal: f.check().Principal, Action: "s3e:GetObject", Resource: "bucket"}},
			castellan.CodeInvalidScope, "checks[1].resource"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.decisions.AuthorizeBatch(tc.ctx, tc.reqs)
			var e *castellan.Error
			if !errors.As(err, &e) || e.Code != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			if tc.field != "" && (len(e.Fields) == 0 || e.Fields[0].Field != tc.field) {
				t.Fatalf("got fields %+v, want %s", e.Fields, tc.field)
			}
		})
	}
	// The operator asks about anyone, and gets the authorizer's answer.
	d, err := f.decisions.Explain(as(operator), f.check())
	if err != nil || !d.Allowed || len(d.Matches) == 0 {
		t.Fatalf("got %+v, %v, want allowed with its grants", d, err)
	}
}
