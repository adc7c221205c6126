package sqlstore_test

import (
	"context"
	"slices"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

var operator = castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})

// movingAccount is Acme with the account sales holding project p (and
// project q beside it under the root), in which live a service account
// with a key, grants and a token, an Acme user's grant and key, and a
// custom control policy attached to the account.
type movingAccount struct {
	db         *sqlstore.DB
	s          castellan.Services
	acme       string
	acct       *castellan.Account
	p, q       string
	sa         *castellan.ServiceAccount
	saKey      *castellan.NewAccessKey
	user       string
	userKeyP   string
	userKeyQ   string
	userGrantQ string
	policy     string
}

func newMovingAccount(t *testing.T, url string, opts ...func(*sqlstore.Options)) *movingAccount {
	t.Helper()
	options := sqlstore.Options{Clock: storetest.NewClock().Now}
	for _, o := range opts {
		o(&options)
	}
	db := sqltest.MustOpenWith(t, url, options)
	m := &movingAccount{db: db, s: db.Services()}
	s := m.s
	boot := storetest.Must(s.Tokens.BootstrapOrganization(operator, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
	m.acme = boot.OrganizationID
	m.acct = storetest.Must(db.Accounts().CreateAccount(operator, m.acme, castellan.AccountCreate{
		ParentID: m.acme, Name: "sales", Email: "root@sales.example", EmailConfirmation: "root@sales.example", IAMRoleName: "OrgAdmin"}))(t)
	storetest.Must(db.Accounts().SetAccountAttributes(operator, m.acme, m.acct.ID, castellan.AccountAttributes{PaymentMethodRegistered: true}))(t)
	m.p = storetest.Must(s.Projects.CreateProject(operator, m.acme, castellan.ProjectCreate{Name: "p"}))(t).ID
	m.q = storetest.Must(s.Projects.CreateProject(operator, m.acme, castellan.ProjectCreate{Name: "q"}))(t).ID
	storetest.Must(s.Projects.MoveProject(operator, m.acme, m.p, m.acct.ID))(t)
	m.sa = storetest.Must(s.ServiceAccounts.CreateServiceAccount(operator, m.acme, m.p, castellan.ServiceAccountCreate{Name: "ci"}))(t)
	m.saKey = storetest.Must(s.AccessKeys.CreateAccessKey(operator, m.acme, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: m.sa.ID}, ProjectID: m.p, Name: "ci"}))(t)
	m.user = storetest.Must(s.Users.CreateUser(operator, m.acme, castellan.UserCreate{Email: "dev@acme.example"}))(t).ID
	m.userKeyP = storetest.Must(s.AccessKeys.CreateAccessKey(operator, m.acme, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: m.user}, ProjectID: m.p, Name: "dev"}))(t).ID
	m.userKeyQ = storetest.Must(s.AccessKeys.CreateAccessKey(operator, m.acme, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: m.user}, ProjectID: m.q, Name: "dev"}))(t).ID
	custom := storetest.Must(s.Roles.CreateRole(operator, m.acme, castellan.RoleCreate{Name: "reader", Kind: castellan.RoleProject, Actions: []string{"compute:Get*"}}))(t)
	saSubject := castellan.Subject{Type: castellan.SubjectServiceAccount, ID: m.sa.ID}
	userSubject := castellan.Subject{Type: castellan.SubjectUser, ID: m.user}
	grants, _, err := s.Grants.CreateGrants(operator, m.acme, []castellan.GrantCreate{
		{RoleID: "project.member", Scope: "project/" + m.p, Subject: saSubject},
		{RoleID: "s3e.viewer", Scope: "rn:s3e:" + m.p + ":bucket/logs", Subject: saSubject},
		{RoleID: custom.ID, Scope: "project/" + m.p, Subject: saSubject},
		{RoleID: "project.admin", Scope: "project/" + m.p, Subject: userSubject},
		{RoleID: "s3e.admin", Scope: "rn:s3e:" + m.p + ":bucket/logs", Subject: userSubject},
		{RoleID: "project.admin", Scope: "project/" + m.q, Subject: userSubject},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.userGrantQ = grants[5].ID
	m.policy = storetest.Must(s.ControlPolicies.CreateControlPolicy(operator, m.acme, castellan.ControlPolicyCreate{
		Name: "no-stop", Document: `forbid (principal, action == Action::"compute:StopInstance", resource);`}))(t).ID
	storetest.Must(s.ControlPolicies.AttachControlPolicy(operator, m.acme, m.policy, m.acct.ID))(t)
	storetest.Must(s.AccessKeys.ExchangeAccessKey(context.Background(), m.saKey.ID, m.saKey.Secret))(t)
	return m
}

// TestExcludeMovesAccountContents checks what moves with an excluded
// account and what stays behind: the project and its service account
// with its key and built-in grants move; the old organization's users'
// grants and keys there, the service account's grant of a custom role,
// the key's tokens and the custom policy's attachment are deleted;
// what is outside the account stays.
func TestExcludeMovesAccountContents(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			m := newMovingAccount(t, b.URL(t))
			s, ctx := m.s, context.Background()
			before := storetest.Must(s.ChangeLog.Revision(ctx))(t)
			org := storetest.Must(s.AccountMemberships.ExcludeAccount(operator, m.acme, m.acct.ID))(t)

			if _, err := s.Projects.FindProjectByID(ctx, m.acme, m.p); castellan.ErrorCode(err) != castellan.CodeProjectNotFound {
				t.Fatalf("project still in Acme: %v", err)
			}
			storetest.Must(s.Projects.FindProjectByID(ctx, org.ID, m.p))(t)
			storetest.Must(s.Projects.FindProjectByID(ctx, m.acme, m.q))(t)
			chain := storetest.Must(s.Nodes.FindAncestors(ctx, org.ID, m.p))(t)
			if len(chain) != 3 || chain[1].ID != m.acct.ID || chain[2].ID != org.ID {
				t.Fatalf("ancestry of the project %+v", chain)
			}
			storetest.Must(s.ServiceAccounts.FindServiceAccountByID(ctx, org.ID, m.sa.ID))(t)
			if _, err := s.ServiceAccounts.FindServiceAccountByID(ctx, m.acme, m.sa.ID); castellan.ErrorKind(err) != castellan.ENOTFOUND {
				t.Fatalf("service account still in Acme: %v", err)
			}

			saGrants := grantsOf(t, s, org.ID, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: m.sa.ID})
			var roles []string
			for _, g := range saGrants {
				roles = append(roles, g.RoleID)
			}
			slices.Sort(roles)
			if !slices.Equal(roles, []string{"project.member", "s3e.viewer"}) {
				t.Fatalf("service account's grants %v, want the built-in ones", roles)
			}
			userGrants := grantsOf(t, s, m.acme, castellan.Subject{Type: castellan.SubjectUser, ID: m.user})
			if len(userGrants) != 1 || userGrants[0].ID != m.userGrantQ {
				t.Fatalf("Acme user's grants %+v, want only the one on q", userGrants)
			}
			if n := count(t, m.db, `SELECT COUNT(*) FROM grants WHERE org_id <> ? AND org_id <> ?`, m.acme, org.ID); n != 0 {
				t.Fatalf("%d grants elsewhere", n)
			}

			storetest.Must(s.AccessKeys.FindAccessKeyByID(ctx, org.ID, m.saKey.ID))(t)
			if _, err := s.AccessKeys.FindAccessKeyByID(ctx, m.acme, m.userKeyP); castellan.ErrorKind(err) != castellan.ENOTFOUND {
				t.Fatalf("user's key in the moved project remains: %v", err)
			}
			storetest.Must(s.AccessKeys.FindAccessKeyByID(ctx, m.acme, m.userKeyQ))(t)
			if n := count(t, m.db, `SELECT COUNT(*) FROM access_key_tokens WHERE key_id = ?`, m.saKey.ID); n != 0 {
				t.Fatalf("%d tokens of the moved key remain", n)
			}
			// The moved key arrives disabled: whoever held it in Acme
			// cannot act in the new organization until it is enabled.
			if _, err := s.AccessKeys.ExchangeAccessKey(ctx, m.saKey.ID, m.saKey.Secret); err == nil {
				t.Fatal("the moved key exchanged before its new organization enabled it")
			}
			enabled := castellan.AccessKeyEnabled
			storetest.Must(s.AccessKeys.UpdateAccessKey(ctx, org.ID, m.saKey.ID, castellan.AccessKeyUpdate{Status: &enabled}))(t)
			token := storetest.Must(s.AccessKeys.ExchangeAccessKey(ctx, m.saKey.ID, m.saKey.Secret))(t)
			intro := storetest.Must(s.AccessKeys.IntrospectToken(ctx, token.Token))(t)
			if !intro.Active || intro.Organization != org.ID {
				t.Fatalf("token of the moved key %+v", intro)
			}

			pols := storetest.Must(s.ControlPolicies.FindNodePolicies(ctx, org.ID, m.acct.ID))(t)
			if len(pols) != 2 || pols[0].Policy.ID != castellan.FullAccessPolicyID || pols[0].Method != castellan.AttachedDirect {
				t.Fatalf("account's policies %+v", pols)
			}
			targets := storetest.Must(s.ControlPolicies.FindPolicyTargets(ctx, m.acme, m.policy))(t)
			if len(targets) != 0 {
				t.Fatalf("custom policy still attached to %+v", targets)
			}

			// Each organization's change log names what left it and what
			// arrived.
			rows := map[string]bool{}
			for _, c := range storetest.Must(s.ChangeLog.Changes(ctx, before, 10))(t) {
				org := "new"
				if c.OrganizationID == m.acme {
					org = "acme"
				}
				rows[org+" "+c.EntityType+" "+c.EntityID+" "+c.Operation] = true
			}
			for _, want := range []string{
				"acme node " + m.acct.ID + " delete", "acme project " + m.p + " delete", "acme service_account " + m.sa.ID + " delete",
				"acme access_key " + m.saKey.ID + " delete", "acme access_key " + m.userKeyP + " delete",
				"acme policy_attachment " + m.acct.ID + "/" + m.policy + " delete",
				"new node " + m.acct.ID + " create", "new project " + m.p + " create", "new service_account " + m.sa.ID + " create",
				"new access_key " + m.saKey.ID + " create", "new policy_attachment " + m.acct.ID + "/" + castellan.FullAccessPolicyID + " create",
			} {
				if !rows[want] {
					t.Errorf("no change-log row %q", want)
				}
			}
			if n := count(t, m.db, `SELECT COUNT(*) FROM nodes WHERE org_id = ? AND path NOT LIKE ?`, org.ID, "/"+org.ID+"/%"); n != 0 {
				t.Fatalf("%d nodes of the new organization outside its root's path", n)
			}
			if n := count(t, m.db, `SELECT COUNT(*) FROM grants WHERE org_id = ? AND role_id = ? AND scope LIKE ?`, org.ID, castellan.AccountAdminRoleID, "account/%"); n != 1 {
				t.Fatalf("%d account.admin grants in the new organization", n)
			}
		})
	}
}

