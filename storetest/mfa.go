package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func testMFA(t *testing.T, open Opener) {
	t.Run("Enrol", func(t *testing.T) { testMFAEnrol(t, open) })
	t.Run("VerifyTOTP", func(t *testing.T) { testMFAVerifyTOTP(t, open) })
	t.Run("RecoveryCodes", func(t *testing.T) { testMFARecoveryCodes(t, open) })
	t.Run("ConfirmReplaces", func(t *testing.T) { testMFAConfirmReplaces(t, open) })
	t.Run("ConfirmWithPassword", func(t *testing.T) { testMFAConfirmWithPassword(t, open) })
	t.Run("Reset", func(t *testing.T) { testMFAReset(t, open) })
	t.Run("Required", func(t *testing.T) { testMFARequired(t, open) })
	t.Run("ErrUnavailable", func(t *testing.T) { testMFAErrUnavailable(t, open) })
	t.Run("CrossOrganization", func(t *testing.T) { testMFACrossOrganization(t, open) })
	t.Run("ConcurrentTOTP", func(t *testing.T) { testMFAConcurrentTOTP(t, open) })
	t.Run("ConcurrentRecoveryCode", func(t *testing.T) { testMFAConcurrentRecoveryCode(t, open) })
	t.Run("Lockout", func(t *testing.T) { testMFALockout(t, open) })
	t.Run("SessionChecked", func(t *testing.T) { testMFASessionChecked(t, open) })
}

// TOTPCode is the code of secret for the time step at, as an
// authenticator app computes it (SHA-1, six digits, 30 seconds).
func TOTPCode(tb testing.TB, secret string, at time.Time) string {
	tb.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		tb.Fatal(err)
	}
	return code
}

// enrolled is a user with a confirmed TOTP factor and a session waiting
// for it.
type enrolled struct {
	orgID, userID string
	sessionID     string
	secret        string
	recoveryCodes []string
}

// lenientPolicy locks nobody in the tests that are not about the lockout.
var lenientPolicy = castellan.SignInPolicy{IdleTimeout: time.Hour, AbsoluteTimeout: time.Hour,
	MaxFailures: 1000, FailureWindow: time.Minute, LockoutPeriod: time.Minute}

// enrolMFA gives the user a confirmed TOTP factor, confirmed with the code
// of the clock's current step, and a session at the MFA step.
func enrolMFA(tb testing.TB, s castellan.Services, clock *Clock, orgID, userID string) enrolled {
	tb.Helper()
	ctx := userCtx(userID, orgID, "r-enrol")
	setup := must(s.MFA.BeginTOTP(ctx, orgID, userID))(tb)
	codes := must(s.MFA.ConfirmTOTP(ctx, orgID, userID, TOTPCode(tb, setup.Secret, clock.Now()), ""))(tb)
	sess := must(s.Sessions.CreateSession(ctx, orgID, userID, castellan.SessionMFAPending, "", lenientPolicy))(tb)
	return enrolled{orgID: orgID, userID: userID, sessionID: sess.Session.ID, secret: setup.Secret, recoveryCodes: codes}
}

// verify calls VerifyMFA as the user, in its session, with a policy that
// locks nobody.
func (e enrolled) verify(s castellan.Services, code string) error {
	return e.verifyWith(s, e.sessionID, code, lenientPolicy)
}

func (e enrolled) verifyWith(s castellan.Services, sessionID, code string, policy castellan.SignInPolicy) error {
	return s.MFA.VerifyMFA(userCtx(e.userID, e.orgID, "r-verify"), e.orgID, e.userID, sessionID, code, policy)
}

func (e enrolled) mustVerify(tb testing.TB, s castellan.Services, code string) {
	tb.Helper()
	if err := e.verify(s, code); err != nil {
		tb.Fatalf("verify %q: %v", code, err)
	}
}

// refused fails tb unless err is a failed verification that changed
// nothing in the organization since before.
func refused(tb testing.TB, s castellan.Services, orgID string, before snapshot, err error) {
	tb.Helper()
	wantCode(tb, err, castellan.EUNAUTHENTICATED, castellan.CodeMFAFailed)
	unchanged(tb, s, orgID, before)
}

