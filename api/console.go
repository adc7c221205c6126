package api

import (
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
)

// The web console: server-rendered pages under /console, no JavaScript.
// A session is a cookie holding a random secret (the store keeps its
// hash); every form carries a CSRF token derived from that secret, and
// the sign-in form, before any session exists, a double-submit token.

const (
	// sessionCookie holds the session's secret.
	sessionCookie = "castellan_session"
	// signInCookie holds the sign-in form's double-submit token.
	signInCookie = "castellan_sign_in"
	consolePath  = "/console"
)

//go:embed templates/console/*.html
var consoleFiles embed.FS

// consoleStyle is the console's one style sheet, inline: the CSP allows
// exactly it by its hash.
const consoleStyle = `body{font-family:system-ui,sans-serif;max-width:56rem;margin:0 auto;padding:0 1rem;color:#1b1f24}
header{display:flex;justify-content:space-between;align-items:center;border-bottom:1px solid #ccd;padding:.6rem 0}
nav a{margin-right:.8rem}form.inline{display:inline}input{padding:.3rem;min-width:18rem}
button{padding:.3rem .8rem}.error{color:#a40e26;font-weight:bold}.notice{color:#11602b}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem;border-bottom:1px solid #e3e3e8}
code.wrap{word-break:break-all}ul.codes{columns:2;font-size:1.1rem}`

var (
	// consoleCSP allows the inline style sheet, by its hash, and nothing
	// else.
	consoleCSP = pageCSP + "; style-src 'sha256-" + styleHash() + "'"
	// consoleImagesCSP adds data: images, for the QR code of the MFA
	// setup page.
	consoleImagesCSP = consoleCSP + "; img-src data:"
	consolePages     = parseConsolePages()
)

func styleHash() string {
	sum := sha256.Sum256([]byte(consoleStyle))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// parseConsolePages parses each page with the layout.
func parseConsolePages() map[string]*template.Template {
	layout := template.Must(template.New("layout.html").ParseFS(consoleFiles, "templates/console/layout.html"))
	pages := map[string]*template.Template{}
	for _, name := range []string{"sign-in", "mfa", "mfa-setup", "recovery-codes", "password", "home", "sessions", "error"} {
		pages[name] = template.Must(template.Must(layout.Clone()).ParseFS(consoleFiles, "templates/console/"+name+".html"))
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
	// home
	OrganizationName string
	// MFA setup
	Setup         *castellan.TOTPSetup
	QRCode        template.URL
	RecoveryCodes []string
	Next          string
	// password
	RequireCurrent bool
	// sessions
	Sessions       []*castellan.Session
	CurrentSession string
}

// Style is the inline style sheet.
func (consolePage) Style() template.CSS { return template.CSS(consoleStyle) }

// renderConsole writes page name with status.
func renderConsole(ctx context.Context, w http.ResponseWriter, status int, name string, data consolePage) {
	csp := consoleCSP
	if data.Setup != nil {
		csp = consoleImagesCSP
	}
	startPage(w, status, csp)
	if err := consolePages[name].Execute(w, data); err != nil {
		loggerFrom(ctx).Error("console page", "page", name, "err", err)
	}
}

// renderConsoleError renders err as the console's error page, with the
// status and message the API would give it.
func renderConsoleError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(r.Context(), err)
	renderConsole(r.Context(), w, p.Status, "error", consolePage{ErrorTitle: http.StatusText(p.Status), Error: p.Detail, RequestID: p.RequestID})
}

var errCSRF = castellan.Errorf(castellan.EFORBIDDEN, castellan.CodeCSRFFailed,
	"the form is stale or was sent from another site; reload the page and try again")

// isConsolePath reports whether the console, not the API, serves path.
func isConsolePath(path string) bool {
	return path == consolePath || strings.HasPrefix(path, consolePath+"/")
}

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
// https: the request came over TLS, the server is configured to be
// reached over https only (SecureCookies), or a trusted proxy says so in
// X-Forwarded-Proto (its first entry, the scheme the client used).
func (s *Server) secureRequest(r *http.Request) bool {
	if r.TLS != nil || s.secureCookies {
		return true
	}
	if peer := peerAddr(r); !peer.IsValid() || !s.trusted(peer) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// cookieName is the name of a console cookie on r: over https it has the
// __Secure- prefix, which browsers accept only on a Secure cookie set over
// https, so that a page served over plain http cannot set or overwrite
// it. (__Host- would need Path=/; the console's cookies are for /console
// only.)
func (s *Server) cookieName(r *http.Request, name string) string {
	if s.secureRequest(r) {
		return "__Secure-" + name
	}
	return name
}

// cookie returns the value of the console cookie name on r.
func (s *Server) cookie(r *http.Request, name string) (string, bool) {
	c, err := r.Cookie(s.cookieName(r, name))
	if err != nil {
		return "", false
	}
	return c.Value, true
}

// setCookie sets a console cookie: HttpOnly, SameSite=Lax, for /console
// only, Secure (and __Secure-prefixed) when the browser came over https;
// a session cookie of the browser (no expiry) unless clear.
func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, clear bool) {
	secure := s.secureRequest(r)
	c := &http.Cookie{Name: s.cookieName(r, name), Value: value, Path: consolePath, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: secure}
	if clear {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
}

// seeOther redirects a browser to path with 303.
func seeOther(w http.ResponseWriter, path string) {
	w.Header().Set("Location", path)
	w.WriteHeader(http.StatusSeeOther)
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
}

// page returns the page data every page of the session starts from.
func (c *consoleRequest) page() consolePage {
	p := consolePage{CSRF: c.csrf}
	if c.session.State == castellan.SessionComplete {
		p.User = c.user
	}
	return p
}

// withSession serves a page of a session in one of states. A request
// without a live session goes to the sign-in page; a session at another
// step goes to that step's page; an address outside the user's console
// allow list is refused on every request; a POST needs the session's
// CSRF token and must not come from another site. The caller becomes the
// request's principal.
func (s *Server) withSession(h func(http.ResponseWriter, *http.Request, *consoleRequest), states ...castellan.SessionState) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		token, ok := s.cookie(r, sessionCookie)
		if !ok {
			seeOther(w, consolePath+"/sign-in")
			return
		}
		sess, user, err := s.services.Sessions.AuthenticateSession(ctx, token)
		if castellan.ErrorKind(err) == castellan.EUNAUTHENTICATED {
			s.setCookie(w, r, sessionCookie, "", true)
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
		ctx = castellan.WithPrincipal(ctx, castellan.Principal{
			Type: castellan.PrincipalUser, ID: user.ID, OrganizationID: user.OrganizationID, SessionID: sess.ID,
		})
		h(w, r.WithContext(ctx), c)
	}
}

// frontDoor answers the server's root: a browser (it accepts HTML) goes
// to the console, whose home page sends it on to sign in; an API client
// learns where the API is.
func frontDoor(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		seeOther(w, consolePath)
		return
	}
	writeProblem(w, r, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeNotFound,
		"nothing here: the API is under /v1 (described at /v1/openapi.json), the console at /console"))
}

