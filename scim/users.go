package scim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"github.com/castellan-iam/castellan"
)

// The User resource maps onto castellan.User: userName is the login ID
// (never changed), the primary email the ID email, name.givenName,
// middleName and familyName the person's names, displayName the name,
// nickName the nickname, active the status (a user waiting for its
// invitation is active to the provider). phoneNumbers, externalId and
// the enterprise extension are accepted and not kept.

type userResource struct {
	Schemas      []string  `json:"schemas"`
	ID           string    `json:"id"`
	UserName     string    `json:"userName"`
	Name         *nameAttr `json:"name,omitempty"`
	DisplayName  string    `json:"displayName,omitempty"`
	NickName     string    `json:"nickName,omitempty"`
	Emails       []multi   `json:"emails,omitempty"`
	PhoneNumbers []multi   `json:"phoneNumbers,omitempty"`
	Active       bool      `json:"active"`
	Meta         meta      `json:"meta"`
}

type nameAttr struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	MiddleName string `json:"middleName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// multi is a value of a multi-valued attribute (emails, phoneNumbers).
type multi struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// boolish is a boolean as providers send it: true, or "True" (Entra ID
// sends strings in PATCH values).
type boolish bool

func (b *boolish) UnmarshalJSON(data []byte) error {
	var v bool
	if err := json.Unmarshal(data, &v); err == nil {
		*b = boolish(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	switch strings.ToLower(s) {
	case "true":
		*b = true
	case "false":
		*b = false
	default:
		return badRequest("invalidValue", "%q is not a boolean", s)
	}
	return nil
}

// userInput is a User in a request body.
type userInput struct {
	UserName    string    `json:"userName"`
	Name        *nameAttr `json:"name"`
	DisplayName string    `json:"displayName"`
	NickName    string    `json:"nickName"`
	Emails      []multi   `json:"emails"`
	Active      *boolish  `json:"active"`
}

// email is the primary email, else the work one, else the first; for a
// user with none, its userName when that is an email.
func (in *userInput) email() string {
	for _, pick := range []func(multi) bool{
		func(m multi) bool { return m.Primary }, func(m multi) bool { return strings.EqualFold(m.Type, "work") }, func(multi) bool { return true },
	} {
		if i := slices.IndexFunc(in.Emails, pick); i >= 0 {
			return in.Emails[i].Value
		}
	}
	if strings.Contains(in.UserName, "@") {
		return in.UserName
	}
	return ""
}

func (s *Server) renderUser(r *request, u *castellan.User) any {
	res := userResource{
		Schemas: []string{schemaUser}, ID: u.ID, UserName: u.LoginID, DisplayName: u.Name, NickName: u.Nickname,
		Active: u.Status != castellan.UserDisabled,
		Meta:   newMeta("User", u.CreatedAt, u.UpdatedAt, r.base+"/Users/"+u.ID, u.Revision),
	}
	if u.FirstName != "" || u.MiddleName != "" || u.LastName != "" {
		res.Name = &nameAttr{GivenName: u.FirstName, MiddleName: u.MiddleName, FamilyName: u.LastName,
			Formatted: strings.Join(strings.Fields(u.FirstName+" "+u.MiddleName+" "+u.LastName), " ")}
	}
	if u.Email != "" {
		res.Emails = []multi{{Value: u.Email, Type: "work", Primary: true}}
	}
	if u.Mobile != "" {
		res.PhoneNumbers = []multi{{Value: u.Mobile, Type: "mobile"}}
	}
	return res
}

func (s *Server) createUser(w http.ResponseWriter, r *request) error {
	var in userInput
	if err := decode(r, &in); err != nil {
		return err
	}
	reg := castellan.UserRegistration{LoginID: in.UserName, Email: in.email(), Name: in.DisplayName, Nickname: in.NickName,
		ConsoleAccess: true, Disabled: in.Active != nil && !bool(*in.Active)}
	if in.Name != nil {
		reg.FirstName, reg.MiddleName, reg.LastName = in.Name.GivenName, in.Name.MiddleName, in.Name.FamilyName
	}
	if r.token.FederationID != "" {
		reg.AccountType, reg.FederationID = castellan.AccountFederated, r.token.FederationID
	} else {
		// Invited: the store refuses one that starts inactive (it
		// becomes active by accepting).
		reg.Mode = castellan.ModeInvitation
	}
	created, err := s.services.Users.RegisterUser(r.Context(), r.org, reg)
	if err != nil {
		return err
	}
	w.Header().Set("Location", r.base+"/Users/"+created.User.ID)
	writeSCIM(w, http.StatusCreated, s.renderUser(r, created.User))
	return nil
}

func (s *Server) getUser(w http.ResponseWriter, r *request) error {
	u, err := s.services.Users.FindUserByID(r.Context(), r.org, r.PathValue("id"), false)
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, s.renderUser(r, u))
	return nil
}

// replaceUser applies a full User: what it leaves out of the mutable
// attributes is cleared, but for the ID email, which stays.
func (s *Server) replaceUser(w http.ResponseWriter, r *request) error {
	var in userInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := s.services.Users.FindUserByID(r.Context(), r.org, r.PathValue("id"), false)
	if err != nil {
		return err
	}
	if in.UserName != "" && !strings.EqualFold(in.UserName, u.LoginID) {
		return badRequest("mutability", "userName cannot change: it is the user's login ID")
	}
	var name nameAttr
	if in.Name != nil {
		name = *in.Name
	}
	upd := castellan.UserUpdate{Name: &in.DisplayName, Nickname: &in.NickName, FirstName: &name.GivenName, MiddleName: &name.MiddleName,
		LastName: &name.FamilyName}
	if email := in.email(); email != "" {
		upd.Email = &email
	}
	if in.Active != nil {
		upd.Status = statusFor(u, bool(*in.Active))
	}
	return s.updateUser(w, r, u.ID, upd)
}

// statusFor is the status update that makes u active or not: none for
// an invited user the provider calls active (it becomes so by accepting).
func statusFor(u *castellan.User, active bool) *string {
	status := castellan.UserDisabled
	if active {
		if u.Status == castellan.UserPendingInvitation {
			return nil
		}
		status = castellan.UserActive
	}
	return &status
}

func (s *Server) updateUser(w http.ResponseWriter, r *request, id string, upd castellan.UserUpdate) error {
	u, err := s.services.Users.UpdateUser(r.Context(), r.org, id, upd)
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, s.renderUser(r, u))
	return nil
}

// deleteUser deletes the user, as the API's deletion does: a tombstone,
// its sessions and tokens ended at once.
func (s *Server) deleteUser(w http.ResponseWriter, r *request) error {
	if _, err := s.services.Users.DeleteUser(r.Context(), r.org, r.PathValue("id"), castellan.DeleteUserPhrase); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listUsers answers GET /Users with an optional filter: userName eq,
// emails.value eq (or emails eq), displayName eq, id eq; anything else
// is invalidFilter.
func (s *Server) listUsers(w http.ResponseWriter, r *request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	attr, value, err := "", "", error(nil)
	if raw := r.URL.Query().Get("filter"); raw != "" {
		if attr, value, err = equality(raw); err != nil {
			return err
		}
	}
	if attr == "id" {
		// One user, read by its ID.
		var found []any
		if u, err := s.services.Users.FindUserByID(r.Context(), r.org, value, false); err == nil {
			found = append(found, s.renderUser(r, u))
		} else if k := castellan.ErrorKind(err); k != castellan.ENOTFOUND && k != castellan.EINVALID {
			return err
		}
		from, to := p.window(len(found))
		writeList(w, p, len(found), found[from:to])
		return nil
	}
	match, query, err := userFilter(attr, value)
	if err != nil {
		return err
	}
	var all []*castellan.User
	f := castellan.UserFilter{PageSize: castellan.MaxPageSize}
	if query != "" {
		f.Query = &query
	}
	for {
		users, next, err := s.services.Users.FindUsers(r.Context(), r.org, f)
		if err != nil {
			return err
		}
		for _, u := range users {
			if match(u) {
				all = append(all, u)
			}
		}
		if next == "" {
			break
		}
		f.PageToken = next
	}
	from, to := p.window(len(all))
	resources := make([]any, 0, to-from)
	for _, u := range all[from:to] {
		resources = append(resources, s.renderUser(r, u))
	}
	writeList(w, p, len(all), resources)
	return nil
}

// userFilter turns the filter attr eq value (attr "" for none) into a
// test on users and, where it narrows the store's search, the prefix to
// search by.
func userFilter(attr, value string) (func(*castellan.User) bool, string, error) {
	prefix := string([]rune(value)[:min(len([]rune(value)), castellan.MaxUserQueryLength)])
	switch attr {
	case "":
		return func(*castellan.User) bool { return true }, "", nil
	case "username":
		return func(u *castellan.User) bool { return strings.EqualFold(u.LoginID, value) }, prefix, nil
	case "emails", "emails.value":
		return func(u *castellan.User) bool { return strings.EqualFold(u.Email, value) }, prefix, nil
	case "displayname":
		return func(u *castellan.User) bool { return u.Name == value }, prefix, nil
	}
	return nil, "", badRequest("invalidFilter", "filtering by %s is not supported: use userName, emails.value, displayName or id with eq", attr)
}

// equality parses a filter of the one form the endpoint answers,
// `attribute eq "value"`, and returns the attribute (in lower case) and
// the value.
func equality(raw string) (string, string, error) {
	// The parser recurses on nesting: a bounded filter bounds it.
	if len(raw) > maxFilter {
		return "", "", badRequest("invalidFilter", "the filter is longer than %d bytes", maxFilter)
	}
	expr, err := filter.ParseFilter([]byte(raw))
	if err != nil {
		return "", "", badRequest("invalidFilter", "the filter %q does not parse: %v", raw, err)
	}
	ae, ok := expr.(*filter.AttributeExpression)
	if !ok || !strings.EqualFold(string(ae.Operator), string(filter.EQ)) || ae.AttributePath.URIPrefix != nil {
		return "", "", badRequest("invalidFilter", "only filters of the form `attribute eq \"value\"` are supported")
	}
	value, ok := ae.CompareValue.(string)
	if !ok {
		return "", "", badRequest("invalidFilter", "the value of %s must be a string", ae.AttributePath)
	}
	attr := strings.ToLower(ae.AttributePath.AttributeName)
	if ae.AttributePath.SubAttribute != nil {
		attr += "." + strings.ToLower(*ae.AttributePath.SubAttribute)
	}
	return attr, value, nil
}
