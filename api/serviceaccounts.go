package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// ServiceAccountPath names one service account of one project.
type ServiceAccountPath struct {
	ProjectPath
	ServiceAccount string `path:"serviceAccount" doc:"Service account ID (a UUID)."`
}

type serviceAccountOutput struct{ Body *castellan.ServiceAccount }

type serviceAccountCreateBody struct {
	Name        string `json:"name" minLength:"1" maxLength:"63" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"Unique among the service accounts of the project (case-sensitive); the rule of project names." example:"ci-deployer"`
	Description string `json:"description,omitempty" maxLength:"256" doc:"Free text."`
}

type serviceAccountUpdateBody struct {
	Name        *string `json:"name,omitempty" minLength:"1" maxLength:"63" pattern:"^[A-Za-z0-9][A-Za-z0-9._-]*$" doc:"New name."`
	Description *string `json:"description,omitempty" maxLength:"256" doc:"New description."`
}

type listServiceAccountsOutput struct {
	Body struct {
		ServiceAccounts []*castellan.ServiceAccount `json:"serviceAccounts" nullable:"false"`
		NextPageToken   string                      `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

func (s *Server) registerServiceAccounts() {
	const tag = "Service accounts"
	base := "/v1/organizations/{org}/projects/{project}/serviceAccounts"
	register(s, op{
		id: "create-service-account", method: http.MethodPost, path: base, tag: tag,
		action: castellan.ActionCreateServiceAccount, status: http.StatusCreated, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Create a service account",
		desc: "A principal for a program, in the project. It may be granted roles on the project and its resources only " +
			"(grant.subject_scope_mismatch elsewhere), never joins a group and never signs in to the console. " +
			"Fails with service_account.name_taken when another account of the project has the name.",
	}, s.createServiceAccount)
	register(s, op{
		id: "list-service-accounts", method: http.MethodGet, path: base, tag: tag,
		action: castellan.ActionListServiceAccounts, errors: []int{http.StatusNotFound},
		summary: "List service accounts", desc: "The service accounts of the project by name.",
	}, s.listServiceAccounts)
	register(s, op{
		id: "get-service-account", method: http.MethodGet, path: base + "/{serviceAccount}", tag: tag,
		action: castellan.ActionGetServiceAccount, errors: []int{http.StatusNotFound},
		summary: "Get a service account", desc: "The service account, with its project.",
	}, s.getServiceAccount)
	register(s, op{
		id: "update-service-account", method: http.MethodPatch, path: base + "/{serviceAccount}", tag: tag,
		action: castellan.ActionUpdateServiceAccount, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Update a service account", desc: "Changes the fields present in the body; an update that changes nothing writes nothing.",
	}, s.updateServiceAccount)
	register(s, op{
		id: "delete-service-account", method: http.MethodDelete, path: base + "/{serviceAccount}", tag: tag,
		action: castellan.ActionDeleteServiceAccount, errors: []int{http.StatusNotFound},
		summary: "Delete a service account",
		desc: "Removes the account and its grants in the same transaction: decisions at the returned revision deny it. " +
			"Since that revokes its roles, the caller must hold each of them on its scope (hierarchy principle, grant.escalation).",
	}, s.deleteServiceAccount)
}

func (s *Server) createServiceAccount(ctx context.Context, in *struct {
	ProjectPath
	Body serviceAccountCreateBody
}) (*serviceAccountOutput, error) {
	a, err := s.services.ServiceAccounts.CreateServiceAccount(ctx, in.Org, in.Project,
		castellan.ServiceAccountCreate{Name: in.Body.Name, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &serviceAccountOutput{Body: a}, nil
}

func (s *Server) listServiceAccounts(ctx context.Context, in *struct {
	ProjectPath
	PageParams
}) (*listServiceAccountsOutput, error) {
	accounts, next, err := s.services.ServiceAccounts.FindServiceAccounts(ctx, in.Org, in.Project,
		castellan.ServiceAccountFilter{PageSize: in.PageSize, PageToken: in.PageToken})
	if err != nil {
		return nil, err
	}
	out := &listServiceAccountsOutput{}
	out.Body.ServiceAccounts, out.Body.NextPageToken = nonNil(accounts), next
	return out, nil
}

func (s *Server) getServiceAccount(ctx context.Context, in *ServiceAccountPath) (*serviceAccountOutput, error) {
	a, err := s.projectServiceAccount(ctx, in.Org, in.Project, in.ServiceAccount)
	if err != nil {
		return nil, err
	}
	return &serviceAccountOutput{Body: a}, nil
}

// projectServiceAccount returns the service account id of the project,
// as GET …/projects/{project}/serviceAccounts/{id} answers it.
func (s *Server) projectServiceAccount(ctx context.Context, orgID, projectID, id string) (*castellan.ServiceAccount, error) {
	// Reading the project's accounts is what the path asks: a caller
	// that may not is refused before anything of the account is told.
	if _, _, err := s.services.ServiceAccounts.FindServiceAccounts(ctx, orgID, projectID, castellan.ServiceAccountFilter{PageSize: 1}); err != nil {
		return nil, err
	}
	a, err := s.services.ServiceAccounts.FindServiceAccountByID(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	// An account of another project is not there.
	if a.ProjectID != projectID {
		return nil, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound, "service account %s not found", id)
	}
	return a, nil
}

func (s *Server) updateServiceAccount(ctx context.Context, in *struct {
	ServiceAccountPath
	Body serviceAccountUpdateBody
}) (*serviceAccountOutput, error) {
	a, err := s.services.ServiceAccounts.UpdateServiceAccount(ctx, in.Org, in.Project, in.ServiceAccount,
		castellan.ServiceAccountUpdate{Name: in.Body.Name, Description: in.Body.Description})
	if err != nil {
		return nil, err
	}
	return &serviceAccountOutput{Body: a}, nil
}

func (s *Server) deleteServiceAccount(ctx context.Context, in *ServiceAccountPath) (*revisionOutput, error) {
	rev, err := s.services.ServiceAccounts.DeleteServiceAccount(ctx, in.Org, in.Project, in.ServiceAccount)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
