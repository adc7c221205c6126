package policy_test

import (
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/policy"
)

// TestActionOnly: a verdict depends on the action only when no policy
// constrains or reads the principal or the resource.
func TestActionOnly(t *testing.T) {
	for _, tc := range []struct {
		document string
		want     bool
	}{
		{`permit (principal, action, resource);`, true},
		{`forbid (principal, action == Action::"compute:StartInstance", resource);`, true},
		{`permit (principal, action in Action::"s3e:*", resource);`, true},
		{`forbid (principal, action, resource) when { context.mfa == false };`, true},
		{`permit (principal in Castellan::Group::"g", action, resource);`, false},
		{`permit (principal == Castellan::User::"u", action, resource);`, false},
		{`permit (principal, action, resource in Castellan::Account::"a");`, false},
		{`forbid (principal, action, resource) when { principal in Castellan::Group::"g" };`, false},
		{`forbid (principal, action, resource) unless { context.x == 1 || resource in Castellan::Project::"p" };`, false},
		{`permit (principal, action, resource); forbid (principal, action, resource) when { principal.x == 1 };`, false},
		{`forbid (principal, action, resource) when { Castellan::User::"u" in Castellan::Group::"g" };`, false},
		{`forbid (principal, action, resource) when { Castellan::Project::"p" in Castellan::OU::"o" };`, false},
		{`not cedar`, false},
	} {
		levels := []policy.Level{{Policies: []*castellan.ControlPolicy{castellan.SystemControlPolicy(castellan.FullAccessPolicyID)}},
			{Policies: []*castellan.ControlPolicy{{ID: "p", Document: tc.document}}}}
		if got := policy.ActionOnly(levels); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.document, got, tc.want)
		}
	}
}
