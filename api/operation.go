package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/danielgtaylor/huma/v2"
)

// op describes one API operation for the OpenAPI document and for
// authorization.
type op struct {
	id, method, path string
	summary, desc    string
	tag              string
	// action is the service:Verb the operation performs; authorization
	// and the audit log name operations by it.
	action string
	// status is the success status; 0 means 200.
	status int
	// errors lists the error statuses beyond 400, 401 and 500.
	errors []int
	// public operations need no token.
	public bool
}

// register adds an operation to the API.
func register[I, O any](s *Server, o op, handler func(context.Context, *I) (*O, error)) {
	errs := []int{http.StatusBadRequest}
	if !o.public {
		errs = append(errs, http.StatusUnauthorized)
	}
	hop := huma.Operation{
		OperationID:   o.id,
		Method:        o.method,
		Path:          o.path,
		Summary:       o.summary,
		Description:   o.desc,
		Tags:          []string{o.tag},
		DefaultStatus: o.status,
		Errors:        append(errs, o.errors...),
		Metadata:      map[string]any{"action": o.action},
	}
	if o.public {
		hop.Security = []map[string][]string{}
	}
	huma.Register(s.api, hop, handler)
}

// PageParams are the pagination query parameters of every list.
type PageParams struct {
	PageSize  int    `query:"page_size" minimum:"0" maximum:"1000" doc:"Largest number of results to return (default 50, at most 1000)."`
	PageToken string `query:"page_token" doc:"nextPageToken of the previous page; omit for the first page."`
}

// revisionOutput answers a deletion.
type revisionOutput struct {
	Body struct {
		Revision int64 `json:"revision" doc:"Revision of the store at which the deletion took effect."`
	}
}

func deleted(rev int64) *revisionOutput {
	out := &revisionOutput{}
	out.Body.Revision = rev
	return out
}

// requireOperator refuses every principal but the operator.
func requireOperator(ctx context.Context) error {
	if p, _ := castellan.PrincipalFrom(ctx); p.Type == castellan.PrincipalOperator {
		return nil
	}
	return castellan.Errorf(castellan.EFORBIDDEN, castellan.CodeOperatorRequired, "only the operator may do this")
}

// checkOrgAccess checks that orgID is well formed and that the caller may
// act in that organization: the operator anywhere, a user only in its own.
// Another organization is reported as not found, so that IDs of other
// tenants cannot be probed.
func checkOrgAccess(ctx context.Context, orgID string) error {
	if err := castellan.CheckID("path.org", orgID); err != nil {
		return err
	}
	p, _ := castellan.PrincipalFrom(ctx)
	if p.Type == castellan.PrincipalOperator || (p.Type == castellan.PrincipalUser && p.OrganizationID == orgID) {
		return nil
	}
	return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeOrgNotFound, "organization %s not found", orgID)
}