// refusedCounted fails tb unless err is a failed verification and all
// that was written since before are audited sign-in failures (each its
// own revision).
func refusedCounted(tb testing.TB, s castellan.Services, orgID string, before snapshot, err error) {
	tb.Helper()
	wantCode(tb, err, castellan.EUNAUTHENTICATED, castellan.CodeMFAFailed)
	after := takeSnapshot(tb, s, orgID)
	n := len(failuresSince(tb, s, orgID, before.revision))
	if n == 0 || after.events-before.events != n || after.revision-before.revision != int64(n) {
		tb.Fatalf("got %+v after %+v, want only the %d audited failures written", after, before, n)
	}
}

// failuresSince are the reasons of the organization's audited sign-in
// failures after revision.
func failuresSince(tb testing.TB, s castellan.Services, orgID string, revision int64) []string {
	tb.Helper()
	events := listed(s.Audit.FindAuditEvents(context.Background(), orgID, castellan.AuditFilter{Action: ptr("iam:SignIn"), PageSize: castellan.MaxPageSize}))(tb)
	var reasons []string
	for _, e := range events {
		var outcome, reason string
		json.Unmarshal(e.Summary["outcome"], &outcome)
		json.Unmarshal(e.Summary["reason"], &reason)
		if e.Revision > revision && outcome == "failure" {
			reasons = append(reasons, reason)
		}
	}
	return reasons
}

func wantMFAStatus(tb testing.TB, s castellan.Services, orgID, userID string, want castellan.MFAStatus) {
	tb.Helper()
	if got := must(s.MFA.MFAStatus(context.Background(), orgID, userID))(tb); *got != want {
		tb.Fatalf("got status %+v, want %+v", *got, want)
	}
}

// wantNoSecretsAudited fails tb if an audit event of the organization
// holds one of secrets, in any case, with or without its hyphens.
func wantNoSecretsAudited(tb testing.TB, s castellan.Services, orgID string, secrets ...string) {
	tb.Helper()
	events := listed(s.Audit.FindAuditEvents(context.Background(), orgID, castellan.AuditFilter{PageSize: castellan.MaxPageSize}))(tb)
	for _, e := range events {
		summary, _ := json.Marshal(e.Summary)
		text := strings.ToLower(string(summary))
		for _, secret := range secrets {
			secret = strings.ToLower(secret)
			if strings.Contains(text, secret) || strings.Contains(text, strings.ReplaceAll(secret, "-", "")) {
				tb.Fatalf("audit event %s holds a secret: %s", e.Action, summary)
			}
		}
	}
}

