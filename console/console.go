// Package console is Castellan's web console: server-rendered pages under
// /console (html/template, no JavaScript), its sign-in, sessions and
// CSRF protection, and the invitation page. It renders errors as its own
// HTML pages from castellan.Error; request IDs, logs, client addresses
// and session checks are package web's.
package console

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sso"
	"github.com/castellan-iam/castellan/web"
)

// A session is a cookie holding a random secret (the store keeps its
// hash); every form carries a CSRF token derived from that secret, and
// the sign-in form, before any session exists, a double-submit token.

const (
	// sessionCookie holds the session's secret.
	sessionCookie = "castellan_session"
	// signInCookie holds the sign-in form's double-submit token.
	signInCookie = "castellan_sign_in"
	// Path is where the console's pages are.
	Path        = "/console"
	consolePath = Path
)

// Config is what a Console needs.
type Config struct {
	Services castellan.Services
	// Decisions answers the explain page, guarded as the decision API
	// is.
	Decisions castellan.DecisionService
	// Web authenticates sessions and tells where requests come from.
	Web *web.Plumbing
	// SignIn is the sign-in policy: session timeouts and lockout; the
	// zero value means castellan.DefaultSignInPolicy.
	SignIn castellan.SignInPolicy
	// SignInPerSource limits sign-in attempts per client address, across
	// accounts (the lockout counts per account); zero takes
	// DefaultSignInPerSource.
	SignInPerSource web.RateLimit
	// Clock drives the rate limit and tells which keys have expired; nil
	// means castellan.SystemClock.
	Clock castellan.Clock
	// DevMailbox, when set (a server without SMTP), serves the dev
	// mailbox page: the outbox's mails rendered, as the API's dev
	// mailbox.
	DevMailbox castellan.MailRenderer
	// SecureCookies makes every console cookie Secure (and
	// __Secure-prefixed), as when users reach the server over https
	// through a TLS-terminating proxy (an https --public-url). Without
	// it, cookies are Secure on requests that came over TLS, or whose
	// trusted proxy says X-Forwarded-Proto: https.
	SecureCookies bool
	// SSO signs users in through their organization's identity
	// providers; nil means sso.New's defaults.
	SSO *sso.Client
	// PublicURL is where browsers reach the server (serve --public-url):
	// identity providers send them back to its /console/sso/callback.
	PublicURL string
}

// DefaultSignInPerSource lets an office behind one address sign in
// together in the morning, and holds a password sprayer, who tries one
// password on many accounts and so never trips a lockout, to one guess a
// second.
var DefaultSignInPerSource = web.RateLimit{PerSecond: 1, Burst: 30}

// Console serves the console's pages and the invitation page.
type Console struct {
	services      castellan.Services
	decisions     castellan.DecisionService
	devMailbox    castellan.MailRenderer
	web           *web.Plumbing
	signInPolicy  castellan.SignInPolicy
	secureCookies bool
	signInPerIP   *web.Limiter
	signInKey     signInKey
	now           castellan.Clock
	sso           *sso.Client
	publicURL     string
}

// New builds the console of cfg.
func New(cfg Config) *Console {
	c := &Console{services: cfg.Services, decisions: cfg.Decisions, devMailbox: cfg.DevMailbox, web: cfg.Web, signInPolicy: cfg.SignIn, secureCookies: cfg.SecureCookies,
		signInPerIP: web.NewLimiter(cmp.Or(cfg.SignInPerSource, DefaultSignInPerSource), cfg.Clock)}
	c.now = cfg.Clock
	if c.now == nil {
		c.now = castellan.SystemClock
	}
	c.sso, c.publicURL = cfg.SSO, strings.TrimSuffix(cfg.PublicURL, "/")
	if c.sso == nil {
		c.sso = sso.New(sso.Options{Now: c.now})
	}
	if c.signInPolicy == (castellan.SignInPolicy{}) {
		c.signInPolicy = castellan.DefaultSignInPolicy
	}
	return c
}

// Anonymous reports whether the console serves path: its pages
// authenticate by their session cookie, the invitation page by the
// link's token, never by a bearer token (for web.Config.Anonymous).
func Anonymous(path string) bool {
	return path == consolePath || strings.HasPrefix(path, consolePath+"/") || path == invitationPath
}

