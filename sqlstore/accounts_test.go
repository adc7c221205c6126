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

var operatorCtx = castellan.WithPrincipal(context.Background(), castellan.Principal{Type: castellan.PrincipalOperator, ID: "op"})

func newAccountCreate(parent, name string) castellan.AccountCreate {
	email := name + "@example.com"
	return castellan.AccountCreate{ParentID: parent, Name: name, Email: email, EmailConfirmation: email, IAMRoleName: "OrgAdmin"}
}

// TestAccountLimit configures a limit of 2 accounts: the third is
// refused with account.limit_reached and nothing changes; another
// organization has its own count, and a deletion makes room.
func TestAccountLimit(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpenWith(t, b.URL(t), sqlstore.Options{Clock: storetest.NewClock().Now, MaxAccounts: 2})
			s := db.Services()
			org := storetest.Must(s.Organizations.CreateOrganization(operatorCtx, castellan.OrganizationCreate{Name: "Acme"}))(t)
			other := storetest.Must(s.Organizations.CreateOrganization(operatorCtx, castellan.OrganizationCreate{Name: "Globex"}))(t)
			first := storetest.Must(s.Accounts.CreateAccount(operatorCtx, org.ID, newAccountCreate(org.ID, "first")))(t)
			storetest.Must(s.Accounts.CreateAccount(operatorCtx, org.ID, newAccountCreate(org.ID, "second")))(t)
			rev := storetest.Must(s.ChangeLog.Revision(context.Background()))(t)
			_, err := s.Accounts.CreateAccount(operatorCtx, org.ID, newAccountCreate(org.ID, "third"))
			if castellan.ErrorKind(err) != castellan.EPRECONDITION || castellan.ErrorCode(err) != castellan.CodeAccountLimitReached {
				t.Fatalf("got %v, want %s", err, castellan.CodeAccountLimitReached)
			}
			if after := storetest.Must(s.ChangeLog.Revision(context.Background()))(t); after != rev {
				t.Fatalf("revision %d after the refusal, want %d", after, rev)
			}
			if n, err := db.Count(context.Background(), `SELECT COUNT(*) FROM users WHERE org_id = ? AND email_lower = ?`, org.ID, "third@example.com"); err != nil || n != 0 {
				t.Fatalf("refused account left %d root users (%v)", n, err)
			}
			storetest.Must(s.Accounts.CreateAccount(operatorCtx, other.ID, newAccountCreate(other.ID, "third")))(t)
			storetest.Must(s.Accounts.DeleteAccount(operatorCtx, org.ID, first.ID, castellan.AccountDeletion{Name: first.Name}))(t)
			storetest.Must(s.Accounts.CreateAccount(operatorCtx, org.ID, newAccountCreate(org.ID, "third")))(t)
		})
	}
}

