package api

import (
	"errors"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
	"github.com/danielgtaylor/huma/v2"
)

// The services name bad fields by the domain input ("grants[2].roleId",
// "pageToken", "organizationId"; see castellan.FieldError). The API names
// them where the client put them: a path parameter is path.<name>, a query
// parameter query.<name>, anything else body.<path>. The parameters of each
// operation give most of the renaming; the tables below hold the rest.

// domainOfPathParam names the domain argument behind a path parameter
// whose name is not the domain's without the Id suffix (user ↔ userId).
var domainOfPathParam = map[string]string{
	"org": "organizationId",
	"key": "accessKeyId",
}

// domainOfQueryParam names the domain field behind a query parameter
// whose name is not the snake_case of the domain's (page_token ↔
// pageToken).
var domainOfQueryParam = map[string]string{
	"group": "groupId",
	"org":   "organizationId",
}

// bodyOverQuery lists, per operation, the domain fields that the body
// carries although a query parameter of the same name exists: the body's
// value wins, and the API has always named the body.
var bodyOverQuery = map[string][]string{
	"delete-user": {"confirm"},
}

// resourceFields are domain fields that name, as a whole, the resource a
// path parameter identifies, by parameter: an unmet precondition of an
// account's exclusion or deletion (castellan.Refusal) is about field
// "account", the account of the path.
var resourceFields = map[string]string{"account": "account"}

// wireLocations are the first segments of paths already in wire names:
// errors the API raises itself (huma's validation, its own checks).
var wireLocations = map[string]bool{"body": true, "query": true, "path": true, "header": true}

// domainName is the domain's name for the value of parameter p.
func domainName(p *huma.Param) string {
	if p.In == "path" {
		if name, ok := domainOfPathParam[p.Name]; ok {
			return name
		}
		return p.Name + "Id"
	}
	if name, ok := domainOfQueryParam[p.Name]; ok {
		return name
	}
	parts := strings.Split(p.Name, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// wireFieldPath returns the API's name of the domain field path in
// operation op (nil: no operation, so every field is the body's).
func wireFieldPath(op *huma.Operation, field string) string {
	end := strings.IndexAny(field, ".[")
	if end < 0 {
		end = len(field)
	}
	first, rest := field[:end], field[end:]
	if wireLocations[first] {
		return field
	}
	if op != nil {
		for _, p := range op.Parameters {
			if p.In == "path" && resourceFields[first] == p.Name {
				return "path." + p.Name + rest
			}
			if (p.In == "path" || p.In == "query") && domainName(p) == first {
				if p.In == "query" && slices.Contains(bodyOverQuery[op.OperationID], first) {
					break
				}
				return p.In + "." + p.Name + rest
			}
		}
	}
	return "body." + field
}

// wireError returns err with the field paths of its castellan.Error in
// the API's names for the operation being served; the message, which
// castellan.Invalid begins with the first field's path, follows. Other
// errors are returned as they are.
func wireError(hctx huma.Context, err error) error {
	var e *castellan.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	var op *huma.Operation
	if hctx != nil {
		op = hctx.Operation()
	}
	out := *e
	out.Fields = make([]castellan.FieldError, len(e.Fields))
	for i, f := range e.Fields {
		f.Field = wireFieldPath(op, f.Field)
		out.Fields[i] = f
	}
	if rest, ok := strings.CutPrefix(e.Message, e.Fields[0].Field+": "); ok {
		out.Message = out.Fields[0].Field + ": " + rest
	}
	return &out
}
