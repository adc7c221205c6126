package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

type lookupResourcesBody struct {
	Principal    authzPrincipal `json:"principal"`
	Action       string         `json:"action" minLength:"3" maxLength:"200" example:"s3e:GetObject"`
	ResourceType string         `json:"resourceType" doc:"organization, ou, account, project, or a service's resource type as <service>:<type> (a service and one of its resourceTypes in GET /v1/services)." example:"s3e:bucket"`
	Context      map[string]any `json:"context,omitempty" doc:"Request attributes for control policies, as in /v1/authorize: given to every decision."`
	Consistency
}

type lookupResourcesOutput struct {
	Body struct {
		Resources     []string `json:"resources" nullable:"false" doc:"Scopes in the order of their strings: ou/<id>, account/<id>, project/<id>; for a service's type rn:<service>:<project-id>:<type>/* where the principal may act on every resource of the type in the project, and rn:…/<id> for a resource a grant names where it may act on that one only."`
		NextPageToken string   `json:"nextPageToken,omitempty" doc:"Set while more may follow; a page may hold fewer than page_size results, even none, when it reached the bound of decisions per page."`
		Revision      int64    `json:"revision" doc:"The decisions reflect every write up to this revision."`
	}
}

type lookupSubjectsBody struct {
	OrganizationID string         `json:"organizationId" doc:"Organization of the resource."`
	Action         string         `json:"action" minLength:"3" maxLength:"200" example:"s3e:GetObject"`
	Resource       string         `json:"resource" minLength:"1" maxLength:"400" doc:"organization/<id>, ou/<id>, account/<id>, project/<id> or rn:<service>:<project-id>:<type>/<id>, as in /v1/authorize. A resource outside the organization has no subjects."`
	Context        map[string]any `json:"context,omitempty" doc:"Request attributes for control policies, as in /v1/authorize."`
	Consistency
}

type lookupSubjectsOutput struct {
	Body struct {
		Subjects      []castellan.SubjectAccess `json:"subjects" nullable:"false" doc:"Users and service accounts by type and ID, each with the grants that allow it (as in :explain): its own, or a group's it is a member of."`
		NextPageToken string                    `json:"nextPageToken,omitempty" doc:"Set while more may follow; a page may hold fewer than page_size results, even none, when it reached the bound of decisions per page."`
		Revision      int64                     `json:"revision" doc:"The decisions reflect every write up to this revision."`
	}
}

func (s *Server) registerLookups() {
	const tag = "Decisions"
	register(s, op{
		id: "lookup-resources", method: http.MethodPost, path: "/v1/authorize:lookup-resources", tag: tag,
		action: castellan.ActionAuthorize, errors: []int{http.StatusForbidden},
		summary: "On which resources of a type may this principal do this action?",
		desc: "Every answer is what /v1/authorize would answer, control policies and expired grants included. " +
			"For a service's type, a project where the principal may act on every resource of the type is one wildcard entry " +
			"(rn:<service>:<project-id>:<type>/*, decided as /v1/authorize decides that name), and resources named by grants are listed one by one " +
			"where no wildcard covers them. Paginated with page_size and page_token; the list ends where nextPageToken is absent. " +
			"The caller needs iam:Authorize on the principal's organization (the Authorization Client role).",
	}, s.lookupResources)
	register(s, op{
		id: "lookup-subjects", method: http.MethodPost, path: "/v1/authorize:lookup-subjects", tag: tag,
		action: castellan.ActionAuthorize, errors: []int{http.StatusForbidden},
		summary: "Who may do this action on this resource, and through which grants?",
		desc: "The users and service accounts whose grants (their own, or a group's they are a member of, on the resource or above it) " +
			"allow the action, control policies and expired grants included, as /v1/authorize would answer for each, with those grants. " +
			"Paginated with page_size and page_token; the list ends where nextPageToken is absent. " +
			"The caller needs iam:Authorize on the organization, as for :explain.",
	}, s.lookupSubjects)
}

func (s *Server) lookupResources(ctx context.Context, in *struct {
	PageParams
	Body lookupResourcesBody
}) (*lookupResourcesOutput, error) {
	rev, err := s.decidedAt(ctx, in.Body.Consistency)
	if err != nil {
		return nil, err
	}
	p := AuthzCheck{Principal: in.Body.Principal}.request().Principal
	resources, next, err := s.decisions.LookupResources(ctx, castellan.LookupResourcesRequest{Principal: p, Action: in.Body.Action,
		ResourceType: in.Body.ResourceType, Context: in.Body.Context, PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &lookupResourcesOutput{}
	out.Body.Resources, out.Body.NextPageToken, out.Body.Revision = nonNil(resources), next, rev
	return out, nil
}

func (s *Server) lookupSubjects(ctx context.Context, in *struct {
	PageParams
	Body lookupSubjectsBody
}) (*lookupSubjectsOutput, error) {
	rev, err := s.decidedAt(ctx, in.Body.Consistency)
	if err != nil {
		return nil, err
	}
	subjects, next, err := s.decisions.LookupSubjects(ctx, castellan.LookupSubjectsRequest{OrganizationID: in.Body.OrganizationID,
		Action: in.Body.Action, Resource: in.Body.Resource, Context: in.Body.Context, PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &lookupSubjectsOutput{}
	out.Body.Subjects, out.Body.NextPageToken, out.Body.Revision = nonNil(subjects), next, rev
	return out, nil
}
