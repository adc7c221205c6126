package index_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/authz"
	"github.com/castellan-iam/castellan/index"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

var asOperator = castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})

// world is a random organization, the index over it and the reference.
type world struct {
	tb    testing.TB
	rng   *rand.Rand
	clock *storetest.Clock
	db    *sqlstore.DB
	s     castellan.Services
	// index follows every write as the feed gives it (one batch per
	// write); rebuilt reloads after every write; batched is given the
	// writes of several steps in one batch.
	index, rebuilt, batched *index.Authorizer
	reference               *authz.Authorizer
	applied, batchedAt      int64

	org, other string
	owner      string
	// ous, accounts, projects are node IDs; users, groups, service
	// accounts, roles and policies the organization's.
	ous, accounts, projects []string
	users, groups, sas      []string
	roles, policies         []string
	grants                  []string
	actions                 []string
	// reasons counts the reference's answers.
	reasons map[string]int
}

func newWorld(tb testing.TB, b sqltest.Backend, seed uint64) *world {
	tb.Helper()
	w := &world{tb: tb, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b9)), clock: storetest.NewClock(), reasons: map[string]int{}}
	w.db = sqltest.MustOpen(tb, b.URL(tb), w.clock.Now)
	w.s = w.db.Services()
	w.reference = &authz.Authorizer{Grants: w.s.Grants, Groups: w.s.Groups, Roles: w.s.Roles, Nodes: w.s.Nodes,
		Policies: w.s.ControlPolicies, ServiceAccounts: w.s.ServiceAccounts, Catalog: w.s.Catalog, Now: w.clock.Now}
	w.index = index.New(w.db, w.s, w.clock.Now)
	w.rebuilt = index.New(w.db, w.s, w.clock.Now)
	w.batched = index.New(w.db, w.s, w.clock.Now)
	w.actions = append([]string{"nope:Nothing"}, w.s.Catalog.Actions()...)
	ctx := context.Background()
	res := storetest.Must(w.s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(tb)
	w.org, w.owner = res.OrganizationID, res.OwnerUserID
	w.users = append(w.users, w.owner)
	other := storetest.Must(w.s.Tokens.BootstrapOrganization(ctx, castellan.Bootstrap{OrganizationName: "Globex", OwnerEmail: "owner@globex.example"}))(tb)
	w.other = other.OrganizationID
	w.applied = storetest.Must(w.db.Revision(ctx))(tb)
	w.batchedAt = w.applied
	for _, idx := range []*index.Authorizer{w.index, w.rebuilt, w.batched} {
		if err := idx.Reload(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	w.build()
	w.follow()
	w.followBatched()
	return w
}

func (w *world) pick(list []string) string { return list[w.rng.IntN(len(list))] }

// build fills the organization: OUs 1–3 deep, accounts, projects under
// every kind of node, users, groups, service accounts, custom roles,
// grants on every kind of scope (some expiring) and control policies.
func (w *world) build() {
	for i := range 5 {
		parent := w.org
		if i > 0 && w.rng.IntN(3) > 0 {
			parent = w.pick(w.ous)
		}
		ou, err := w.s.OrgUnits.CreateOrgUnit(asOperator, w.org, castellan.OrgUnitCreate{ParentID: parent, Name: fmt.Sprintf("ou-%d", i)})
		if err == nil {
			w.ous = append(w.ous, ou.ID)
		}
	}
	for i := range 3 {
		email := fmt.Sprintf("acct-%d@accounts.example", i)
		parent := w.pick(append([]string{w.org}, w.ous...))
		a := storetest.Must(w.s.Accounts.CreateAccount(asOperator, w.org, castellan.AccountCreate{
			ParentID: parent, Name: fmt.Sprintf("acct-%d", i), Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"}))(w.tb)
		w.accounts = append(w.accounts, a.ID)
	}
	parents := append(append([]string{w.org}, w.ous...), w.accounts...)
	for i := range 8 {
		p := storetest.Must(w.s.Projects.CreateProject(asOperator, w.org, castellan.ProjectCreate{Name: fmt.Sprintf("proj-%d", i), ParentID: w.pick(parents)}))(w.tb)
		w.projects = append(w.projects, p.ID)
	}
	for i := range 10 {
		u := storetest.Must(w.s.Users.CreateUser(asOperator, w.org, castellan.UserCreate{Email: fmt.Sprintf("user-%d@acme.example", i)}))(w.tb)
		w.users = append(w.users, u.ID)
	}
	for i := range 4 {
		g := storetest.Must(w.s.Groups.CreateGroup(asOperator, w.org, castellan.GroupCreate{Name: fmt.Sprintf("group-%d", i)}))(w.tb)
		w.groups = append(w.groups, g.ID)
		var members []string
		for _, u := range w.users {
			if w.rng.IntN(3) == 0 {
				members = append(members, u)
			}
		}
		if len(members) > 0 {
			storetest.Must(w.s.Groups.AddGroupMembers(asOperator, w.org, g.ID, members))(w.tb)
		}
	}
	for i := range 3 {
		sa := storetest.Must(w.s.ServiceAccounts.CreateServiceAccount(asOperator, w.org, w.projects[i], castellan.ServiceAccountCreate{Name: fmt.Sprintf("robot-%d", i)}))(w.tb)
		w.sas = append(w.sas, sa.ID)
	}
	for _, r := range w.s.Catalog.Roles {
		w.roles = append(w.roles, r.ID)
	}
	for i, custom := range []castellan.RoleCreate{
		{Kind: castellan.RoleProject, Actions: []string{"compute:*", "s3e:Get*"}},
		{Kind: castellan.RoleProject, Actions: []string{"s3e:PutObject", "network:List*"}},
		{Kind: castellan.RoleOrganization, Actions: []string{"organizations:*", "iam:Get*"}},
	} {
		custom.Name = fmt.Sprintf("custom-%d", i)
		r := storetest.Must(w.s.Roles.CreateRole(asOperator, w.org, custom))(w.tb)
		w.roles = append(w.roles, r.ID)
	}
	for range 120 {
		w.grant()
	}
	for _, doc := range []string{
		`forbid (principal, action == Action::"compute:StartInstance", resource);`,
		`permit (principal, action in Action::"s3e:*", resource);`,
		// context.mfa is in no request: the forbid fails, closed.
		`forbid (principal, action == Action::"compute:StopInstance", resource) when { context.mfa == false };`,
		// Policies that depend on the principal, its groups or the
		// resource: evaluated per request.
		`forbid (principal in Castellan::Group::"` + w.groups[0] + `", action == Action::"s3e:GetObject", resource);`,
		`forbid (principal, action == Action::"compute:StopInstance", resource) when { resource in Castellan::Project::"` + w.projects[0] + `" };`,
	} {
		p := storetest.Must(w.s.ControlPolicies.CreateControlPolicy(asOperator, w.org, castellan.ControlPolicyCreate{
			Name: fmt.Sprintf("policy-%d", len(w.policies)), Document: doc}))(w.tb)
		w.policies = append(w.policies, p.ID)
	}
	w.attach(w.policies[0], w.pick(w.ous))
	narrow := w.pick(w.accounts)
	w.attach(w.policies[1], narrow)
	_, _ = w.s.ControlPolicies.DetachControlPolicy(asOperator, w.org, castellan.FullAccessPolicyID, narrow)
	w.attach(w.policies[2], w.pick(append(w.accounts, w.ous...)))
	w.attach(w.policies[3], w.pick(w.accounts))
	w.attach(w.policies[4], w.pick(append(w.accounts, w.ous...)))
}

func (w *world) attach(policyID, nodeID string) {
	_, _ = w.s.ControlPolicies.AttachControlPolicy(asOperator, w.org, policyID, nodeID)
}

// scopes are every scope of the organization grants may name, resources
// and every resource of a type included.
func (w *world) scopes() []string {
	out := []string{castellan.OrganizationScope(w.org).String()}
	for _, id := range w.ous {
		out = append(out, "ou/"+id)
	}
	for _, id := range w.accounts {
		out = append(out, "account/"+id)
	}
	for _, id := range w.projects {
		out = append(out, "project/"+id, "rn:s3e:"+id+":bucket/logs", "rn:s3e:"+id+":bucket/*", "rn:s3e:"+id+":bucket/data",
			"rn:compute:"+id+":instance/vm-1")
	}
	return out
}

// grant makes a random grant; the store refuses some (a role on the
// wrong kind of scope), which is fine.
func (w *world) grant() {
	subject := castellan.Subject{Type: castellan.SubjectUser, ID: w.pick(w.users)}
	switch w.rng.IntN(4) {
	case 0, 1:
		subject = castellan.Subject{Type: castellan.SubjectGroup, ID: w.pick(w.groups)}
	case 2:
		if w.rng.IntN(2) == 0 {
			subject = castellan.Subject{Type: castellan.SubjectServiceAccount, ID: w.pick(w.sas)}
		}
	}
	var expires *time.Time
	if w.rng.IntN(3) == 0 {
		at := w.clock.Now().Add(time.Duration(1+w.rng.IntN(90)) * time.Second)
		expires = &at
	}
	created, _, err := w.s.Grants.CreateGrants(asOperator, w.org, []castellan.GrantCreate{{RoleID: w.pick(w.roles), Scope: w.pick(w.scopes()), Subject: subject, ExpiresAt: expires}})
	if err == nil {
		w.grants = append(w.grants, created[0].ID)
	}
}

// follow gives the index the changes since it last looked, as the feed
// does.
func (w *world) follow() {
	w.tb.Helper()
	ctx := context.Background()
	changes := storetest.Must(w.db.Changes(ctx, w.applied, 1000))(w.tb)
	if len(changes) == 0 {
		return
	}
	if err := w.index.Apply(ctx, changes); err != nil {
		w.tb.Fatal(err)
	}
	w.applied = changes[len(changes)-1].Revision
	if got := w.index.Revision(); got != w.applied {
		w.tb.Fatalf("index at revision %d after applying through %d", got, w.applied)
	}
	if err := w.rebuilt.Reload(ctx); err != nil {
		w.tb.Fatal(err)
	}
	if got := w.rebuilt.Revision(); got < w.applied {
		w.tb.Fatalf("reloaded index at revision %d, the store at %d at least", got, w.applied)
	}
}

// followBatched gives the batched index every change since it last
// looked, in one batch.
func (w *world) followBatched() {
	w.tb.Helper()
	ctx := context.Background()
	rev := storetest.Must(w.db.Revision(ctx))(w.tb)
	changes := storetest.Must(w.db.Changes(ctx, w.batchedAt, int(rev-w.batchedAt)))(w.tb)
	if len(changes) == 0 {
		return
	}
	if err := w.batched.Apply(ctx, changes); err != nil {
		w.tb.Fatal(err)
	}
	w.batchedAt = rev
}

// request is a random check: any principal (some unknown, deleted, of
// another organization, bound to a project's key, an operator), any
// action (one unknown) on any scope (some of another organization).
func (w *world) request() castellan.AuthzRequest {
	p := castellan.Principal{Type: castellan.PrincipalUser, ID: w.pick(w.users), OrganizationID: w.org}
	switch w.rng.IntN(12) {
	case 0, 1:
		p.Type, p.ID = castellan.PrincipalServiceAccount, w.pick(w.sas)
	case 2:
		p.ID = "00000000-0000-4000-8000-000000000000"
	case 3:
		p.OrganizationID = w.other
	case 4:
		p.ProjectID = w.pick(w.projects)
	case 5:
		if w.rng.IntN(4) == 0 {
			p.Type = castellan.PrincipalOperator
		}
	}
	resource := w.pick(w.scopes())
	switch w.rng.IntN(40) {
	case 0, 1:
		resource = "project/00000000-0000-4000-8000-000000000001"
	case 2:
		// Malformed, or on the edge of the resource name pattern.
		project := w.pick(w.projects)
		resource = w.pick([]string{"rn:s3e:" + project + ":bucket/", "rn:S3e:" + project + ":bucket/x", "rn:s3e:" + strings.ToUpper(project) + ":bucket/x",
			"rn:s3e:" + project + ":Bucket/x", "rn:s3e:" + project + ":bucket/.x", "rn:s3e:" + project + ":bucket/x/y", "rn:s-3:" + project + ":bucket/a~b_c.d",
			"rn:s3e:" + project + ":bucket/" + strings.Repeat("x", 256), "project/" + project + "/", "ou/" + strings.ToUpper(w.pick(w.ous)),
			"organization/" + w.org + "x", "group/" + w.pick(w.groups), "", "rn:s3e:" + project + ":bucket/*"})
	case 3:
		// A node of the wrong kind, or of the other organization.
		resource = w.pick([]string{"ou/" + w.pick(w.projects), "project/" + w.pick(w.accounts), "organization/" + w.other, "account/" + w.pick(w.ous)})
	}
	action := w.pick(w.actions)
	if w.rng.IntN(3) == 0 {
		// Actions the control policies name.
		action = w.pick([]string{"compute:StartInstance", "compute:StopInstance", "s3e:GetObject", "s3e:PutObject"})
	}
	req := castellan.AuthzRequest{Principal: p, Action: action, Resource: resource}
	switch w.rng.IntN(6) {
	case 0:
		// The context a condition reads: never from a verdict cached
		// for requests without one, nor cached for them.
		req.Context = map[string]any{"mfa": w.rng.IntN(2) == 0}
	case 1:
		req.Context = map[string]any{"sourceIp": "10.0.0.1"}
	}
	return req
}

// compare asks the reference and the indexes n random questions, and
// for some which of a few actions the principal misses on the scope.
func (w *world) compare(step string, n int, indexes ...*index.Authorizer) {
	w.tb.Helper()
	ctx := context.Background()
	for range n {
		req := w.request()
		want, wantErr := w.reference.Authorize(ctx, req)
		for i, idx := range indexes {
			got, gotErr := idx.Authorize(ctx, req)
			if (wantErr == nil) != (gotErr == nil) {
				w.tb.Fatalf("%s: index %d: %+v: reference error %v, index error %v", step, i, req, wantErr, gotErr)
			}
			if got.Allowed != want.Allowed || got.Reason != want.Reason || !reflect.DeepEqual(got.Policy, want.Policy) {
				w.tb.Fatalf("%s: index %d: %+v: reference %v %q %+v, index %v %q %+v", step, i, req, want.Allowed, want.Reason, want.Policy, got.Allowed, got.Reason, got.Policy)
			}
		}
		w.reasons[want.Reason]++
		if w.rng.IntN(8) > 0 {
			continue
		}
		actions := []string{w.pick(w.actions), w.pick(w.actions), "compute:StartInstance", "s3e:GetObject"}
		wantMissing, wantErr := w.reference.Missing(ctx, req.Principal, req.Resource, actions)
		for i, idx := range indexes {
			got, gotErr := idx.Missing(ctx, req.Principal, req.Resource, actions)
			if (wantErr == nil) != (gotErr == nil) || !reflect.DeepEqual(got, wantMissing) {
				w.tb.Fatalf("%s: index %d: Missing %+v on %s of %v: reference %v, %v; index %v, %v", step, i, req.Principal, req.Resource, actions, wantMissing, wantErr, got, gotErr)
			}
		}
	}
}

// mutate makes one random write (or advances the clock) and names it.
func (w *world) mutate() string {
	ctx := asOperator
	switch w.rng.IntN(14) {
	case 0, 1:
		w.grant()
		return "grant"
	case 2:
		if len(w.grants) > 0 {
			i := w.rng.IntN(len(w.grants))
			_, _ = w.s.Grants.DeleteGrants(ctx, w.org, []string{w.grants[i]})
			w.grants = append(w.grants[:i], w.grants[i+1:]...)
		}
		return "revoke"
	case 3:
		_, _ = w.s.Groups.AddGroupMembers(ctx, w.org, w.pick(w.groups), []string{w.pick(w.users)})
		return "add member"
	case 4:
		_, _ = w.s.Groups.RemoveGroupMembers(ctx, w.org, w.pick(w.groups), []string{w.pick(w.users)})
		return "remove member"
	case 5:
		if w.rng.IntN(4) == 0 && len(w.groups) > 1 {
			i := w.rng.IntN(len(w.groups))
			_, _ = w.s.Groups.DeleteGroup(ctx, w.org, w.groups[i])
			w.groups = append(w.groups[:i], w.groups[i+1:]...)
			return "delete group"
		}
		id := w.pick(w.users[1:])
		if u, err := w.s.Users.FindUserByID(ctx, w.org, id, false); err == nil {
			_, _ = w.s.Users.DeleteUser(ctx, w.org, id, u.LoginID)
		}
		return "delete user"
	case 6:
		_, _ = w.s.Projects.MoveProject(ctx, w.org, w.pick(w.projects), w.pick(append(append([]string{w.org}, w.ous...), w.accounts...)))
		return "move project"
	case 7:
		_, _ = w.s.OrgUnits.MoveOrgUnit(ctx, w.org, w.pick(w.ous), w.pick(append([]string{w.org}, w.ous...)))
		return "move OU"
	case 8:
		w.attach(w.pick(w.policies), w.pick(append(append([]string{w.org}, w.ous...), w.accounts...)))
		return "attach"
	case 9:
		_, _ = w.s.ControlPolicies.DetachControlPolicy(ctx, w.org, w.pick(append(w.policies, castellan.FullAccessPolicyID)), w.pick(append(w.ous, w.accounts...)))
		return "detach"
	case 10:
		doc := w.pick([]string{
			`forbid (principal, action == Action::"compute:StartInstance", resource);`,
			`permit (principal, action in Action::"compute:*", resource);`,
			`forbid (principal, action, resource) when { context.mfa == false };`,
		})
		_, _ = w.s.ControlPolicies.UpdateControlPolicy(ctx, w.org, w.pick(w.policies), castellan.ControlPolicyUpdate{Document: &doc})
		return "update policy"
	case 11:
		// The sweep removes what has expired.
		_, _ = w.s.Grants.DeleteExpiredGrants(ctx)
		return "sweep"
	default:
		w.clock.Advance(time.Duration(1+w.rng.IntN(30)) * time.Second)
		return "advance clock"
	}
}

// TestDifferential compares the index with the reference on random
// organizations, before and after random writes and expiries, each write
// given to the index as the change feed gives it.
func TestDifferential(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(2) {
				w := newWorld(t, b, seed+1)
				w.compare("initial", 3000, w.index, w.rebuilt, w.batched)
				for i := range 60 {
					step := fmt.Sprintf("seed %d step %d (%s)", seed+1, i, w.mutate())
					w.follow()
					if i%7 == 6 {
						w.followBatched()
						w.compare(step, 150, w.index, w.rebuilt, w.batched)
						continue
					}
					w.compare(step, 150, w.index, w.rebuilt)
				}
				// Every kind of answer must have been compared.
				for _, reason := range []string{castellan.ReasonAllowed, castellan.ReasonOperator, castellan.ReasonNoGrant,
					castellan.ReasonExpired, castellan.ReasonPolicyForbids, castellan.ReasonPolicyNotPermitted,
					castellan.ReasonUnknownPrincipal, castellan.ReasonNotInOrganization, castellan.ReasonKeyProjectMismatch,
					castellan.ReasonUnknownAction} {
					if w.reasons[reason] < 3 {
						t.Errorf("seed %d: %d decisions %q in %v", seed+1, w.reasons[reason], reason, w.reasons)
					}
				}
			}
		})
	}
}
