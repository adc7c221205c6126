package authz_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/storetest"
)

// generated is a tree made at random from a seed, with the principals and
// scopes whose decisions the simulation test compares.
type generated struct {
	*fixture
	rng        *rand.Rand
	ous        []string
	accounts   []string
	projects   []string
	principals []castellan.Principal
	// scopes are every node of the tree and every resource that a grant
	// names.
	scopes []string
	// policies are custom control policies, by what they do.
	policies map[string]string
}

// newGenerated builds root, 3 OUs (one nested), 4 accounts (under the
// root, an OU and the nested OU), 7 projects under the accounts, OUs and
// the root, 5 users, 2 groups of random members and one user of their
// own each, a service account, random grants of project and service
// roles on every kind of scope and on buckets, and a few custom policies,
// one attached.
func newGenerated(t *testing.T, f *fixture, seed uint64) *generated {
	t.Helper()
	g := &generated{fixture: f, rng: rand.New(rand.NewPCG(seed, seed)), policies: map[string]string{}}
	org := f.org.OrganizationID
	ctx := context.Background()
	pick := func(ids ...[]string) string {
		var all []string
		for _, l := range ids {
			all = append(all, l...)
		}
		return all[g.rng.IntN(len(all))]
	}
	root := []string{org}
	g.ous = append(g.ous, f.ou(t, org, "ou-0"), f.ou(t, org, "ou-1"))
	g.ous = append(g.ous, f.ou(t, g.ous[0], "ou-2"))
	for i, parent := range []string{g.ous[0], org, g.ous[2], g.ous[1]} {
		g.accounts = append(g.accounts, f.account(t, parent, fmt.Sprintf("acct-%d", i)))
	}
	for i := range 7 {
		parent := g.accounts[i%len(g.accounts)]
		if i >= 4 {
			parent = pick(root, g.ous)
		}
		g.projects = append(g.projects, f.projectIn(t, parent, fmt.Sprintf("proj-%d", i)))
	}
	var users []castellan.Principal
	for range 5 {
		users = append(users, f.user(t))
	}
	var groups []string
	for i := range 2 {
		grp := storetest.Must(f.s.Groups.CreateGroup(ctx, org, castellan.GroupCreate{Name: fmt.Sprintf("group-%d", i)}))(t)
		groups = append(groups, grp.ID)
		var members []string
		for _, u := range users {
			if g.rng.IntN(2) == 0 {
				members = append(members, u.ID)
			}
		}
		// A user who holds nothing but through the group.
		members = append(members, f.user(t).ID)
		storetest.Must(f.s.Groups.AddGroupMembers(ctx, org, grp.ID, members))(t)
	}
	robot := storetest.Must(f.s.ServiceAccounts.CreateServiceAccount(ctx, org, g.projects[0], castellan.ServiceAccountCreate{Name: "robot"}))(t)
	robotSubject := castellan.Subject{Type: castellan.SubjectServiceAccount, ID: robot.ID}
	f.grant(t, "project.member", inProject(g.projects[0]), robotSubject, nil)
	f.grant(t, "s3e.viewer", bucket(&castellan.Project{ID: g.projects[0]}, "logs"), robotSubject, nil)

	var nodes []string
	for _, id := range g.ous {
		nodes = append(nodes, ouScope(id))
	}
	for _, id := range g.accounts {
		nodes = append(nodes, accountScope(id))
	}
	for _, id := range g.projects {
		nodes = append(nodes, inProject(id))
	}
	subjects := []castellan.Subject{}
	for _, u := range users {
		subjects = append(subjects, userSubject(u))
	}
	for _, id := range groups {
		subjects = append(subjects, castellan.Subject{Type: castellan.SubjectGroup, ID: id})
	}
	var items []castellan.GrantCreate
	for _, sub := range subjects {
		for range 2 {
			role := []string{"project.member", "project.reader", "services.user", "project.admin"}[g.rng.IntN(4)]
			items = append(items, castellan.GrantCreate{RoleID: role, Scope: nodes[g.rng.IntN(len(nodes))], Subject: sub})
		}
		p := &castellan.Project{ID: pick(g.projects)}
		name := []string{"logs", "*"}[g.rng.IntN(2)]
		items = append(items, castellan.GrantCreate{RoleID: "s3e.editor", Scope: bucket(p, name), Subject: sub})
	}
	items = append(items, castellan.GrantCreate{RoleID: "services.user", Scope: f.orgScope(), Subject: subjects[0]})
	must2(f.s.Grants.CreateGrants(ctx, org, items))(t)

	g.policies["forbid compute"] = f.policy(t, `forbid (principal, action in Action::"compute:*", resource);`)
	g.policies["permit s3e"] = f.policy(t, `permit (principal, action in Action::"s3e:*", resource);`)
	g.policies["forbid group"] = f.policy(t, `forbid (principal in Castellan::Group::"`+groups[0]+`", action == Action::"s3e:PutObject", resource);`)
	g.policies["forbid buckets"] = f.policy(t, `forbid (principal, action, resource is s3e::bucket) unless { principal is Castellan::ServiceAccount };`)
	g.policies["forbid start"] = f.policy(t, `forbid (principal, action == Action::"compute:StartInstance", resource);`)
	f.attach(t, g.policies["forbid start"], g.ous[0])

	// Every user of the organization (the accounts' root users too) and
	// the service account.
	list, _ := must2(f.s.Users.FindUsers(ctx, org, castellan.UserFilter{PageSize: castellan.MaxPageSize}))(t)
	for _, u := range list {
		g.principals = append(g.principals, castellan.Principal{Type: castellan.PrincipalUser, ID: u.ID, OrganizationID: org})
	}
	g.principals = append(g.principals, castellan.Principal{Type: castellan.PrincipalServiceAccount, ID: robot.ID, OrganizationID: org})
	// The fixture's own projects hang under the root: below it, so the
	// root's policies limit them too.
	g.scopes = append([]string{f.orgScope(), castellan.ProjectScope(f.project.ID).String(), castellan.ProjectScope(f.project2.ID).String()}, nodes...)
	grants, _ := must2(f.s.Grants.FindGrants(ctx, org, castellan.GrantFilter{PageSize: castellan.MaxPageSize}))(t)
	for _, gr := range grants {
		if strings.HasPrefix(gr.Scope, "rn:") && !slices.Contains(g.scopes, gr.Scope) {
			g.scopes = append(g.scopes, gr.Scope)
		}
	}
	return g
}

