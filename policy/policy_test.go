package policy_test

import (
	"fmt"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/policy"
)

const (
	orgID     = "0190d3a8-0000-7000-8000-000000000001"
	accountID = "0190d3a8-0000-7000-8000-000000000002"
	projectID = "0190d3a8-0000-7000-8000-000000000003"
	userID    = "0190d3a8-0000-7000-8000-000000000004"
)

func cp(id, document string) *castellan.ControlPolicy {
	return &castellan.ControlPolicy{ID: id, Name: id, Document: document}
}

var (
	permitAll     = cp("permit-all", `permit (principal, action, resource);`)
	forbidCompute = cp("forbid-compute", `forbid (principal, action in Action::"compute:*", resource);`)
	permitS3      = cp("permit-s3e", `permit (principal, action in Action::"s3e:*", resource);`)
	broken        = cp("broken", `permit (principal, action, resource`)
)

// TestEvaluate covers each branch of a level: permitted, forbidden (a
// forbid beats a permit of the same level), nothing permitting, an empty
// level, the first failing level from the root deciding, and a stored
// document that does not compile, which is an error and never an allow.
func TestEvaluate(t *testing.T) {
	root := castellan.NodeRef{ID: orgID, Kind: castellan.NodeRoot}
	account := castellan.NodeRef{ID: accountID, Kind: castellan.NodeAccount}
	in := func(action string) policy.Input {
		return policy.Input{
			Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: userID, OrganizationID: orgID},
			Action:    action, Resource: castellan.ProjectScope(projectID),
			Path: []*castellan.Node{{ID: projectID, Kind: castellan.NodeProject}, {ID: accountID, Kind: castellan.NodeAccount}, {ID: orgID, Kind: castellan.NodeRoot}},
		}
	}
	for _, tc := range []struct {
		name   string
		levels []policy.Level
		action string
		reason string // "" for allowed
		policy string
		node   string
		err    bool
	}{
		{"permitted at every level", []policy.Level{{root, []*castellan.ControlPolicy{permitAll}}, {account, []*castellan.ControlPolicy{permitAll}}}, "compute:StartInstance", "", "", "", false},
		{"forbid beats permit", []policy.Level{{root, []*castellan.ControlPolicy{permitAll}}, {account, []*castellan.ControlPolicy{permitAll, forbidCompute}}}, "compute:StartInstance", castellan.ReasonPolicyForbids, "forbid-compute", accountID, false},
		{"forbid of another service", []policy.Level{{root, []*castellan.ControlPolicy{permitAll, forbidCompute}}}, "s3e:GetObject", "", "", "", false},
		{"nothing permits", []policy.Level{{root, []*castellan.ControlPolicy{permitAll}}, {account, []*castellan.ControlPolicy{permitS3}}}, "compute:StartInstance", castellan.ReasonPolicyNotPermitted, "", accountID, false},
		{"an empty level", []policy.Level{{root, []*castellan.ControlPolicy{permitAll}}, {account, nil}}, "s3e:GetObject", castellan.ReasonPolicyNotPermitted, "", accountID, false},
		{"the root decides first", []policy.Level{{root, []*castellan.ControlPolicy{permitS3}}, {account, []*castellan.ControlPolicy{forbidCompute, permitAll}}}, "compute:StartInstance", castellan.ReasonPolicyNotPermitted, "", orgID, false},
		{"a broken document", []policy.Level{{root, []*castellan.ControlPolicy{permitAll, broken}}}, "s3e:GetObject", "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			match, reason, err := policy.Evaluate(tc.levels, in(tc.action))
			if tc.err {
				if err == nil {
					t.Fatalf("got %+v %q, want an error", match, reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if reason != tc.reason {
				t.Fatalf("got reason %q, want %q", reason, tc.reason)
			}
			if tc.reason == "" {
				if match != nil {
					t.Fatalf("got %+v on an allowed action", match)
				}
				return
			}
			if match == nil || match.PolicyID != tc.policy || match.Node.ID != tc.node {
				t.Fatalf("got %+v, want policy %q at %s", match, tc.policy, tc.node)
			}
		})
	}
}

// TestForbidThatFailsForbids: Cedar skips a policy whose condition fails
// to evaluate; a guardrail must not fail open. A forbid that reads an
// attribute the request does not carry forbids, beside a permit of the
// same policy or of another at the level; a permit that fails permits
// nothing.
func TestForbidThatFailsForbids(t *testing.T) {
	root := castellan.NodeRef{ID: orgID, Kind: castellan.NodeRoot}
	in := policy.Input{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: userID, OrganizationID: orgID},
		Action: "compute:StartInstance", Resource: castellan.ProjectScope(projectID),
		Path: []*castellan.Node{{ID: projectID, Kind: castellan.NodeProject}, {ID: accountID, Kind: castellan.NodeAccount}, {ID: orgID, Kind: castellan.NodeRoot}}}
	failingForbid := `forbid (principal, action in Action::"compute:*", resource) unless { context.mfa == true };`
	for _, tc := range []struct {
		name     string
		policies []*castellan.ControlPolicy
		reason   string
		policyID string
	}{
		{"in one document", []*castellan.ControlPolicy{cp("guard", "permit (principal, action, resource);\n"+failingForbid)}, castellan.ReasonPolicyForbids, "guard"},
		{"beside FullAccess", []*castellan.ControlPolicy{cp("full", "permit (principal, action, resource);"), cp("guard", failingForbid)}, castellan.ReasonPolicyForbids, "guard"},
		{"a failing permit", []*castellan.ControlPolicy{cp("narrow", `permit (principal, action, resource) when { context.mfa == true };`)}, castellan.ReasonPolicyNotPermitted, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			match, reason, err := policy.Evaluate([]policy.Level{{Node: root, Policies: tc.policies}}, in)
			if err != nil {
				t.Fatal(err)
			}
			if match == nil || reason != tc.reason || match.PolicyID != tc.policyID || match.Node.ID != orgID {
				t.Fatalf("got %+v %q, want %s by %q", match, reason, tc.reason, tc.policyID)
			}
		})
	}
}

