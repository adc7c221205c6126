package api

import (
	"context"
	"net/http"
	"time"

	"github.com/castellan-iam/castellan"
)

// UserAccessKeyPath names one access key of one user.
type UserAccessKeyPath struct {
	UserPath
	Key string `path:"key" doc:"Access key ID (CAK and 20 base32 characters)."`
}

// ServiceAccountAccessKeyPath names one access key of one service account.
type ServiceAccountAccessKeyPath struct {
	ServiceAccountPath
	Key string `path:"key" doc:"Access key ID (CAK and 20 base32 characters)."`
}

type accessKeyOutput struct{ Body *castellan.AccessKey }

type newAccessKeyOutput struct{ Body *castellan.NewAccessKey }

type listAccessKeysOutput struct {
	Body struct {
		AccessKeys    []*castellan.AccessKey `json:"accessKeys" nullable:"false"`
		NextPageToken string                 `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

type accessKeyCreateBody struct {
	Name      string     `json:"name" minLength:"1" maxLength:"100" doc:"What the key is for." example:"ci"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty" doc:"When the key stops working; never when absent."`
}

type userAccessKeyCreateBody struct {
	ProjectID string     `json:"projectId" doc:"Project the key is for (a UUID); the user needs some grant there."`
	Name      string     `json:"name" minLength:"1" maxLength:"100" doc:"What the key is for." example:"ci"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty" doc:"When the key stops working; never when absent."`
}

type accessKeyUpdateBody struct {
	Name   *string `json:"name,omitempty" minLength:"1" maxLength:"100" doc:"New name."`
	Status *string `json:"status,omitempty" enum:"enabled,disabled" doc:"Disabling refuses the key's tokens from the next request."`
}

func (b accessKeyUpdateBody) update() castellan.AccessKeyUpdate {
	return castellan.AccessKeyUpdate{Name: b.Name, Status: b.Status}
}

func (s *Server) registerAccessKeys() {
	const tag = "Access keys"
	userBase := "/v1/organizations/{org}/users/{user}/accessKeys"
	accountBase := "/v1/organizations/{org}/projects/{project}/serviceAccounts/{serviceAccount}/accessKeys"
	const selfNote = " A user manages its own keys without any role (creating one needs some grant on the project); " +
		"others' keys need the action on the key's project or the organization."
	const hierarchyNote = " Changing another principal's key needs every role its owner holds (grant.escalation)."
	notFound := []int{http.StatusNotFound}
	register(s, op{
		id: "create-user-access-key", method: http.MethodPost, path: userBase, tag: tag,
		action: castellan.ActionCreateAccessKey, status: http.StatusCreated,
		errors:  []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Create an access key for a user",
		desc: "The answer holds the secret, shown this once. At most 2 unexpired keys per user per project (access_key.limit_reached, naming them); " +
			"expiresAt must be in the future. The user must have API access (access_key.api_access_disabled) and some grant on the project " +
			"(access_key.no_grant_in_project). The caller must hold every role the user holds (grant.escalation)." + selfNote,
	}, s.createUserAccessKey)
	register(s, op{id: "list-user-access-keys", method: http.MethodGet, path: userBase, tag: tag, action: castellan.ActionListAccessKeys,
		errors: notFound, summary: "List a user's access keys", desc: "Never shows secrets." + selfNote}, s.listUserAccessKeys)
	register(s, op{id: "get-user-access-key", method: http.MethodGet, path: userBase + "/{key}", tag: tag, action: castellan.ActionListAccessKeys,
		errors: notFound, summary: "Get a user's access key", desc: selfNote[1:]}, s.getUserAccessKey)
	register(s, op{id: "update-user-access-key", method: http.MethodPatch, path: userBase + "/{key}", tag: tag, action: castellan.ActionUpdateAccessKey,
		errors: notFound, summary: "Rename, disable or enable a user's access key", desc: selfNote[1:] + hierarchyNote}, s.updateUserAccessKey)
	register(s, op{id: "delete-user-access-key", method: http.MethodDelete, path: userBase + "/{key}", tag: tag, action: castellan.ActionDeleteAccessKey,
		errors: notFound, summary: "Delete a user's access key", desc: "Its tokens are refused from the next request." + selfNote + hierarchyNote}, s.deleteUserAccessKey)

	register(s, op{
		id: "create-service-account-access-key", method: http.MethodPost, path: accountBase, tag: tag,
		action: castellan.ActionCreateAccessKey, status: http.StatusCreated, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Create an access key for a service account",
		desc: "The answer holds the secret, shown this once. At most 2 unexpired keys per service account (access_key.limit_reached, naming them); " +
			"expiresAt must be in the future. The caller must hold every role the account holds (grant.escalation).",
	}, s.createAccountAccessKey)
	register(s, op{id: "list-service-account-access-keys", method: http.MethodGet, path: accountBase, tag: tag, action: castellan.ActionListAccessKeys,
		errors: notFound, summary: "List a service account's access keys", desc: "The account's keys, without their secrets."}, s.listAccountAccessKeys)
	register(s, op{id: "get-service-account-access-key", method: http.MethodGet, path: accountBase + "/{key}", tag: tag, action: castellan.ActionListAccessKeys,
		errors: notFound, summary: "Get a service account's access key", desc: "One key of the account, without its secret."}, s.getAccountAccessKey)
	register(s, op{id: "update-service-account-access-key", method: http.MethodPatch, path: accountBase + "/{key}", tag: tag, action: castellan.ActionUpdateAccessKey,
		errors: notFound, summary: "Rename, disable or enable a service account's access key",
		desc: "Changes the fields present in the body. A disabled key's tokens stop working on the next request." + hierarchyNote}, s.updateAccountAccessKey)
	register(s, op{id: "delete-service-account-access-key", method: http.MethodDelete, path: accountBase + "/{key}", tag: tag, action: castellan.ActionDeleteAccessKey,
		errors: notFound, summary: "Delete a service account's access key", desc: "The key's tokens stop working on the next request." + hierarchyNote}, s.deleteAccountAccessKey)

	register(s, op{id: "list-access-keys", method: http.MethodGet, path: "/v1/organizations/{org}/accessKeys", tag: tag, action: castellan.ActionListAccessKeys, errors: notFound,
		summary: "List the organization's access keys", desc: "Every key of every user and service account, by key ID; `expired` filters."}, s.listAccessKeys)
	s.registerTokens()
}

func (s *Server) createUserAccessKey(ctx context.Context, in *struct {
	UserPath
	Body userAccessKeyCreateBody
}) (*newAccessKeyOutput, error) {
	k, err := s.services.AccessKeys.CreateAccessKey(ctx, in.Org, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: in.User}, ProjectID: in.Body.ProjectID,
		Name: in.Body.Name, ExpiresAt: in.Body.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	return &newAccessKeyOutput{Body: k}, nil
}

func (s *Server) listUserAccessKeys(ctx context.Context, in *struct {
	UserPath
	PageParams
}) (*listAccessKeysOutput, error) {
	owner := castellan.Subject{Type: castellan.SubjectUser, ID: in.User}
	return s.findAccessKeys(ctx, in.Org, castellan.AccessKeyFilter{Owner: &owner, PageSize: in.PageSize, PageToken: in.PageToken})
}

func (s *Server) findAccessKeys(ctx context.Context, orgID string, f castellan.AccessKeyFilter) (*listAccessKeysOutput, error) {
	keys, next, err := s.services.AccessKeys.FindAccessKeys(ctx, orgID, f)
	if err != nil {
		return nil, err
	}
	out := &listAccessKeysOutput{}
	out.Body.AccessKeys, out.Body.NextPageToken = nonNil(keys), next
	return out, nil
}

func accessKeyNotFound(id string) error {
	return castellan.Errorf(castellan.ENOTFOUND, castellan.CodeAccessKeyNotFound, "access key %s not found", id)
}

// ownedKey reads the key of a path and checks that the owner of the path
// holds it, in project when it is not empty: a key is found only under
// its own owner.
func (s *Server) ownedKey(ctx context.Context, orgID, keyID string, owner castellan.Subject, project string) (*castellan.AccessKey, error) {
	k, err := s.services.AccessKeys.FindAccessKeyByID(ctx, orgID, keyID)
	if err != nil {
		return nil, err
	}
	if k.Owner != owner || project != "" && k.ProjectID != project {
		return nil, accessKeyNotFound(keyID)
	}
	return k, nil
}

// userKey returns the key of a user's path.
func (s *Server) userKey(ctx context.Context, p UserAccessKeyPath) (*castellan.AccessKey, error) {
	if err := castellan.CheckID("path.user", p.User); err != nil {
		return nil, err
	}
	return s.ownedKey(ctx, p.Org, p.Key, castellan.Subject{Type: castellan.SubjectUser, ID: p.User}, "")
}

func (s *Server) getUserAccessKey(ctx context.Context, in *UserAccessKeyPath) (*accessKeyOutput, error) {
	k, err := s.userKey(ctx, *in)
	if err != nil {
		return nil, err
	}
	return &accessKeyOutput{Body: k}, nil
}

func (s *Server) updateUserAccessKey(ctx context.Context, in *struct {
	UserAccessKeyPath
	Body accessKeyUpdateBody
}) (*accessKeyOutput, error) {
	if _, err := s.userKey(ctx, in.UserAccessKeyPath); err != nil {
		return nil, err
	}
	k, err := s.services.AccessKeys.UpdateAccessKey(ctx, in.Org, in.Key, in.Body.update())
	if err != nil {
		return nil, err
	}
	return &accessKeyOutput{Body: k}, nil
}

func (s *Server) deleteUserAccessKey(ctx context.Context, in *UserAccessKeyPath) (*revisionOutput, error) {
	if _, err := s.userKey(ctx, *in); err != nil {
		return nil, err
	}
	rev, err := s.services.AccessKeys.DeleteAccessKey(ctx, in.Org, in.Key)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

func accountSubject(p ServiceAccountPath) castellan.Subject {
	return castellan.Subject{Type: castellan.SubjectServiceAccount, ID: p.ServiceAccount}
}

func (s *Server) createAccountAccessKey(ctx context.Context, in *struct {
	ServiceAccountPath
	Body accessKeyCreateBody
}) (*newAccessKeyOutput, error) {
	k, err := s.services.AccessKeys.CreateAccessKey(ctx, in.Org, castellan.AccessKeyCreate{
		Owner: accountSubject(in.ServiceAccountPath), ProjectID: in.Project, Name: in.Body.Name, ExpiresAt: in.Body.ExpiresAt,
	})
	if err != nil {
		return nil, err
	}
	return &newAccessKeyOutput{Body: k}, nil
}

func (s *Server) listAccountAccessKeys(ctx context.Context, in *struct {
	ServiceAccountPath
	PageParams
}) (*listAccessKeysOutput, error) {
	owner := accountSubject(in.ServiceAccountPath)
	return s.findAccessKeys(ctx, in.Org, castellan.AccessKeyFilter{Owner: &owner, ProjectID: &in.Project, PageSize: in.PageSize, PageToken: in.PageToken})
}

// accountKey returns the key of a service account's path, if the account
// of the path, in the project of the path, holds it.
func (s *Server) accountKey(ctx context.Context, p ServiceAccountAccessKeyPath) (*castellan.AccessKey, error) {
	if err := castellan.CheckID("path.project", p.Project); err != nil {
		return nil, err
	}
	if err := castellan.CheckID("path.serviceAccount", p.ServiceAccount); err != nil {
		return nil, err
	}
	return s.ownedKey(ctx, p.Org, p.Key, accountSubject(p.ServiceAccountPath), p.Project)
}

func (s *Server) getAccountAccessKey(ctx context.Context, in *ServiceAccountAccessKeyPath) (*accessKeyOutput, error) {
	k, err := s.accountKey(ctx, *in)
	if err != nil {
		return nil, err
	}
	return &accessKeyOutput{Body: k}, nil
}

func (s *Server) updateAccountAccessKey(ctx context.Context, in *struct {
	ServiceAccountAccessKeyPath
	Body accessKeyUpdateBody
}) (*accessKeyOutput, error) {
	if _, err := s.accountKey(ctx, in.ServiceAccountAccessKeyPath); err != nil {
		return nil, err
	}
	k, err := s.services.AccessKeys.UpdateAccessKey(ctx, in.Org, in.Key, in.Body.update())
	if err != nil {
		return nil, err
	}
	return &accessKeyOutput{Body: k}, nil
}

func (s *Server) deleteAccountAccessKey(ctx context.Context, in *ServiceAccountAccessKeyPath) (*revisionOutput, error) {
	if _, err := s.accountKey(ctx, *in); err != nil {
		return nil, err
	}
	rev, err := s.services.AccessKeys.DeleteAccessKey(ctx, in.Org, in.Key)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

func (s *Server) listAccessKeys(ctx context.Context, in *struct {
	OrgPath
	PageParams
	Expired string `query:"expired" enum:"true,false" doc:"true: only expired keys; false: only unexpired ones; absent: all."`
}) (*listAccessKeysOutput, error) {
	f := castellan.AccessKeyFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.Expired != "" {
		expired := in.Expired == "true"
		f.Expired = &expired
	}
	return s.findAccessKeys(ctx, in.Org, f)
}
