package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func testUsersRegister(t *testing.T, open Opener) {
	t.Run("Invitation", func(t *testing.T) { testRegisterInvitation(t, open) })
	t.Run("Password", func(t *testing.T) { testRegisterPassword(t, open) })
	t.Run("Federated", func(t *testing.T) { testRegisterFederated(t, open) })
	t.Run("QuickRegister100", func(t *testing.T) { testRegisterQuick100(t, open) })
	t.Run("ErrBadItem", func(t *testing.T) { testRegisterErrBadItem(t, open) })
	t.Run("ErrTaken", func(t *testing.T) { testRegisterErrTaken(t, open) })
	t.Run("ErrInvalid", func(t *testing.T) { testRegisterErrInvalid(t, open) })
	t.Run("OptionalEmail", func(t *testing.T) { testRegisterOptionalEmail(t, open) })
}

// testRegisterOptionalEmail: seed 004 makes the email optional for a user
// registered with a password; any number of users may have none, singly
// or in a batch. Invitation mode and federated users still need one, and
// emails that users have still match (seed 003).
func testRegisterOptionalEmail(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	ctx := operatorCtx("r")
	noEmail := func(name string) castellan.UserRegistration {
		reg := invitee(name)
		reg.Email, reg.Mode, reg.Password = "", castellan.ModePassword, signInPassword
		return reg
	}
	ann := register(t, s, org, noEmail("ann"))
	bob := register(t, s, org, noEmail("bob"))
	if ann.Email != "" || bob.Email != "" || ann.Status != castellan.UserActive {
		t.Fatalf("got %+v and %+v", ann, bob)
	}
	if read := must(s.Users.FindUserByID(ctx, org, ann.ID, false))(t); read.Email != "" {
		t.Fatalf("read %+v", read)
	}
	must(s.Users.RegisterUsers(ctx, org, []castellan.UserRegistration{noEmail("cid"), noEmail("dan")}))(t)
	// A user without email still gets one later, and it still counts.
	must(s.Users.UpdateUser(ctx, org, bob.ID, castellan.UserUpdate{Email: ptr("bob@example.com")}))(t)

	// An empty login finds none of them at sign-in.
	_, err := s.Sessions.VerifySignIn(browserCtx("192.0.2.10"), signIn(org, "", signInPassword))
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)

	before := takeSnapshot(t, s, org)
	for _, c := range []struct {
		name        string
		reg         castellan.UserRegistration
		kind        castellan.Kind
		code, field string
		rule        string
	}{
		{"invitation", func() castellan.UserRegistration { r := invitee("eve"); r.Email = ""; return r }(),
			castellan.EINVALID, castellan.CodeInvalidField, "email", "required"},
		{"federated", castellan.UserRegistration{LoginID: "fay", Name: "User fay", AccountType: castellan.AccountFederated, FederationID: unknownID},
			castellan.EINVALID, castellan.CodeInvalidField, "email", "required"},
		{"taken", func() castellan.UserRegistration { r := noEmail("gus"); r.Email = "BOB@example.com"; return r }(),
			castellan.ECONFLICT, castellan.CodeUserEmailTaken, "email", "unique"},
	} {
		_, err := s.Users.RegisterUser(ctx, org, c.reg)
		wantCode(t, err, c.kind, c.code)
		wantField(t, err, c.field, c.rule)
	}
	unchanged(t, s, org, before)
}