func testMFAEnrol(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	u := newUsers(t, s, org, "ann", 1)[0]
	ctx := userCtx(u.ID, org, "r-mfa")
	wantMFAStatus(t, s, org, u.ID, castellan.MFAStatus{})
	sess := must(s.Sessions.CreateSession(ctx, org, u.ID, castellan.SessionMFAPending, "", lenientPolicy))(t).Session.ID

	before := takeSnapshot(t, s, org)
	_, err := s.MFA.ConfirmTOTP(ctx, org, u.ID, "123456", "")
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFANoPendingSetup)
	err = s.MFA.VerifyMFA(ctx, org, u.ID, sess, "123456", lenientPolicy)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFANotEnrolled)
	_, err = s.MFA.PendingTOTP(ctx, org, u.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFANoPendingSetup)
	unchanged(t, s, org, before)

	setup := must(s.MFA.BeginTOTP(ctx, org, u.ID))(t)
	// The pending key reads back the same, and reading it writes nothing.
	before = takeSnapshot(t, s, org)
	again := must(s.MFA.PendingTOTP(ctx, org, u.ID))(t)
	if again.Secret != setup.Secret || again.URI != setup.URI || !bytes.Equal(again.QRCodePNG, setup.QRCodePNG) {
		t.Fatalf("got pending %s %s, want %s %s", again.Secret, again.URI, setup.Secret, setup.URI)
	}
	unchanged(t, s, org, before)
	key, err := otp.NewKeyFromURL(setup.URI)
	if err != nil {
		t.Fatal(err)
	}
	if key.Type() != "totp" || key.Issuer() != "Castellan" || key.AccountName() != u.LoginID || key.Secret() != setup.Secret ||
		key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("got key URI %s for login ID %s and secret %s", setup.URI, u.LoginID, setup.Secret)
	}
	if !bytes.HasPrefix(setup.QRCodePNG, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("got QR code %.16q, want a PNG", setup.QRCodePNG)
	}
	// A pending secret is no factor yet.
	wantMFAStatus(t, s, org, u.ID, castellan.MFAStatus{})

	before = takeSnapshot(t, s, org)
	wrong := TOTPCode(t, setup.Secret, clock.Now().Add(-time.Hour))
	_, err = s.MFA.ConfirmTOTP(ctx, org, u.ID, wrong, "")
	refused(t, s, org, before, err)
	wantMFAStatus(t, s, org, u.ID, castellan.MFAStatus{})

	confirmCode := TOTPCode(t, setup.Secret, clock.Now())
	codes := must(s.MFA.ConfirmTOTP(ctx, org, u.ID, confirmCode, ""))(t)
	distinct := map[string]bool{}
	for _, c := range codes {
		distinct[c] = true
	}
	if len(codes) != castellan.RecoveryCodeCount || len(distinct) != len(codes) {
		t.Fatalf("got recovery codes %q, want %d distinct ones", codes, castellan.RecoveryCodeCount)
	}
	wantMFAStatus(t, s, org, u.ID, castellan.MFAStatus{Enrolled: true, RecoveryCodesLeft: castellan.RecoveryCodeCount})
	// The confirming code's step is used up.
	before = takeSnapshot(t, s, org)
	refusedCounted(t, s, org, before, s.MFA.VerifyMFA(ctx, org, u.ID, sess, confirmCode, lenientPolicy))
	_, err = s.MFA.ConfirmTOTP(ctx, org, u.ID, confirmCode, "")
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFANoPendingSetup)
	_, err = s.MFA.PendingTOTP(ctx, org, u.ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFANoPendingSetup)

	// Each step wrote its audit event and change-log row, and none of them
	// holds the secret or a code.
	wantNoSecretsAudited(t, s, org, append([]string{setup.Secret, confirmCode}, codes...)...)
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{TargetType: ptr("user_mfa"), TargetID: &u.ID}))(t)
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	if want := "iam:ConfirmTOTPEnrolment iam:BeginTOTPEnrolment"; strings.Join(actions, " ") != want {
		t.Fatalf("got events %v, want %s", actions, want)
	}
	changes := must(s.ChangeLog.Changes(ctx, events[1].Revision-1, 2))(t)
	if len(changes) != 2 || changes[0].EntityType != "user_mfa" || changes[0].EntityID != u.ID || changes[1].Revision != events[0].Revision {
		t.Fatalf("got changes %+v", changes)
	}
}

func testMFAVerifyTOTP(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	e := enrolMFA(t, s, clock, org, newUsers(t, s, org, "ann", 1)[0].ID)
	const step = 30 * time.Second

	// The next step's code works once.
	clock.Advance(step)
	code := TOTPCode(t, e.secret, clock.Now())
	e.mustVerify(t, s, code)
	before := takeSnapshot(t, s, org)
	refusedCounted(t, s, org, before, e.verify(s, code))

	// A code of the step ahead (a fast phone) works; after it, the
	// current step's code is older and refused.
	clock.Advance(step)
	ahead, current := TOTPCode(t, e.secret, clock.Now().Add(step)), TOTPCode(t, e.secret, clock.Now())
	e.mustVerify(t, s, ahead)
	before = takeSnapshot(t, s, org)
	refusedCounted(t, s, org, before, e.verify(s, current))

	// A step behind is still accepted (a code typed late); two are not.
	clock.Advance(4 * step)
	refusedCounted(t, s, org, before, e.verify(s, TOTPCode(t, e.secret, clock.Now().Add(-2*step))))
	refusedCounted(t, s, org, before, e.verify(s, TOTPCode(t, e.secret, clock.Now().Add(2*step))))
	e.mustVerify(t, s, TOTPCode(t, e.secret, clock.Now().Add(-step)))
	e.mustVerify(t, s, TOTPCode(t, e.secret, clock.Now()))

	// Anything else is refused alike.
	before = takeSnapshot(t, s, org)
	for _, bad := range []string{"", "12345", "1234567", "abcdef", " " + TOTPCode(t, e.secret, clock.Now().Add(step))} {
		refusedCounted(t, s, org, before, e.verify(s, bad))
	}
	events := listed(s.Audit.FindAuditEvents(context.Background(), org, castellan.AuditFilter{Action: ptr("iam:VerifyMFA")}))(t)
	if len(events) != 4 {
		t.Fatalf("got %d verification events, want 4", len(events))
	}
}

