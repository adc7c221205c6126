package ncloud

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// Tag is the OpenAPI tag of the API's operations.
const Tag = "Sub-account API (compatibility)"

// The security schemes of the signature headers: a request needs all
// three.
var securitySchemes = map[string]*huma.SecurityScheme{
	"ncloudTimestamp": {Type: "apiKey", In: "header", Name: headerTimestamp,
		Description: "Milliseconds since the epoch; at most 5 minutes off the server's clock."},
	"ncloudAccessKey": {Type: "apiKey", In: "header", Name: headerAccessKey,
		Description: "A Castellan access key ID (created after sealed secrets were enabled: older keys cannot sign)."},
	"ncloudSignature": {Type: "apiKey", In: "header", Name: headerSignature,
		Description: "Base64 (standard, padded) of HMAC-SHA256 with the key's secret over " +
			"\"<METHOD> <path with query>\\n<timestamp>\\n<access key>\"."},
}

// Document adds the API's operations, schemas, tag and security schemes
// to doc, the OpenAPI document of the REST API.
//
// The operations are written into doc.Paths rather than through
// AddOperation, whose hooks describe the REST API's conventions
// (problem+json, Idempotency-Key) that this API does not follow.
func (s *Server) Document(doc *huma.OpenAPI) {
	doc.Tags = append(doc.Tags, &huma.Tag{Name: Tag,
		Description: "The sub-account API of a public cloud's IAM, wire-compatible, under " + s.prefix +
			": requests are signed with an access key, errors are {\"error\": {errorCode, message, details}}."})
	if doc.Components.SecuritySchemes == nil {
		doc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{}
	}
	for name, scheme := range securitySchemes {
		doc.Components.SecuritySchemes[name] = scheme
	}
	schemas := doc.Components.Schemas
	errorSchema := schemas.Schema(reflect.TypeFor[ncloudErrorBody](), true, "")
	if doc.Paths == nil {
		doc.Paths = map[string]*huma.PathItem{}
	}
	create := operation(schemas, errorSchema, &huma.Operation{
		OperationID: "ncloud-create-sub-account", Method: http.MethodPost, Path: s.prefix + "/sub-accounts",
		Summary: "Create a sub account",
		Description: "Registers a user of the caller's organization with a password (given, or generated and returned once). " +
			"400 with errorCode 120 for a login ID taken, 9015 for an unsafe password, 100 for any other bad field " +
			"(details name each field and rule); 401 210 when the caller may not create users.",
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: schemas.Schema(reflect.TypeFor[subAccountRequest](), true, "")}}},
	}, reflect.TypeFor[subAccountResult](), errTooLarge)
	createSchema := schemas.SchemaFromRef(create.RequestBody.Content["application/json"].Schema.Ref)
	createSchema.Required = subAccountRequired
	doc.Paths[create.Path] = &huma.PathItem{Post: create}
	get := operation(schemas, errorSchema, &huma.Operation{
		OperationID: "ncloud-get-user", Method: http.MethodGet, Path: s.prefix + "/users/{subAccountId}",
		Summary: "View a user: a sub account or a role user",
		Description: "A sub account of the caller's organization (principalType IamUser) or a role session (IamRole, with " +
			"sourceIdentity and roleNrn). A deleted one only with includeDeleted=true. An unknown ID, or one of another " +
			"organization, is 401 with errorCode 30.",
		Parameters: []*huma.Param{
			{Name: "subAccountId", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: "includeDeleted", In: "query", Schema: &huma.Schema{Type: "boolean", Default: false},
				Description: "Whether a deleted user is returned."},
		},
	}, reflect.TypeFor[subAccountUser](), errNonexistent)
	doc.Paths[get.Path] = &huma.PathItem{Get: get}
}

// operation completes op with the tag, the security requirement, the
// success answer of type result and the error answers: those of every
// operation and extra.
func operation(schemas huma.Registry, errorSchema *huma.Schema, op *huma.Operation, result reflect.Type, extra ...apiError) *huma.Operation {
	op.Tags = []string{Tag}
	op.Security = []map[string][]string{{"ncloudTimestamp": {}, "ncloudAccessKey": {}, "ncloudSignature": {}}}
	op.Responses = map[string]*huma.Response{"200": {Description: "OK", Content: map[string]*huma.MediaType{
		"application/json": {Schema: schemas.Schema(result, true, "")}}}}
	for _, e := range append(append([]apiError{}, documentedErrors...), extra...) {
		status := strconv.Itoa(e.status)
		r := op.Responses[status]
		if r == nil {
			r = &huma.Response{Content: map[string]*huma.MediaType{"application/json": {Schema: errorSchema}}}
			op.Responses[status] = r
		}
		if r.Description != "" {
			r.Description += "; "
		}
		r.Description += e.code + " " + e.msg
	}
	return op
}
