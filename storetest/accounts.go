package storetest

import (
	"context"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func testAccounts(t *testing.T, open Opener) {
	t.Run("Create", func(t *testing.T) { testAccountsCreate(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testAccountsErrInvalid(t, open) })
	t.Run("ErrNameTaken", func(t *testing.T) { testAccountsErrNameTaken(t, open) })
	t.Run("ListAndGet", func(t *testing.T) { testAccountsListAndGet(t, open) })
	t.Run("Rename", func(t *testing.T) { testAccountsRename(t, open) })
	t.Run("Move", func(t *testing.T) { testAccountsMove(t, open) })
	t.Run("DeletePreconditions", func(t *testing.T) { testAccountsDeletePreconditions(t, open) })
	t.Run("DeleteSettlementDay", func(t *testing.T) { testAccountsDeleteSettlementDay(t, open) })
	t.Run("DeleteWrongPassword", func(t *testing.T) { testAccountsDeleteWrongPassword(t, open) })
	t.Run("DeleteWrongName", func(t *testing.T) { testAccountsDeleteWrongName(t, open) })
	t.Run("Delete", func(t *testing.T) { testAccountsDelete(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testAccountsCrossOrganization(t, open) })
}

// accountOwnerPassword is the console password of the owners of the
// organizations of the account tests.
const accountOwnerPassword = "Owner-Pass-2026!"

// orgAccountFixture is an organization, Acme, whose owner has a password,
// and another one, Globex.
type orgAccountFixture struct {
	s     castellan.Services
	clock *Clock
	org   string
	other string
	// owner is Acme's owner; ownerCtx its requests.
	owner    string
	ownerCtx context.Context
}

func newOrgAccountFixture(t *testing.T, open Opener) *orgAccountFixture {
	t.Helper()
	clock := NewClock()
	s := open(t, clock.Now)
	acme := must(s.Tokens.BootstrapOrganization(operatorCtx("r-boot"), castellan.Bootstrap{
		OrganizationName: "Acme", OwnerEmail: "owner@acme.example", OwnerPassword: accountOwnerPassword}))(t)
	globex := must(s.Tokens.BootstrapOrganization(operatorCtx("r-boot"), castellan.Bootstrap{
		OrganizationName: "Globex", OwnerEmail: "owner@globex.example", OwnerPassword: accountOwnerPassword}))(t)
	return &orgAccountFixture{s: s, clock: clock, org: acme.OrganizationID, other: globex.OrganizationID,
		owner: acme.OwnerUserID, ownerCtx: userCtx(acme.OwnerUserID, acme.OrganizationID, "r-owner")}
}

// accountCreate is a valid creation of the account name under the root
// of org, with a root user email made from the name.
func accountCreate(org, name string) castellan.AccountCreate {
	h := fnv.New32a()
	h.Write([]byte(name))
	email := fmt.Sprintf("root-%08x@example.com", h.Sum32())
	return castellan.AccountCreate{ParentID: org, Name: name, Email: email, EmailConfirmation: email, IAMRoleName: "OrganizationAccountAccessRole"}
}

func (f *orgAccountFixture) create(t *testing.T, name string) *castellan.Account {
	t.Helper()
	return must(f.s.Accounts.CreateAccount(f.ownerCtx, f.org, accountCreate(f.org, name)))(t)
}

// mailsByRecipient returns the mails of the organization's outbox of the
// template, by recipient in lower case; two mails to one address fail t.
func mailsByRecipient(t *testing.T, s castellan.Services, orgID string, template castellan.MailTemplate) map[string]*castellan.Mail {
	t.Helper()
	out := map[string]*castellan.Mail{}
	for _, m := range listed(s.Outbox.FindMail(context.Background(), castellan.MailFilter{OrganizationID: &orgID, PageSize: castellan.MaxPageSize}))(t) {
		if m.Template != template {
			continue
		}
		to := strings.ToLower(m.To)
		if out[to] != nil {
			t.Fatalf("two %s mails to %s", template, to)
		}
		out[to] = m
	}
	return out
}

func testAccountsCreate(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	c := accountCreate(f.org, "sales-prod")
	c.Email, c.EmailConfirmation = "Root@Sales.example", "Root@Sales.example"
	a := must(f.s.Accounts.CreateAccount(f.ownerCtx, f.org, c))(t)
	if !castellan.ValidID(a.ID) || a.OrganizationID != f.org || a.ParentID != f.org || a.Name != "sales-prod" || a.Email != "root@sales.example" ||
		a.AdditionType != castellan.AccountCreated || a.Management || a.IAMRoleName != c.IAMRoleName || !a.JoinedAt.Equal(f.clock.Now()) ||
		a.CreatedBy != "user:"+f.owner || len(a.Path) != 1 || a.Path[0].ID != f.org || a.Path[0].Kind != castellan.NodeRoot {
		t.Fatalf("got %+v", a)
	}
	// A new root user is created, waiting for the invitation it is mailed.
	root := must(f.s.Users.FindUserByID(f.ownerCtx, f.org, a.RootUserID, false))(t)
	if !strings.EqualFold(root.Email, "root@sales.example") || root.Status != castellan.UserPendingInvitation {
		t.Fatalf("root user %+v", root)
	}
	if m := mailsByRecipient(t, f.s, f.org, castellan.MailInvitation)["root@sales.example"]; m == nil {
		t.Fatal("no invitation mailed to the new root user")
	}
	// The root user administers the account.
	grants := listed(f.s.Grants.FindGrants(f.ownerCtx, f.org, castellan.GrantFilter{Subject: &castellan.Subject{Type: castellan.SubjectUser, ID: root.ID}}))(t)
	if len(grants) != 1 || grants[0].RoleID != castellan.AccountAdminRoleID || grants[0].Scope != "account/"+a.ID {
		t.Fatalf("grants %+v", grants)
	}
	// An email the organization knows is matched, not duplicated, and
	// gets no invitation.
	invitations := len(mailsByRecipient(t, f.s, f.org, castellan.MailInvitation))
	c = accountCreate(f.org, "영업팀 계정 (서울)")
	c.Email, c.EmailConfirmation = "OWNER@acme.example", "OWNER@acme.example"
	b := must(f.s.Accounts.CreateAccount(f.ownerCtx, f.org, c))(t)
	if b.RootUserID != f.owner || b.Email != "owner@acme.example" {
		t.Fatalf("got %+v, want the owner matched", b)
	}
	if n := len(mailsByRecipient(t, f.s, f.org, castellan.MailInvitation)); n != invitations {
		t.Fatalf("got %d invitations, want %d", n, invitations)
	}
	// Every special character the seed allows, and exactly 3 and 30.
	for _, name := range []string{"a+=-_@[](),. z", "abc", strings.Repeat("가", 30)} {
		must(f.s.Accounts.CreateAccount(f.ownerCtx, f.org, accountCreate(f.org, name)))(t)
	}
}

func testAccountsErrInvalid(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	before := takeSnapshot(t, f.s, f.org)
	for _, tc := range []struct {
		name   string
		change func(c *castellan.AccountCreate)
		field  string
		rule   string
	}{
		{"name empty", func(c *castellan.AccountCreate) { c.Name = "" }, "name", "required"},
		{"name of 2", func(c *castellan.AccountCreate) { c.Name = "ab" }, "name", "minLength"},
		{"name of 31", func(c *castellan.AccountCreate) { c.Name = strings.Repeat("a", 31) }, "name", "maxLength"},
		{"name with #", func(c *castellan.AccountCreate) { c.Name = "sales#1" }, "name", "pattern"},
		{"name with /", func(c *castellan.AccountCreate) { c.Name = "sales/prod" }, "name", "pattern"},
		{"name with a leading space", func(c *castellan.AccountCreate) { c.Name = " sales" }, "name", "pattern"},
		{"bad email", func(c *castellan.AccountCreate) { c.Email, c.EmailConfirmation = "root", "root" }, "email", ""},
		{"confirmation differs", func(c *castellan.AccountCreate) { c.EmailConfirmation = "other@example.com" }, "emailConfirmation", "match"},
		{"role name empty", func(c *castellan.AccountCreate) { c.IAMRoleName = "" }, "iamRoleName", "required"},
		{"role name of 65", func(c *castellan.AccountCreate) { c.IAMRoleName = strings.Repeat("R", 65) }, "iamRoleName", "maxLength"},
		{"role name with a space", func(c *castellan.AccountCreate) { c.IAMRoleName = "Org Admin" }, "iamRoleName", "pattern"},
		{"role name in Korean", func(c *castellan.AccountCreate) { c.IAMRoleName = "관리자" }, "iamRoleName", "pattern"},
		{"role name with brackets", func(c *castellan.AccountCreate) { c.IAMRoleName = "Admin[1]" }, "iamRoleName", "pattern"},
		{"bad parent", func(c *castellan.AccountCreate) { c.ParentID = "root" }, "parentId", "format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := accountCreate(f.org, "sales-prod")
			tc.change(&c)
			_, err := f.s.Accounts.CreateAccount(f.ownerCtx, f.org, c)
			wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
			wantField(t, err, tc.field, tc.rule)
			unchanged(t, f.s, f.org, before)
		})
	}
	// A role name of exactly 64 with every allowed character passes.
	c := accountCreate(f.org, "sales-prod")
	c.IAMRoleName = "+=-_@,." + strings.Repeat("a", 57)
	must(f.s.Accounts.CreateAccount(f.ownerCtx, f.org, c))(t)
}

func testAccountsErrNameTaken(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	f.create(t, "sales-prod")
	before := takeSnapshot(t, f.s, f.org)
	c := accountCreate(f.org, "sales-prod")
	c.Email, c.EmailConfirmation = "another@example.com", "another@example.com"
	_, err := f.s.Accounts.CreateAccount(f.ownerCtx, f.org, c)
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeAccountNameTaken)
	unchanged(t, f.s, f.org, before)
	// Names are case-sensitive, and per organization.
	must(f.s.Accounts.CreateAccount(f.ownerCtx, f.org, accountCreate(f.org, "Sales-Prod")))(t)
	must(f.s.Accounts.CreateAccount(operatorCtx("r"), f.other, accountCreate(f.other, "sales-prod")))(t)
}

func testAccountsListAndGet(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	var want []*castellan.Account
	for _, name := range []string{"charlie", "alpha", "bravo"} {
		f.create(t, name)
	}
	must(f.s.Accounts.CreateAccount(operatorCtx("r"), f.other, accountCreate(f.other, "another")))(t)
	for _, name := range []string{"alpha", "bravo", "charlie"} {
		accounts := listed(f.s.Accounts.FindAccounts(f.ownerCtx, f.org, castellan.AccountFilter{}))(t)
		for _, a := range accounts {
			if a.Name == name {
				want = append(want, must(f.s.Accounts.FindAccountByID(f.ownerCtx, f.org, a.ID))(t))
			}
		}
	}
	if len(want) != 3 {
		t.Fatalf("got %d accounts, want 3", len(want))
	}
	var got []*castellan.Account
	token := ""
	for pages := 0; ; pages++ {
		page, next := listedPage(f.s.Accounts.FindAccounts(f.ownerCtx, f.org, castellan.AccountFilter{PageSize: 2, PageToken: token}))(t)
		got = append(got, page...)
		if next == "" {
			if pages != 1 {
				t.Fatalf("got %d pages, want 2", pages+1)
			}
			break
		}
		token = next
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for _, a := range got {
		if a.AdditionType != castellan.AccountCreated || len(a.Path) != 1 || a.Path[0].ID != f.org || a.Email != accountCreate(f.org, a.Name).Email || a.JoinedAt.IsZero() {
			t.Fatalf("got %+v", a)
		}
	}
	byParent := listed(f.s.Accounts.FindAccounts(f.ownerCtx, f.org, castellan.AccountFilter{ParentID: &f.org}))(t)
	if len(byParent) != 3 {
		t.Fatalf("got %d accounts under the root, want 3", len(byParent))
	}
	unknown := unknownID
	_, _, err := f.s.Accounts.FindAccounts(f.ownerCtx, f.org, castellan.AccountFilter{ParentID: &unknown})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	_, _, err = f.s.Accounts.FindAccounts(f.ownerCtx, f.org, castellan.AccountFilter{PageToken: "bogus"})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidPageToken)
	_, err = f.s.Accounts.FindAccountByID(f.ownerCtx, f.org, unknownID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountNotFound)
	// A node that is no account is not found as an account.
	p := must(f.s.Projects.CreateProject(f.ownerCtx, f.org, castellan.ProjectCreate{Name: "web"}))(t)
	_, err = f.s.Accounts.FindAccountByID(f.ownerCtx, f.org, p.ID)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountNotFound)
}