// registerConsole serves the console's pages.
func (s *Server) registerConsole(mux *http.ServeMux) {
	complete := castellan.SessionComplete
	mux.HandleFunc("GET /console/sign-in", s.signInPage)
	mux.HandleFunc("POST /console/sign-in", s.signIn)
	mux.HandleFunc("GET /console/mfa", s.withSession(s.mfaPage, castellan.SessionMFAPending))
	mux.HandleFunc("POST /console/mfa", s.withSession(s.verifyMFA, castellan.SessionMFAPending))
	mux.HandleFunc("GET /console/mfa/setup", s.withSession(s.mfaSetupPage, castellan.SessionMFAPending))
	mux.HandleFunc("POST /console/mfa/setup", s.withSession(s.confirmMFASetup, castellan.SessionMFAPending))
	mux.HandleFunc("POST /console/mfa/setup/restart", s.withSession(s.restartMFASetup, castellan.SessionMFAPending))
	mux.HandleFunc("GET /console/password", s.withSession(s.passwordPage, castellan.SessionPasswordChange, complete))
	mux.HandleFunc("POST /console/password", s.withSession(s.changePassword, castellan.SessionPasswordChange, complete))
	mux.HandleFunc("POST /console/sign-out", s.withSession(s.signOut, castellan.SessionMFAPending, castellan.SessionPasswordChange, complete))
	mux.HandleFunc("GET /console", s.withSession(s.homePage, complete))
	mux.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) { seeOther(w, consolePath) })
	mux.HandleFunc("GET /{$}", frontDoor)
	mux.HandleFunc("GET /console/sessions", s.withSession(s.sessionsPage, complete))
	mux.HandleFunc("POST /console/sessions/revoke", s.withSession(s.revokeSessionForm, complete))
	mux.HandleFunc("POST /console/sessions/revoke-others", s.withSession(s.revokeOtherSessionsForm, complete))
}
