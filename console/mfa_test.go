package console_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/storetest"
)

var (
	secretField  = regexp.MustCompile(`Secret: <code>([A-Z2-7]+)</code>`)
	recoveryCode = regexp.MustCompile(`<li><code>([a-z2-7-]+)</code></li>`)
)

// totpNow is the TOTP code of secret at the test clock's time.
func (e *env) totpNow(t *testing.T, secret string) string {
	t.Helper()
	return storetest.TOTPCode(t, secret, e.clock.Now())
}

// TestConsoleMFA: a user that must use MFA enrols at its first sign-in,
// then signs in with a code; a replayed code, a used recovery code and
// wrong codes are refused, and wrong codes lock the account.
func TestConsoleMFA(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		ann := e.consoleUser(t, org, "ann", func(r *castellan.UserRegistration) { r.MFAMandatory = true })
		b := newBrowser(t, e.srv)
		wantRedirect(t, b.signIn("Acme", "ann", consolePassword), "/console/mfa")
		wantRedirect(t, b.get("/console"), "/console/mfa")
		wantRedirect(t, b.get("/console/mfa"), "/console/mfa/setup")
		setupPage := func(p *page, status int) string {
			t.Helper()
			wantPage(t, p, status, `<img src="data:image/png;base64,`)
			if !strings.Contains(p.header.Get("Content-Security-Policy"), "img-src data:") || !strings.Contains(p.body, "otpauth://totp/") {
				t.Fatalf("setup page: %v\n%s", p.header, p.body)
			}
			m := secretField.FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("no secret on the page:\n%s", p.body)
			}
			return m[1]
		}
		secret := setupPage(b.get("/console/mfa/setup"), http.StatusOK)
		secret = setupPage(b.post("/console/mfa/setup", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
		first := e.totpNow(t, secret)
		p := b.post("/console/mfa/setup", url.Values{"code": {first}})
		wantPage(t, p, http.StatusOK, "shown only now")
		var codes []string
		for _, m := range recoveryCode.FindAllStringSubmatch(p.body, -1) {
			codes = append(codes, m[1])
		}
		if len(codes) != castellan.RecoveryCodeCount {
			t.Fatalf("got recovery codes %v", codes)
		}
		wantPage(t, b.get("/console"), http.StatusOK, "Signed in as")

		// The code that confirmed the setup does not work again.
		b2 := newBrowser(t, e.srv)
		wantRedirect(t, b2.signIn("Acme", "ann", consolePassword), "/console/mfa")
		wantPage(t, b2.get("/console/mfa"), http.StatusOK, `name="code"`)
		wantPage(t, b2.post("/console/mfa", url.Values{"code": {first}}), http.StatusUnauthorized, "not valid")
		wantRedirect(t, b2.get("/console"), "/console/mfa")
		e.clock.Advance(30 * time.Second)
		wantRedirect(t, b2.post("/console/mfa", url.Values{"code": {e.totpNow(t, secret)}}), "/console")
		wantPage(t, b2.get("/console"), http.StatusOK, "Signed in as")

		// A recovery code works once.
		b3 := newBrowser(t, e.srv)
		wantRedirect(t, b3.signIn("Acme", "ann", consolePassword), "/console/mfa")
		b3.get("/console/mfa")
		wantRedirect(t, b3.post("/console/mfa", url.Values{"code": {codes[0]}}), "/console")
		e.clock.Advance(time.Second)
		b4 := newBrowser(t, e.srv)
		wantRedirect(t, b4.signIn("Acme", "ann", consolePassword), "/console/mfa")
		b4.get("/console/mfa")
		wantPage(t, b4.post("/console/mfa", url.Values{"code": {codes[0]}}), http.StatusUnauthorized, "not valid")

		// Wrong codes count towards the lockout: the fifth ends the
		// sign-in and locks the account.
		for range 3 {
			wantPage(t, b4.post("/console/mfa", url.Values{"code": {"000000"}}), http.StatusUnauthorized, "not valid")
		}
		wantPage(t, b4.post("/console/mfa", url.Values{"code": {"000000"}}), http.StatusUnauthorized, "Sign-in failed")
		wantRedirect(t, b4.get("/console/mfa"), "/console/sign-in")
		wantPage(t, b4.signIn("Acme", "ann", consolePassword), http.StatusUnauthorized, "Sign-in failed")
		if u, _ := e.db.Services().Users.FindUserByID(system, org, ann.ID, false); u.LastLoginAt == nil {
			t.Fatal("no last login after the completed sign-ins")
		}

		// The organization's mandate sends users without a factor to the
		// setup, whatever their own mfaMandatory says.
		e.consoleUser(t, org, "bob", nil)
		required := true
		if _, err := e.db.Services().Organizations.UpdateOrganization(system, org, castellan.OrganizationUpdate{MFARequired: &required}); err != nil {
			t.Fatal(err)
		}
		b5 := newBrowser(t, e.srv)
		wantRedirect(t, b5.signIn("Acme", "bob", consolePassword), "/console/mfa")
		wantRedirect(t, b5.get("/console/mfa"), "/console/mfa/setup")
		setupPage(b5.get("/console/mfa/setup"), http.StatusOK)
	})
}