func testMFARecoveryCodes(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	e := enrolMFA(t, s, clock, org, newUsers(t, s, org, "ann", 1)[0].ID)

	e.mustVerify(t, s, e.recoveryCodes[0])
	wantMFAStatus(t, s, org, e.userID, castellan.MFAStatus{Enrolled: true, RecoveryCodesLeft: castellan.RecoveryCodeCount - 1})
	before := takeSnapshot(t, s, org)
	refusedCounted(t, s, org, before, e.verify(s, e.recoveryCodes[0]))
	refusedCounted(t, s, org, before, e.verify(s, "aaaa-bbbb-cccc-dddd"))

	// Case and hyphens do not matter.
	e.mustVerify(t, s, strings.ToUpper(strings.ReplaceAll(e.recoveryCodes[1], "-", "")))
	wantMFAStatus(t, s, org, e.userID, castellan.MFAStatus{Enrolled: true, RecoveryCodesLeft: castellan.RecoveryCodeCount - 2})
	events := listed(s.Audit.FindAuditEvents(context.Background(), org, castellan.AuditFilter{Action: ptr("iam:UseRecoveryCode")}))(t)
	if len(events) != 2 || string(events[0].Summary["recoveryCodesLeft"]) != "8" {
		t.Fatalf("got events %+v", events)
	}
	wantNoSecretsAudited(t, s, org, append([]string{e.secret}, e.recoveryCodes...)...)
}

func testMFAConfirmReplaces(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	e := enrolMFA(t, s, clock, org, newUsers(t, s, org, "ann", 1)[0].ID)
	ctx := userCtx(e.userID, org, "r-again")
	const step = 30 * time.Second

	// The confirmed factor keeps working while a new one is pending.
	setup := must(s.MFA.BeginTOTP(ctx, org, e.userID))(t)
	clock.Advance(step)
	e.mustVerify(t, s, TOTPCode(t, e.secret, clock.Now()))
	clock.Advance(step)
	codes := must(s.MFA.ConfirmTOTP(ctx, org, e.userID, TOTPCode(t, setup.Secret, clock.Now()), ""))(t)
	wantMFAStatus(t, s, org, e.userID, castellan.MFAStatus{Enrolled: true, RecoveryCodesLeft: castellan.RecoveryCodeCount})

	// Then the old secret and recovery codes are gone.
	clock.Advance(step)
	before := takeSnapshot(t, s, org)
	refusedCounted(t, s, org, before, e.verify(s, TOTPCode(t, e.secret, clock.Now())))
	refusedCounted(t, s, org, before, e.verify(s, e.recoveryCodes[0]))
	e.mustVerify(t, s, TOTPCode(t, setup.Secret, clock.Now()))
	e.mustVerify(t, s, codes[0])
}

func testMFAReset(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	e := enrolMFA(t, s, clock, org, newUsers(t, s, org, "ann", 1)[0].ID)
	admin := userCtx(res.OwnerUserID, org, "r-reset")

	rev := must(s.MFA.ResetMFA(admin, org, e.userID))(t)
	events := listed(s.Audit.FindAuditEvents(admin, org, castellan.AuditFilter{Action: ptr("iam:ResetUserMFA")}))(t)
	if len(events) != 1 || events[0].Revision != rev || events[0].Actor.ID != res.OwnerUserID || string(events[0].Summary["recoveryCodesRemoved"]) != "10" {
		t.Fatalf("got events %+v for revision %d", events, rev)
	}
	wantMFAStatus(t, s, org, e.userID, castellan.MFAStatus{})
	clock.Advance(30 * time.Second)
	wantCode(t, e.verify(s, TOTPCode(t, e.secret, clock.Now())), castellan.EPRECONDITION, castellan.CodeMFANotEnrolled)
	wantCode(t, e.verify(s, e.recoveryCodes[0]), castellan.EPRECONDITION, castellan.CodeMFANotEnrolled)

	// Nothing left to reset: nothing written, the current revision.
	before := takeSnapshot(t, s, org)
	if again := must(s.MFA.ResetMFA(admin, org, e.userID))(t); again != before.revision {
		t.Fatalf("got revision %d for an empty reset, want the current %d", again, before.revision)
	}
	unchanged(t, s, org, before)

	// A pending enrolment goes too.
	must(s.MFA.BeginTOTP(userCtx(e.userID, org, "r"), org, e.userID))(t)
	if rev := must(s.MFA.ResetMFA(admin, org, e.userID))(t); rev <= before.revision {
		t.Fatalf("got revision %d, want one after %d", rev, before.revision)
	}
	_, err := s.MFA.ConfirmTOTP(userCtx(e.userID, org, "r"), org, e.userID, "123456", "")
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFANoPendingSetup)
}

