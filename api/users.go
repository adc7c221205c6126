package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// UserPath names one user of one organization.
type UserPath struct {
	Org  string `path:"org" doc:"Organization ID (a UUID)."`
	User string `path:"user" doc:"User ID (a UUID)."`
}

// userRegistrationBody is one user to register, with the sub-account
// API's limits.
type userRegistrationBody struct {
	LoginID      string `json:"loginId" minLength:"3" maxLength:"60" doc:"3–60 characters: A-Z, a-z, 0-9, - @ . _ + and inner spaces. Unique in the organization, case-insensitively." example:"ann.lee"`
	Email        string `json:"email,omitempty" maxLength:"254" doc:"ID email: invitations go there. Unique in the organization, case-insensitively. Required in invitation mode and for federated users; optional when the user gets a password." example:"ann.lee@example.com"`
	Name         string `json:"name" minLength:"2" maxLength:"30" example:"Ann Lee"`
	Nickname     string `json:"nickname,omitempty" maxLength:"30"`
	FirstName    string `json:"firstName,omitempty" maxLength:"255" doc:"Empty, or 2–255 letters, digits and spaces."`
	MiddleName   string `json:"middleName,omitempty" maxLength:"255"`
	LastName     string `json:"lastName,omitempty" maxLength:"255"`
	ContactEmail string `json:"contactEmail,omitempty" maxLength:"254"`
	Mobile       string `json:"mobile,omitempty" doc:"E.164: +821012345678."`
	Memo         string `json:"memo,omitempty" doc:"At most 300 bytes."`
	AccountType  string `json:"accountType,omitempty" enum:"local,federated" doc:"Default local."`
	FederationID string `json:"federationId,omitempty" doc:"The identity federation of a federated user (a UUID)."`
	Mode         string `json:"mode,omitempty" enum:"invitation,password" doc:"How a local user gets its first password: invitation (the default) mails a link valid 7 days; password sets it now. Defaults to password when password or needPasswordGenerate is given. Empty for federated users."`
	Password     string `json:"password,omitempty" doc:"Initial password in password mode: at least 10 characters mixing 3 of upper case, lower case, digits and others, not containing the login ID, not a common password (else user.unsafe_password)."`
	// NeedPasswordGenerate is the sub-account API's name.
	NeedPasswordGenerate  bool                       `json:"needPasswordGenerate,omitempty" doc:"Generate the password; the response shows it once."`
	Active                *bool                      `json:"active,omitempty" doc:"false registers the user disabled (password and federated users). Default true."`
	ConsoleAccess         *bool                      `json:"consoleAccess,omitempty" doc:"Default true."`
	APIAccess             *bool                      `json:"apiAccess,omitempty" doc:"Default true."`
	MFAMandatory          bool                       `json:"mfaMandatory,omitempty"`
	PasswordResetRequired bool                       `json:"passwordResetRequired,omitempty" doc:"The user chooses a new password at its next console login."`
	UseConsolePermitIP    bool                       `json:"useConsolePermitIp,omitempty"`
	ConsolePermitIPs      []string                   `json:"consolePermitIps,omitempty" maxItems:"100" doc:"IP addresses or CIDRs."`
	UseAPIAllowSource     bool                       `json:"useApiAllowSource,omitempty"`
	APIAllowSources       []castellan.APIAllowSource `json:"apiAllowSources,omitempty" maxItems:"100"`
}

func orTrue(b *bool) bool { return b == nil || *b }

// registration turns the body into the domain's input, choosing the mode
// when the body leaves it out.
func (b *userRegistrationBody) registration() castellan.UserRegistration {
	mode := castellan.RegistrationMode(b.Mode)
	if mode == "" && b.AccountType != castellan.AccountFederated {
		mode = castellan.ModeInvitation
		if b.Password != "" || b.NeedPasswordGenerate {
			mode = castellan.ModePassword
		}
	}
	return castellan.UserRegistration{
		LoginID: b.LoginID, Email: b.Email, Name: b.Name, Nickname: b.Nickname,
		FirstName: b.FirstName, MiddleName: b.MiddleName, LastName: b.LastName,
		ContactEmail: b.ContactEmail, Mobile: b.Mobile, Memo: b.Memo,
		AccountType: b.AccountType, FederationID: b.FederationID, Mode: mode,
		Password: b.Password, GeneratePassword: b.NeedPasswordGenerate, Disabled: !orTrue(b.Active),
		ConsoleAccess: orTrue(b.ConsoleAccess), APIAccess: orTrue(b.APIAccess), MFAMandatory: b.MFAMandatory,
		PasswordResetRequired: b.PasswordResetRequired,
		UseConsolePermitIP:    b.UseConsolePermitIP, ConsolePermitIPs: b.ConsolePermitIPs,
		UseAPIAllowSource: b.UseAPIAllowSource, APIAllowSources: b.APIAllowSources,
	}
}

// registeredUser is a registered user; the generated password appears in
// this response only.
type registeredUser struct {
	User              *castellan.User `json:"user"`
	GeneratedPassword string          `json:"generatedPassword,omitempty" doc:"The generated password, when needPasswordGenerate: shown this once, never stored in clear."`
}

