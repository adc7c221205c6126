package authz_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
)

// TestKeyProjectBound: a caller authenticated with an access key acts
// only within the key's project, whatever its grants; scopes above
// projects are decided by its grants.
func TestKeyProjectBound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		owner := f.owner() // organization.owner on the whole organization
		bound := owner
		bound.KeyID, bound.ProjectID = "CAKAAAAAAAAAAAAAAAAAAAA", f.project.ID
		inKey := castellan.ProjectScope(f.project.ID).String()
		inOther := castellan.ProjectScope(f.project2.ID).String()
		for _, tc := range []struct {
			name      string
			principal castellan.Principal
			resource  string
			allowed   bool
			reason    string
		}{
			{"KeyProject", bound, inKey, true, castellan.ReasonAllowed},
			{"KeyProjectResource", bound, "rn:compute:" + f.project.ID + ":instance/web-1", true, castellan.ReasonAllowed},
			{"OtherProject", bound, inOther, false, castellan.ReasonKeyProjectMismatch},
			{"OtherProjectResource", bound, "rn:compute:" + f.project2.ID + ":instance/api-1", false, castellan.ReasonKeyProjectMismatch},
			{"Organization", bound, f.orgScope(), true, castellan.ReasonAllowed},
			{"WithoutKey", owner, inOther, true, castellan.ReasonAllowed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				req := castellan.AuthzRequest{Principal: tc.principal, Action: "compute:StartInstance", Resource: tc.resource}
				for _, decide := range []func(context.Context, castellan.AuthzRequest) (castellan.Decision, error){f.authorizer.Authorize, f.authorizer.Explain} {
					d, err := decide(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					if d.Allowed != tc.allowed || d.Reason != tc.reason {
						t.Fatalf("got %v %s, want %v %s", d.Allowed, d.Reason, tc.allowed, tc.reason)
					}
				}
			})
		}
		missing, err := f.authorizer.Missing(ctx, bound, inOther, []string{"compute:StartInstance"})
		if err != nil || len(missing) != 1 {
			t.Fatalf("Missing in another project: got %v, %v", missing, err)
		}
		missing, err = f.authorizer.Missing(ctx, bound, inKey, []string{"compute:StartInstance"})
		if err != nil || len(missing) != 0 {
			t.Fatalf("Missing in the key's project: got %v, %v", missing, err)
		}
	})
}