//go:embed templates/*.html
var consoleFiles embed.FS

// consoleStyle is the console's one style sheet, inline: the CSP allows
// exactly it by its hash. Colours are variables, dark when the system
// prefers it; the navigation folds above the content on a narrow screen.
const consoleStyle = `:root{--bg:#f6f7f9;--panel:#fff;--text:#1b1f24;--muted:#57606a;--line:#d8dee4;--accent:#0b5cad;--accent-text:#fff;
--ok:#116329;--ok-bg:#dafbe1;--warn:#7d4e00;--warn-bg:#fff8c5;--bad:#a40e26;--bad-bg:#ffebe9;--idle:#57606a;--idle-bg:#eaeef2;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--panel:#161b22;--text:#e6edf3;--muted:#9da7b3;--line:#30363d;--accent:#4493f8;--accent-text:#0d1117;
--ok:#3fb950;--ok-bg:#12261e;--warn:#d29922;--warn-bg:#272115;--bad:#f85149;--bad-bg:#2d1416;--idle:#9da7b3;--idle-bg:#21262d}}
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,sans-serif;background:var(--bg);color:var(--text)}
a{color:var(--accent)}a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;justify-content:space-between;padding:.6rem 1.25rem;background:var(--panel);border-bottom:1px solid var(--line)}
.brand{font-weight:700;text-decoration:none;color:var(--text)}.context{color:var(--muted);font-size:.9rem}.context strong{color:var(--text)}
.shell{display:flex;min-height:calc(100vh - 3.2rem)}nav.side{flex:0 0 12rem;padding:1rem .75rem;border-right:1px solid var(--line);background:var(--panel)}
nav.side a{display:block;padding:.35rem .6rem;border-radius:6px;text-decoration:none;color:var(--text)}nav.side a[aria-current=page]{background:var(--idle-bg);font-weight:600}
nav.side h2{font-size:.75rem;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:1rem .6rem .3rem}
main{flex:1;min-width:0;padding:1.25rem 1.5rem;max-width:80rem}main.narrow{max-width:34rem;margin:2rem auto}h1{font-size:1.5rem;margin:.2rem 0 1rem}
form.inline{display:inline}label{display:block;font-weight:600;margin:.6rem 0 .2rem}.hint{display:block;font-weight:400;color:var(--muted);font-size:.85rem}
input,select,textarea{font:inherit;font-weight:400;padding:.4rem .5rem;border:1px solid var(--line);border-radius:6px;background:var(--panel);color:var(--text);min-width:16rem;max-width:100%}
button,.button{font:inherit;padding:.4rem .9rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-text);cursor:pointer;text-decoration:none;display:inline-block}
button.quiet,.button.quiet{background:transparent;color:var(--accent)}.toolbar{display:flex;flex-wrap:wrap;gap:.75rem;align-items:end;margin-bottom:1rem}
.toolbar label{margin:0}.toolbar input,.toolbar select{min-width:10rem}
.error{color:var(--bad);background:var(--bad-bg);padding:.5rem .75rem;border-radius:6px;font-weight:600}.notice{color:var(--ok);background:var(--ok-bg);padding:.5rem .75rem;border-radius:6px}
.table-wrap{overflow-x:auto;background:var(--panel);border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.5rem .75rem;border-bottom:1px solid var(--line);white-space:nowrap}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}td.num,th.num{text-align:right}tr:last-child td{border-bottom:0}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600}.badge.active{color:var(--ok);background:var(--ok-bg)}
.badge.pending_invitation{color:var(--warn);background:var(--warn-bg)}.badge.disabled{color:var(--bad);background:var(--bad-bg)}.badge.idle{color:var(--idle);background:var(--idle-bg)}
caption{caption-side:bottom;text-align:left;padding:.5rem .75rem;color:var(--muted);font-size:.85rem}.empty{padding:2rem;text-align:center;color:var(--muted)}.pager{display:flex;gap:1rem;justify-content:space-between;align-items:center;margin-top:.75rem;color:var(--muted)}
.field-error{display:block;color:var(--bad);font-size:.9rem;margin-top:.2rem}[aria-invalid=true]{border-color:var(--bad)}
fieldset{border:1px solid var(--line);border-radius:8px;margin:1rem 0;padding:.5rem 1rem}legend{font-weight:600}label.choice{font-weight:400}label.choice input{min-width:0;margin-right:.4rem}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.5rem;margin:0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
section.danger{border:1px solid var(--bad);border-radius:8px;padding:0 1rem .5rem;margin-top:2rem}button.danger{background:var(--bad);border-color:var(--bad);color:#fff}
textarea{width:100%;max-width:40rem}ul.tree{list-style:none;margin:0;padding:.5rem 1rem}ul.tree li{padding:.2rem 0}
ul.tree li.depth-1{padding-left:1.5rem}ul.tree li.depth-2{padding-left:3rem}ul.tree li.depth-3{padding-left:4.5rem}ul.tree li.depth-4{padding-left:6rem}ul.tree li.depth-5{padding-left:7.5rem}ul.tree li.depth-6{padding-left:9rem}
nav.crumbs{color:var(--muted);margin-bottom:1rem}ul.checklist{list-style:none;padding-left:0}ul.checklist li.met{color:var(--ok)}ul.checklist li.unmet{color:var(--bad);font-weight:600}
button:disabled{opacity:.45;cursor:not-allowed}textarea.code,ol.code{font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace}textarea.code{max-width:none;min-height:12rem}
ol.code{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:.5rem .5rem .5rem 3.5rem;margin:.5rem 0;overflow-x:auto}
ol.code li{white-space:pre;padding-left:.5rem}ol.code li::marker{color:var(--muted)}ol.code li.bad{background:var(--bad-bg)}ol.code .line-error{display:block;white-space:normal;color:var(--bad);font-family:system-ui,sans-serif}td.wrap{white-space:normal;min-width:20rem}ul.actions{columns:3 14rem;padding-left:1.2rem}h3{font-size:1rem;margin:1.25rem 0 .25rem}
form.grant{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:.25rem 1rem .75rem;margin-top:1rem}section.answer h2{display:flex;gap:1rem;align-items:center}th.pick,td.pick{width:2.5rem}td.pick input{min-width:0}.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
table.form td{white-space:normal;vertical-align:top}table.form input{min-width:11rem}tr.invalid{background:var(--bad-bg)}
code.wrap{word-break:break-all}ul.codes{columns:2;font-size:1.1rem}.busy{display:flex;gap:.6rem;align-items:center;color:var(--muted);margin:.5rem 0}.busy[hidden]{display:none}
form[aria-busy=true] button[type=submit]{opacity:.6;cursor:progress}.badge.bad{color:var(--bad);background:var(--bad-bg)}
article.mail{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:0 1rem;margin-bottom:1rem}article.mail h2{margin-top:.75rem}.meta{color:var(--muted);margin:.25rem 0}
pre.mail-body{white-space:pre-wrap;overflow-wrap:anywhere;font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace}
@media (max-width:760px){.shell{display:block}nav.side{border-right:0;border-bottom:1px solid var(--line);display:flex;flex-wrap:wrap;gap:.25rem}nav.side h2{display:none}main{padding:1rem}}`