type registerUserOutput struct{ Body registeredUser }

type batchRegisterBody struct {
	Users []userRegistrationBody `json:"users" minItems:"1" maxItems:"100" doc:"Up to 100 users, all or nothing; errors name the item (body.users[3].email)."`
}

type batchRegisterOutput struct {
	Body struct {
		Users    []registeredUser `json:"users" nullable:"false"`
		Revision int64            `json:"revision"`
	}
}

type userOutput struct{ Body *castellan.User }

type listUsersInput struct {
	OrgPath
	PageParams
	Status string `query:"status" enum:"active,pending_invitation,disabled,deleted," doc:"Only users of this status; without it, every user but deleted ones."`
	Group  string `query:"group" doc:"Only members of this group (its ID)."`
	Query  string `query:"q" maxLength:"100" doc:"Users whose login ID, email or name starts with this, in any case."`
	Sort   string `query:"sort" enum:"registeredAt,loginId,name," doc:"Default registeredAt."`
	Order  string `query:"order" enum:"asc,desc," doc:"Default desc for registeredAt (newest first), asc otherwise."`
}

type listUsersOutput struct {
	Body struct {
		Users         []*castellan.User `json:"users" nullable:"false"`
		NextPageToken string            `json:"nextPageToken,omitempty"`
	}
}

type userUpdateBody struct {
	Email                 *string                     `json:"email,omitempty" maxLength:"254"`
	Name                  *string                     `json:"name,omitempty" minLength:"2" maxLength:"30"`
	Nickname              *string                     `json:"nickname,omitempty" maxLength:"30"`
	FirstName             *string                     `json:"firstName,omitempty" maxLength:"255"`
	MiddleName            *string                     `json:"middleName,omitempty" maxLength:"255"`
	LastName              *string                     `json:"lastName,omitempty" maxLength:"255"`
	ContactEmail          *string                     `json:"contactEmail,omitempty" maxLength:"254"`
	Mobile                *string                     `json:"mobile,omitempty"`
	Memo                  *string                     `json:"memo,omitempty"`
	Status                *string                     `json:"status,omitempty" enum:"active,disabled" doc:"Disable or enable the user; a disabled user's tokens are refused."`
	ConsoleAccess         *bool                       `json:"consoleAccess,omitempty"`
	APIAccess             *bool                       `json:"apiAccess,omitempty"`
	MFAMandatory          *bool                       `json:"mfaMandatory,omitempty"`
	PasswordResetRequired *bool                       `json:"passwordResetRequired,omitempty"`
	UseConsolePermitIP    *bool                       `json:"useConsolePermitIp,omitempty"`
	ConsolePermitIPs      *[]string                   `json:"consolePermitIps,omitempty" maxItems:"100"`
	UseAPIAllowSource     *bool                       `json:"useApiAllowSource,omitempty"`
	APIAllowSources       *[]castellan.APIAllowSource `json:"apiAllowSources,omitempty" maxItems:"100"`
}

func (b *userUpdateBody) update() castellan.UserUpdate {
	return castellan.UserUpdate{
		Email: b.Email, Name: b.Name, Nickname: b.Nickname, FirstName: b.FirstName, MiddleName: b.MiddleName,
		LastName: b.LastName, ContactEmail: b.ContactEmail, Mobile: b.Mobile, Memo: b.Memo, Status: b.Status,
		ConsoleAccess: b.ConsoleAccess, APIAccess: b.APIAccess, MFAMandatory: b.MFAMandatory,
		PasswordResetRequired: b.PasswordResetRequired, UseConsolePermitIP: b.UseConsolePermitIP,
		ConsolePermitIPs: b.ConsolePermitIPs, UseAPIAllowSource: b.UseAPIAllowSource, APIAllowSources: b.APIAllowSources,
	}
}

type deleteUserInput struct {
	UserPath
	Confirm string `query:"confirm" doc:"\"Delete user from organization\" or the user's login ID, typed to confirm; or give it in the body."`
	Body    *struct {
		Confirm string `json:"confirm" doc:"\"Delete user from organization\" or the user's login ID, typed to confirm."`
	}
}

