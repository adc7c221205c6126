package authz_test

import (
	"context"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/storetest"
)

// structure is root ─ OU eng ─ account prod ─ project web, and
// root ─ OU eng ─ project tools (directly under the OU). The user holds
// project.admin on the OU, so its grants allow every compute and s3e
// action on all of them; the group's member holds it through the group.
type structure struct {
	*fixture
	eng, prod, web, tools string
	user, member          castellan.Principal
	group                 string
}

func newStructure(t *testing.T, f *fixture) *structure {
	t.Helper()
	s := &structure{fixture: f}
	s.eng = f.ou(t, f.org.OrganizationID, "eng")
	s.prod = f.account(t, s.eng, "prod")
	s.web = f.projectIn(t, s.prod, "prod-web")
	s.tools = f.projectIn(t, s.eng, "eng-tools")
	s.user, s.member = f.user(t), f.user(t)
	f.grant(t, "project.admin", ouScope(s.eng), userSubject(s.user), nil)
	group := storetest.Must(f.s.Groups.CreateGroup(context.Background(), f.org.OrganizationID, castellan.GroupCreate{Name: "ops"}))(t)
	s.group = group.ID
	storetest.Must(f.s.Groups.AddGroupMembers(context.Background(), f.org.OrganizationID, s.group, []string{s.member.ID}))(t)
	f.grant(t, "project.admin", ouScope(s.eng), castellan.Subject{Type: castellan.SubjectGroup, ID: s.group}, nil)
	return s
}

// limited is one decision under control policies: allowed, or refused
// with the reason, the policy ("" for not permitted) and the node.
type limited struct {
	who      castellan.Principal
	action   string
	resource string
	reason   string // allowed or a control_policy_* reason
	policy   string
	node     string
}

// expect asks Authorize and Explain and checks both: the reason, the
// policy and node of a refusal, and that Explain lists the grants that
// allowed before the policies refused.
func (s *structure) expect(t *testing.T, c limited) {
	t.Helper()
	req := castellan.AuthzRequest{Principal: c.who, Action: c.action, Resource: c.resource}
	for _, explain := range []bool{false, true} {
		decide := s.authorizer.Authorize
		if explain {
			decide = s.authorizer.Explain
		}
		d := storetest.Must(decide(context.Background(), req))(t)
		if d.Allowed != (c.reason == castellan.ReasonAllowed) || d.Reason != c.reason {
			t.Errorf("%s on %s (explain %v): got allowed %v reason %q, want %q", c.action, c.resource, explain, d.Allowed, d.Reason, c.reason)
			continue
		}
		if c.reason == castellan.ReasonAllowed {
			if d.Policy != nil {
				t.Errorf("%s on %s (explain %v): got policy %+v on an allowed decision", c.action, c.resource, explain, d.Policy)
			}
		} else if d.Policy == nil || d.Policy.PolicyID != c.policy || d.Policy.Node.ID != c.node {
			t.Errorf("%s on %s (explain %v): got policy %+v, want %q at %s", c.action, c.resource, explain, d.Policy, c.policy, c.node)
		}
		if explain && len(d.Matches) == 0 {
			t.Errorf("%s on %s: explain lists no grant", c.action, c.resource)
		}
	}
}

func (s *structure) allowed(who castellan.Principal, action, resource string) limited {
	return limited{who: who, action: action, resource: resource, reason: castellan.ReasonAllowed}
}

func (s *structure) forbidden(who castellan.Principal, action, resource, policy, node string) limited {
	return limited{who: who, action: action, resource: resource, reason: castellan.ReasonPolicyForbids, policy: policy, node: node}
}

func (s *structure) notPermitted(who castellan.Principal, action, resource, node string) limited {
	return limited{who: who, action: action, resource: resource, reason: castellan.ReasonPolicyNotPermitted, node: node}
}