// TestAccountMoveBetweenOUs moves an account with a project in it down
// and up the tree: its path, the list by parent and the project's
// ancestry follow.
func TestAccountMoveBetweenOUs(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), storetest.NewClock().Now)
			s := db.Services()
			org := storetest.Must(s.Organizations.CreateOrganization(operatorCtx, castellan.OrganizationCreate{Name: "Acme"}))(t)
			sales := storetest.Must(db.OrgUnits().CreateOrgUnit(operatorCtx, org.ID, castellan.OrgUnitCreate{ParentID: org.ID, Name: "Sales"}))(t)
			emea := storetest.Must(db.OrgUnits().CreateOrgUnit(operatorCtx, org.ID, castellan.OrgUnitCreate{ParentID: sales.ID, Name: "EMEA"}))(t)
			a := storetest.Must(s.Accounts.CreateAccount(operatorCtx, org.ID, newAccountCreate(sales.ID, "sales-prod")))(t)
			p := storetest.Must(s.Projects.CreateProject(operatorCtx, org.ID, castellan.ProjectCreate{Name: "web"}))(t)
			storetest.Must(s.Projects.MoveProject(operatorCtx, org.ID, p.ID, a.ID))(t)
			moved := storetest.Must(s.Accounts.MoveAccount(operatorCtx, org.ID, a.ID, emea.ID))(t)
			if moved.ParentID != emea.ID || len(moved.Path) != 3 || moved.Path[1].ID != sales.ID || moved.Path[2].ID != emea.ID || moved.Revision <= a.Revision {
				t.Fatalf("got %+v", moved)
			}
			listed, _, err := s.Accounts.FindAccounts(operatorCtx, org.ID, castellan.AccountFilter{ParentID: &emea.ID})
			if err != nil || len(listed) != 1 || listed[0].ID != a.ID || len(listed[0].Path) != 3 {
				t.Fatalf("listed %+v, %v", listed, err)
			}
			if under, _, _ := s.Accounts.FindAccounts(operatorCtx, org.ID, castellan.AccountFilter{ParentID: &sales.ID}); len(under) != 0 {
				t.Fatalf("still listed under Sales: %+v", under)
			}
			chain := storetest.Must(s.Nodes.FindAncestors(operatorCtx, org.ID, p.ID))(t)
			var ids []string
			for _, n := range chain {
				ids = append(ids, n.ID)
			}
			if !slices.Equal(ids, []string{p.ID, a.ID, emea.ID, sales.ID, org.ID}) {
				t.Fatalf("project ancestry %v", ids)
			}
			back := storetest.Must(s.Accounts.MoveAccount(operatorCtx, org.ID, a.ID, org.ID))(t)
			if back.ParentID != org.ID || len(back.Path) != 1 {
				t.Fatalf("got %+v", back)
			}
			// An OU is no account to move.
			if _, err := s.Accounts.MoveAccount(operatorCtx, org.ID, emea.ID, org.ID); castellan.ErrorCode(err) != castellan.CodeAccountNotFound {
				t.Fatalf("moving an OU as an account: got %v", err)
			}
		})
	}
}