// TestAcceptInvitationLimit refuses an acceptance that would put the
// inviting organization past its account limit, changing nothing.
func TestAcceptInvitationLimit(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			m := newMovingAccount(t, b.URL(t), func(o *sqlstore.Options) { o.MaxAccounts = 1 })
			s, ctx := m.s, context.Background()
			org := storetest.MakeStandalone(t, s, m.acme, m.acct.ID)
			storetest.Must(m.db.Accounts().CreateAccount(operator, m.acme, castellan.AccountCreate{
				ParentID: m.acme, Name: "full", Email: "full@acme.example", EmailConfirmation: "full@acme.example", IAMRoleName: "OrgAdmin"}))(t)
			inv := storetest.Must(s.AccountMemberships.InviteAccounts(operator, m.acme, []string{"root@sales.example"}))(t)[0]
			rev := storetest.Must(s.ChangeLog.Revision(ctx))(t)
			_, err := s.AccountMemberships.RespondToAccountInvitation(operator, org.ID, m.acct.ID, inv.ID, true)
			if castellan.ErrorCode(err) != castellan.CodeAccountLimitReached || castellan.ErrorKind(err) != castellan.EPRECONDITION {
				t.Fatalf("got %v, want account.limit_reached", err)
			}
			if after := storetest.Must(s.ChangeLog.Revision(ctx))(t); after != rev {
				t.Fatalf("revision %d after a refusal, want %d", after, rev)
			}
			storetest.Must(m.db.Accounts().FindAccountByID(ctx, org.ID, m.acct.ID))(t)
			received := storetest.Must(s.AccountMemberships.FindReceivedAccountInvitations(ctx, org.ID, m.acct.ID))(t)
			if len(received) != 1 || received[0].Status != castellan.InvitationPending {
				t.Fatalf("received %+v", received)
			}
		})
	}
}

func count(t *testing.T, db *sqlstore.DB, query string, args ...any) int {
	t.Helper()
	return storetest.Must(db.Count(context.Background(), query, args...))(t)
}

func grantsOf(t *testing.T, s castellan.Services, orgID string, sub castellan.Subject) []*castellan.Grant {
	t.Helper()
	grants, _, err := s.Grants.FindGrants(context.Background(), orgID, castellan.GrantFilter{Subject: &sub})
	if err != nil {
		t.Fatal(err)
	}
	return grants
}
