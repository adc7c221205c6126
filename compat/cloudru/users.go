package cloudru

import (
	"net/http"
	"regexp"
	"strconv"

	"github.com/castellan-iam/castellan"
)

// Account types of the wire.
const (
	accountLocal     = "USER_ACCOUNT_TYPE_LOCAL"
	accountFederated = "USER_ACCOUNT_TYPE_FEDERATED"
)

// cloudruAddUserRequest is the body of AddUser.
type cloudruAddUserRequest struct {
	UserName    string `json:"userName" doc:"Login ID: 2–255 characters from A-Z, a-z, 0-9, - @ . _ + and spaces." example:"ivanovivan@gmail.com"`
	FirstName   string `json:"firstName,omitempty" doc:"2–255 letters, digits and spaces." example:"Иван"`
	LastName    string `json:"lastName,omitempty" doc:"2–255 letters, digits and spaces." example:"Иванов"`
	MiddleName  string `json:"middleName,omitempty" doc:"2–255 letters, digits and spaces." example:"Иванович"`
	Email       string `json:"email" doc:"The user's email: a local user's invitation, a federated user's sign-in link go there." example:"ivanovivan@gmail.com"`
	AccountType string `json:"accountType" enum:"USER_ACCOUNT_TYPE_LOCAL,USER_ACCOUNT_TYPE_FEDERATED" doc:"A local user is invited by mail and sets a password; a federated one signs in through the federation idpId."`
	IdpID       string `json:"idpId,omitempty" doc:"The federation (a UUID) of a federated user; must be empty for a local one."`
}

var addUserRequest = message{name: "AddUserRequest", fields: []field{
	{"customerId", "CustomerId"}, {"userName", "Username"}, {"firstName", "FirstName"}, {"lastName", "LastName"},
	{"middleName", "MiddleName"}, {"email", "Email"}, {"accountType", "AccountType"}, {"idpId", "IdpId"},
}}

// userField names the fields of a registration on this wire.
func userField(f castellan.FieldError) (violation, bool) {
	v := violation{index: -1}
	switch f.Field {
	case "organizationId":
		v.goName, v.message = "CustomerId", msgUUID
	case "loginId":
		v.goName, v.message = "Username", msgLoginID
	case "email":
		v.goName, v.message = "Email", msgEmail
	case "firstName":
		v.goName, v.message = "FirstName", personNameMessage(f.Rule)
	case "lastName":
		v.goName, v.message = "LastName", personNameMessage(f.Rule)
	case "middleName":
		v.goName, v.message = "MiddleName", personNameMessage(f.Rule)
	case "federationId":
		v.goName, v.message = "IdpId", msgUUID
	default:
		return v, false
	}
	return v, true
}

type cloudruAddUserResponse struct {
	UserID string `json:"user_id" doc:"The new user's ID, to grant it roles with."`
}

// addUser registers one user: a local one in invitation mode (the
// invitation mail goes to its email), a federated one of the federation
// idpId.
func (a *Adapter) addUser(w http.ResponseWriter, r *http.Request) error {
	var body cloudruAddUserRequest
	if err := addUserRequest.decode(r, &body); err != nil {
		return err
	}
	var vs []violation
	orgID := checkUUID(&vs, "CustomerId", r.PathValue("customerId"))
	reg := castellan.UserRegistration{
		LoginID: body.UserName, Email: body.Email, FirstName: body.FirstName, LastName: body.LastName, MiddleName: body.MiddleName,
		ConsoleAccess: true, APIAccess: true,
	}
	checkEnum(&vs, "AccountType", body.AccountType, accountLocal, accountFederated)
	switch {
	case body.AccountType == accountFederated:
		reg.AccountType = castellan.AccountFederated
		reg.FederationID = checkUUID(&vs, "IdpId", body.IdpID)
	case body.IdpID != "":
		vs = append(vs, violation{goName: "IdpId", index: -1, message: "must be empty for " + accountLocal})
	default:
		reg.AccountType, reg.Mode = castellan.AccountLocal, castellan.ModeInvitation
	}
	// The core's checks, merged with the wire's so that the first field
	// in the original's order is the one reported.
	if err := addUserRequest.invalid(append(vs, violations(reg.Validate(), userField)...)); err != nil {
		return err
	}
	user, err := a.services.Users.RegisterUser(r.Context(), orgID, reg)
	if err != nil {
		return addUserRequest.translate(err, userField)
	}
	writeJSON(w, http.StatusOK, cloudruAddUserResponse{UserID: user.User.ID})
	return nil
}

