package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// serviceAccounts guards the service accounts of projects: every
// operation is authorized on the account's project; deleting one revokes
// its roles, so the caller must hold each of them.
type serviceAccounts struct {
	g    *guard
	next castellan.ServiceAccountService
}

var _ castellan.ServiceAccountService = (*serviceAccounts)(nil)

// FindServiceAccountByID is authorized on the account's own project, read
// first; an account of a project the caller may not read it in is not
// found. A caller naming a project compares it.
func (s *serviceAccounts) FindServiceAccountByID(ctx context.Context, orgID, id string) (*castellan.ServiceAccount, error) {
	if _, err := member(ctx, orgID); err != nil {
		return nil, err
	}
	if err := castellan.CheckID("serviceAccountId", id); err != nil {
		return nil, err
	}
	a, err := s.g.raw.ServiceAccounts.FindServiceAccountByID(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	err = s.g.allowProject(ctx, orgID, a.ProjectID, castellan.ActionGetServiceAccount)
	if castellan.ErrorKind(err) == castellan.EFORBIDDEN {
		return nil, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeServiceAccountNotFound, "service account %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (s *serviceAccounts) FindServiceAccounts(ctx context.Context, orgID, projectID string, filter castellan.ServiceAccountFilter) ([]*castellan.ServiceAccount, string, error) {
	if err := s.g.allowProject(ctx, orgID, projectID, castellan.ActionListServiceAccounts); err != nil {
		return nil, "", err
	}
	return s.next.FindServiceAccounts(ctx, orgID, projectID, filter)
}

func (s *serviceAccounts) CreateServiceAccount(ctx context.Context, orgID, projectID string, sc castellan.ServiceAccountCreate) (*castellan.ServiceAccount, error) {
	if err := s.g.allowProject(ctx, orgID, projectID, castellan.ActionCreateServiceAccount); err != nil {
		return nil, err
	}
	return s.next.CreateServiceAccount(ctx, orgID, projectID, sc)
}

func (s *serviceAccounts) UpdateServiceAccount(ctx context.Context, orgID, projectID, id string, upd castellan.ServiceAccountUpdate) (*castellan.ServiceAccount, error) {
	if err := s.g.allowAccount(ctx, orgID, projectID, id, castellan.ActionUpdateServiceAccount); err != nil {
		return nil, err
	}
	return s.next.UpdateServiceAccount(ctx, orgID, projectID, id, upd)
}

func (s *serviceAccounts) DeleteServiceAccount(ctx context.Context, orgID, projectID, id string) (int64, error) {
	if err := s.g.allowAccount(ctx, orgID, projectID, id, castellan.ActionDeleteServiceAccount); err != nil {
		return 0, err
	}
	if err := s.g.holdsRolesOf(ctx, orgID, accountSubject(id), "serviceAccountId"); err != nil {
		return 0, err
	}
	return s.next.DeleteServiceAccount(ctx, orgID, projectID, id)
}

// allowAccount checks action on the project and the account's ID.
func (g *guard) allowAccount(ctx context.Context, orgID, projectID, id string, action castellan.Action) error {
	if err := g.allowProject(ctx, orgID, projectID, action); err != nil {
		return err
	}
	return castellan.CheckID("serviceAccountId", id)
}

func accountSubject(id string) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectServiceAccount, ID: id}
}