// consoleScript is the console's one script, inline and allowed by its
// hash; every page works without it. It shows that a form is at work
// while its answer comes: a form marked data-busy gets aria-busy, its
// hidden .busy status appears with data-busy's words ({n} counts the
// filled [data-count] fields: the rows of a quick register), and a
// second submission is held back until the first is answered. Coming
// back to the page from the history clears it.
const consoleScript = `document.addEventListener("submit",e=>{const f=e.target;if(!f.matches("form[data-busy]"))return;
if(f.getAttribute("aria-busy")==="true"){e.preventDefault();return}f.setAttribute("aria-busy","true");
const s=f.querySelector(".busy");if(s){const n=[...f.querySelectorAll("[data-count]")].filter(i=>i.value.trim()!=="").length;
s.querySelector(".busy-text").textContent=f.dataset.busy.replace("{n}",n);s.hidden=false}});
addEventListener("pageshow",()=>{for(const f of document.querySelectorAll("form[aria-busy]")){f.removeAttribute("aria-busy");
const s=f.querySelector(".busy");if(s)s.hidden=true}});`

var (
	// consoleCSP allows the inline style sheet and script, by their
	// hashes, and nothing else.
	consoleCSP = web.PageCSP + "; style-src 'sha256-" + hashOf(consoleStyle) + "'; script-src 'sha256-" + hashOf(consoleScript) + "'"
	// consoleImagesCSP adds data: images, for the QR code of the MFA
	// setup page.
	consoleImagesCSP = consoleCSP + "; img-src data:"
	consolePages     = parseConsolePages()
)

