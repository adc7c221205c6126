package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/mail"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The console in a real browser: headless Chromium (the Debian chromium
// package) driven through the DevTools protocol by chromedp. The HTTP tests
// check the pages' bytes; these check what a browser makes of them: the
// forms work, the Content-Security-Policy lets the console's own style
// sheet and QR code through, and the browser reports no violation.

// browserStep bounds every browser step: a navigation with its load, a
// query, a screenshot.
const browserStep = 30 * time.Second

// chromiumPath is the browser to drive. Under CI a missing browser fails
// the test (.ci/run installs it); elsewhere the test is skipped.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found (neither /usr/bin/chromium nor on PATH): the browser tests need the Debian chromium package; .ci/run installs it")
	}
	t.Skip("chromium not found (neither /usr/bin/chromium nor on PATH): install the Debian chromium package (apt-get install chromium) to run the browser tests")
	return ""
}

// screenshotDir is where the screenshots go: $CASTELLAN_ARTIFACTS, or a
// directory under the system's temporary directory that outlives the test.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CASTELLAN_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "castellan-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startChromium starts one headless Chromium for the test, with a fresh
// profile, and returns its browser context (tabs are made from it).
func startChromium(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	openChromedp(t, ctx, cancel, "start chromium")
	return ctx
}

// openChromedp runs the first Do on a chromedp context, which starts its browser
// or opens its tab. That Do ties the browser or tab to the context it is
// given until the end, so it gets ctx itself, with no deadline; it is
// bounded here instead, cancelling ctx when it takes too long.
func openChromedp(t *testing.T, ctx context.Context, cancel context.CancelFunc, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(browserStep):
		cancel()
		t.Fatalf("%s: not done within %v", what, browserStep)
	}
}

// tab is one browser tab, in a browser context of its own (its own
// cookies), on the console of one server. It records every message the
// browser logs for its pages.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	shot int

	mu   sync.Mutex
	logs []string
	// cspReported is closed at the first Content-Security-Policy report.
	cspReported chan struct{}
}

func newTab(t *testing.T, browser context.Context, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	b := &tab{t: t, ctx: ctx, base: base, dir: screenshotDir(t), cspReported: make(chan struct{})}
	openChromedp(t, ctx, cancel, "open a tab")
	// Listen sees the events in the order the browser sent them, before
	// the reply to any later command: once a step has returned, every
	// message the browser logged during it is in b.logs.
	if err := chromedp.Listen(ctx, b.record); err != nil {
		t.Fatal(err)
	}
	return b
}

// record keeps what the browser logs: its own log (where Chromium reports
// a Content-Security-Policy violation, source "security", naming the
// policy), console calls and uncaught exceptions.
func (b *tab) record(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *log.EventEntryAdded:
		msg = fmt.Sprintf("log %s/%s: %s (%s)", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
	case *runtime.EventConsoleAPICalled:
		msg = fmt.Sprintf("console.%s called", ev.Type)
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
	default:
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if isCSPReport(msg) && !b.cspSeen() {
		close(b.cspReported)
	}
	b.logs = append(b.logs, msg)
}

func (b *tab) cspSeen() bool {
	select {
	case <-b.cspReported:
		return true
	default:
		return false
	}
}

func isCSPReport(msg string) bool {
	return strings.Contains(msg, "Content Security Policy") || strings.Contains(msg, "Content-Security-Policy")
}

// messages returns what the browser has logged so far, except the
// network's note on each page answered with a client error status (a
// failed sign-in's 401, a refused form's 400: the tests check each
// status with wantStatus).
func (b *tab) messages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, m := range b.logs {
		if strings.HasPrefix(m, "log network/error: Failed to load resource: the server responded with a status of 4") {
			continue
		}
		out = append(out, m)
	}
	return out
}

// do runs steps within browserStep.
func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// runIn runs one action that returns a value, within browserStep.
func runIn[T any](b *tab, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// navigate opens path and returns the status of the page it ends on.
func (b *tab) navigate(path string) int64 {
	b.t.Helper()
	resp := runIn(b, chromedp.NavigateResponse(b.base+path))
	if resp == nil {
		b.t.Fatalf("no response for %s", path)
	}
	return resp.Status
}

// submit clicks the button of the form posting to action and waits for
// the page the answer leads to (after any redirect); it returns that
// page's status.
func (b *tab) submit(action string) int64 {
	b.t.Helper()
	return b.load(chromedp.Click(chromedp.CSS(`form[action="` + action + `"] button[type=submit]`)))
}

func (b *tab) load(steps ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStep)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.t.Fatal(err)
	}
	if resp == nil {
		b.t.Fatal("no response for the page")
	}
	return resp.Status
}