// decisions asks Authorize about every principal, scope and action.
func (g *generated) decisions(t *testing.T, a *authz.Authorizer) map[castellan.SimulationLoss]bool {
	t.Helper()
	allowed := map[castellan.SimulationLoss]bool{}
	for _, p := range g.principals {
		who := castellan.Subject{Type: castellan.SubjectUser, ID: p.ID}
		if p.Type == castellan.PrincipalServiceAccount {
			who.Type = castellan.SubjectServiceAccount
		}
		for _, scope := range g.scopes {
			for _, action := range a.Catalog.Actions() {
				d := storetest.Must(a.Authorize(context.Background(), castellan.AuthzRequest{Principal: p, Action: action, Resource: scope}))(t)
				allowed[castellan.SimulationLoss{Principal: who, Scope: scope, Action: action}] = d.Allowed
			}
		}
	}
	return allowed
}

// simulate pages through the whole answer of a simulation in small pages
// and checks that it changed nothing.
func (g *generated) simulate(t *testing.T, a *authz.Authorizer, policyID string, sim castellan.ControlPolicySimulation) ([]castellan.SimulationLoss, []castellan.SimulationCount) {
	t.Helper()
	ctx := context.Background()
	rev := storetest.Must(g.s.ChangeLog.Revision(ctx))(t)
	var losses []castellan.SimulationLoss
	var counts []castellan.SimulationCount
	sim.PageSize = 7
	for {
		res := storetest.Must(a.SimulateControlPolicy(ctx, g.org.OrganizationID, policyID, sim))(t)
		if len(res.Losses) > sim.PageSize || res.NextPageToken != "" && len(res.Losses) != sim.PageSize {
			t.Fatalf("got a page of %d losses with next %q, want pages of %d", len(res.Losses), res.NextPageToken, sim.PageSize)
		}
		if counts != nil && !slices.Equal(counts, res.Counts) {
			t.Fatalf("counts changed between pages: %v, then %v", counts, res.Counts)
		}
		counts = res.Counts
		losses = append(losses, res.Losses...)
		if res.NextPageToken == "" {
			break
		}
		sim.PageToken = res.NextPageToken
	}
	if got := storetest.Must(g.s.ChangeLog.Revision(ctx))(t); got != rev {
		t.Fatalf("the simulation wrote: revision %d, then %d", rev, got)
	}
	return losses, counts
}