func testRegisterInvitation(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	ctx := userCtx(res.OwnerUserID, res.OrganizationID, "req-reg")
	reg := invitee("ann")
	reg.Nickname, reg.FirstName, reg.MiddleName, reg.LastName = "Annie", "Анна", "María José", "O Brien"
	reg.ContactEmail, reg.Mobile, reg.Memo = "ann.private@example.net", "+821012345678", "hired 2026 — team α"
	reg.MFAMandatory, reg.UseConsolePermitIP, reg.ConsolePermitIPs = true, true, []string{"203.0.113.0/24", "2001:db8::/32"}
	reg.UseAPIAllowSource = true
	reg.APIAllowSources = []castellan.APIAllowSource{{Type: "IP", Source: "198.51.100.7"}, {Type: "VPC", Source: "vpc-123"}, {Type: "VPC_SERVER", Source: "1234567"}}
	got := must(s.Users.RegisterUser(ctx, res.OrganizationID, reg))(t)
	u := got.User
	if got.GeneratedPassword != "" || u.Status != castellan.UserPendingInvitation || u.AccountType != castellan.AccountLocal ||
		u.LoginID != reg.LoginID || u.FirstName != "Анна" || !u.RegisteredAt.Equal(clock.Now()) || u.CreatedBy != "user:"+res.OwnerUserID {
		t.Fatalf("got %+v", got)
	}
	if read := must(s.Users.FindUserByID(ctx, res.OrganizationID, u.ID, false))(t); !sameUser(read, u) {
		t.Fatalf("read %+v, want %+v", read, u)
	}
	mails := mailsTo(t, s, res.OrganizationID, reg.Email)
	if len(mails) != 1 || mails[0].Template != castellan.MailInvitation {
		t.Fatalf("got mails %+v", mails)
	}
	data := mails[0].Data
	if data["name"] != reg.Name || data["email"] != reg.Email || data["organizationName"] != "Acme" ||
		!castellan.ValidInvitationTokenSyntax(data["invitationToken"]) || data["expiresAt"] != clock.Now().Add(castellan.InvitationValidity).Format("2006-01-02T15:04:05Z07:00") {
		t.Fatalf("got mail data %v", data)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:CreateUser")}))(t)
	if len(events) != 1 || events[0].Target.ID != u.ID || events[0].Revision != u.Revision || events[0].RequestID != "req-reg" {
		t.Fatalf("got events %+v", events)
	}
	if whole, _ := json.Marshal(events[0]); strings.Contains(string(whole), data["invitationToken"]) {
		t.Fatal("the audit event holds the invitation token")
	}
}

func testRegisterPassword(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	ctx := operatorCtx("req-pw")
	set := invitee("ann")
	set.Mode, set.Password, set.PasswordResetRequired = castellan.ModePassword, "Correct-Horse-7-battery", true
	gen := invitee("bob")
	gen.Mode, gen.GeneratePassword, gen.Disabled = castellan.ModePassword, true, true
	got := must(s.Users.RegisterUsers(ctx, res.OrganizationID, []castellan.UserRegistration{set, gen}))(t)
	if got[0].User.Status != castellan.UserActive || got[0].GeneratedPassword != "" || !got[0].User.PasswordResetRequired {
		t.Fatalf("admin-set: got %+v", got[0].User)
	}
	if got[1].User.Status != castellan.UserDisabled || len(castellan.CheckPassword("p", gen.LoginID, got[1].GeneratedPassword)) != 0 {
		t.Fatalf("generated: got %+v, password %q", got[1].User, got[1].GeneratedPassword)
	}
	if mails := mailsTo(t, s, res.OrganizationID, set.Email); len(mails) != 0 {
		t.Fatalf("password mode mailed %+v", mails)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, res.OrganizationID, castellan.AuditFilter{Action: ptr("iam:CreateUser")}))(t)
	for _, e := range events {
		whole, _ := json.Marshal(e)
		if strings.Contains(string(whole), set.Password) || strings.Contains(string(whole), got[1].GeneratedPassword) {
			t.Fatalf("audit event %s holds a password", e.ID)
		}
	}

	// The policy: each failure is user.unsafe_password naming the rule.
	before := takeSnapshot(t, s, res.OrganizationID)
	for _, c := range []struct{ password, rule string }{
		{"Sh0rt!", "minLength"},
		{"alllowercaseletters", "characterClasses"},
		{"xx-CAROL@example.com-9", "containsLoginId"},
		{"Password123!", "common"},
		{strings.Repeat("aB3-", 33), "maxLength"},
	} {
		r := invitee("carol")
		r.Mode, r.Password = castellan.ModePassword, c.password
		_, err := s.Users.RegisterUser(ctx, res.OrganizationID, r)
		wantCode(t, err, castellan.EINVALID, castellan.CodeUnsafePassword)
		wantField(t, err, "password", c.rule)
	}
	unchanged(t, s, res.OrganizationID, before)
}