// hashOf is the CSP hash source of an inline style sheet or script.
func hashOf(inline string) string {
	sum := sha256.Sum256([]byte(inline))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// parseConsolePages parses each page with the layout.
func parseConsolePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").ParseFS(consoleFiles, "templates/layout.html", "templates/partials.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"sign-in", "mfa", "mfa-setup", "recovery-codes", "password", "home", "sessions", "users", "user-new", "users-quick", "user", "groups", "group-new", "group", "roles", "role", "role-new", "explain", "organization", "ou-new", "account-new", "node", "policies", "policy-new", "policy", "keys", "audit", "invitations", "profile", "own-keys", "accounts", "invitation", "mailbox", "projects", "project-new", "project", "federations", "federation-new", "federation", "sso-redirect", "error"} {
		pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(consoleFiles, "templates/"+name+".html"))
	}
	return pages
}

// consolePage is what the console's templates read.
type consolePage struct {
	CSRF   string
	User   *castellan.User
	Error  string
	Notice string
	// error page
	ErrorTitle, RequestID string
	// OrganizationName is the signed-in user's organization, shown on
	// every page (home too).
	OrganizationName string
	// Nav is the navigation entry of the page, marked as current.
	Nav string
	// DevMailbox shows the dev mailbox in the navigation.
	DevMailbox bool
	// Project is the project the console works in, shown in the top
	// bar; nil for none.
	Project *castellan.Project
	// users
	Users      *userList
	UserForm   *userForm
	UserDetail *userDetail
	QuickForm  *quickForm
	// groups
	Groups      *listPage[castellan.Group]
	GroupForm   *groupForm
	GroupDetail *groupDetail
	// roles and explain
	Roles       []*castellan.Role
	Role        *castellan.Role
	RoleActions []string
	RoleForm    *roleForm
	Explanation *explanation
	// organization
	Tree        *orgTree
	NodeForm    *nodeForm
	NodeDetail  *nodeDetail
	Invitations *invitations
	Profile     *profile
	// SSO is the page taking the browser to its identity provider.
	SSO        *ssoRedirect
	OwnKeys    *ownKeys
	Invitation *invitationPageData
	Accounts   *listPage[castellan.Account]
	// projects
	Projects      *projectList
	ProjectForm   *projectForm
	ProjectDetail *projectDetail
	// federations
	Federations      *federationsPage
	FederationForm   *federationForm
	FederationDetail *federationDetail
	// control policies
	Policies     []*castellan.ControlPolicy
	PolicyForm   *policyForm
	PolicyDetail *policyDetail
	// records
	Keys    *keyList
	Audit   *auditLog
	Mailbox *mailbox
	// MFA setup, and the rules its last try broke
	Setup         *castellan.TOTPSetup
	SetupFields   fieldErrors
	QRCode        template.URL
	RecoveryCodes []string
	Next          string
	// password, and the login ID its form names for password managers
	RequireCurrent bool
	Login          string
	// sessions
	Sessions       []*castellan.Session
	CurrentSession string
}

// UserStatuses, UserSorts and StatusLabels are the users page's choices
// and the names of the statuses.
func (consolePage) UserStatuses() []option          { return userStatuses }
func (consolePage) UserSorts() []option             { return userSorts }
func (consolePage) StatusLabels() map[string]string { return statusLabels }

// Style is the inline style sheet.
func (consolePage) Style() template.CSS { return template.CSS(consoleStyle) }

// Script is the inline script.
func (consolePage) Script() template.JS { return template.JS(consoleScript) }

