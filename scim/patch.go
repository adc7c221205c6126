package scim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/castellan-iam/castellan"
)

// patchRequest is a PATCH body (RFC 7644 §3.5.2).
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// readPatch decodes a PATCH body and checks its schema and operations.
func readPatch(r *request) (*patchRequest, error) {
	var p patchRequest
	if err := decode(r, &p); err != nil {
		return nil, err
	}
	if !slices.Contains(p.Schemas, schemaPatchOp) {
		return nil, badRequest("invalidSyntax", "schemas must list %s", schemaPatchOp)
	}
	if len(p.Operations) == 0 {
		return nil, badRequest("invalidValue", "Operations must list at least one operation")
	}
	for i := range p.Operations {
		op := &p.Operations[i]
		op.Op = strings.ToLower(op.Op)
		if op.Op != "add" && op.Op != "replace" && op.Op != "remove" {
			return nil, badRequest("invalidSyntax", "op %q: must be add, replace or remove", op.Op)
		}
	}
	return &p, nil
}

// each runs apply on every operation, an operation without a path once
// per attribute of its value (RFC 7644 §3.5.2.1, 3.5.2.3).
func (p *patchRequest) each(apply func(op patchOp) error) error {
	for _, op := range p.Operations {
		if op.Path != "" {
			if err := apply(op); err != nil {
				return err
			}
			continue
		}
		if op.Op == "remove" {
			return badRequest("noTarget", "a remove operation needs a path")
		}
		var attrs map[string]json.RawMessage
		if err := op.unmarshal(&attrs); err != nil {
			return err
		}
		for name, value := range attrs {
			if err := apply(patchOp{Op: op.Op, Path: name, Value: value}); err != nil {
				return err
			}
		}
	}
	return nil
}

// ignoredPath matches the attributes a PATCH may name that are not kept:
// externalId, phone numbers, addresses, titles and the like, and the
// enterprise extension.
var ignoredPath = regexp.MustCompile(`(?i)^(externalid|phonenumbers.*|addresses.*|title|usertype|preferredlanguage|locale|timezone|` +
	regexp.QuoteMeta(schemaEnterpris) + `.*)$`)

// unmarshal decodes an operation's value into v, naming the path when it
// does not fit.
func (op *patchOp) unmarshal(v any) error {
	if err := json.Unmarshal(op.Value, v); err != nil {
		return badRequest("invalidValue", "the value for %q does not fit: %v", op.Path, err)
	}
	return nil
}

// patchUser applies the operations to one UserUpdate, so that they take
// effect together, in one transaction.
func (s *Server) patchUser(w http.ResponseWriter, r *request) error {
	p, err := readPatch(r)
	if err != nil {
		return err
	}
	u, err := s.services.Users.FindUserByID(r.Context(), r.org, r.PathValue("id"), false)
	if err != nil {
		return err
	}
	var upd castellan.UserUpdate
	if err := p.each(func(op patchOp) error { return patchUserAttr(u, &upd, op) }); err != nil {
		return err
	}
	return s.updateUser(w, r, u.ID, upd)
}

// emailPath matches emails, emails.value and emails[…].value.
var emailPath = regexp.MustCompile(`(?i)^emails(\[[^\]]*\])?(\.value)?$`)

// patchUserAttr applies one operation on one attribute of u to upd.
func patchUserAttr(u *castellan.User, upd *castellan.UserUpdate, op patchOp) error {
	path := strings.ToLower(op.Path)
	str := func(dst **string) error {
		v := ""
		if op.Op != "remove" {
			if err := op.unmarshal(&v); err != nil {
				return err
			}
		}
		*dst = &v
		return nil
	}
	switch {
	case path == "active":
		if op.Op == "remove" {
			return badRequest("mutability", "active cannot be removed")
		}
		var active boolish
		if err := op.unmarshal(&active); err != nil {
			return err
		}
		upd.Status = statusFor(u, bool(active))
	case path == "displayname":
		return str(&upd.Name)
	case path == "nickname":
		return str(&upd.Nickname)
	case path == "name.givenname":
		return str(&upd.FirstName)
	case path == "name.middlename":
		return str(&upd.MiddleName)
	case path == "name.familyname":
		return str(&upd.LastName)
	case path == "name.formatted":
	case path == "name":
		var n nameAttr
		if op.Op != "remove" {
			if err := op.unmarshal(&n); err != nil {
				return err
			}
		}
		upd.FirstName, upd.MiddleName, upd.LastName = &n.GivenName, &n.MiddleName, &n.FamilyName
	case emailPath.MatchString(path):
		if op.Op == "remove" {
			return badRequest("mutability", "the email cannot be removed: it is the user's ID email")
		}
		var email string
		if strings.HasSuffix(path, ".value") {
			if err := op.unmarshal(&email); err != nil {
				return err
			}
		} else {
			var in userInput
			if err := op.unmarshal(&in.Emails); err != nil {
				return err
			}
			email = in.email()
		}
		if email != "" {
			upd.Email = &email
		}
	case path == "username":
		var name string
		if err := op.unmarshal(&name); err != nil || !strings.EqualFold(name, u.LoginID) {
			return badRequest("mutability", "userName cannot change: it is the user's login ID")
		}
	case ignoredPath.MatchString(path):
	default:
		return badRequest("invalidPath", "the attribute %q cannot be changed here", op.Path)
	}
	return nil
}