func testAccountsRename(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	a := f.create(t, "sales-prod")
	f.create(t, "sales-dev")
	f.clock.Advance(60e9)
	name := "영업 운영"
	got := must(f.s.Accounts.UpdateAccount(f.ownerCtx, f.org, a.ID, castellan.AccountUpdate{Name: &name}))(t)
	if got.Name != name || got.Revision <= a.Revision || !got.UpdatedAt.Equal(f.clock.Now()) || got.UpdatedBy != "user:"+f.owner || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("got %+v", got)
	}
	if read := must(f.s.Accounts.FindAccountByID(f.ownerCtx, f.org, a.ID))(t); !reflect.DeepEqual(read, got) {
		t.Fatalf("read %+v, want %+v", read, got)
	}
	before := takeSnapshot(t, f.s, f.org)
	taken := "sales-dev"
	_, err := f.s.Accounts.UpdateAccount(f.ownerCtx, f.org, a.ID, castellan.AccountUpdate{Name: &taken})
	wantCode(t, err, castellan.ECONFLICT, castellan.CodeAccountNameTaken)
	unchanged(t, f.s, f.org, before)
	bad := "x"
	_, err = f.s.Accounts.UpdateAccount(f.ownerCtx, f.org, a.ID, castellan.AccountUpdate{Name: &bad})
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "name", "minLength")
	unchanged(t, f.s, f.org, before)
	// The same name again changes nothing.
	must(f.s.Accounts.UpdateAccount(f.ownerCtx, f.org, a.ID, castellan.AccountUpdate{Name: &name}))(t)
	unchanged(t, f.s, f.org, before)
}