// smallCatalog is the default catalogue cut down to a few actions of the
// compute and s3e services (with every built-in role): the test decides
// every action of it for every principal and scope, through the store.
func smallCatalog(c *castellan.Catalog) *castellan.Catalog {
	keep := []string{"compute:StartInstance", "compute:CreateDisk", "s3e:GetObject", "s3e:PutObject", "s3e:ListBuckets", "s3e:DeleteBucket"}
	var services []*castellan.Service
	for _, s := range c.Services {
		small := &castellan.Service{Name: s.Name, Title: s.Title, ResourceTypes: s.ResourceTypes}
		for _, a := range s.Actions {
			if slices.Contains(keep, a) {
				small.Actions = append(small.Actions, a)
			}
		}
		if len(small.Actions) > 0 {
			services = append(services, small)
		}
	}
	return castellan.NewCatalog(services, c.Roles)
}

// TestSimulationMatchesDecisions makes changes to the attachments of a
// generated tree one after the other: for each, the simulation's answer
// must be exactly the decisions Authorize turns from allowed to denied
// once the change is made, its counts must count them, and the change
// must alter no decision outside its target's subtree (the root itself
// is never limited).
func TestSimulationMatchesDecisions(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		g := newGenerated(t, f, 12)
		a := *f.authorizer
		a.Catalog = smallCatalog(f.s.Catalog)
		org := f.org.OrganizationID
		steps := []struct {
			name   string
			policy string
			sim    castellan.ControlPolicySimulation
			// prepare, when set, changes the tree before the step's
			// decisions are compared.
			prepare, apply func()
		}{
			{name: "attach at an OU", policy: g.policies["forbid compute"],
				sim:   castellan.ControlPolicySimulation{Operation: castellan.SimulateAttach, TargetID: g.ous[0]},
				apply: func() { f.attach(t, g.policies["forbid compute"], g.ous[0]) }},
			{name: "attach at the root", policy: g.policies["forbid group"],
				sim:   castellan.ControlPolicySimulation{Operation: castellan.SimulateAttach, TargetID: org},
				apply: func() { f.attach(t, g.policies["forbid group"], org) }},
			{name: "replace FullAccess at an account", policy: g.policies["permit s3e"],
				sim: castellan.ControlPolicySimulation{Operation: castellan.SimulateReplace, TargetID: g.accounts[1], ReplacedPolicyID: castellan.FullAccessPolicyID},
				apply: func() {
					f.attach(t, g.policies["permit s3e"], g.accounts[1])
					f.detach(t, castellan.FullAccessPolicyID, g.accounts[1])
				}},
			{name: "attach on a resource type at an account", policy: g.policies["forbid buckets"],
				sim:   castellan.ControlPolicySimulation{Operation: castellan.SimulateAttach, TargetID: g.accounts[0]},
				apply: func() { f.attach(t, g.policies["forbid buckets"], g.accounts[0]) }},
			{name: "detach FullAccess at the root", policy: castellan.FullAccessPolicyID,
				sim:     castellan.ControlPolicySimulation{Operation: castellan.SimulateDetach, TargetID: org},
				prepare: func() { f.attach(t, g.policies["permit s3e"], org) },
				apply:   func() { f.detach(t, castellan.FullAccessPolicyID, org) }},
		}
		before := g.decisions(t, &a)
		lostSome := false
		for _, step := range steps {
			if step.prepare != nil {
				step.prepare()
				before = g.decisions(t, &a)
			}
			losses, counts := g.simulate(t, &a, step.policy, step.sim)
			if !slices.IsSortedFunc(losses, compareLosses) {
				t.Errorf("%s: losses are not by principal, scope and action: %v", step.name, losses)
			}
			step.apply()
			after := g.decisions(t, &a)
			inScope := g.reachedBy(t, step.sim.TargetID)
			lost := map[castellan.SimulationLoss]bool{}
			perAction := map[string]int{}
			for k, was := range before {
				now := after[k]
				if was && !now {
					lost[k] = true
					perAction[k.Action]++
				}
				if was != now && !inScope[k.Scope] {
					t.Errorf("%s: %s on %s for %s changed from %v to %v outside the target's subtree", step.name, k.Action, k.Scope, k.Principal.ID, was, now)
				}
			}
			simulated := map[castellan.SimulationLoss]bool{}
			for _, l := range losses {
				simulated[l] = true
				if !lost[l] {
					t.Errorf("%s: simulated loss %+v, but the decision did not change so", step.name, l)
				}
			}
			for l := range lost {
				if !simulated[l] {
					t.Errorf("%s: the decisions lost %+v, the simulation does not say so", step.name, l)
				}
			}
			if len(simulated) != len(losses) {
				t.Errorf("%s: %d losses listed, %d of them distinct", step.name, len(losses), len(simulated))
			}
			total := 0
			for _, c := range counts {
				total += c.Count
				if perAction[c.Action] != c.Count {
					t.Errorf("%s: count of %s is %d, the decisions lost %d", step.name, c.Action, c.Count, perAction[c.Action])
				}
			}
			if total != len(lost) {
				t.Errorf("%s: counts add up to %d, want %d", step.name, total, len(lost))
			}
			lostSome = lostSome || len(lost) > 0
			t.Logf("%s: %d losses", step.name, len(lost))
			before = after
		}
		if !lostSome {
			t.Fatal("no step lost anything: the test compares nothing")
		}
	})
}