// wantStatus fails unless the page the tab shows came with status want;
// the failure shows the page's text.
func (b *tab) wantStatus(what string, got, want int64) {
	b.t.Helper()
	if got != want {
		b.t.Fatalf("%s: status %d, want %d; the page says:\n%s", what, got, want, runIn(b, chromedp.Text(chromedp.CSS("body"))))
	}
}

// fill types value into the input named name.
// mailURL is the public URL the dev mailbox's mails link to; a test
// follows a link on its own server.
const mailURL = "https://castellan.test"

// mailedLink opens the console's dev mailbox (the tab is signed in as an
// owner) at the mails to to, and returns the path and query of the first
// link in the newest one.
func (b *tab) mailedLink(to string) string {
	b.t.Helper()
	path := "/console/mailbox?to=" + url.QueryEscape(to)
	b.wantStatus("dev mailbox", b.navigate(path), http.StatusOK)
	b.page(path, "Dev mailbox")
	link := runIn(b, chromedp.Evaluate[string](`document.querySelector("article.mail pre.mail-body a")?.href ?? ""`))
	if !strings.HasPrefix(link, mailURL+"/") {
		b.t.Fatalf("no link in the newest mail to %s: %q; the page says:\n%s", to, link, runIn(b, chromedp.Text(chromedp.CSS("main"))))
	}
	return strings.TrimPrefix(link, mailURL)
}

// unsafeInName matches what a screenshot's file name leaves out of the
// page's path and query.
var unsafeInName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// follow clicks the link of the page's main part with text and waits
// for the page it leads to.
func (b *tab) follow(text string) {
	b.t.Helper()
	b.load(chromedp.Click(chromedp.Search(`//main//a[normalize-space()="` + text + `"]`)))
}

// path returns the path and query of the page the tab shows.
func (b *tab) path() string {
	b.t.Helper()
	return strings.TrimPrefix(runIn(b, chromedp.Location()), b.base)
}

func (b *tab) fill(name, value string) {
	b.t.Helper()
	b.do(chromedp.SendKeys(chromedp.CSS(`input[name="`+name+`"]:not([type=checkbox]), textarea[name="`+name+`"]`), value))
}

// page checks the page the tab shows: its path, its heading, that the
// console's style sheet applied and that the browser logged nothing; then
// it keeps a full-page screenshot named after it.
func (b *tab) page(path, heading string) {
	b.t.Helper()
	if got := runIn(b, chromedp.Location()); got != b.base+path {
		b.t.Fatalf("at %s, want %s", got, b.base+path)
	}
	if got := strings.TrimSpace(runIn(b, chromedp.Text(chromedp.CSS("main h1")))); got != heading {
		b.t.Fatalf("%s: heading %q, want %q", path, got, heading)
	}
	b.styled(path)
	if msgs := b.messages(); len(msgs) > 0 {
		b.t.Fatalf("%s: the browser logged:\n%s", path, strings.Join(msgs, "\n"))
	}
	b.screenshot(unsafeInName.ReplaceAllString(strings.TrimPrefix(path, "/"), "-"))
}

// styled checks that the console's inline style sheet applied: the CSP
// allows it by its hash, and a browser that refused it would leave the
// body at its default margin (8px) and font; the console's has none, in
// system-ui.
func (b *tab) styled(path string) {
	b.t.Helper()
	style := runIn(b, chromedp.Evaluate[map[string]string](`(() => {
		const s = getComputedStyle(document.body);
		return {margin: s.margin, fontFamily: s.fontFamily, sheets: String(document.styleSheets.length)};
	})()`))
	if style["margin"] != "0px" || !strings.HasPrefix(style["fontFamily"], "system-ui") || style["sheets"] != "1" {
		b.t.Fatalf("%s: the console's style sheet did not apply: %v", path, style)
	}
}

// screenshot keeps a PNG of the whole page, named after the test and
// name, in the screenshot directory.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	b.keep(name, runIn(b, chromedp.FullScreenshot(100)))
}

// screenshotView keeps a PNG of what the window shows, for pages too
// long to keep whole.
func (b *tab) screenshotView(name string) {
	b.t.Helper()
	b.keep(name, runIn(b, chromedp.CaptureScreenshot()))
}

