package cloudru

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// Tag groups the adapter's operations in the OpenAPI document.
const Tag = "Customer users API (compatibility)"

// operationDoc is what the document says of one operation.
type operationDoc struct {
	id, path, summary, description string
	params                         []string
	request, response              any
	errors                         []int
}

// Document adds the adapter's operations, their schemas and its tag to
// doc, the API's document (api.Server.OpenAPI).
func (a *Adapter) Document(doc *huma.OpenAPI) {
	doc.Tags = append(doc.Tags, &huma.Tag{Name: Tag, Description: "The customer users / permissions API of another cloud (seed 003), " +
		"wire-exact for its clients: a Castellan token as `Authorization: Bearer`, errors as " +
		"`{\"code\": <gRPC status>, \"message\": \"…\", \"details\": []}` with the HTTP status of a gRPC gateway, " +
		"validation messages in protoc-gen-validate's words."})
	common := []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable}
	for _, op := range []operationDoc{{
		id: "cloudru-add-user", path: usersPath, summary: "Add a user to a customer",
		description: "Registers a local user, who gets an invitation mail, or a federated user of the federation `idpId`. " +
			"`customerId` is the organization's ID. 409 (code 6) when the user name or email is taken.",
		params: []string{"customerId"}, request: cloudruAddUserRequest{}, response: cloudruAddUserResponse{},
		errors: append(common, http.StatusConflict),
	}, {
		id: "cloudru-reinvite-user", path: reinvitePath, summary: "Invite a user again",
		description: "Mails a user that has not accepted its invitation a new one; the earlier links stop working.",
		params:      []string{"customerId"}, request: cloudruReinviteRequest{}, response: cloudruEmpty{}, errors: common,
	}, {
		id: "cloudru-add-federated-users", path: federatedUsersPath, summary: "Add users of a federation by their emails",
		description: "Registers 1–100 federated users of the federation `idpId` at once, all or none; each email is also the login ID, " +
			"and each user gets a mail with the sign-in link and the federation ID. 409 (code 6) when an email is taken or repeated.",
		params: []string{"customerId", "idpId"}, request: cloudruAddFederatedUsersRequest{}, response: cloudruAddFederatedUsersResponse{},
		errors: append(common, http.StatusConflict),
	}, {
		id: "cloudru-create-permission", path: permissionsPath, summary: "Grant a role",
		description: "Grants the role to the subject on the object, in the caller's organization, until `expiresAt` if given. " +
			"The caller may grant only what it holds itself on the object (403, code 7).",
		request: cloudruPermissionRequest{}, response: cloudruPermission{}, errors: common,
	}} {
		doc.AddOperation(a.operation(doc.Components.Schemas, op))
	}
}

func (a *Adapter) operation(schemas huma.Registry, op operationDoc) *huma.Operation {
	errorBody := map[string]*huma.MediaType{"application/json": {Schema: schemas.Schema(reflect.TypeOf(cloudruStatus{}), true, "")}}
	o := &huma.Operation{
		OperationID: op.id, Method: http.MethodPost, Path: a.prefix + op.path, Tags: []string{Tag},
		Summary: op.summary, Description: op.description,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: schemas.Schema(reflect.TypeOf(op.request), true, "")}}},
		Responses: map[string]*huma.Response{"200": {Description: "OK", Content: map[string]*huma.MediaType{
			"application/json": {Schema: schemas.Schema(reflect.TypeOf(op.response), true, "")}}}},
	}
	for _, name := range op.params {
		o.Parameters = append(o.Parameters, &huma.Param{Name: name, In: "path", Required: true,
			Schema: &huma.Schema{Type: huma.TypeString, Format: "uuid"}})
	}
	for _, status := range op.errors {
		o.Responses[strconv.Itoa(status)] = &huma.Response{Description: http.StatusText(status), Content: errorBody}
	}
	return o
}
