package console

import (
	"context"
	"encoding/base64"
	"html/template"
	"net/http"
	"slices"
	"sync"

	"github.com/castellan-iam/castellan"
)

// signInFailedText is the one message of every failed sign-in, whatever
// the reason, so that the page tells an attacker nothing.
const signInFailedText = "Sign-in failed. Check the organization, the login and the password. " +
	"After repeated failures an account is locked for a while."

// signInKey is the server's key for sign-in tokens, read from the store
// on first use and then kept.
type signInKey struct {
	mu  sync.Mutex
	key []byte
}

// get returns the key, reading it from sessions the first time.
func (k *signInKey) get(ctx context.Context, sessions castellan.SessionService) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil {
		key, err := sessions.SignInKey(ctx)
		if err != nil {
			return nil, err
		}
		k.key = key
	}
	return k.key, nil
}

// signInToken returns the sign-in form's token for the browser's sign-in
// cookie, which it is given first when it has none.
func (s *Console) signInToken(w http.ResponseWriter, r *http.Request) (string, error) {
	v, ok := s.cookie(r, signInCookie)
	if b, err := base64.RawURLEncoding.DecodeString(v); !ok || err != nil || len(b) != 32 {
		v = randomToken()
		s.setCookie(w, r, signInCookie, v, false)
	}
	return s.signInTokenOf(r.Context(), v)
}

// signInTokenOf is the form token that goes with the sign-in cookie
// value: an HMAC of it under the server's key. Only the server can mint
// a pair, so a cookie planted in the browser (by a sibling domain, or
// over plain http) with a token of the planter's choice is refused.
func (s *Console) signInTokenOf(ctx context.Context, cookie string) (string, error) {
	key, err := s.signInKey.get(ctx, s.services.Sessions)
	if err != nil {
		return "", err
	}
	return macToken(key, "castellan console sign-in "+cookie), nil
}

func (s *Console) signInPage(w http.ResponseWriter, r *http.Request) {
	token, err := s.signInToken(w, r)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	renderConsole(r.Context(), w, http.StatusOK, "sign-in", consolePage{CSRF: token})
}

// signInForm reads a form of the sign-in page and checks its token
// against the sign-in cookie and the per-address limit, answering the
// refusal itself; it returns the page's token.
func (s *Console) signInForm(w http.ResponseWriter, r *http.Request) (string, bool) {
	if err := readForm(r); err != nil {
		renderConsoleError(w, r, err)
		return "", false
	}
	signInCSRF := ""
	if cookie, ok := s.cookie(r, signInCookie); ok {
		var err error
		if signInCSRF, err = s.signInTokenOf(r.Context(), cookie); err != nil {
			renderConsoleError(w, r, err)
			return "", false
		}
	}
	if !sameToken(r.PostForm.Get("csrf"), signInCSRF) {
		renderConsoleError(w, r, errCSRF)
		return "", false
	}
	return signInCSRF, s.allowSignIn(w, r)
}

// signIn checks the form and starts a session at its first step. The
// form is protected against login CSRF by the same-site check and a
// token bound to the sign-in cookie under the server's key: a page of
// another site cannot sign the browser in to an account of its choosing.
func (s *Console) signIn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	signInCSRF, ok := s.signInForm(w, r)
	if !ok {
		return
	}
	form := r.PostForm
	user, err := s.services.Sessions.VerifySignIn(ctx, castellan.SignIn{
		Organization: form.Get("organization"), Login: form.Get("login"), Password: form.Get("password"), Policy: s.signInPolicy,
	})
	var ns *castellan.NewSession
	var state castellan.SessionState
	if err == nil {
		// The password was right: from here on the user acts as itself,
		// which the guarded services' self rule lets start its session.
		ctx = castellan.WithPrincipal(ctx, castellan.Principal{Type: castellan.PrincipalUser, ID: user.ID, OrganizationID: user.OrganizationID,
			PasswordVerified: true})
		r = r.WithContext(ctx)
		if state, err = s.firstStep(r, user); err == nil {
			// Refused too when the account was locked while the
			// password was checked.
			ns, err = s.services.Sessions.CreateSession(ctx, user.OrganizationID, user.ID, state, r.UserAgent(), s.signInPolicy)
		}
	}
	switch castellan.ErrorCode(err) {
	case "":
	case castellan.CodeSignInFailed:
		renderConsole(ctx, w, http.StatusUnauthorized, "sign-in", consolePage{CSRF: signInCSRF, Error: signInFailedText})
		return
	default:
		renderConsoleError(w, r, err)
		return
	}
	s.setSession(w, r, ns.Token)
	seeOther(w, stepPath(state))
}

// firstStep is where a session starts: the second factor when the user
// has one or must have one, else what comes after it.
func (s *Console) firstStep(r *http.Request, u *castellan.User) (castellan.SessionState, error) {
	st, err := s.services.MFA.MFAStatus(r.Context(), u.OrganizationID, u.ID)
	if err != nil {
		return "", err
	}
	if st.Enrolled || st.Required {
		return castellan.SessionMFAPending, nil
	}
	return afterMFA(u), nil
}