// testAccountsMove moves accounts where the services allow without OUs:
// to the root, and nowhere an account may not hang. Moves between OUs
// are in the store's own tests.
func testAccountsMove(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	a := f.create(t, "sales-prod")
	b := f.create(t, "sales-dev")
	p := must(f.s.Projects.CreateProject(f.ownerCtx, f.org, castellan.ProjectCreate{Name: "web"}))(t)
	before := takeSnapshot(t, f.s, f.org)
	got := must(f.s.Accounts.MoveAccount(f.ownerCtx, f.org, a.ID, f.org))(t)
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("a move to the same parent: got %+v, want %+v", got, a)
	}
	unchanged(t, f.s, f.org, before)
	for _, tc := range []struct {
		parent string
		kind   castellan.Kind
		code   string
	}{
		{b.ID, castellan.EINVALID, castellan.CodeInvalidParent},
		{a.ID, castellan.EINVALID, castellan.CodeInvalidParent},
		{p.ID, castellan.EINVALID, castellan.CodeInvalidParent},
		{unknownID, castellan.ENOTFOUND, castellan.CodeNodeNotFound},
		{f.other, castellan.ENOTFOUND, castellan.CodeNodeNotFound},
	} {
		_, err := f.s.Accounts.MoveAccount(f.ownerCtx, f.org, a.ID, tc.parent)
		wantCode(t, err, tc.kind, tc.code)
		wantField(t, err, "parentId", "")
		unchanged(t, f.s, f.org, before)
	}
	_, err := f.s.Accounts.MoveAccount(f.ownerCtx, f.org, p.ID, f.org)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountNotFound)
	_, err = f.s.Accounts.MoveAccount(f.ownerCtx, f.org, a.ID, "root")
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidID)
	wantField(t, err, "parentId", "format")
	unchanged(t, f.s, f.org, before)
}