// TestControlPolicySemantics is the table of control-policy semantics:
// each case changes the policies of a fresh structure and checks the
// decisions that follow, on SQLite and on PostgreSQL.
func TestControlPolicySemantics(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s *structure)
	}{
		{"FullAccess only", func(t *testing.T, s *structure) {
			for _, resource := range []string{inProject(s.web), accountScope(s.prod), bucket(&castellan.Project{ID: s.web}, "logs"), inProject(s.tools), ouScope(s.eng)} {
				s.expect(t, s.allowed(s.user, "compute:StartInstance", resource))
			}
		}},
		{"permit at the root but forbid at an OU", func(t *testing.T, s *structure) {
			p := s.policy(t, `forbid (principal, action == Action::"compute:StartInstance", resource);`)
			s.attach(t, p, s.eng)
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", inProject(s.web), p, s.eng))
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", accountScope(s.prod), p, s.eng))
			s.expect(t, s.allowed(s.user, "compute:StopInstance", inProject(s.web)))
		}},
		{"no permit at one level", func(t *testing.T, s *structure) {
			narrow := s.policy(t, `permit (principal, action in Action::"s3e:*", resource);`)
			s.attach(t, narrow, s.prod)
			s.detach(t, castellan.FullAccessPolicyID, s.prod)
			s.expect(t, s.notPermitted(s.user, "compute:StartInstance", inProject(s.web), s.prod))
			s.expect(t, s.allowed(s.user, "s3e:GetObject", bucket(&castellan.Project{ID: s.web}, "logs")))
			// A project under the OU beside the account answers to the
			// OU's and the root's policies only, which permit.
			s.expect(t, s.allowed(s.user, "compute:StartInstance", inProject(s.tools)))
		}},
		{"inherited and direct attachments", func(t *testing.T, s *structure) {
			onOU := s.policy(t, `forbid (principal, action == Action::"compute:StartInstance", resource);`)
			onAccount := s.policy(t, `forbid (principal, action == Action::"compute:StopInstance", resource);`)
			s.attach(t, onOU, s.eng)
			s.attach(t, onAccount, s.prod)
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", inProject(s.web), onOU, s.eng))
			s.expect(t, s.forbidden(s.user, "compute:StopInstance", inProject(s.web), onAccount, s.prod))
			s.expect(t, s.allowed(s.user, "compute:RebootInstance", inProject(s.web)))
		}},
		{"a policy change changes the next decision", func(t *testing.T, s *structure) {
			p := s.policy(t, `permit (principal, action, resource);`)
			s.attach(t, p, s.prod)
			s.expect(t, s.allowed(s.user, "compute:StartInstance", inProject(s.web)))
			forbid := `forbid (principal, action == Action::"compute:StartInstance", resource);`
			storetest.Must(s.s.ControlPolicies.UpdateControlPolicy(asOperator, s.org.OrganizationID, p, castellan.ControlPolicyUpdate{Document: &forbid}))(t)
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", inProject(s.web), p, s.prod))
			s.detach(t, p, s.prod)
			s.expect(t, s.allowed(s.user, "compute:StartInstance", inProject(s.web)))
			s.attach(t, p, s.org.OrganizationID)
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", inProject(s.web), p, s.org.OrganizationID))
			// Attached at the root, it reaches a project outside any
			// account as well, but not the root itself: the
			// organization's administration is never limited.
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", inProject(s.tools), p, s.org.OrganizationID))
			s.expect(t, s.allowed(s.owner(), "compute:StartInstance", "organization/"+s.org.OrganizationID))
		}},
		{"forbid by action group", func(t *testing.T, s *structure) {
			p := s.policy(t, `forbid (principal, action in Action::"compute:*", resource);`)
			s.attach(t, p, s.prod)
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", inProject(s.web), p, s.prod))
			s.expect(t, s.forbidden(s.user, "compute:CreateDisk", "rn:compute:"+s.web+":disk/d1", p, s.prod))
			s.expect(t, s.allowed(s.user, "s3e:GetObject", inProject(s.web)))
		}},
		{"forbid on a resource type in a project", func(t *testing.T, s *structure) {
			p := s.policy(t, `forbid (principal, action, resource is s3e::bucket in Castellan::Project::"`+s.web+`");`)
			s.attach(t, p, s.org.OrganizationID)
			s.expect(t, s.forbidden(s.user, "s3e:GetObject", bucket(&castellan.Project{ID: s.web}, "logs"), p, s.org.OrganizationID))
			s.expect(t, s.forbidden(s.user, "s3e:GetObject", bucket(&castellan.Project{ID: s.web}, "*"), p, s.org.OrganizationID))
			s.expect(t, s.allowed(s.user, "s3e:GetObject", inProject(s.web)))
			s.expect(t, s.allowed(s.user, "compute:StartInstance", "rn:compute:"+s.web+":instance/i1"))
		}},
		{"a project directly under an OU is limited by it", func(t *testing.T, s *structure) {
			p := s.policy(t, `forbid (principal, action, resource);`)
			s.attach(t, p, s.eng)
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", inProject(s.tools), p, s.eng))
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", ouScope(s.eng), p, s.eng))
			s.expect(t, s.forbidden(s.user, "compute:StartInstance", inProject(s.web), p, s.eng))
			s.expect(t, s.allowed(s.owner(), "compute:StartInstance", "organization/"+s.org.OrganizationID))
		}},
		{"groups are the principal's parents", func(t *testing.T, s *structure) {
			p := s.policy(t, `forbid (principal in Castellan::Group::"`+s.group+`", action, resource);`)
			s.attach(t, p, s.prod)
			s.expect(t, s.forbidden(s.member, "compute:StartInstance", inProject(s.web), p, s.prod))
			s.expect(t, s.allowed(s.user, "compute:StartInstance", inProject(s.web)))
		}},
		{"operators bypass the policies", func(t *testing.T, s *structure) {
			s.attach(t, s.policy(t, `forbid (principal, action, resource);`), s.prod)
			d := storetest.Must(s.authorizer.Authorize(context.Background(), castellan.AuthzRequest{
				Principal: castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"}, Action: "compute:StartInstance", Resource: inProject(s.web)}))(t)
			if !d.Allowed || d.Reason != castellan.ReasonOperator {
				t.Fatalf("got %+v, want the operator allowed", d)
			}
		}},
		{"grants are looked at first", func(t *testing.T, s *structure) {
			s.attach(t, s.policy(t, `forbid (principal, action, resource);`), s.prod)
			d := storetest.Must(s.authorizer.Explain(context.Background(), castellan.AuthzRequest{
				Principal: s.user, Action: "iam:CreateUser", Resource: inProject(s.web)}))(t)
			if d.Allowed || d.Reason != castellan.ReasonNoGrant || d.Policy != nil {
				t.Fatalf("got %+v, want no_grant without a policy", d)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, f *fixture) { tc.run(t, newStructure(t, f)) })
		})
	}
}

// TestMissingIgnoresControlPolicies checks that the hierarchy principle
// counts grants on OUs and accounts and is not limited by control
// policies: a guardrail keeps the holder from using a role, not from
// granting it where it holds it.
func TestMissingIgnoresControlPolicies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s := newStructure(t, f)
		s.attach(t, s.policy(t, `forbid (principal, action, resource);`), s.prod)
		ctx := context.Background()
		for _, scope := range []string{ouScope(s.eng), accountScope(s.prod), inProject(s.web)} {
			missing := storetest.Must(f.authorizer.Missing(ctx, s.user, scope, []string{"compute:StartInstance", "iam:CreateUser"}))(t)
			if len(missing) != 1 || missing[0] != "iam:CreateUser" {
				t.Errorf("on %s: got missing %v, want [iam:CreateUser]", scope, missing)
			}
		}
		// Above the OU the grant does not reach.
		missing := storetest.Must(f.authorizer.Missing(ctx, s.user, f.orgScope(), []string{"compute:StartInstance"}))(t)
		if len(missing) != 1 {
			t.Errorf("on the root: got missing %v, want compute:StartInstance", missing)
		}
		// A grant on the account reaches its projects, not the OU.
		other := f.user(t)
		f.grant(t, "project.member", accountScope(s.prod), userSubject(other), nil)
		for scope, want := range map[string]int{accountScope(s.prod): 0, inProject(s.web): 0, ouScope(s.eng): 1, inProject(s.tools): 1} {
			if got := storetest.Must(f.authorizer.Missing(ctx, other, scope, []string{"s3e:GetObject"}))(t); len(got) != want {
				t.Errorf("account grant on %s: got missing %v, want %d", scope, got, want)
			}
		}
	})
}