// TestConsoleMFAConcurrentCodes: parallel wrong codes of one session get
// no more guesses than the lockout allows: at most MaxFailures are
// checked (each audited), the account is locked, and the session ended.
func TestConsoleMFAConcurrentCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		ann := e.consoleUser(t, org, "ann", nil)
		mfa := e.db.Services().MFA
		setup, err := mfa.BeginTOTP(system, org, ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mfa.ConfirmTOTP(system, org, ann.ID, e.totpNow(t, setup.Secret)); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, e.srv)
		wantRedirect(t, b.signIn("Acme", "ann", consolePassword), "/console/mfa")
		wantPage(t, b.get("/console/mfa"), http.StatusOK, `name="code"`)
		e.clock.Advance(30 * time.Second)

		const parallel = 20
		form := url.Values{"csrf": {b.csrf}, "code": {"000000"}}.Encode()
		statuses := make([]int, parallel)
		errs := make([]error, parallel)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req, err := http.NewRequest(http.MethodPost, b.base+"/console/mfa", strings.NewReader(form))
				if err != nil {
					errs[i] = err
					return
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := b.client.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil || statuses[i] != http.StatusUnauthorized && statuses[i] != http.StatusSeeOther {
				t.Fatalf("request %d: got %d, %v", i, statuses[i], err)
			}
		}
		checked := 0
		for _, reason := range e.signInFailures(t, ann) {
			if reason == "wrong_mfa_code" {
				checked++
			}
		}
		if limit := castellan.DefaultSignInPolicy.MaxFailures; checked != limit {
			t.Fatalf("%d of %d parallel codes were checked, want %d (MaxFailures)", checked, parallel, limit)
		}
		// Locked, and the sign-in is over: the right password and then a
		// right code get nowhere.
		wantRedirect(t, b.get("/console/mfa"), "/console/sign-in")
		wantPage(t, b.signIn("Acme", "ann", consolePassword), http.StatusUnauthorized, "Sign-in failed")
		if len(e.sessionsOf(t, ann)) != 0 {
			t.Fatal("the lockout left a session")
		}
		e.clock.Advance(castellan.DefaultSignInPolicy.LockoutPeriod)
		wantRedirect(t, b.signIn("Acme", "ann", consolePassword), "/console/mfa")
		b.get("/console/mfa")
		wantRedirect(t, b.post("/console/mfa", url.Values{"code": {e.totpNow(t, setup.Secret)}}), "/console")
	})
}

// TestConsoleMFASetupGetChangesNothing: GET /console/mfa/setup begins an
// enrolment only when none is pending; later GETs show the same key and
// write nothing, so that a link cannot replace the key being scanned. A
// new key takes the "Start over" POST with its CSRF token.
func TestConsoleMFASetupGetChangesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		ann := e.consoleUser(t, org, "ann", func(r *castellan.UserRegistration) { r.MFAMandatory = true })
		b := newBrowser(t, e.srv)
		wantRedirect(t, b.signIn("Acme", "ann", consolePassword), "/console/mfa")
		secretOf := func(p *page) string {
			t.Helper()
			wantPage(t, p, http.StatusOK, `<img src="data:image/png;base64,`)
			m := secretField.FindStringSubmatch(p.body)
			if m == nil || !strings.Contains(p.body, "otpauth://totp/") || !strings.Contains(p.body, `name="code"`) {
				t.Fatalf("setup page:\n%s", p.body)
			}
			return m[1]
		}
		first := secretOf(b.get("/console/mfa/setup"))
		before := e.state(t)
		for range 3 {
			if again := secretOf(b.get("/console/mfa/setup")); again != first {
				t.Fatalf("a GET replaced the key %s with %s", first, again)
			}
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatalf("GETs of the setup page wrote: %+v → %+v", before, after)
		}
		begin := "iam:BeginTOTPEnrolment"
		events, _, err := e.db.Audit().FindAuditEvents(system, org, castellan.AuditFilter{Action: &begin, TargetID: &ann.ID})
		if err != nil || len(events) != 1 {
			t.Fatalf("got %d enrolment events, %v; want 1", len(events), err)
		}

		// Start over: refused without its token or from another site,
		// changing nothing; with it, a new key.
		for name, p := range map[string]*page{
			"no token":   b.post("/console/mfa/setup/restart", url.Values{"csrf": {""}}),
			"cross-site": b.post("/console/mfa/setup/restart", url.Values{}, "Sec-Fetch-Site", "cross-site"),
		} {
			if p.status != http.StatusForbidden {
				t.Fatalf("%s: got %d, want 403", name, p.status)
			}
		}
		if after := e.state(t); !after.equal(before) {
			t.Fatal("a refused start-over changed something")
		}
		b.get("/console/mfa/setup")
		wantRedirect(t, b.post("/console/mfa/setup/restart", url.Values{}), "/console/mfa/setup")
		second := secretOf(b.get("/console/mfa/setup"))
		if second == first {
			t.Fatal("start over kept the key")
		}
		wantPage(t, b.post("/console/mfa/setup", url.Values{"code": {e.totpNow(t, second)}}), http.StatusOK, "shown only now")
		wantPage(t, b.get("/console"), http.StatusOK, "Signed in as")
	})
}