// cloudruReinviteRequest is the body of ReinviteUser.
type cloudruReinviteRequest struct {
	UserID string `json:"userId" doc:"The user (a UUID), which must not have accepted its invitation yet."`
}

var reinviteRequest = message{name: "ReinviteUserRequest", fields: []field{{"customerId", "CustomerId"}, {"userId", "UserId"}}}

func reinviteField(f castellan.FieldError) (violation, bool) {
	switch f.Field {
	case "organizationId":
		return violation{goName: "CustomerId", index: -1, message: msgUUID}, true
	case "userId":
		return violation{goName: "UserId", index: -1, message: msgUUID}, true
	}
	return violation{}, false
}

// cloudruEmpty is google.protobuf.Empty.
type cloudruEmpty struct{}

// reinvite mails the user a new invitation; the links before it stop
// working.
func (a *Adapter) reinvite(w http.ResponseWriter, r *http.Request) error {
	var body cloudruReinviteRequest
	if err := reinviteRequest.decode(r, &body); err != nil {
		return err
	}
	var vs []violation
	orgID := checkUUID(&vs, "CustomerId", r.PathValue("customerId"))
	if err := reinviteRequest.invalid(vs); err != nil {
		return err
	}
	if _, err := a.services.Users.Reinvite(r.Context(), orgID, body.UserID); err != nil {
		return reinviteRequest.translate(err, reinviteField)
	}
	writeJSON(w, http.StatusOK, cloudruEmpty{})
	return nil
}

// cloudruAddFederatedUsersRequest is the body of AddFederatedUsers.
type cloudruAddFederatedUsersRequest struct {
	Emails []string `json:"emails" minItems:"1" maxItems:"100" doc:"The users' emails, each also its login ID; each user gets a mail with the sign-in link and the federation ID."`
}

var addFederatedUsersRequest = message{name: "AddFederatedUsersRequest", fields: []field{
	{"customerId", "CustomerId"}, {"idpId", "IdpId"}, {"emails", "Emails"},
}}

// batchItem finds the item of a batch field of the core ("users[3].email").
var batchItem = regexp.MustCompile(`^users\[(\d+)\]\.(loginId|email)$`)

// federatedUserField names the fields of a batch of federated users:
// each item is one email, which is also the login ID.
func federatedUserField(f castellan.FieldError) (violation, bool) {
	switch f.Field {
	case "organizationId":
		return violation{goName: "CustomerId", index: -1, message: msgUUID}, true
	case "users":
		msg := msgMinItems
		if f.Rule == "maxItems" {
			msg = msgMaxItems
		}
		return violation{goName: "Emails", index: -1, message: msg}, true
	}
	sub := batchItem.FindStringSubmatch(f.Field)
	if sub == nil {
		return violation{}, false
	}
	i, _ := strconv.Atoi(sub[1])
	msg := msgEmail
	if sub[2] == "loginId" {
		msg = msgLoginID
	}
	return violation{goName: "Emails", index: i, message: msg}, true
}

type cloudruAddFederatedUsersResponse struct {
	UserIDs []string `json:"user_ids" nullable:"false" doc:"The new users' IDs, in the order of the emails."`
}

// addFederatedUsers registers the users of a federation by their
// emails, all or none.
func (a *Adapter) addFederatedUsers(w http.ResponseWriter, r *http.Request) error {
	var body cloudruAddFederatedUsersRequest
	if err := addFederatedUsersRequest.decode(r, &body); err != nil {
		return err
	}
	var vs []violation
	orgID := checkUUID(&vs, "CustomerId", r.PathValue("customerId"))
	federationID := checkUUID(&vs, "IdpId", r.PathValue("idpId"))
	if err := addFederatedUsersRequest.invalid(vs); err != nil {
		return err
	}
	regs := make([]castellan.UserRegistration, len(body.Emails))
	for i, email := range body.Emails {
		regs[i] = castellan.UserRegistration{LoginID: email, Email: email, AccountType: castellan.AccountFederated,
			FederationID: federationID, ConsoleAccess: true, APIAccess: true}
	}
	users, err := a.services.Users.RegisterUsers(r.Context(), orgID, regs)
	if err != nil {
		return addFederatedUsersRequest.translate(err, federatedUserField)
	}
	out := cloudruAddFederatedUsersResponse{UserIDs: make([]string, len(users))}
	for i, u := range users {
		out.UserIDs[i] = u.User.ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