// testMFARequired checks the two mandates: the user's mfaMandatory and
// the organization's mfaRequired, which is audited like any other change
// of the organization.
func testMFARequired(t *testing.T, open Opener) {
	s := open(t, nil)
	res := bootstrap(t, s, "Acme")
	org := res.OrganizationID
	users := newUsers(t, s, org, "dev", 2)
	ctx := userCtx(res.OwnerUserID, org, "r-mandate")
	must(s.Users.UpdateUser(ctx, org, users[0].ID, castellan.UserUpdate{MFAMandatory: ptr(true)}))(t)
	wantMFAStatus(t, s, org, users[0].ID, castellan.MFAStatus{Required: true})
	wantMFAStatus(t, s, org, users[1].ID, castellan.MFAStatus{})

	updated := must(s.Organizations.UpdateOrganization(ctx, org, castellan.OrganizationUpdate{MFARequired: ptr(true)}))(t)
	if read := must(s.Organizations.FindOrganizationByID(ctx, org))(t); !updated.MFARequired || !read.MFARequired {
		t.Fatalf("got mfaRequired %v, read back %v, want true", updated.MFARequired, read.MFARequired)
	}
	for _, u := range users {
		wantMFAStatus(t, s, org, u.ID, castellan.MFAStatus{Required: true})
	}
	events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("organizations:UpdateOrganization")}))(t)
	var change struct{ Old, New bool }
	if len(events) != 1 || events[0].Revision != updated.Revision || json.Unmarshal(events[0].Summary["mfaRequired"], &change) != nil ||
		change.Old || !change.New {
		t.Fatalf("got events %+v", events)
	}
	// Setting it again changes nothing.
	before := takeSnapshot(t, s, org)
	must(s.Organizations.UpdateOrganization(ctx, org, castellan.OrganizationUpdate{MFARequired: ptr(true)}))(t)
	unchanged(t, s, org, before)

	must(s.Organizations.UpdateOrganization(ctx, org, castellan.OrganizationUpdate{MFARequired: ptr(false)}))(t)
	wantMFAStatus(t, s, org, users[1].ID, castellan.MFAStatus{})
}

// testMFAErrUnavailable: a disabled user neither begins nor finishes an
// enrolment.
func testMFAErrUnavailable(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	users := newUsers(t, s, org, "dev", 2)
	ctx := userCtx(users[1].ID, org, "r")
	setup := must(s.MFA.BeginTOTP(ctx, org, users[1].ID))(t)
	for _, u := range users {
		must(s.Users.UpdateUser(operatorCtx("r"), org, u.ID, castellan.UserUpdate{Status: ptr(castellan.UserDisabled)}))(t)
	}
	before := takeSnapshot(t, s, org)
	_, err := s.MFA.BeginTOTP(userCtx(users[0].ID, org, "r"), org, users[0].ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFAUnavailable)
	_, err = s.MFA.ConfirmTOTP(ctx, org, users[1].ID, TOTPCode(t, setup.Secret, clock.Now()), "")
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFAUnavailable)
	_, err = s.MFA.PendingTOTP(ctx, org, users[1].ID)
	wantCode(t, err, castellan.EPRECONDITION, castellan.CodeMFAUnavailable)
	unchanged(t, s, org, before)
}