// TestGuardrailActionsExempt: a level that forbids everything still
// lets its guardrails be read and repaired (whoever holds the grants can
// detach the policy), and limits every other action.
func TestGuardrailActionsExempt(t *testing.T) {
	root := castellan.NodeRef{ID: orgID, Kind: castellan.NodeRoot}
	levels := []policy.Level{{Node: root, Policies: []*castellan.ControlPolicy{cp("none", "forbid (principal, action, resource);")}}}
	in := policy.Input{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: userID, OrganizationID: orgID},
		Resource: castellan.NodeScope(castellan.NodeAccount, accountID),
		Path:     []*castellan.Node{{ID: accountID, Kind: castellan.NodeAccount}, {ID: orgID, Kind: castellan.NodeRoot}}}
	for action, exempt := range map[castellan.Action]bool{
		castellan.ActionDetachControlPolicy: true, castellan.ActionAttachControlPolicy: true,
		castellan.ActionListAttachedControlPolicies: true, castellan.ActionMoveAccount: false, "compute:StartInstance": false,
	} {
		in.Action = string(action)
		match, _, err := policy.Evaluate(levels, in)
		if err != nil {
			t.Fatal(err)
		}
		if (match == nil) != exempt {
			t.Errorf("%s: refusal %+v, want exempt %v", action, match, exempt)
		}
	}
}

// BenchmarkEvaluate measures the control policies of one decision below
// the root: three levels (root, OU, account), FullAccess at each and a
// forbid of another service at the OU, the compiled documents cached.
func BenchmarkEvaluate(b *testing.B) {
	const ouID = "0190d3a8-0000-7000-8000-000000000005"
	full := cp(castellan.FullAccessPolicyID, "permit (principal, action, resource);")
	levels := []policy.Level{
		{Node: castellan.NodeRef{ID: orgID, Kind: castellan.NodeRoot}, Policies: []*castellan.ControlPolicy{full}},
		{Node: castellan.NodeRef{ID: ouID, Kind: castellan.NodeOU}, Policies: []*castellan.ControlPolicy{full,
			cp("no-registry", `forbid (principal, action in Action::"registry:*", resource);`)}},
		{Node: castellan.NodeRef{ID: accountID, Kind: castellan.NodeAccount}, Policies: []*castellan.ControlPolicy{full}},
	}
	in := policy.Input{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: userID, OrganizationID: orgID},
		Groups: []string{"0190d3a8-0000-7000-8000-000000000006"}, Action: "compute:StartInstance", Resource: castellan.ProjectScope(projectID),
		Path: []*castellan.Node{{ID: projectID, Kind: castellan.NodeProject}, {ID: accountID, Kind: castellan.NodeAccount},
			{ID: ouID, Kind: castellan.NodeOU}, {ID: orgID, Kind: castellan.NodeRoot}}}
	for b.Loop() {
		if match, _, err := policy.Evaluate(levels, in); err != nil || match != nil {
			b.Fatalf("refused: %+v %v", match, err)
		}
	}
}

// TestCompiledCacheBounded: evaluating ever new documents (a policy
// updated again and again) keeps at most maxCompiled of them compiled.
func TestCompiledCacheBounded(t *testing.T) {
	root := castellan.NodeRef{ID: orgID, Kind: castellan.NodeRoot}
	in := policy.Input{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: userID, OrganizationID: orgID},
		Action: "compute:StartInstance", Resource: castellan.ProjectScope(projectID),
		Path: []*castellan.Node{{ID: projectID, Kind: castellan.NodeProject}, {ID: orgID, Kind: castellan.NodeRoot}}}
	for i := range policy.MaxCompiled + 10 {
		doc := fmt.Sprintf("permit (principal, action, resource);\n// revision %d\n", i)
		if match, _, err := policy.Evaluate([]policy.Level{{Node: root, Policies: []*castellan.ControlPolicy{cp("p", doc)}}}, in); err != nil || match != nil {
			t.Fatalf("document %d: %+v %v", i, match, err)
		}
		if n := policy.CompiledCount(); n > policy.MaxCompiled {
			t.Fatalf("document %d: %d compiled documents held, want at most %d", i, n, policy.MaxCompiled)
		}
	}
}