// afterMFA is the step after the second factor: the forced password
// change, or none.
func afterMFA(u *castellan.User) castellan.SessionState {
	if u.PasswordResetRequired {
		return castellan.SessionPasswordChange
	}
	return castellan.SessionComplete
}

func (s *Console) mfaPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	st, err := s.services.MFA.MFAStatus(r.Context(), c.user.OrganizationID, c.user.ID)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	if !st.Enrolled {
		seeOther(w, consolePath+"/mfa/setup")
		return
	}
	renderConsole(r.Context(), w, http.StatusOK, "mfa", c.page())
}

// verifyMFA checks the code. The store counts a wrong one towards the
// lockout in the same transaction, with the lock and the session checked
// there too, so that parallel requests get no more guesses than one after
// the other.
func (s *Console) verifyMFA(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	err := s.services.MFA.VerifyMFA(r.Context(), c.user.OrganizationID, c.user.ID, c.session.ID, r.PostForm.Get("code"), s.signInPolicy)
	switch {
	case err == nil:
		// The guarded VerifyMFA has moved the session past this step.
		seeOther(w, stepPath(afterMFA(c.user)))
	case castellan.ErrorCode(err) == castellan.CodeMFAFailed:
		p := c.page()
		p.Error = "The code is not valid. Enter the next code of your app, or a recovery code."
		renderConsole(r.Context(), w, http.StatusUnauthorized, "mfa", p)
	case castellan.ErrorCode(err) == castellan.CodeSignInFailed:
		s.signInEnded(w, r)
	case castellan.ErrorCode(err) == castellan.CodeSessionInvalid:
		s.setSession(w, r, "")
		seeOther(w, consolePath+"/sign-in")
	case castellan.ErrorKind(err) == castellan.EPRECONDITION:
		seeOther(w, consolePath+"/mfa/setup")
	default:
		renderConsoleError(w, r, err)
	}
}

// signInEnded answers the request whose failure locked the account: the
// sign-in is over (the store ended the session).
func (s *Console) signInEnded(w http.ResponseWriter, r *http.Request) {
	s.setSession(w, r, "")
	token, err := s.signInToken(w, r)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	renderConsole(r.Context(), w, http.StatusUnauthorized, "sign-in", consolePage{CSRF: token, Error: signInFailedText})
}

// mfaRefused counts a wrong code towards the lockout. When that locks the
// account the sign-in ends (the store has ended the session); otherwise
// retry shows the step again.
func (s *Console) mfaRefused(w http.ResponseWriter, r *http.Request, c *consoleRequest, retry func()) {
	locked, err := s.services.Sessions.RecordMFAFailure(r.Context(), c.user.OrganizationID, c.user.ID, s.signInPolicy)
	switch {
	case err != nil:
		renderConsoleError(w, r, err)
	case locked:
		s.signInEnded(w, r)
	default:
		retry()
	}
}

// enrolling reports whether the session may see the setup pages: a
// signed-in user may always set up (or replace) its factor; at the
// second-factor step of a sign-in, only a user without one. Otherwise it
// has answered: an enrolled user goes to the code page.
func (s *Console) enrolling(w http.ResponseWriter, r *http.Request, c *consoleRequest) bool {
	if c.session.State == castellan.SessionComplete {
		return true
	}
	st, err := s.services.MFA.MFAStatus(r.Context(), c.user.OrganizationID, c.user.ID)
	if err != nil {
		renderConsoleError(w, r, err)
		return false
	}
	if st.Enrolled {
		seeOther(w, consolePath+"/mfa")
		return false
	}
	return true
}

func (s *Console) mfaSetupPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if !s.enrolling(w, r, c) {
		return
	}
	// A signed-in user gets a new key each time: a pending key shown
	// again could be one that a borrowed session began and noted, which
	// the user would then scan and confirm with its password.
	if c.session.State == castellan.SessionComplete {
		s.renderMFASetup(w, r, c, http.StatusOK, "", nil)
		return
	}
	// At the sign-in's step a GET changes nothing when a key is pending:
	// it shows that key again, so that a link cannot replace the key the
	// user is scanning. Only the first GET begins an enrolment; a new key
	// takes a POST.
	setup, err := s.services.MFA.PendingTOTP(r.Context(), c.user.OrganizationID, c.user.ID)
	if castellan.ErrorCode(err) == castellan.CodeMFANoPendingSetup {
		setup, err = s.services.MFA.BeginTOTP(r.Context(), c.user.OrganizationID, c.user.ID)
	}
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	s.showMFASetup(w, r, c, setup, http.StatusOK, "", nil)
}

// restartMFASetup replaces the pending key with a new one ("Start over").
func (s *Console) restartMFASetup(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if !s.enrolling(w, r, c) {
		return
	}
	if _, err := s.services.MFA.BeginTOTP(r.Context(), c.user.OrganizationID, c.user.ID); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	seeOther(w, consolePath+"/mfa/setup")
}