// renderConsole writes page name with status.
func renderConsole(ctx context.Context, w http.ResponseWriter, status int, name string, data consolePage) {
	csp := consoleCSP
	if data.Setup != nil {
		csp = consoleImagesCSP
	}
	web.StartPage(w, status, csp)
	if err := consolePages[name].Execute(w, data); err != nil {
		web.Logger(ctx).Error("console page", "page", name, "err", err)
	}
}

// renderFailed renders page p with err's status and message in its
// alert: what could not be read is left out.
func renderFailed(w http.ResponseWriter, r *http.Request, p consolePage, page string, err error) {
	status, msg := publicError(r.Context(), err)
	p.Error = msg
	renderConsole(r.Context(), w, status, page, p)
}

// publicError is err as the console shows it: its HTTP status and the
// message a user may read (internal errors are logged and hidden), with
// its code noted for the metrics.
func publicError(ctx context.Context, err error) (int, string) {
	e := web.PublicError(ctx, err)
	web.NoteErrorCode(ctx, e.Code)
	return web.Status(e.Kind), e.Message
}

// renderConsoleError renders err as the console's error page.
func renderConsoleError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := publicError(r.Context(), err)
	renderConsole(r.Context(), w, status, "error", consolePage{ErrorTitle: http.StatusText(status), Error: msg,
		RequestID: castellan.RequestInfoFrom(r.Context()).RequestID})
}

var errCSRF = castellan.Errorf(castellan.EFORBIDDEN, castellan.CodeCSRFFailed,
	"the form is stale or was sent from another site; reload the page and try again")

// randomToken returns 32 random bytes in base64url.
func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// csrfToken is the form token of the session whose secret is token: an
// HMAC of it, so that the page can show it without showing the secret.
func csrfToken(token string) string {
	return macToken([]byte(token), "castellan console csrf")
}

// macToken is the HMAC-SHA256 of msg under key, in base64url.
func macToken(key []byte, msg string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// sameToken compares a submitted token with the expected one in constant
// time; an empty expectation never matches.
func sameToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameSite reports whether a POST may come from a page of this server: a
// browser names the page's origin in Origin, and its fetch metadata says
// when a request is cross-site. Requests without either (old browsers,
// non-browser clients) are left to the CSRF token.
func sameSite(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	origin := r.Header.Get("Origin")
	// Under Referrer-Policy: no-referrer a browser sends "Origin: null"
	// even on a same-origin form post; its fetch metadata, which pages
	// cannot forge, says where the post came from.
	if origin == "" || origin == "null" && r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// readForm parses a POST's form after the same-site check; it refuses
// values that are not UTF-8 or hold NUL bytes, which the body check
// cannot see through the URL encoding.
func readForm(r *http.Request) error {
	if !sameSite(r) {
		return errCSRF
	}
	if err := r.ParseForm(); err != nil {
		return castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidField, "the form could not be read")
	}
	for name, values := range r.PostForm {
		for _, v := range values {
			if !utf8.ValidString(name) || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
				return castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidUTF8, "form values must be UTF-8 without NUL bytes")
			}
		}
	}
	return nil
}

// secureRequest reports whether the browser reached the server over
// https: the server is configured to be reached over https only
// (SecureCookies), or the request came over TLS or through a trusted
// proxy that says so (web.Plumbing.HTTPS).
func (s *Console) secureRequest(r *http.Request) bool {
	return s.secureCookies || s.web.HTTPS(r)
}

// cookieName is the name of a console cookie on r: over https it has the
// __Secure- prefix, which browsers accept only on a Secure cookie set over
// https, so that a page served over plain http cannot set or overwrite
// it. (__Host- would need Path=/; the console's cookies are for /console
// only.)
func (s *Console) cookieName(r *http.Request, name string) string {
	if s.secureRequest(r) {
		return "__Secure-" + name
	}
	return name
}