func testAccountsCrossOrganization(t *testing.T, open Opener) {
	f := newOrgAccountFixture(t, open)
	a := f.create(t, "sales-prod")
	op := operatorCtx("r-cross")
	theirs := must(f.s.Accounts.CreateAccount(op, f.other, accountCreate(f.other, "globex-prod")))(t)
	beforeAcme, beforeGlobex := takeSnapshot(t, f.s, f.org), takeSnapshot(t, f.s, f.other)
	name := "stolen"
	notFound := func(err error) { t.Helper(); wantCode(t, err, castellan.ENOTFOUND, castellan.CodeAccountNotFound) }
	_, err := f.s.Accounts.FindAccountByID(op, f.other, a.ID)
	notFound(err)
	_, err = f.s.Accounts.UpdateAccount(op, f.other, a.ID, castellan.AccountUpdate{Name: &name})
	notFound(err)
	_, err = f.s.Accounts.MoveAccount(op, f.other, a.ID, f.other)
	notFound(err)
	_, err = f.s.Accounts.DeleteAccount(op, f.other, a.ID, castellan.AccountDeletion{Name: a.Name})
	notFound(err)
	_, err = f.s.Accounts.FindAccountAttributes(op, f.other, a.ID)
	notFound(err)
	_, err = f.s.Accounts.SetAccountAttributes(op, f.other, a.ID, castellan.AccountAttributes{CreditAssigned: true})
	notFound(err)
	_, err = f.s.Accounts.FindAccountPreconditions(op, f.other, a.ID)
	notFound(err)
	// Another organization's nodes are no parents.
	_, err = f.s.Accounts.MoveAccount(op, f.org, a.ID, f.other)
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	_, err = f.s.Accounts.CreateAccount(op, f.other, accountCreate(f.org, "intruder"))
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	_, _, err = f.s.Accounts.FindAccounts(op, f.other, castellan.AccountFilter{ParentID: &f.org})
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeNodeNotFound)
	// Lists show the organization's own accounts only.
	list := listed(f.s.Accounts.FindAccounts(op, f.other, castellan.AccountFilter{}))(t)
	if len(list) != 1 || list[0].ID != theirs.ID {
		t.Fatalf("got %+v, want Globex's account only", list)
	}
	unchanged(t, f.s, f.org, beforeAcme)
	unchanged(t, f.s, f.other, beforeGlobex)
}