// testMFACrossOrganization calls every method with one organization and a
// user of another: the user is not found there, and nothing changes.
func testMFACrossOrganization(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	a, b := bootstrap(t, s, "Acme"), bootstrap(t, s, "Bolt")
	e := enrolMFA(t, s, clock, b.OrganizationID, newUsers(t, s, b.OrganizationID, "bob", 1)[0].ID)
	ctx := userCtx(a.OwnerUserID, a.OrganizationID, "r-cross")
	clock.Advance(30 * time.Second)
	code := TOTPCode(t, e.secret, clock.Now())
	beforeA, beforeB := takeSnapshot(t, s, a.OrganizationID), takeSnapshot(t, s, b.OrganizationID)
	for who, userID := range map[string]string{"OtherOrganization": e.userID, "Unknown": unknownID} {
		calls := map[string]func() error{
			"BeginTOTP":   func() error { _, err := s.MFA.BeginTOTP(ctx, a.OrganizationID, userID); return err },
			"PendingTOTP": func() error { _, err := s.MFA.PendingTOTP(ctx, a.OrganizationID, userID); return err },
			"ConfirmTOTP": func() error {
				_, err := s.MFA.ConfirmTOTP(ctx, a.OrganizationID, userID, code, "")
				return err
			},
			"VerifyMFA": func() error { return s.MFA.VerifyMFA(ctx, a.OrganizationID, userID, e.sessionID, code, lenientPolicy) },
			"VerifyMFARecovery": func() error {
				return s.MFA.VerifyMFA(ctx, a.OrganizationID, userID, e.sessionID, e.recoveryCodes[0], lenientPolicy)
			},
			"MFAStatus": func() error { _, err := s.MFA.MFAStatus(ctx, a.OrganizationID, userID); return err },
			"ResetMFA":  func() error { _, err := s.MFA.ResetMFA(ctx, a.OrganizationID, userID); return err },
		}
		for name, call := range calls {
			t.Run(who+"/"+name, func(t *testing.T) {
				wantCode(t, call(), castellan.ENOTFOUND, castellan.CodeUserNotFound)
			})
		}
	}
	unchanged(t, s, a.OrganizationID, beforeA)
	unchanged(t, s, b.OrganizationID, beforeB)
	wantMFAStatus(t, s, b.OrganizationID, e.userID, castellan.MFAStatus{Enrolled: true, RecoveryCodesLeft: castellan.RecoveryCodeCount})
	e.mustVerify(t, s, code)
}

// concurrently runs n calls of fn at once and returns their errors.
func concurrently(n int, fn func() error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn()
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// wantOneSuccess fails tb unless exactly one of errs is nil and the rest
// are failed verifications.
func wantOneSuccess(tb testing.TB, errs []error) {
	tb.Helper()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantCode(tb, err, castellan.EUNAUTHENTICATED, castellan.CodeMFAFailed)
	}
	if ok != 1 {
		tb.Fatalf("got %d successes of %d concurrent verifications of one code, want 1", ok, len(errs))
	}
}

func testMFAConcurrentTOTP(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	e := enrolMFA(t, s, clock, org, newUsers(t, s, org, "ann", 1)[0].ID)
	const rounds, callers = 5, 10
	for range rounds {
		clock.Advance(30 * time.Second)
		code := TOTPCode(t, e.secret, clock.Now())
		wantOneSuccess(t, concurrently(callers, func() error { return e.verify(s, code) }))
	}
	events := listed(s.Audit.FindAuditEvents(context.Background(), org, castellan.AuditFilter{Action: ptr("iam:VerifyMFA")}))(t)
	if len(events) != rounds {
		t.Fatalf("got %d verification events, want %d", len(events), rounds)
	}
}

func testMFAConcurrentRecoveryCode(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	e := enrolMFA(t, s, clock, org, newUsers(t, s, org, "ann", 1)[0].ID)
	const callers = 10
	for _, code := range e.recoveryCodes[:3] {
		wantOneSuccess(t, concurrently(callers, func() error { return e.verify(s, code) }))
	}
	wantMFAStatus(t, s, org, e.userID, castellan.MFAStatus{Enrolled: true, RecoveryCodesLeft: castellan.RecoveryCodeCount - 3})
}