// compareLosses orders losses by principal type and ID, scope and action.
func compareLosses(x, y castellan.SimulationLoss) int {
	return cmp.Or(cmp.Compare(x.Principal.Type, y.Principal.Type), cmp.Compare(x.Principal.ID, y.Principal.ID),
		cmp.Compare(x.Scope, y.Scope), cmp.Compare(x.Action, y.Action))
}

// reachedBy returns the scopes below the root at or below target: the
// only ones whose decisions a change at target may alter.
func (g *generated) reachedBy(t *testing.T, target string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	reached := map[string]bool{}
	for _, scope := range g.scopes {
		parsed := storetest.Must(castellan.ParseScope("scope", scope))(t)
		if parsed.Kind == castellan.ScopeOrganization {
			continue
		}
		path := storetest.Must(g.s.Nodes.FindAncestors(ctx, g.org.OrganizationID, parsed.ID))(t)
		for _, n := range path {
			reached[scope] = reached[scope] || n.ID == target
		}
	}
	return reached
}

// TestSimulationRefusals checks what a simulation refuses, with the
// errors the change itself would get.
func TestSimulationRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		s := newStructure(t, f)
		org := f.org.OrganizationID
		forbid := s.policy(t, `forbid (principal, action, resource);`)
		full := s.policy(t, `permit (principal, action, resource);`)
		s.attach(t, full, s.eng)
		for range castellan.MaxPoliciesPerTarget - 1 {
			s.attach(t, s.policy(t, `permit (principal, action, resource);`), s.prod)
		}
		otherOU := storetest.Must(f.s.OrgUnits.CreateOrgUnit(asOperator, f.otherOrg.OrganizationID, castellan.OrgUnitCreate{ParentID: f.otherOrg.OrganizationID, Name: "theirs"}))(t)
		sim := func(op castellan.SimulationOperation, target, replaced string) castellan.ControlPolicySimulation {
			return castellan.ControlPolicySimulation{Operation: op, TargetID: target, ReplacedPolicyID: replaced}
		}
		for _, tc := range []struct {
			name   string
			policy string
			sim    castellan.ControlPolicySimulation
			code   string
			field  string
		}{
			{"an unknown operation", forbid, sim("move", s.eng, ""), castellan.CodeInvalidField, "operation"},
			{"a malformed target", forbid, sim(castellan.SimulateAttach, "eng", ""), castellan.CodeInvalidField, "targetId"},
			{"a malformed policy", "forbid", sim(castellan.SimulateAttach, s.eng, ""), castellan.CodeInvalidField, "policyId"},
			{"a replace without the replaced policy", forbid, sim(castellan.SimulateReplace, s.eng, ""), castellan.CodeInvalidField, "replacedPolicyId"},
			{"a replace of the policy by itself", forbid, sim(castellan.SimulateReplace, s.eng, forbid), castellan.CodeInvalidField, "replacedPolicyId"},
			{"an attach naming a replaced policy", forbid, sim(castellan.SimulateAttach, s.eng, full), castellan.CodeInvalidField, "replacedPolicyId"},
			{"an unknown policy", "0190d3a8-0000-7000-8000-000000000000", sim(castellan.SimulateAttach, s.eng, ""), castellan.CodeControlPolicyNotFound, ""},
			{"an unknown target", forbid, sim(castellan.SimulateAttach, "0190d3a8-0000-7000-8000-000000000000", ""), castellan.CodeNodeNotFound, ""},
			{"another organization's target", forbid, sim(castellan.SimulateAttach, otherOU.ID, ""), castellan.CodeNodeNotFound, ""},
			{"a project", forbid, sim(castellan.SimulateAttach, s.web, ""), castellan.CodeControlPolicyInvalidTarget, ""},
			{"an attached policy", castellan.FullAccessPolicyID, sim(castellan.SimulateAttach, org, ""), castellan.CodeControlPolicyAttached, ""},
			{"a full target", forbid, sim(castellan.SimulateAttach, s.prod, ""), castellan.CodeControlPolicyTooMany, ""},
			{"a detach of a policy not attached", forbid, sim(castellan.SimulateDetach, s.eng, ""), castellan.CodeControlPolicyNotAttached, ""},
			{"a detach of an inherited policy", full, sim(castellan.SimulateDetach, s.prod, ""), castellan.CodeControlPolicyNotAttached, ""},
			{"a detach of the last policy", castellan.FullAccessPolicyID, sim(castellan.SimulateDetach, org, ""), castellan.CodeControlPolicyLastAttachment, ""},
			{"a replace of a policy not attached", forbid, sim(castellan.SimulateReplace, s.prod, full), castellan.CodeControlPolicyNotAttached, ""},
			{"a replace by an attached policy", full, sim(castellan.SimulateReplace, s.eng, castellan.FullAccessPolicyID), castellan.CodeControlPolicyAttached, ""},
			{"a bad page token", forbid, castellan.ControlPolicySimulation{Operation: castellan.SimulateAttach, TargetID: s.eng, PageToken: "nope"}, castellan.CodeInvalidPageToken, "pageToken"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.authorizer.SimulateControlPolicy(context.Background(), org, tc.policy, tc.sim)
				var e *castellan.Error
				if !errors.As(err, &e) || e.Code != tc.code {
					t.Fatalf("got %v, want %s", err, tc.code)
				}
				if tc.field != "" && (len(e.Fields) == 0 || e.Fields[0].Field != tc.field) {
					t.Fatalf("got fields %+v, want %s", e.Fields, tc.field)
				}
			})
		}
		// A replace of FullAccess at the OU by the forbidding policy: the
		// user loses every action in the account below, the member too.
		res := storetest.Must(f.authorizer.SimulateControlPolicy(context.Background(), org, forbid, sim(castellan.SimulateReplace, s.eng, castellan.FullAccessPolicyID)))(t)
		if res.Principals < 2 || len(res.Losses) == 0 || len(res.Counts) == 0 {
			t.Fatalf("got %+v, want losses of the user and the member", res)
		}
		for _, l := range res.Losses {
			if l.Scope == inProject(s.tools) || l.Scope == ouScope(s.eng) {
				t.Fatalf("got a loss %+v outside the account", l)
			}
		}
	})
}
