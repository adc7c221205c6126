package guard_test

import (
	"context"

	"github.com/castellan-iam/castellan"
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
	})
}