func testRegisterFederated(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	fed := newFederation(t, s, res.OrganizationID, "Entra")
	reg := invitee("fed")
	reg.Mode, reg.AccountType, reg.FederationID = "", castellan.AccountFederated, fed.ID
	u := register(t, s, res.OrganizationID, reg)
	if u.Status != castellan.UserActive || u.AccountType != castellan.AccountFederated || u.FederationID != fed.ID {
		t.Fatalf("got %+v", u)
	}
	wantFederatedWelcome(t, s, res.OrganizationID, u)

	// A batch: each federated user gets its mail, with its own
	// federation; a local user with a password and one registered
	// disabled get none.
	regs := make([]castellan.UserRegistration, 4)
	for i, name := range []string{"fed3", "fed4", "off"} {
		regs[i] = invitee(name)
		regs[i].Mode, regs[i].AccountType, regs[i].FederationID = "", castellan.AccountFederated, newFederation(t, s, res.OrganizationID, "f"+name).ID
	}
	regs[2].Disabled = true
	regs[3] = invitee("local")
	regs[3].Mode, regs[3].Password = castellan.ModePassword, signInPassword
	users := must(s.Users.RegisterUsers(operatorCtx("r"), res.OrganizationID, regs))(t)
	wantFederatedWelcome(t, s, res.OrganizationID, users[0].User)
	wantFederatedWelcome(t, s, res.OrganizationID, users[1].User)
	for _, r := range users[2:] {
		if mails := mailsTo(t, s, res.OrganizationID, r.User.Email); len(mails) != 0 {
			t.Fatalf("%s (%s, %s) got mails %+v", r.User.LoginID, r.User.AccountType, r.User.Status, mails)
		}
	}

	reg = invitee("fed2")
	reg.AccountType = castellan.AccountFederated
	_, err := s.Users.RegisterUser(operatorCtx("r"), res.OrganizationID, reg)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "federationId", "format")
	wantField(t, err, "mode", "federated")

	// The federation must be one of the organization's, and allow the
	// email's domain; nothing is registered otherwise.
	other := bootstrap(t, s, "Globex")
	theirs := newFederation(t, s, other.OrganizationID, "Theirs")
	for _, c := range []struct {
		id, email   string
		kind        castellan.Kind
		code, field string
	}{
		{unknownID, "x1@example.com", castellan.ENOTFOUND, castellan.CodeFederationNotFound, "users[1].federationId"},
		{theirs.ID, "x2@example.com", castellan.ENOTFOUND, castellan.CodeFederationNotFound, "users[1].federationId"},
		{newFederation(t, s, res.OrganizationID, "Narrow", "corp.example").ID, "x3@example.com", castellan.EINVALID, castellan.CodeInvalidField, "users[1].email"},
	} {
		before := takeSnapshot(t, s, res.OrganizationID)
		ok := invitee("ok" + c.email[:2])
		ok.Mode, ok.AccountType, ok.FederationID = "", castellan.AccountFederated, fed.ID
		bad := castellan.UserRegistration{LoginID: c.email, Email: c.email, AccountType: castellan.AccountFederated, FederationID: c.id}
		_, err := s.Users.RegisterUsers(operatorCtx("r"), res.OrganizationID, []castellan.UserRegistration{ok, bad})
		wantCode(t, err, c.kind, c.code)
		wantField(t, err, c.field, "")
		unchanged(t, s, res.OrganizationID, before)
	}
}

// wantFederatedWelcome checks that the federated user u got exactly one
// mail, the one telling it how to sign in, with its federation ID.
func wantFederatedWelcome(t *testing.T, s castellan.Services, orgID string, u *castellan.User) {
	t.Helper()
	mails := mailsTo(t, s, orgID, u.Email)
	if len(mails) != 1 || mails[0].Template != castellan.MailFederatedWelcome {
		t.Fatalf("%s got mails %+v, want one %s", u.LoginID, mails, castellan.MailFederatedWelcome)
	}
	if d := mails[0].Data; d["federationId"] != u.FederationID || d["loginId"] != u.LoginID || d["organizationName"] == "" {
		t.Fatalf("%s: mail data %v, want federation ID %s", u.LoginID, d, u.FederationID)
	}
}