// testMFALockout: concurrent wrong codes get no more guesses than
// MaxFailures; the one that locks the account ends the session; while
// locked a right code is refused, audited, and not checked.
func testMFALockout(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	e := enrolMFA(t, s, clock, org, newUsers(t, s, org, "ann", 1)[0].ID)
	policy := castellan.DefaultSignInPolicy
	clock.Advance(30 * time.Second)
	start := must(s.ChangeLog.Revision(context.Background()))(t)
	const callers = 20
	errs := concurrently(callers, func() error { return e.verifyWith(s, e.sessionID, "000000", policy) })
	got := map[string]int{}
	for _, err := range errs {
		got[castellan.ErrorCode(err)]++
	}
	want := map[string]int{castellan.CodeMFAFailed: policy.MaxFailures - 1, castellan.CodeSignInFailed: 1, castellan.CodeSessionInvalid: callers - policy.MaxFailures}
	if len(got) != len(want) || got[castellan.CodeMFAFailed] != want[castellan.CodeMFAFailed] ||
		got[castellan.CodeSignInFailed] != 1 || got[castellan.CodeSessionInvalid] != want[castellan.CodeSessionInvalid] {
		t.Fatalf("got answers %v, want %v", got, want)
	}
	if reasons := failuresSince(t, s, org, start); len(reasons) != policy.MaxFailures {
		t.Fatalf("got audited failures %v, want %d: every code checked is counted, no more are checked", reasons, policy.MaxFailures)
	}

	// Locked: no new session starts, not even one waiting for its second
	// factor; the refusal is audited and no code is checked.
	ctx := userCtx(e.userID, org, "r")
	before := takeSnapshot(t, s, org)
	_, err := s.Sessions.CreateSession(ctx, org, e.userID, castellan.SessionMFAPending, "", policy)
	wantCode(t, err, castellan.EUNAUTHENTICATED, castellan.CodeSignInFailed)
	if reasons := failuresSince(t, s, org, before.revision); strings.Join(reasons, " ") != "locked" {
		t.Fatalf("got audited failures %v, want the locked refusal", reasons)
	}
	if events := listed(s.Audit.FindAuditEvents(ctx, org, castellan.AuditFilter{Action: ptr("iam:VerifyMFA")}))(t); len(events) != 0 {
		t.Fatalf("a locked account's code was accepted: %+v", events)
	}
	clock.Advance(policy.LockoutPeriod)
	after := must(s.Sessions.CreateSession(ctx, org, e.userID, castellan.SessionMFAPending, "", policy))(t).Session.ID
	if err := e.verifyWith(s, after, TOTPCode(t, e.secret, clock.Now()), policy); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
}

// testMFASessionChecked: VerifyMFA refuses a session that is gone, not
// the user's, or past the MFA step, and writes nothing.
func testMFASessionChecked(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	users := newUsers(t, s, org, "dev", 2)
	e := enrolMFA(t, s, clock, org, users[0].ID)
	ctx := userCtx(e.userID, org, "r")
	complete := must(s.Sessions.CreateSession(ctx, org, e.userID, castellan.SessionComplete, "", lenientPolicy))(t).Session.ID
	others := must(s.Sessions.CreateSession(ctx, org, users[1].ID, castellan.SessionMFAPending, "", lenientPolicy))(t).Session.ID
	clock.Advance(30 * time.Second)
	code := TOTPCode(t, e.secret, clock.Now())
	before := takeSnapshot(t, s, org)
	for _, sessionID := range []string{complete, others, unknownID} {
		wantCode(t, e.verifyWith(s, sessionID, code, lenientPolicy), castellan.EUNAUTHENTICATED, castellan.CodeSessionInvalid)
	}
	unchanged(t, s, org, before)
	e.mustVerify(t, s, code)
}

// testMFAConfirmWithPassword: a password given to ConfirmTOTP is checked
// first: a wrong one is refused as auth.wrong_password, confirms nothing
// and is recorded as an audited sign-in failure; the right one lets the
// code confirm the factor.
func testMFAConfirmWithPassword(t *testing.T, open Opener) {
	clock := NewClock()
	s := open(t, clock.Now)
	org := bootstrap(t, s, "Acme").OrganizationID
	u := signInUser(t, s, org, "ann", nil)
	ctx := userCtx(u.ID, org, "r-mfa")
	setup := must(s.MFA.BeginTOTP(ctx, org, u.ID))(t)

	before := takeSnapshot(t, s, org)
	_, err := s.MFA.ConfirmTOTP(ctx, org, u.ID, TOTPCode(t, setup.Secret, clock.Now()), signInPassword+"x")
	wantCode(t, err, castellan.EFORBIDDEN, castellan.CodeWrongPassword)
	wantField(t, err, "password", "match")
	wantMFAStatus(t, s, org, u.ID, castellan.MFAStatus{})
	if failures := failuresSince(t, s, org, before.revision); len(failures) != 1 {
		t.Fatalf("got audited failures %q, want the wrong password's", failures)
	}

	must(s.MFA.ConfirmTOTP(ctx, org, u.ID, TOTPCode(t, setup.Secret, clock.Now()), signInPassword))(t)
	wantMFAStatus(t, s, org, u.ID, castellan.MFAStatus{Enrolled: true, RecoveryCodesLeft: castellan.RecoveryCodeCount})
}
