package cloudru

import (
	"net/http"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// Object and subject types of the wire.
const (
	objectCustomer = "customer"
	objectResource = "resource"

	subjectUser           = "user"
	subjectServiceAccount = "service_account"
	subjectGroup          = "group"
)

var subjectTypes = map[string]castellan.SubjectType{
	subjectUser: castellan.SubjectUser, subjectServiceAccount: castellan.SubjectServiceAccount, subjectGroup: castellan.SubjectGroup,
}

// cloudruPermissionRequest is the body of CreatePermission.
type cloudruPermissionRequest struct {
	Role        string `json:"role" doc:"A role ID: a built-in role of the catalogue (organization.admin, project.admin, s3e.admin) or a custom role of the organization." example:"s3e.admin"`
	ObjectID    string `json:"objectId" doc:"customer: the organization's ID. resource: the ID of a project, account or OU of the organization, or a resource name rn:<service>:<project-id>:<type>/<id>."`
	ObjectType  string `json:"objectType" enum:"customer,resource"`
	SubjectID   string `json:"subjectId" doc:"The user, service account or group (a UUID)."`
	SubjectType string `json:"subjectType" enum:"user,service_account,group"`
	ExpiresAt   string `json:"expiresAt,omitempty" format:"date-time" doc:"When the role is removed (RFC 3339); none: never." example:"2025-05-28T07:19:34.563Z"`
}

var createPermissionRequest = message{name: "CreatePermissionRequest", fields: []field{
	{"role", "Role"}, {"objectId", "ObjectId"}, {"objectType", "ObjectType"},
	{"subjectId", "SubjectId"}, {"subjectType", "SubjectType"}, {"expiresAt", "ExpiresAt"},
}}

// permissionField names the fields of a grant, and of the node lookup
// of a resource, on this wire. Only the rules that have a
// protoc-gen-validate form get one; the others keep the core's words.
func permissionField(f castellan.FieldError) (violation, bool) {
	v := violation{index: -1, message: f.Message}
	switch strings.TrimPrefix(f.Field, "grants[0].") {
	case "roleId":
		v.goName = "Role"
		if f.Rule == "required" {
			v.message = msgRequired
		}
	case "scope", "nodeId", "organizationId":
		v.goName = "ObjectId"
	case "subject.id":
		v.goName = "SubjectId"
		if f.Rule == "required" {
			v.message = msgRequired
		}
	case "subject.type":
		v.goName = "SubjectType"
	case "expiresAt":
		v.goName = "ExpiresAt"
		if f.Rule == "future" {
			v.message = msgFuture
		}
	default:
		return v, false
	}
	return v, true
}

// cloudruPermission is a grant as the wire shows it.
type cloudruPermission struct {
	PermissionID string `json:"permission_id" doc:"The grant's ID."`
	Role         string `json:"role"`
	ObjectID     string `json:"object_id"`
	ObjectType   string `json:"object_type" enum:"customer,resource"`
	SubjectID    string `json:"subject_id"`
	SubjectType  string `json:"subject_type" enum:"user,service_account,group"`
	ExpiresAt    string `json:"expires_at,omitempty" format:"date-time" doc:"When the role is removed; absent: never."`
}

// resourceNamePrefix starts a resource name, which the core parses.
const resourceNamePrefix = "rn:"

// createPermission grants the role to the subject on the object, in the
// caller's organization.
func (a *Adapter) createPermission(w http.ResponseWriter, r *http.Request) error {
	var body cloudruPermissionRequest
	if err := createPermissionRequest.decode(r, &body); err != nil {
		return err
	}
	var vs []violation
	checkEnum(&vs, "ObjectType", body.ObjectType, objectCustomer, objectResource)
	checkEnum(&vs, "SubjectType", body.SubjectType, subjectUser, subjectServiceAccount, subjectGroup)
	objectID := body.ObjectID
	if !strings.HasPrefix(objectID, resourceNamePrefix) || body.ObjectType == objectCustomer {
		objectID = checkUUID(&vs, "ObjectId", objectID)
	}
	var expiresAt *time.Time
	if body.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339Nano, body.ExpiresAt)
		if err != nil {
			vs = append(vs, violation{goName: "ExpiresAt", index: -1, message: "value must be a valid RFC 3339 timestamp"})
		}
		expiresAt = &t
	}
	if err := createPermissionRequest.invalid(vs); err != nil {
		return err
	}
	principal, _ := castellan.PrincipalFrom(r.Context())
	orgID := principal.OrganizationID
	if orgID == "" {
		// The wire names no organization: the caller's is the one.
		return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied,
			"the caller belongs to no organization: grant with /v1/organizations/{org}/grants")
	}
	scope, err := a.scopeOf(r, orgID, body.ObjectType, objectID)
	if err != nil {
		return createPermissionRequest.translate(err, permissionField)
	}
	grants, _, err := a.services.Grants.CreateGrants(r.Context(), orgID, []castellan.GrantCreate{{
		RoleID: body.Role, Scope: scope,
		Subject:   castellan.Subject{Type: subjectTypes[body.SubjectType], ID: strings.ToLower(body.SubjectID)},
		ExpiresAt: expiresAt,
	}})
	if err != nil {
		return createPermissionRequest.translate(err, permissionField)
	}
	g := grants[0]
	out := cloudruPermission{PermissionID: g.ID, Role: g.RoleID, ObjectID: objectID, ObjectType: body.ObjectType,
		SubjectID: g.Subject.ID, SubjectType: body.SubjectType}
	if g.ExpiresAt != nil {
		out.ExpiresAt = timestamp(*g.ExpiresAt)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// scopeOf is the grant scope of an object: the organization for a
// customer; for a resource, a resource name as it is, or the node of the
// organization with the ID. Projects, the usual object, are looked up
// first, as their administrators may read them but not the tree; then
// accounts and OUs, as nodes.
func (a *Adapter) scopeOf(r *http.Request, orgID, objectType, objectID string) (string, error) {
	switch {
	case objectType == objectCustomer:
		return castellan.OrganizationScope(objectID).String(), nil
	case strings.HasPrefix(objectID, resourceNamePrefix):
		return objectID, nil
	}
	if _, err := a.services.Projects.FindProjectByID(r.Context(), orgID, objectID); err == nil {
		return castellan.ProjectScope(objectID).String(), nil
	}
	node, err := a.services.Nodes.FindNodeByID(r.Context(), orgID, objectID)
	if err != nil {
		return "", err
	}
	return node.Scope().String(), nil
}

// timestamp formats t as protojson formats a google.protobuf.Timestamp:
// UTC, with 0, 3, 6 or 9 digits of fraction.
func timestamp(t time.Time) string {
	t = t.UTC()
	layout := "2006-01-02T15:04:05.000000000Z07:00"
	switch ns := t.Nanosecond(); {
	case ns == 0:
		layout = time.RFC3339
	case ns%1e6 == 0:
		layout = "2006-01-02T15:04:05.000Z07:00"
	case ns%1e3 == 0:
		layout = "2006-01-02T15:04:05.000000Z07:00"
	}
	return t.Format(layout)
}