// TestDeleteAccountContents deletes an account holding a project with a
// service account, an access key and grants: all go in the account's one
// transaction, each with its change-log row, and the deletion notice goes
// to the organization's creating administrator (a user of it), the root
// user and the delegates.
func TestDeleteAccountContents(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			db := sqltest.MustOpen(t, b.URL(t), storetest.NewClock().Now)
			s := db.Services()
			ctx := context.Background()
			boot := storetest.Must(s.Tokens.BootstrapOrganization(operatorCtx, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"}))(t)
			org := boot.OrganizationID
			founder := storetest.Must(s.Users.CreateUser(operatorCtx, org, castellan.UserCreate{Email: "founder@acme.example"}))(t)
			if err := db.SetOrganizationCreator(ctx, org, founder.ID); err != nil {
				t.Fatal(err)
			}
			a := storetest.Must(s.Accounts.CreateAccount(operatorCtx, org, newAccountCreate(org, "sales-prod")))(t)
			p := storetest.Must(s.Projects.CreateProject(operatorCtx, org, castellan.ProjectCreate{Name: "web"}))(t)
			storetest.Must(s.Projects.MoveProject(operatorCtx, org, p.ID, a.ID))(t)
			sa := storetest.Must(s.ServiceAccounts.CreateServiceAccount(operatorCtx, org, p.ID, castellan.ServiceAccountCreate{Name: "ci"}))(t)
			key := storetest.Must(s.AccessKeys.CreateAccessKey(operatorCtx, org, castellan.AccessKeyCreate{
				Owner: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: sa.ID}, ProjectID: p.ID, Name: "deploy"}))(t)
			grants, _, err := s.Grants.CreateGrants(operatorCtx, org, []castellan.GrantCreate{
				{RoleID: "project.admin", Scope: "project/" + p.ID, Subject: castellan.Subject{Type: castellan.SubjectServiceAccount, ID: sa.ID}},
				{RoleID: "project.reader", Scope: "project/" + p.ID, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: boot.OwnerUserID}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Accounts.SetAccountAttributes(operatorCtx, org, a.ID, castellan.AccountAttributes{Delegates: []string{"d1@partner.example", "Founder@acme.example"}}); err != nil {
				t.Fatal(err)
			}
			rootGrant, _, err := s.Grants.FindGrants(operatorCtx, org, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: a.RootUserID}})
			if err != nil || len(rootGrant) != 1 {
				t.Fatalf("root user's grants %+v, %v", rootGrant, err)
			}
			// A refusal by an unmet precondition of what the store alone
			// knows leaves everything in place.
			for _, tc := range []struct {
				addition   castellan.AccountAdditionType
				management bool
				code       string
			}{
				{castellan.AccountCreated, true, castellan.CodeAccountManagement},
				{castellan.AccountInvited, false, castellan.CodeAccountJoinedByInvite},
			} {
				if err := db.SetAccountJoin(ctx, org, a.ID, tc.addition, tc.management); err != nil {
					t.Fatal(err)
				}
				rev := storetest.Must(s.ChangeLog.Revision(ctx))(t)
				_, err := s.Accounts.DeleteAccount(operatorCtx, org, a.ID, castellan.AccountDeletion{Name: a.Name})
				if castellan.ErrorKind(err) != castellan.EPRECONDITION || castellan.ErrorCode(err) != tc.code {
					t.Fatalf("got %v, want %s", err, tc.code)
				}
				if after := storetest.Must(s.ChangeLog.Revision(ctx))(t); after != rev {
					t.Fatalf("revision %d after the refusal, want %d", after, rev)
				}
			}
			if err := db.SetAccountJoin(ctx, org, a.ID, castellan.AccountCreated, false); err != nil {
				t.Fatal(err)
			}

			rev := storetest.Must(s.Accounts.DeleteAccount(operatorCtx, org, a.ID, castellan.AccountDeletion{Name: a.Name}))(t)
			for _, q := range []struct{ what, query, arg string }{
				{"project", `SELECT COUNT(*) FROM nodes WHERE org_id = ? AND id = ?`, p.ID},
				{"account", `SELECT COUNT(*) FROM accounts WHERE org_id = ? AND id = ?`, a.ID},
				{"service account", `SELECT COUNT(*) FROM service_accounts WHERE org_id = ? AND id = ?`, sa.ID},
				{"access key", `SELECT COUNT(*) FROM access_keys WHERE org_id = ? AND id = ?`, key.ID},
				{"attachments", `SELECT COUNT(*) FROM policy_attachments WHERE org_id = ? AND node_id = ?`, a.ID},
				{"grants on the account", `SELECT COUNT(*) FROM grants WHERE org_id = ? AND scope = 'account/' || ?`, a.ID},
				{"grants on the project", `SELECT COUNT(*) FROM grants WHERE org_id = ? AND scope = 'project/' || ?`, p.ID},
			} {
				if n, err := db.Count(ctx, q.query, org, q.arg); err != nil || n != 0 {
					t.Errorf("%s: %d rows left (%v)", q.what, n, err)
				}
			}
			changes := storetest.Must(db.Changes(ctx, rev-1, 1))(t)
			got := map[string]bool{}
			for _, c := range changes {
				if c.Revision == rev && c.Operation == "delete" {
					got[c.EntityType+" "+c.EntityID] = true
				}
			}
			want := []string{"node " + a.ID, "project " + p.ID, "service_account " + sa.ID, "access_key " + key.ID,
				"grant " + grants[0].ID, "grant " + grants[1].ID, "grant " + rootGrant[0].ID, "policy_attachment " + a.ID + "/" + castellan.FullAccessPolicyID}
			for _, w := range want {
				if !got[w] {
					t.Errorf("no change-log row deleting %s in %v", w, got)
				}
			}
			if len(got) != len(want) {
				t.Errorf("got %d deletion rows, want %d: %v", len(got), len(want), got)
			}
			mails, _, err := s.Outbox.FindMail(ctx, castellan.MailFilter{OrganizationID: &org, PageSize: castellan.MaxPageSize})
			if err != nil {
				t.Fatal(err)
			}
			var to []string
			for _, m := range mails {
				if m.Template == castellan.MailAccountDeleted {
					to = append(to, m.To)
				}
			}
			slices.Sort(to)
			if want := []string{"d1@partner.example", "founder@acme.example", "sales-prod@example.com"}; !slices.Equal(to, want) {
				t.Fatalf("notified %v, want %v (the founder once, the owner not)", to, want)
			}
		})
	}
}