// cookie returns the value of the console cookie name on r.
func (s *Console) cookie(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(s.cookieName(r, name))
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// setCookie sets a console cookie: HttpOnly, SameSite=Lax, for /console
// only, Secure (and __Secure-prefixed) when the browser came over https;
// a session cookie of the browser (no expiry) unless clear.
func (s *Console) setCookie(w http.ResponseWriter, r *http.Request, name, value string, clear bool) {
	secure := s.secureRequest(r)
	c := &http.Cookie{Name: s.cookieName(r, name), Value: value, Path: consolePath, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure}
	if clear {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
}

// setSession sets the session cookie to token, or clears it for "". A
// session's start or end also forgets the project the console worked in,
// so that the next user of the browser does not inherit it.
func (s *Console) setSession(w http.ResponseWriter, r *http.Request, token string) {
	s.setCookie(w, r, sessionCookie, token, token == "")
	s.setCookie(w, r, projectCookie, "", true)
}

// stepPath is the page a session in state belongs on.
func stepPath(state castellan.SessionState) string {
	switch state {
	case castellan.SessionMFAPending:
		return consolePath + "/mfa"
	case castellan.SessionPasswordChange:
		return consolePath + "/password"
	}
	return consolePath
}

// consoleRequest is a request of a signed-in session.
type consoleRequest struct {
	session *castellan.Session
	user    *castellan.User
	csrf    string
	// organization is the user's organization's name, once the sign-in
	// is complete.
	organization string
	// devMailbox tells whether the server has the dev mailbox page and
	// the user may read it.
	devMailbox bool
	// project is the project the console works in, if any.
	project *castellan.Project
}

// page returns the page data every page of the session starts from.
func (c *consoleRequest) page() consolePage {
	p := consolePage{CSRF: c.csrf}
	if c.session.State == castellan.SessionComplete {
		p.User, p.OrganizationName, p.DevMailbox, p.Project = c.user, c.organization, c.devMailbox, c.project
	}
	return p
}

// withSession serves a page of a session in one of states. A request
// without a live session goes to the sign-in page; a session at another
// step goes to that step's page; an address outside the user's console
// allow list is refused on every request; a POST needs the session's
// CSRF token and must not come from another site. The caller is the
// request's principal (web.Plumbing.AuthenticateSession).
func (s *Console) withSession(h func(http.ResponseWriter, *http.Request, *consoleRequest), states ...castellan.SessionState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		token, ok := s.cookie(r, sessionCookie)
		if !ok {
			seeOther(w, consolePath+"/sign-in")
			return
		}
		r, sess, user, err := s.web.AuthenticateSession(r, token)
		if castellan.ErrorKind(err) == castellan.EUNAUTHENTICATED {
			s.setSession(w, r, "")
			seeOther(w, consolePath+"/sign-in")
			return
		}
		if err != nil {
			renderConsoleError(w, r, err)
			return
		}
		if ip := castellan.RequestInfoFrom(ctx).SourceIP; !user.ConsoleIPAllowed(ip) {
			renderConsoleError(w, r, castellan.Errorf(castellan.EFORBIDDEN, castellan.CodeConsoleIPNotAllowed,
				"your address %s is not allowed to use the console for this user", ip))
			return
		}
		c := &consoleRequest{session: sess, user: user, csrf: csrfToken(token)}
		if r.Method == http.MethodPost {
			if err := readForm(r); err != nil {
				renderConsoleError(w, r, err)
				return
			}
			if !sameToken(r.PostForm.Get("csrf"), c.csrf) {
				renderConsoleError(w, r, errCSRF)
				return
			}
		}
		allowed := false
		for _, st := range states {
			allowed = allowed || st == sess.State
		}
		if !allowed {
			seeOther(w, stepPath(sess.State))
			return
		}
		if sess.State == castellan.SessionComplete {
			org, err := s.services.Organizations.FindOrganizationByID(r.Context(), user.OrganizationID)
			if err != nil {
				renderConsoleError(w, r, err)
				return
			}
			c.organization = org.Name
			c.project = s.currentProject(r, c)
			c.devMailbox = s.readsMailbox(r, c)
		}
		h(w, r, c)
	}
}

// Register serves the console's pages and the invitation page on mux.
func (s *Console) Register(mux *http.ServeMux) {
	complete := castellan.SessionComplete
	// signedIn serves a page of a session whose sign-in is complete.
	signedIn := func(pattern string, h func(http.ResponseWriter, *http.Request, *consoleRequest)) {
		mux.HandleFunc(pattern, s.withSession(h, complete))
	}
	mux.HandleFunc("GET /console/sign-in", s.signInPage)
	mux.HandleFunc("POST /console/sign-in", s.signIn)
	mux.HandleFunc("POST /console/sso/start", s.ssoStart)
	mux.HandleFunc("GET /console/sso/callback/{federation}", s.ssoCallback)
	mux.HandleFunc("GET /console/mfa", s.withSession(s.mfaPage, castellan.SessionMFAPending))
	mux.HandleFunc("POST /console/mfa", s.withSession(s.verifyMFA, castellan.SessionMFAPending))
	mux.HandleFunc("GET /console/mfa/setup", s.withSession(s.mfaSetupPage, castellan.SessionMFAPending, complete))
	mux.HandleFunc("POST /console/mfa/setup", s.withSession(s.confirmMFASetup, castellan.SessionMFAPending, complete))
	mux.HandleFunc("POST /console/mfa/setup/restart", s.withSession(s.restartMFASetup, castellan.SessionMFAPending, complete))
	mux.HandleFunc("GET /console/password", s.withSession(s.passwordPage, castellan.SessionPasswordChange, complete))
	mux.HandleFunc("POST /console/password", s.withSession(s.changePassword, castellan.SessionPasswordChange, complete))
	mux.HandleFunc("POST /console/sign-out", s.withSession(s.signOut, castellan.SessionMFAPending, castellan.SessionPasswordChange, complete))
	signedIn("GET /console", s.homePage)
	// /console/ goes straight to where /console would send the browser:
	// home when signed in, else the sign-in page or the session's step.
	mux.HandleFunc("GET /console/{$}", s.withSession(func(w http.ResponseWriter, _ *http.Request, _ *consoleRequest) {
		seeOther(w, consolePath)
	}, complete))
	signedIn("GET /console/sessions", s.sessionsPage)
	signedIn("GET /console/profile", s.profilePage)
	signedIn("GET /console/profile/keys", s.ownKeysPage)
	signedIn("POST /console/profile/keys", s.createOwnKey)
	signedIn("POST /console/profile/keys/delete", confirmed(s.deleteOwnKey))
	signedIn("GET /console/groups", s.groupsPage)
	signedIn("GET /console/groups/new", s.newGroupPage)
	signedIn("POST /console/groups/new", s.createGroup)
	signedIn("GET /console/groups/{group}", s.groupPage)
	signedIn("POST /console/groups/{group}/members/add", s.addMembers)
	signedIn("POST /console/groups/{group}/members/remove", confirmed(s.removeMembers))
	signedIn("POST /console/groups/{group}/delete", s.deleteGroup)
	signedIn("POST /console/groups/{group}/grants", s.grantTo(groupGrantee))
	signedIn("POST /console/groups/{group}/grants/revoke", s.changeRoles(groupGrantee, "revoked", s.revoke))
	signedIn("POST /console/users/{user}/grants", s.grantTo(userGrantee))
	signedIn("POST /console/users/{user}/grants/revoke", s.changeRoles(userGrantee, "revoked", s.revoke))
	signedIn("POST /console/users/{user}/grants/set", s.changeRoles(userGrantee, "granted", s.setRoles))
	signedIn("POST /console/groups/{group}/grants/set", s.changeRoles(groupGrantee, "granted", s.setRoles))
	signedIn("GET /console/roles", s.rolesPage)
	signedIn("GET /console/roles/new", s.newRolePage)
	signedIn("POST /console/roles/new", s.createRole)
	signedIn("GET /console/roles/{role}", s.rolePage)
	signedIn("POST /console/roles/{role}/edit", s.updateRole)
	signedIn("POST /console/roles/{role}/delete", confirmed(s.deleteRole))
	signedIn("GET /console/explain", s.explainPage)
	signedIn("GET /console/organization", s.organizationPage)
	signedIn("GET /console/ous/new", s.newOUPage)
	signedIn("POST /console/ous/new", s.createOU)
	signedIn("GET /console/accounts/new", s.newAccountPage)
	signedIn("POST /console/accounts/new", s.createAccount)
	signedIn("GET /console/accounts", s.accountsPage)
	signedIn("GET /console/accounts/invitations", s.invitationsPage)
	signedIn("POST /console/accounts/invitations", s.inviteAccounts)
	signedIn("POST /console/accounts/invitations/cancel", s.cancelInvitation)
	signedIn("GET /console/nodes/{node}", s.nodePage)
	signedIn("POST /console/nodes/{node}/move", s.nodeAction(s.moveNode))
	signedIn("POST /console/nodes/{node}/attach", s.nodeAction(s.attachPolicy))
	signedIn("POST /console/nodes/{node}/detach", confirmed(s.nodeAction(s.detachPolicy)))
	signedIn("POST /console/nodes/{node}/delete-ou", confirmed(s.nodeAction(s.deleteOU)))
	signedIn("POST /console/nodes/{node}/delete-account", s.nodeAction(s.deleteAccount))
	signedIn("POST /console/nodes/{node}/exclude", confirmed(s.nodeAction(s.excludeAccount)))
	signedIn("GET /console/projects", s.projectsPage)
	signedIn("GET /console/projects/new", s.newProjectPage)
	signedIn("POST /console/projects/new", s.createProject)
	signedIn("GET /console/projects/{project}", s.projectPage)
	signedIn("POST /console/projects/{project}/delete", confirmed(s.deleteProject))
	signedIn("GET /console/federations", s.federationsPage)
	signedIn("GET /console/federations/new", s.newFederationPage)
	signedIn("POST /console/federations/new", s.createFederation)
	signedIn("GET /console/federations/{federation}", s.federationPage)
	signedIn("POST /console/federations/{federation}/users", s.addFederatedUsers)
	signedIn("POST /console/federations/{federation}/settings", s.updateFederation)
	signedIn("POST /console/federations/{federation}/delete", confirmed(s.deleteFederation))
	signedIn("POST /console/scim-tokens", s.createSCIMToken)
	signedIn("POST /console/scim-tokens/delete", confirmed(s.deleteSCIMToken))
	signedIn("POST /console/project", s.workIn)
	signedIn("GET /console/keys", s.accessKeysPage)
	signedIn("GET /console/audit", s.auditPage)
	if s.devMailbox != nil {
		signedIn("GET /console/mailbox", s.mailboxPage)
	}
	signedIn("GET /console/policies", s.policiesPage)
	signedIn("GET /console/policies/new", s.newPolicyPage)
	signedIn("POST /console/policies/new", s.createPolicy)
	signedIn("GET /console/policies/{policy}", s.policyPage)
	signedIn("POST /console/policies/{policy}/delete", confirmed(s.deletePolicy))
	signedIn("GET /console/users", s.usersPage)
	signedIn("GET /console/users/new", s.registerPage)
	signedIn("POST /console/users/new", s.register)
	signedIn("GET /console/users/quick", s.quickRegisterPage)
	signedIn("POST /console/users/quick", s.quickRegister)
	signedIn("GET /console/users/{user}", s.userPage)
	signedIn("POST /console/users/{user}/delete", s.deleteUser)
	signedIn("POST /console/users/{user}/resend-invitation", s.resendInvitation)
	signedIn("POST /console/sessions/revoke", s.revokeSessionForm)
	signedIn("POST /console/sessions/revoke-others", s.revokeOtherSessionsForm)
	s.registerInvitationPage(mux)
}

// notices are the messages of a page by the query flag (?created=1) a
// form's redirect back to it sets.
type notices [][2]string

// of returns the message of the first flag r's query sets, or "".
func (n notices) of(r *http.Request) string {
	q := r.URL.Query()
	for _, f := range n {
		if q.Get(f[0]) != "" {
			return f[1]
		}
	}
	return ""
}

// confirmed serves h only for a form whose "confirm" box is ticked: each
// destructive button of the console sits beside one, required in the
// page; a post that skipped it is refused here and changes nothing.
func confirmed(h func(http.ResponseWriter, *http.Request, *consoleRequest)) func(http.ResponseWriter, *http.Request, *consoleRequest) {
	return func(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
		if r.PostForm.Get("confirm") != "on" {
			renderConsoleError(w, r, castellan.Invalid([]castellan.FieldError{{Field: "confirm", Rule: "required",
				Message: "tick the box beside the button to confirm"}}))
			return
		}
		h(w, r, c)
	}
}

// seeOther redirects a browser to path with 303.
func seeOther(w http.ResponseWriter, path string) { web.SeeOther(w, path) }
