package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/castellan-iam/castellan"
)

// Federations: the organization's identity providers, adding federated
// users by email, and the SCIM tokens providers provision with. All go
// through the guarded services.

// federationsPage is the federations page: the list, the SCIM tokens,
// and a token just made (its secret shown this once).
type federationsPage struct {
	Federations []*castellan.Federation
	More        bool
	Tokens      []*castellan.SCIMToken
	TokensError string
	NewToken    *castellan.NewSCIMToken
	TokenName   string
	TokenFields fieldErrors
	// Names are the federations' names by ID, for the tokens' table.
	Names map[string]string
	// SCIMURL is where providers send their SCIM requests.
	SCIMURL string
}

func (s *Console) federationsPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Notice = notices{
		{"deleted", "The federation is deleted."},
		{"revoked", "The SCIM token is deleted: it stopped working at once."},
	}.of(r)
	s.renderFederations(w, r, c, p, http.StatusOK, &federationsPage{})
}

// renderFederations fills d with the federations and tokens and renders
// the page with status.
func (s *Console) renderFederations(w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, d *federationsPage) {
	ctx, org := r.Context(), c.user.OrganizationID
	list, next, err := s.services.Federations.FindFederations(ctx, org, castellan.FederationFilter{PageSize: usersPageSize})
	if err != nil {
		renderFailed(w, r, p, "error", err)
		return
	}
	d.Federations, d.More, d.Names = list, next != "", map[string]string{}
	for _, f := range list {
		d.Names[f.ID] = f.Name
	}
	if d.Tokens, err = s.services.SCIMTokens.FindSCIMTokens(ctx, org); err != nil {
		_, d.TokensError = publicError(ctx, err)
	}
	d.SCIMURL = s.publicURL + "/scim/v2/organizations/" + org
	p.Nav, p.Federations = "federations", d
	renderConsole(ctx, w, status, "federations", p)
}

// federationForm is the add federation page.
type federationForm struct {
	Name, Issuer, ClientID, Scopes, Domains string
	AutoProvision, MFAByIdP, TrustEmail     bool
	Fields                                  fieldErrors
	// Callback is where the redirect URIs to register at the provider
	// start: the federation's ID ends each.
	Callback string
}

func (s *Console) newFederationPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	s.renderFederationForm(w, r, c, http.StatusOK, "", &federationForm{Scopes: "email profile", MFAByIdP: true, Fields: fieldErrors{}})
}

func (s *Console) renderFederationForm(w http.ResponseWriter, r *http.Request, c *consoleRequest, status int, msg string, f *federationForm) {
	p := c.page()
	f.Callback = s.publicURL + ssoCallback
	p.Nav, p.Error, p.FederationForm = "federations", msg, f
	renderConsole(r.Context(), w, status, "federation-new", p)
}

func (s *Console) createFederation(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	form := r.PostForm
	f := &federationForm{Name: strings.TrimSpace(form.Get("name")), Issuer: strings.TrimSpace(form.Get("issuer")),
		ClientID: strings.TrimSpace(form.Get("clientId")), Scopes: form.Get("scopes"), Domains: form.Get("allowedDomains"),
		AutoProvision: form.Get("autoProvision") == "on", MFAByIdP: form.Get("mfaByIdp") == "on", TrustEmail: form.Get("trustEmail") == "on"}
	created, err := s.services.Federations.CreateFederation(r.Context(), c.user.OrganizationID, castellan.FederationCreate{
		Name: f.Name, Issuer: f.Issuer, ClientID: f.ClientID, ClientSecret: strings.TrimSpace(form.Get("clientSecret")),
		Scopes: words(f.Scopes), AllowedDomains: words(f.Domains), AutoProvision: f.AutoProvision, MFAByIdP: f.MFAByIdP, TrustEmail: f.TrustEmail,
	})
	if err != nil {
		status, msg, fields := formError(r.Context(), err)
		if castellan.ErrorCode(err) == castellan.CodeFederationNameTaken {
			fields["name"] = msg
		}
		f.Fields = fields
		s.renderFederationForm(w, r, c, status, msg, f)
		return
	}
	seeOther(w, consolePath+"/federations/"+created.ID+"?created=1")
}