// testRegisterQuick100 is the quick register of the seed: 100 users in
// one transaction, each with an invitation mail.
func testRegisterQuick100(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	ctx := operatorCtx("req-quick")
	before := must(s.ChangeLog.Revision(ctx))(t)
	got := must(s.Users.RegisterUsers(ctx, res.OrganizationID, invitees("quick", castellan.MaxBatchItems)))(t)
	rev := must(s.ChangeLog.Revision(ctx))(t)
	if len(got) != 100 || rev != before+1 {
		t.Fatalf("got %d users at revision %d, want 100 at %d (one transaction)", len(got), rev, before+1)
	}
	for _, r := range got {
		if r.User.Revision != rev || r.User.Status != castellan.UserPendingInvitation {
			t.Fatalf("got %+v", r.User)
		}
	}
	users := listed(s.Users.FindUsers(ctx, res.OrganizationID, castellan.UserFilter{Status: ptr(castellan.UserPendingInvitation), PageSize: 1000}))(t)
	org := res.OrganizationID
	mails := listed(s.Outbox.FindMail(ctx, castellan.MailFilter{OrganizationID: &org, PageSize: 1000}))(t)
	invitations := 0
	for _, m := range mails {
		if m.Template == castellan.MailInvitation {
			invitations++
		}
	}
	if len(users) != 100 || invitations != 100 {
		t.Fatalf("got %d invited users and %d invitation mails, want 100 each", len(users), invitations)
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:CreateUser"), PageSize: 1000}))(t)
	if len(events) != 100 || events[0].Revision != rev || events[99].Revision != rev {
		t.Fatalf("got %d audit events, want one per user at revision %d", len(events), rev)
	}
	regs := invitees("more", castellan.MaxBatchItems+1)
	_, err := s.Users.RegisterUsers(ctx, org, regs)
	wantCode(t, err, castellan.EINVALID, castellan.CodeTooManyItems)
	_, err = s.Users.RegisterUsers(ctx, org, nil)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
}

// testRegisterErrBadItem: one bad item of 100 creates nothing, and the
// error names it.
func testRegisterErrBadItem(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	ctx := operatorCtx("r")
	org := res.OrganizationID
	before := takeSnapshot(t, s, org)
	regs := invitees("bad", 100)
	regs[57].Email = "not-an-email"
	_, err := s.Users.RegisterUsers(ctx, org, regs)
	wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
	wantField(t, err, "users[57].email", "pattern")

	regs = invitees("bad", 100)
	regs[3].Mode, regs[3].Password = castellan.ModePassword, "password"
	_, err = s.Users.RegisterUsers(ctx, org, regs)
	wantCode(t, err, castellan.EINVALID, castellan.CodeUnsafePassword)
	wantField(t, err, "users[3].password", "")
	unchanged(t, s, org, before)
	if users := listed(s.Users.FindUsers(ctx, org, castellan.UserFilter{}))(t); len(users) != 1 {
		t.Fatalf("got %d users, want the owner only", len(users))
	}
	if mails := listed(s.Outbox.FindMail(ctx, castellan.MailFilter{OrganizationID: &org}))(t); len(mails) != 0 {
		t.Fatalf("a rejected batch left %d mails", len(mails))
	}
}

func testRegisterErrTaken(t *testing.T, open Opener) {
	s := open(t, nil)
	acme, globex := bootstrap(t, s, "Acme"), bootstrap(t, s, "Globex")
	ctx := operatorCtx("r")
	org := acme.OrganizationID
	register(t, s, org, invitee("ann"))
	before := takeSnapshot(t, s, org)
	for _, c := range []struct {
		name  string
		edit  func(regs []castellan.UserRegistration)
		code  string
		field string
	}{
		{"email of a user", func(r []castellan.UserRegistration) { r[3].Email = "ANN@example.com" }, castellan.CodeUserEmailTaken, "users[3].email"},
		{"email of the owner", func(r []castellan.UserRegistration) { r[4].Email = "owner@acme.example" }, castellan.CodeUserEmailTaken, "users[4].email"},
		{"login ID of a user", func(r []castellan.UserRegistration) { r[5].LoginID = "Ann@Example.com" }, castellan.CodeUserLoginIDTaken, "users[5].loginId"},
		{"email twice", func(r []castellan.UserRegistration) { r[7].Email = r[2].Email }, castellan.CodeUserEmailTaken, "users[7].email"},
		{"login ID twice", func(r []castellan.UserRegistration) { r[8].LoginID = strings.ToUpper(r[1].LoginID) }, castellan.CodeUserLoginIDTaken, "users[8].loginId"},
	} {
		t.Run(c.name, func(t *testing.T) {
			regs := invitees("t", 10)
			c.edit(regs)
			_, err := s.Users.RegisterUsers(ctx, org, regs)
			wantCode(t, err, castellan.ECONFLICT, c.code)
			wantField(t, err, c.field, "unique")
		})
	}
	unchanged(t, s, org, before)
	// Another organization may have the same emails and login IDs.
	register(t, s, globex.OrganizationID, invitee("ann"))
	_, err := s.Users.RegisterUser(ctx, unknownID, invitee("zed"))
	wantCode(t, err, castellan.ENOTFOUND, castellan.CodeOrgNotFound)
}

func testRegisterErrInvalid(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	before := takeSnapshot(t, s, res.OrganizationID)
	for _, c := range []struct {
		edit        func(r *castellan.UserRegistration)
		field, rule string
	}{
		{func(r *castellan.UserRegistration) { r.LoginID = "a" }, "loginId", "minLength"},
		{func(r *castellan.UserRegistration) { r.LoginID = strings.Repeat("a", castellan.MaxLoginIDLength+1) }, "loginId", "maxLength"},
		{func(r *castellan.UserRegistration) { r.LoginID = "ann/smith" }, "loginId", "pattern"},
		{func(r *castellan.UserRegistration) { r.LoginID = " ann" }, "loginId", "pattern"},
		{func(r *castellan.UserRegistration) { r.Name = "A" }, "name", "minLength"},
		{func(r *castellan.UserRegistration) { r.Name = strings.Repeat("n", 31) }, "name", "maxLength"},
		{func(r *castellan.UserRegistration) { r.FirstName = "J" }, "firstName", "minLength"},
		{func(r *castellan.UserRegistration) { r.LastName = "O'Brien" }, "lastName", "pattern"},
		{func(r *castellan.UserRegistration) { r.Memo = strings.Repeat("é", 151) }, "memo", "maxBytes"},
		{func(r *castellan.UserRegistration) { r.Mobile = "010-1234-5678" }, "mobile", "pattern"},
		{func(r *castellan.UserRegistration) { r.ContactEmail = "nope" }, "contactEmail", "pattern"},
		{func(r *castellan.UserRegistration) { r.Mode = "" }, "mode", "enum"},
		{func(r *castellan.UserRegistration) { r.Password = "Correct-Horse-7" }, "password", "invitation"},
		{func(r *castellan.UserRegistration) { r.Mode = castellan.ModePassword }, "password", "required"},
		{func(r *castellan.UserRegistration) { r.UseConsolePermitIP = true }, "consolePermitIps", "minItems"},
		{func(r *castellan.UserRegistration) { r.ConsolePermitIPs = []string{"10.0.0.0/8", "10.0.0.1/8"} }, "consolePermitIps[1]", "format"},
		{func(r *castellan.UserRegistration) { r.ConsolePermitIPs = []string{"300.1.1.1"} }, "consolePermitIps[0]", "format"},
		{func(r *castellan.UserRegistration) {
			r.APIAllowSources = []castellan.APIAllowSource{{Type: "IP", Source: "10.0.0.0/33"}}
		}, "apiAllowSources[0].source", "format"},
		{func(r *castellan.UserRegistration) {
			r.APIAllowSources = []castellan.APIAllowSource{{Type: "VPC_SERVER", Source: "abc"}}
		}, "apiAllowSources[0].source", "pattern"},
		{func(r *castellan.UserRegistration) {
			r.APIAllowSources = []castellan.APIAllowSource{{Type: "SUBNET", Source: "x"}}
		}, "apiAllowSources[0].type", "enum"},
		{func(r *castellan.UserRegistration) { r.AccountType = "robot" }, "accountType", "enum"},
		{func(r *castellan.UserRegistration) { r.FederationID = unknownID }, "federationId", "local"},
	} {
		reg := invitee("ann")
		c.edit(&reg)
		_, err := s.Users.RegisterUser(operatorCtx("r"), res.OrganizationID, reg)
		wantCode(t, err, castellan.EINVALID, castellan.CodeInvalidField)
		wantField(t, err, c.field, c.rule)
	}
	unchanged(t, s, res.OrganizationID, before)

	// The core holds what the customer users API accepts, narrower
	// than /v1 (CheckSubAccountRegistrations): login IDs of 2 and of
	// 255 characters with inner spaces, and no name.
	for i, edit := range []func(r *castellan.UserRegistration){
		func(r *castellan.UserRegistration) { r.LoginID = "ab" },
		func(r *castellan.UserRegistration) {
			r.LoginID = "Ann Lee " + strings.Repeat("a", castellan.MaxLoginIDLength-8)
		},
		func(r *castellan.UserRegistration) { r.Name = "" },
	} {
		reg := invitee(fmt.Sprintf("wide%d", i))
		edit(&reg)
		u := register(t, s, res.OrganizationID, reg)
		if u.LoginID != reg.LoginID || u.Name != reg.Name {
			t.Fatalf("registered %q named %q, want %q named %q", u.LoginID, u.Name, reg.LoginID, reg.Name)
		}
	}
}