func (s *Server) registerUsers() {
	const tag = "Users"
	register(s, op{
		id: "create-user", method: http.MethodPost, path: "/v1/organizations/{org}/users", tag: tag,
		action: castellan.ActionCreateUser, status: http.StatusCreated, errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Register a user",
		desc: "In invitation mode the user gets a mail with a link valid 7 days to set its password and is pending_invitation until then; " +
			"in password mode the password is set now (or generated and shown once in this response). " +
			"An email or login ID already in the organization is user.email_taken or user.login_id_taken; " +
			"an organization at the server's user limit (--max-users-per-organization) refuses it with user.limit_reached.",
	}, s.createUser)
	register(s, op{
		id: "batch-create-users", method: http.MethodPost, path: "/v1/organizations/{org}/users:batchCreate", tag: tag,
		action: castellan.ActionCreateUser, status: http.StatusCreated, errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Quick register: up to 100 users",
		desc: "One transaction: all or nothing, and an error names the item and field (body.users[3].email). " +
			"A batch that would take the organization past the server's user limit is refused whole with user.limit_reached.",
	}, s.batchCreateUsers)
	register(s, op{
		id: "list-users", method: http.MethodGet, path: "/v1/organizations/{org}/users", tag: tag,
		action: castellan.ActionListUsers, errors: []int{http.StatusNotFound},
		summary: "List users", desc: "With the number of organization roles and groups of each; filter by status, group or text, sort by registration, login ID or name.",
	}, s.listUsers)
	register(s, op{
		id: "get-user", method: http.MethodGet, path: "/v1/organizations/{org}/users/{user}", tag: tag,
		action: castellan.ActionGetUser, errors: []int{http.StatusNotFound},
		summary: "Get a user", desc: "A deleted user's tombstone only with includeDeleted=true.",
	}, s.getUser)
	register(s, op{
		id: "update-user", method: http.MethodPatch, path: "/v1/organizations/{org}/users/{user}", tag: tag,
		action: castellan.ActionUpdateUser, errors: []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Update a user", desc: "Changes the fields present. Disabling a user takes away what it holds: the hierarchy principle applies to each of its roles.",
	}, s.updateUser)
	register(s, op{
		id: "delete-user", method: http.MethodDelete, path: "/v1/organizations/{org}/users/{user}", tag: tag,
		action: castellan.ActionDeleteUser, errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Delete a user",
		desc: "Irreversible: confirm must be the phrase \"Delete user from organization\", typed exactly, or the user's login ID. Its grants, group memberships, tokens and invitations go in the same transaction, " +
			"so its next request fails; a tombstone stays for includeDeleted reads and the login ID may be registered again.",
	}, s.deleteUser)
	s.registerInvitations(tag)
}

func (s *Server) createUser(ctx context.Context, in *struct {
	OrgPath
	Body userRegistrationBody
}) (*registerUserOutput, error) {
	reg := in.Body.registration()
	if err := castellan.CheckSubAccountRegistrations([]castellan.UserRegistration{reg}, castellan.NoPrefix); err != nil {
		return nil, err
	}
	r, err := s.services.Users.RegisterUser(ctx, in.Org, reg)
	if err != nil {
		return nil, err
	}
	return &registerUserOutput{Body: registeredUser{User: r.User, GeneratedPassword: r.GeneratedPassword}}, nil
}

func (s *Server) batchCreateUsers(ctx context.Context, in *struct {
	OrgPath
	Body batchRegisterBody
}) (*batchRegisterOutput, error) {
	regs := make([]castellan.UserRegistration, len(in.Body.Users))
	for i := range in.Body.Users {
		regs[i] = in.Body.Users[i].registration()
	}
	if err := castellan.CheckSubAccountRegistrations(regs, func(i int) string { return fmt.Sprintf("users[%d].", i) }); err != nil {
		return nil, err
	}
	registered, err := s.services.Users.RegisterUsers(ctx, in.Org, regs)
	if err != nil {
		return nil, err
	}
	out := &batchRegisterOutput{}
	out.Body.Users = make([]registeredUser, len(registered))
	for i, r := range registered {
		out.Body.Users[i] = registeredUser{User: r.User, GeneratedPassword: r.GeneratedPassword}
		out.Body.Revision = r.User.Revision
	}
	return out, nil
}

func (s *Server) listUsers(ctx context.Context, in *listUsersInput) (*listUsersOutput, error) {
	f := castellan.UserFilter{Sort: in.Sort, Order: in.Order, PageSize: in.PageSize, PageToken: in.PageToken}
	if in.Status != "" {
		f.Status = &in.Status
	}
	if in.Group != "" {
		f.GroupID = &in.Group
	}
	if in.Query != "" {
		f.Query = &in.Query
	}
	users, next, err := s.services.Users.FindUsers(ctx, in.Org, f)
	if err != nil {
		return nil, err
	}
	out := &listUsersOutput{}
	out.Body.Users, out.Body.NextPageToken = nonNil(users), next
	return out, nil
}

func (s *Server) getUser(ctx context.Context, in *struct {
	UserPath
	IncludeDeleted bool `query:"includeDeleted" doc:"Also return a deleted user's tombstone (deleted: true)."`
}) (*userOutput, error) {
	u, err := s.services.Users.FindUserByID(ctx, in.Org, in.User, in.IncludeDeleted)
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: u}, nil
}

func (s *Server) updateUser(ctx context.Context, in *struct {
	UserPath
	Body userUpdateBody
}) (*userOutput, error) {
	u, err := s.services.Users.UpdateUser(ctx, in.Org, in.User, in.Body.update())
	if err != nil {
		return nil, err
	}
	return &userOutput{Body: u}, nil
}

func (s *Server) deleteUser(ctx context.Context, in *deleteUserInput) (*revisionOutput, error) {
	confirm := in.Confirm
	if in.Body != nil && in.Body.Confirm != "" {
		confirm = in.Body.Confirm
	}
	rev, err := s.services.Users.DeleteUser(ctx, in.Org, in.User, confirm)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