// renderMFASetup begins a new TOTP enrolment and shows its key, with
// the rules the last try broke. A session the last try ended (a wrong
// password that locked the account) has signed out.
func (s *Console) renderMFASetup(w http.ResponseWriter, r *http.Request, c *consoleRequest, status int, msg string, fields fieldErrors) {
	setup, err := s.services.MFA.BeginTOTP(r.Context(), c.user.OrganizationID, c.user.ID)
	if err != nil {
		if !s.sessionLive(r, c) {
			s.signInEnded(w, r)
			return
		}
		renderConsoleError(w, r, err)
		return
	}
	s.showMFASetup(w, r, c, setup, status, msg, fields)
}

// sessionLive reports whether the request's session is still one of its
// user's.
func (s *Console) sessionLive(r *http.Request, c *consoleRequest) bool {
	list, err := s.services.Sessions.FindSessions(r.Context(), c.user.OrganizationID, c.user.ID)
	return err == nil && slices.ContainsFunc(list, func(sess *castellan.Session) bool { return sess.ID == c.session.ID })
}

// showMFASetup shows the key of an enrolment, with the rules the last
// try broke next to their fields.
func (s *Console) showMFASetup(w http.ResponseWriter, r *http.Request, c *consoleRequest, setup *castellan.TOTPSetup, status int, msg string, fields fieldErrors) {
	p := c.page()
	p.Nav, p.Setup, p.SetupFields, p.Error = "profile", setup, fields, msg
	p.QRCode = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(setup.QRCodePNG))
	renderConsole(r.Context(), w, status, "mfa-setup", p)
}

func (s *Console) confirmMFASetup(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	// From a signed-in session the guarded service asks for the
	// password too; at the sign-in's step the form has none.
	codes, err := s.services.MFA.ConfirmTOTP(r.Context(), c.user.OrganizationID, c.user.ID, r.PostForm.Get("code"), r.PostForm.Get("password"))
	if err != nil && c.session.State == castellan.SessionComplete {
		status, msg, fields := formError(r.Context(), err)
		// Each try that fails shows a new key (see mfaSetupPage).
		switch {
		case castellan.ErrorKind(err) == castellan.EUNAUTHENTICATED:
			// Signed in already: a mistyped code proves nothing about
			// the sign-in, so it costs no failure.
			s.renderMFASetup(w, r, c, http.StatusBadRequest, "The code is not valid. Add this new key to your app and enter its code.",
				fieldErrors{"code": "is not the code of the key shown"})
			return
		case fields["password"] != "":
			s.renderMFASetup(w, r, c, status, msg+". Add this new key to your app.", fields)
			return
		}
	}
	switch castellan.ErrorKind(err) {
	case "":
	case castellan.EUNAUTHENTICATED:
		s.mfaRefused(w, r, c, func() {
			s.renderMFASetup(w, r, c, http.StatusUnauthorized, "The code is not valid. Here is a new key: add it to your app and enter its code.", nil)
		})
		return
	case castellan.EPRECONDITION:
		seeOther(w, consolePath+"/mfa/setup")
		return
	default:
		renderConsoleError(w, r, err)
		return
	}
	// A first enrolment at the second-factor step has moved the session
	// past it (the guarded ConfirmTOTP does); a signed-in session stays,
	// and goes back to the profile.
	if c.session.State == castellan.SessionComplete {
		p := c.page()
		p.Nav, p.RecoveryCodes, p.Next = "profile", codes, consolePath+"/profile?mfa=1"
		renderConsole(r.Context(), w, http.StatusOK, "recovery-codes", p)
		return
	}
	next := afterMFA(c.user)
	p := consolePage{CSRF: c.csrf, RecoveryCodes: codes, Next: stepPath(next)}
	if next == castellan.SessionComplete {
		p.User = c.user
	}
	renderConsole(r.Context(), w, http.StatusOK, "recovery-codes", p)
}

func (s *Console) passwordPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.RequireCurrent, p.Login = c.session.State == castellan.SessionComplete, c.user.LoginID
	renderConsole(r.Context(), w, http.StatusOK, "password", p)
}

// changePassword sets a new password: forced (the session's step, no
// current password asked: it was given a moment ago) or voluntary (the
// current one is asked, so a borrowed session cannot take the account).
func (s *Console) changePassword(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	ctx := r.Context()
	p := c.page()
	p.RequireCurrent, p.Login = c.session.State == castellan.SessionComplete, c.user.LoginID
	form := r.PostForm
	if form.Get("password") != form.Get("confirm") {
		p.Error = "The two new passwords differ."
		renderConsole(ctx, w, http.StatusBadRequest, "password", p)
		return
	}
	err := s.services.Sessions.ChangePassword(ctx, c.user.OrganizationID, c.user.ID, c.session.ID,
		form.Get("current"), form.Get("password"), p.RequireCurrent, s.signInPolicy)
	if castellan.ErrorKind(err) == castellan.EINTERNAL {
		renderConsoleError(w, r, err)
		return
	}
	if err != nil {
		status, msg := publicError(ctx, err)
		p.Error = msg
		renderConsole(ctx, w, status, "password", p)
		return
	}
	if !p.RequireCurrent {
		seeOther(w, consolePath)
		return
	}
	p.Notice = "Your password is changed, and your other sessions are signed out."
	renderConsole(ctx, w, http.StatusOK, "password", p)
}