func (b *tab) keep(name string, png []byte) {
	b.t.Helper()
	b.shot++
	file := filepath.Join(b.dir, fmt.Sprintf("%s-%02d-%s.png", strings.ReplaceAll(b.t.Name(), "/", "-"), b.shot, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", file)
}

// signIn fills in the sign-in form and sends it; it returns the status of
// the page it leads to.
func (b *tab) signIn(org, login, password string) int64 {
	b.t.Helper()
	b.wantStatus("sign-in page", b.navigate("/console/sign-in"), http.StatusOK)
	b.page("/console/sign-in", "Sign in")
	b.fill("organization", org)
	b.fill("login", login)
	b.fill("password", password)
	return b.submit("/console/sign-in")
}

// qrWidth reports the natural width of the MFA setup page's QR code
// image, once the image is complete (0 when the browser refused or could
// not decode it).
func (b *tab) qrWidth() int {
	b.t.Helper()
	b.do(chromedp.WaitReady(chromedp.CSS(`img[alt="QR code of the key"]`)))
	return runIn(b, chromedp.Evaluate[int](`(() => {
		const img = document.querySelector('img[alt="QR code of the key"]');
		if (!img.complete) throw new Error("the QR code has not loaded");
		return img.naturalWidth;
	})()`))
}

// The console's alert text on a failed sign-in, the same whatever failed.
const signInFailedAlert = "Sign-in failed. Check the organization, the login and the password."

var base32Secret = regexp.MustCompile(`^[A-Z2-7]{16,}$`)

// TestBrowserConsole drives the console in headless Chromium: a first
// sign-in that must set up MFA, a failed sign-in, and the
// Content-Security-Policy as the browser applies it. One SQLite-backed
// server is enough: the HTTP tests cover both stores.
func TestBrowserConsole(t *testing.T) {
	browser := startChromium(t)
	e := newEnv(t, sqltest.SQLiteURL(t))
	// A server with the dev mailbox, as castellan serve without SMTP:
	// invitees follow the links of its mails.
	templates, err := mail.NewTemplates(mailURL)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = e.serveWith(t, func(o *apitest.Options) { o.DevMailbox = templates })
	org := e.Acme.OrganizationID

	t.Run("MFASetupSessionsSignOut", func(t *testing.T) {
		e.ConsoleUser(t, org, "ann", func(r *castellan.UserRegistration) { r.MFAMandatory = true })
		b := newTab(t, browser, e.srv.URL)

		b.wantStatus("sign-in", b.signIn("Acme", "ann", apitest.ConsolePassword), http.StatusOK)
		b.page("/console/mfa/setup", "Set up a second factor")
		secret := runIn(b, chromedp.Evaluate[string](`[...document.querySelectorAll("main p")].find(p => p.textContent.startsWith("Secret:")).querySelector("code").textContent`))
		if !base32Secret.MatchString(secret) {
			t.Fatalf("secret on the page: %q", secret)
		}
		b.fill("code", e.totpNow(t, secret))
		b.wantStatus("MFA setup", b.submit("/console/mfa/setup"), http.StatusOK)
		b.page("/console/mfa/setup", "Recovery codes")
		codes := runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("ul.codes li code")].map(c => c.textContent)`))
		if len(codes) != castellan.RecoveryCodeCount {
			t.Fatalf("got %d recovery codes %v, want %d", len(codes), codes, castellan.RecoveryCodeCount)
		}
		for _, c := range codes {
			if !recoveryCode.MatchString("<li><code>" + c + "</code></li>") {
				t.Fatalf("recovery code %q", c)
			}
		}

		b.follow("Continue")
		b.page("/console", "Home")
		if home := runIn(b, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(home, "Signed in as ann") || !strings.Contains(home, "in organization Acme") {
			t.Fatalf("home page: %q", home)
		}

		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/sessions"]`)))
		b.page("/console/sessions", "Your sessions")
		rows := runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("main tbody tr")].map(r => r.innerText)`))
		if len(rows) != 1 || !strings.Contains(rows[0], "This session") || !strings.Contains(rows[0], "127.0.0.1") {
			t.Fatalf("sessions: %q, want the current one only", rows)
		}

		b.wantStatus("sign-out", b.submit("/console/sign-out"), http.StatusOK)
		b.page("/console/sign-in", "Sign in")
		b.wantStatus("console after sign-out", b.navigate("/console"), http.StatusOK)
		b.page("/console/sign-in", "Sign in")
	})

	t.Run("OwnMFA", func(t *testing.T) {
		e.ConsoleUser(t, org, "ora", nil)
		b := newTab(t, browser, e.srv.URL)
		b.wantStatus("sign-in", b.signIn("Acme", "ora", apitest.ConsolePassword), http.StatusOK)
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/profile"]`)))
		b.page("/console/profile", "Your profile")
		b.follow("Set up a second factor")
		b.page("/console/mfa/setup", "Set up a second factor")
		if w := b.qrWidth(); w <= 0 {
			t.Fatalf("the QR code did not load: natural width %d", w)
		}
		secret := runIn(b, chromedp.Text(chromedp.Search(`//main//p[starts-with(normalize-space(), "Secret:")]/code`)))
		b.fill("code", "000000")
		b.fill("password", apitest.ConsolePassword)
		b.wantStatus("a mistyped code", b.submit("/console/mfa/setup"), http.StatusBadRequest)
		b.page("/console/mfa/setup", "Set up a second factor")
		if again := runIn(b, chromedp.Text(chromedp.Search(`//main//p[starts-with(normalize-space(), "Secret:")]/code`))); again == secret {
			t.Fatal("the refused try showed the same key again")
		} else {
			secret = again
		}
		b.fill("code", e.totpNow(t, secret))
		b.fill("password", apitest.ConsolePassword)
		b.wantStatus("MFA setup", b.submit("/console/mfa/setup"), http.StatusOK)
		b.page("/console/mfa/setup", "Recovery codes")
		b.follow("Continue")
		b.page("/console/profile?mfa=1", "Your profile")
		if notice := runIn(b, chromedp.Text(chromedp.CSS(`p[role="status"]`))); !strings.Contains(notice, "Your second factor is set up") {
			t.Fatalf("notice %q", notice)
		}

		// Signed out and in again, the password alone no longer opens
		// the console: the code does.
		b.wantStatus("sign-out", b.submit("/console/sign-out"), http.StatusOK)
		e.Clock.Advance(30 * time.Second)
		b.wantStatus("sign-in", b.signIn("Acme", "ora", apitest.ConsolePassword), http.StatusOK)
		b.page("/console/mfa", "Second factor")
		b.wantStatus("console before the code", b.navigate("/console/users"), http.StatusOK)
		b.page("/console/mfa", "Second factor")
		b.fill("code", e.totpNow(t, secret))
		b.wantStatus("code", b.submit("/console/mfa"), http.StatusOK)
		b.page("/console", "Home")
	})

	t.Run("ForcedPasswordChangeAndOwnKey", func(t *testing.T) {
		pia := e.ConsoleUser(t, org, "pia", func(r *castellan.UserRegistration) { r.PasswordResetRequired = true })
		shop, err := e.DB.Services().Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "pia-shop"})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.DB.Services().Grants.CreateGrants(system, org, []castellan.GrantCreate{{RoleID: "project.member",
			Scope: "project/" + shop.ID, Subject: castellan.Subject{Type: castellan.SubjectUser, ID: pia.ID}}}); err != nil {
			t.Fatal(err)
		}
		b := newTab(t, browser, e.srv.URL)
		b.wantStatus("sign-in", b.signIn("Acme", "pia", apitest.ConsolePassword), http.StatusOK)
		b.page("/console/password", "Choose a new password")
		// The console stays shut until the password is changed.
		b.wantStatus("console before the change", b.navigate("/console/users"), http.StatusOK)
		b.page("/console/password", "Choose a new password")
		b.fill("password", "Another-Horse-8-battery")
		b.fill("confirm", "Another-Horse-8-battery")
		b.wantStatus("new password", b.submit("/console/password"), http.StatusOK)
		b.page("/console", "Home")

		// Her own access key, in her project: the secret shows once.
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/profile/keys"]`)))
		b.page("/console/profile/keys", "Your access keys")
		b.fill("name", "laptop")
		b.fill("projectId", shop.ID)
		b.wantStatus("make a key", b.submit("/console/profile/keys"), http.StatusOK)
		secret := runIn(b, chromedp.Text(chromedp.Search(`//section[@class="answer"]//dt[.="Secret"]/following-sibling::dd[1]/code`)))
		if len(secret) < 20 {
			t.Fatalf("the new key's secret on the page: %q", secret)
		}
		b.navigate("/console/profile/keys")
		if text := runIn(b, chromedp.Text(chromedp.CSS("main"))); strings.Contains(text, secret) || !strings.Contains(text, "laptop") {
			t.Fatalf("the keys page after the answer (the secret must not show again):\n%s", text)
		}
	})

	t.Run("Users", func(t *testing.T) {
		admin := e.ConsoleUser(t, org, "ivy", func(r *castellan.UserRegistration) { r.Nickname = "Ivy of IT" })
		e.grantOrg(t, admin, "organization.admin")
		e.ConsoleUser(t, org, "joe", func(r *castellan.UserRegistration) { r.Mode, r.Password = castellan.ModeInvitation, "" })
		b := newTab(t, browser, e.srv.URL)

		b.wantStatus("sign-in", b.signIn("Acme", "ivy", apitest.ConsolePassword), http.StatusOK)
		b.page("/console", "Home")
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/users"]`)))
		b.page("/console/users", "Users")
		rows := runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("main tbody tr")].map(r => r.cells[0].firstChild.textContent + "|" + r.cells[7].innerText)`))
		if !slices.Contains(rows, "joe|Invitation pending") || !slices.Contains(rows, "ivy|Active") {
			t.Fatalf("users list rows %q", rows)
		}

		b.fill("q", "iv")
		b.load(chromedp.Submit(chromedp.CSS(`form[role="search"]`)))
		b.page("/console/users?q=iv&status=&sort=registeredAt", "Users")
		rows = runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("main tbody tr")].map(r => r.cells[0].firstChild.textContent + "|" + r.cells[2].innerText)`))
		if len(rows) != 1 || rows[0] != "ivy|Ivy of IT" {
			t.Fatalf("search rows %q", rows)
		}

		// Register an invitee through the form; it accepts the
		// invitation from the link of its mail and signs in; then the
		// admin deletes it, typing the seed's phrase.
		b.navigate("/console/users")
		b.follow("Register user")
		b.page("/console/users/new", "Register user")
		b.fill("loginId", "lee")
		b.fill("email", "lee@acme.example")
		b.wantStatus("registration", b.submit("/console/users/new"), http.StatusOK)
		at := b.path()
		if !strings.HasPrefix(at, "/console/users/") || !strings.HasSuffix(at, "?registered=1") {
			t.Fatalf("after registering: at %s", at)
		}
		b.page(at, "lee")
		lee := strings.TrimSuffix(strings.TrimPrefix(at, "/console/users/"), "?registered=1")

		// The owner reads the invitation in the dev mailbox.
		owner := newTab(t, browser, e.srv.URL)
		owner.wantStatus("owner sign-in", owner.signIn("Acme", "owner@acme.example", apitest.OwnerPassword), http.StatusOK)
		owner.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/mailbox"]`)))
		owner.page("/console/mailbox", "Dev mailbox")
		link := owner.mailedLink("lee@acme.example")
		invitee := newTab(t, browser, e.srv.URL)
		invitee.wantStatus("invitation", invitee.navigate(link), http.StatusOK)
		invitee.fill("password", apitest.ConsolePassword)
		invitee.fill("confirm", apitest.ConsolePassword)
		invitee.wantStatus("accept", invitee.submit("/invitations/accept"), http.StatusOK)
		if text := runIn(invitee, chromedp.Text(chromedp.CSS("body"))); !strings.Contains(text, "Your account lee is active") {
			t.Fatalf("invitation page after accepting: %q", text)
		}
		invitee.screenshot("invitation-accepted")
		invitee.wantStatus("invitee sign-in", invitee.signIn("Acme", "lee", apitest.ConsolePassword), http.StatusOK)
		invitee.page("/console", "Home")

		// The delete form without its CSRF token, as a forged post
		// would be: refused, and lee stays.
		b.navigate("/console/users/" + lee)
		b.page("/console/users/"+lee, "lee")
		b.fill("confirm", "lee")
		b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action$="/delete"] input[name=csrf]').remove()`))
		b.wantStatus("delete without the CSRF token", b.submit("/console/users/"+lee+"/delete"), http.StatusForbidden)
		if alert := runIn(b, chromedp.Text(chromedp.CSS(`p[role="alert"]`))); !strings.Contains(alert, "the form is stale") {
			t.Fatalf("alert %q", alert)
		}
		if _, err := e.DB.Services().Users.FindUserByID(system, org, lee, false); err != nil {
			t.Fatalf("lee after the forged deletion: %v", err)
		}

		b.navigate("/console/users/" + lee)
		b.page("/console/users/"+lee, "lee")
		if label := runIn(b, chromedp.Text(chromedp.CSS(`label[for="confirm"]`))); label != "Type "+castellan.DeleteUserPhrase+" to confirm" {
			t.Fatalf("the delete form asks: %q", label)
		}
		b.fill("confirm", castellan.DeleteUserPhrase)
		b.wantStatus("delete", b.submit("/console/users/"+lee+"/delete"), http.StatusOK)
		b.page("/console/users?deleted=1", "Users")
		invitee.wantStatus("invitee after deletion", invitee.navigate("/console"), http.StatusOK)
		invitee.page("/console/sign-in", "Sign in")

		// Quick register: a row without its email comes back with the
		// rule in that row; filled in, both rows are registered.
		b.navigate("/console/users/quick")
		b.page("/console/users/quick", "Quick register")
		cell := func(row int, name, value string) {
			b.do(chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(`tbody tr:nth-child(%d) input[name="%s"]`, row, name)), value))
		}
		cell(1, "loginId", "max")
		cell(1, "email", "max@acme.example")
		cell(2, "loginId", "nia")
		b.wantStatus("quick register without an email", b.submit("/console/users/quick"), http.StatusBadRequest)
		b.page("/console/users/quick", "Quick register")
		if errs := runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("tbody tr")].map(r => r.querySelector(".field-error")?.textContent ?? "")`)); errs[0] != "" || errs[1] == "" {
			t.Fatalf("row errors %q, want one in the second row only", errs[:2])
		}
		cell(2, "email", "nia@acme.example")
		// While the answer comes, the form says what it is doing and
		// holds back a second click: the script records what it saw in
		// the tab's session storage, which outlives the page.
		b.wantStatus("quick register", b.load(chromedp.Evaluate[chromedp.Void](`(() => {
			const f = document.querySelector('form[action="/console/users/quick"]');
			const held = [];
			document.addEventListener("submit", e => held.push(e.defaultPrevented));
			f.requestSubmit();
			const busy = f.querySelector(".busy");
			sessionStorage.setItem("busy", JSON.stringify({aria: f.getAttribute("aria-busy"), shown: !busy.hidden, text: busy.textContent.trim()}));
			f.requestSubmit();
			sessionStorage.setItem("held", JSON.stringify(held));
		})()`)), http.StatusOK)
		b.page("/console/users?registered=2", "Users")
		busy := runIn(b, chromedp.Evaluate[map[string]any](`JSON.parse(sessionStorage.getItem("busy"))`))
		held := runIn(b, chromedp.Evaluate[[]bool](`JSON.parse(sessionStorage.getItem("held"))`))
		if busy["aria"] != "true" || busy["shown"] != true || busy["text"] != "Registering 2 users and queueing their invitation mails…" || !slices.Equal(held, []bool{false, true}) {
			t.Fatalf("while registering: %v; submissions held back: %v", busy, held)
		}

		// On a phone the navigation folds above the list, which scrolls
		// in its frame rather than widening the page.
		b.do(chromedp.EmulateViewport(390, 844))
		width := runIn(b, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if width > 390 {
			t.Fatalf("the users page is %d px wide on a 390 px screen", width)
		}
		b.screenshot("users-phone")
	})

	t.Run("Groups", func(t *testing.T) {
		admin := e.ConsoleUser(t, org, "gia", nil)
		e.grantOrg(t, admin, "organization.admin")
		e.ConsoleUser(t, org, "hal", nil)
		b := newTab(t, browser, e.srv.URL)
		b.wantStatus("sign-in", b.signIn("Acme", "gia", apitest.ConsolePassword), http.StatusOK)

		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/groups"]`)))
		b.page("/console/groups", "Groups")
		b.follow("Create group")
		b.page("/console/groups/new", "Create group")
		b.fill("name", "auditors")
		b.fill("description", "Read everything")
		b.wantStatus("create group", b.submit("/console/groups/new"), http.StatusOK)
		at := b.path()
		page := strings.TrimSuffix(at, "?created=1")
		b.page(at, "auditors")

		b.fill("users", "hal")
		b.wantStatus("add member", b.submit(page+"/members/add"), http.StatusOK)
		b.page(page+"?added=1", "auditors")
		if members := runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#members ~ form tbody tr td:nth-child(2)")].map(td => td.innerText)`)); len(members) != 1 || members[0] != "hal@example.com" {
			t.Fatalf("members %q", members)
		}

		b.fill("confirm", "auditors")
		b.wantStatus("delete group", b.submit(page+"/delete"), http.StatusOK)
		b.page("/console/groups?deleted=1", "Groups")
	})

	t.Run("GrantAndExplain", func(t *testing.T) {
		admin := e.ConsoleUser(t, org, "kai", nil)
		e.grantOrg(t, admin, "organization.admin")
		liv := e.ConsoleUser(t, org, "liv", nil)
		b := newTab(t, browser, e.srv.URL)
		b.wantStatus("sign-in", b.signIn("Acme", "kai", apitest.ConsolePassword), http.StatusOK)
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/roles"]`)))
		b.page("/console/roles", "Roles")

		// A project, made in the console and worked in: the top bar
		// shows it and the grant form picks it first.
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/projects"]`)))
		b.page("/console/projects", "Projects")
		b.follow("Create project")
		b.page("/console/projects/new", "Create project")
		b.fill("name", "shop")
		b.wantStatus("create project", b.submit("/console/projects/new"), http.StatusOK)
		at := b.path()
		projectPage := strings.TrimSuffix(at, "?created=1")
		shop := strings.TrimPrefix(projectPage, "/console/projects/")
		b.page(at, "shop")
		b.wantStatus("work in the project", b.submit("/console/project"), http.StatusOK)
		b.page(projectPage, "shop")
		if bar := runIn(b, chromedp.Text(chromedp.CSS("header .context"))); !strings.Contains(bar, "Project shop") {
			t.Fatalf("top bar %q", bar)
		}

		page := "/console/users/" + liv.ID
		b.navigate(page)
		b.page(page, "liv")
		if scope := runIn(b, chromedp.Evaluate[string](`document.querySelector("#scope").value`)); scope != "project/"+shop {
			t.Fatalf("the grant form picks %q first", scope)
		}
		b.do(chromedp.SetValue(chromedp.CSS(`#roleId`), "project.reader"))
		b.wantStatus("grant", b.submit(page+"/grants"), http.StatusOK)
		b.page(page+"?granted=1", "liv")

		b.follow("Explain this user's access…")
		b.fill("action", "compute:GetInstance")
		b.fill("resource", "project/"+shop)
		b.load(chromedp.Submit(chromedp.CSS(`main form[action="/console/explain"]`)))
		b.page("/console/explain?user=liv&action=compute%3AGetInstance&resource=project%2F"+shop, "Explain access")
		answer := runIn(b, chromedp.Text(chromedp.CSS("section.answer")))
		if !strings.Contains(answer, "Allowed") || !strings.Contains(answer, "project.reader") || !strings.Contains(answer, "granted to the user") {
			t.Fatalf("explain's answer: %q", answer)
		}

		// The grant is in the audit log; the access keys list is empty.
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/audit"]`)))
		b.page("/console/audit", "Audit log")
		if actions := runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("main tbody tr td:nth-child(3)")].map(td => td.innerText)`)); !slices.Contains(actions, "iam:SetGrants") {
			t.Errorf("audit log actions %q lack the grant", actions)
		}
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/keys"]`)))
		b.page("/console/keys", "Access keys")
	})

	t.Run("Organization", func(t *testing.T) {
		b := newTab(t, browser, e.srv.URL)
		b.wantStatus("sign-in", b.signIn("Acme", "owner@acme.example", apitest.OwnerPassword), http.StatusOK)
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/organization"]`)))
		b.page("/console/organization", "Organization hierarchy")

		b.follow("Create OU")
		b.page("/console/ous/new", "Create OU")
		b.fill("name", "Research")
		b.wantStatus("create OU", b.submit("/console/ous/new"), http.StatusOK)
		at := b.path()
		ou := strings.TrimSuffix(strings.TrimPrefix(at, "/console/nodes/"), "?created=1")
		b.page(at, "Research")

		b.follow("Add account here")
		b.page("/console/accounts/new?parentId="+ou, "Add account")
		b.fill("name", "Lab")
		b.fill("email", "lab@acme.example")
		b.fill("emailConfirmation", "lab@acme.example")
		b.fill("iamRoleName", "OrgAdmin")
		b.wantStatus("add account", b.submit("/console/accounts/new"), http.StatusOK)
		at = b.path()
		account := strings.TrimSuffix(strings.TrimPrefix(at, "/console/nodes/"), "?created=1")
		b.page(at, "Lab")

		// With resources in use, deletion's checklist says so and its
		// button stays disabled.
		if _, err := e.DB.Services().Accounts.SetAccountAttributes(system, org, account, castellan.AccountAttributes{ResourcesInUse: 2, CloudControl: castellan.CloudControlNone}); err != nil {
			t.Fatal(err)
		}
		b.navigate("/console/nodes/" + account)
		b.page("/console/nodes/"+account, "Lab")
		unmet := runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#delete ~ ul.checklist li.unmet")].map(li => li.innerText)`))
		disabled := runIn(b, chromedp.Evaluate[bool](`document.querySelector('form[action$="/delete-account"] button').disabled`))
		if len(unmet) != 1 || !strings.Contains(unmet[0], "no resources in use") || !disabled {
			t.Fatalf("deletion checklist %q, button disabled %v", unmet, disabled)
		}

		// A control policy with a syntax error, shown on its line; then
		// a valid one.
		b.load(chromedp.Click(chromedp.CSS(`nav a[href="/console/policies"]`)))
		b.page("/console/policies", "Control policies")
		b.follow("Create policy")
		b.page("/console/policies/new", "Create control policy")
		b.fill("name", "No pushes")
		b.do(chromedp.SetValue(chromedp.CSS(`#document`), "forbid (\n  principal,\n  action == Action::\"registry:PushArtifact\"\n  resource\n);"))
		b.wantStatus("bad policy", b.submit("/console/policies/new"), http.StatusBadRequest)
		b.page("/console/policies/new", "Create control policy")
		bad := runIn(b, chromedp.Evaluate[[]string](`[...document.querySelectorAll("ol.code li.bad")].map(li => li.value + ": " + li.querySelector(".line-error").textContent)`))
		if len(bad) == 0 {
			t.Fatal("the syntax error is not shown on a line")
		}
		t.Logf("the editor's error: %q", bad)
		b.do(chromedp.SetValue(chromedp.CSS(`#document`), "forbid (\n  principal,\n  action == Action::\"registry:PushArtifact\",\n  resource\n);"))
		b.wantStatus("valid policy", b.submit("/console/policies/new"), http.StatusOK)
		at = b.path()
		if !strings.HasPrefix(at, "/console/policies/") || !strings.HasSuffix(at, "?created=1") {
			t.Fatalf("after creating the policy: at %s", at)
		}
		b.page(at, "No pushes")
	})

	t.Run("APIReference", func(t *testing.T) {
		b := newTab(t, browser, e.srv.URL)
		b.wantStatus("API reference", b.navigate("/docs"), http.StatusOK)
		styled := runIn(b, chromedp.Evaluate[bool](`getComputedStyle(document.querySelector("section.op")).borderRadius === "8px"`))
		ops := runIn(b, chromedp.Evaluate[int](`document.querySelectorAll("section.op[id^=op-]").length`))
		if !styled || ops < 100 {
			t.Fatalf("the reference: styled %v, %d operations", styled, ops)
		}
		if msgs := b.messages(); len(msgs) > 0 {
			t.Fatalf("the browser logged:\n%s", strings.Join(msgs, "\n"))
		}
		b.screenshotView("docs")
	})

	t.Run("WrongPassword", func(t *testing.T) {
		e.ConsoleUser(t, org, "bob", nil)
		b := newTab(t, browser, e.srv.URL)

		b.wantStatus("wrong password", b.signIn("Acme", "bob", apitest.ConsolePassword+"x"), http.StatusUnauthorized)
		b.page("/console/sign-in", "Sign in")
		if alert := runIn(b, chromedp.Text(chromedp.CSS(`p[role="alert"]`))); !strings.HasPrefix(alert, signInFailedAlert) {
			t.Fatalf("alert %q", alert)
		}
		// The failed page's form works: it carries a fresh token.
		b.fill("organization", "Acme")
		b.fill("login", "bob")
		b.fill("password", apitest.ConsolePassword)
		b.wantStatus("second sign-in", b.submit("/console/sign-in"), http.StatusOK)
		b.page("/console", "Home")
		if home := runIn(b, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(home, "Signed in as bob") {
			t.Fatalf("home page: %q", home)
		}
	})

	t.Run("ContentSecurityPolicy", func(t *testing.T) {
		e.ConsoleUser(t, org, "cyd", func(r *castellan.UserRegistration) { r.MFAMandatory = true })
		b := newTab(t, browser, e.srv.URL)

		// b.page checks on every page that the style sheet applied and
		// that nothing was logged; the sign-in page has been checked so.
		b.wantStatus("sign-in", b.signIn("Acme", "cyd", apitest.ConsolePassword), http.StatusOK)
		b.page("/console/mfa/setup", "Set up a second factor")
		if w := b.qrWidth(); w <= 0 {
			t.Fatalf("the QR code did not load: natural width %d", w)
		}

		// The check can fail: a style sheet the policy does not allow is
		// refused, the browser reports it, and it does not apply.
		b.do(chromedp.Evaluate[chromedp.Void](`(() => {
			const s = document.createElement("style");
			s.textContent = "body{margin:10px}";
			document.head.append(s);
		})()`))
		ctx, cancel := context.WithTimeout(b.ctx, browserStep)
		defer cancel()
		select {
		case <-b.cspReported:
		case <-ctx.Done():
			t.Fatalf("no CSP report for a style sheet the policy forbids; the browser logged %q", b.messages())
		}
		b.styled("/console/mfa/setup")
		if msgs := b.messages(); len(msgs) != 1 || !isCSPReport(msgs[0]) {
			t.Fatalf("the browser logged %q, want one CSP report", msgs)
		}
		t.Logf("the browser's report of a forbidden style sheet: %s", b.messages()[0])
	})
}