// federationDetail is a federation's page, with the add users form:
// what was typed and what was wrong.
type federationDetail struct {
	Federation *castellan.Federation
	Callback   string
	Emails     string
	EmailError string
	// Edit is the settings form as last sent, when it was refused.
	Edit *federationForm
}

func (s *Console) federationPage(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	p := c.page()
	p.Notice = notices{
		{"created", "The federation is added. Register the redirect URI at the provider, then add users or turn on provisioning."},
		{"added", "The users are added: each got a mail with the sign-in page and the federation ID."},
		{"saved", "The settings are saved."},
	}.of(r)
	s.renderFederation(w, r, c, p, http.StatusOK, &federationDetail{})
}

func (s *Console) renderFederation(w http.ResponseWriter, r *http.Request, c *consoleRequest, p consolePage, status int, d *federationDetail) {
	f, err := s.services.Federations.FindFederationByID(r.Context(), c.user.OrganizationID, r.PathValue("federation"))
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	d.Federation, d.Callback = f, s.callbackURL(f.ID)
	if d.Edit == nil {
		d.Edit = &federationForm{Name: f.Name, Issuer: f.Issuer, ClientID: f.ClientID, Scopes: strings.Join(f.Scopes[1:], " "),
			Domains: strings.Join(f.AllowedDomains, " "), AutoProvision: f.AutoProvision, MFAByIdP: f.MFAByIdP, TrustEmail: f.TrustEmail,
			Fields: fieldErrors{}}
	}
	p.Nav, p.FederationDetail = "federations", d
	renderConsole(r.Context(), w, status, "federation", p)
}

// addFederatedUsers registers federated users of the federation, one per
// email typed (separated by commas or spaces), in one transaction: each
// is mailed the sign-in page and the federation ID. The email is also
// the login ID.
func (s *Console) addFederatedUsers(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	id := r.PathValue("federation")
	typed := r.PostForm.Get("emails")
	emails := words(typed)
	regs := make([]castellan.UserRegistration, len(emails))
	for i, email := range emails {
		regs[i] = castellan.UserRegistration{LoginID: email, Email: email, AccountType: castellan.AccountFederated, FederationID: id, ConsoleAccess: true}
	}
	if _, err := s.services.Users.RegisterUsers(r.Context(), c.user.OrganizationID, regs); err != nil {
		status, msg, fields := formError(r.Context(), err)
		// Name the email at fault rather than the item's index.
		for i, email := range emails {
			for _, field := range []string{"email", "loginId"} {
				if m, ok := fields["users["+strconv.Itoa(i)+"]."+field]; ok {
					msg = email + ": " + m
				}
			}
		}
		if castellan.ErrorCode(err) == castellan.CodeUserEmailTaken || castellan.ErrorCode(err) == castellan.CodeUserLoginIDTaken {
			msg = "A user with one of these emails already exists: " + msg
		}
		p := c.page()
		p.Error = msg
		s.renderFederation(w, r, c, p, status, &federationDetail{Emails: typed, EmailError: msg})
		return
	}
	seeOther(w, consolePath+"/federations/"+id+"?added=1")
}

// updateFederation applies the settings form: only what differs from
// the federation is sent, so that renaming needs no more than renaming
// (the guard keeps sign-in settings to owners). An empty secret keeps
// the secret; "remove" takes it away.
func (s *Console) updateFederation(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	ctx, org, id := r.Context(), c.user.OrganizationID, r.PathValue("federation")
	f, err := s.services.Federations.FindFederationByID(ctx, org, id)
	if err != nil {
		renderConsoleError(w, r, err)
		return
	}
	form := r.PostForm
	e := &federationForm{Name: strings.TrimSpace(form.Get("name")), Issuer: strings.TrimSpace(form.Get("issuer")),
		ClientID: strings.TrimSpace(form.Get("clientId")), Scopes: form.Get("scopes"), Domains: form.Get("allowedDomains"),
		AutoProvision: form.Get("autoProvision") == "on", MFAByIdP: form.Get("mfaByIdp") == "on", TrustEmail: form.Get("trustEmail") == "on"}
	var upd castellan.FederationUpdate
	text := func(dst **string, now, was string) {
		if now != was {
			*dst = &now
		}
	}
	text(&upd.Name, e.Name, f.Name)
	text(&upd.Issuer, e.Issuer, f.Issuer)
	text(&upd.ClientID, e.ClientID, f.ClientID)
	flag := func(dst **bool, now, was bool) {
		if now != was {
			*dst = &now
		}
	}
	flag(&upd.AutoProvision, e.AutoProvision, f.AutoProvision)
	flag(&upd.MFAByIdP, e.MFAByIdP, f.MFAByIdP)
	flag(&upd.TrustEmail, e.TrustEmail, f.TrustEmail)
	list := func(dst **[]string, now []string, was []string) {
		if strings.Join(now, " ") != strings.Join(was, " ") {
			*dst = &now
		}
	}
	list(&upd.Scopes, words(e.Scopes), f.Scopes[1:])
	list(&upd.AllowedDomains, words(e.Domains), f.AllowedDomains)
	if secret := strings.TrimSpace(form.Get("clientSecret")); secret != "" || form.Get("removeSecret") == "on" {
		upd.ClientSecret = &secret
	}
	if _, err := s.services.Federations.UpdateFederation(ctx, org, id, upd); err != nil {
		p := c.page()
		status, msg, fields := formError(ctx, err)
		e.Fields, p.Error = fields, msg
		s.renderFederation(w, r, c, p, status, &federationDetail{Edit: e})
		return
	}
	seeOther(w, consolePath+"/federations/"+id+"?saved=1")
}

// deleteFederation deletes a federation once its box is ticked; one with
// users or SCIM tokens is refused, the page saying why.
func (s *Console) deleteFederation(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.Federations.DeleteFederation(r.Context(), c.user.OrganizationID, r.PathValue("federation")); err != nil {
		if castellan.ErrorCode(err) == castellan.CodeFederationInUse {
			p := c.page()
			_, p.Error = publicError(r.Context(), err)
			s.renderFederation(w, r, c, p, http.StatusPreconditionFailed, &federationDetail{})
			return
		}
		renderConsoleError(w, r, err)
		return
	}
	seeOther(w, consolePath+"/federations?deleted=1")
}

// createSCIMToken makes a SCIM token acting as the signed-in user and
// shows its secret on this answer only.
func (s *Console) createSCIMToken(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	form := r.PostForm
	days, _ := strconv.Atoi(form.Get("validDays"))
	name := strings.TrimSpace(form.Get("name"))
	created, err := s.services.SCIMTokens.CreateSCIMToken(r.Context(), c.user.OrganizationID, castellan.SCIMTokenCreate{
		Name: name, FederationID: form.Get("federationId"), ValidDays: days})
	p := c.page()
	if err != nil {
		status, msg, fields := formError(r.Context(), err)
		p.Error = msg
		s.renderFederations(w, r, c, p, status, &federationsPage{TokenName: name, TokenFields: fields})
		return
	}
	p.Notice = "The SCIM token is made. Copy its secret now: it is not shown again."
	s.renderFederations(w, r, c, p, http.StatusCreated, &federationsPage{NewToken: created})
}

func (s *Console) deleteSCIMToken(w http.ResponseWriter, r *http.Request, c *consoleRequest) {
	if _, err := s.services.SCIMTokens.DeleteSCIMToken(r.Context(), c.user.OrganizationID, r.PostForm.Get("token")); err != nil {
		renderConsoleError(w, r, err)
		return
	}
	seeOther(w, consolePath+"/federations?revoked=1")
}
