package ncloud

import (
	"net/http"
	"time"

	"github.com/castellan-iam/castellan"
)

// Principal types of GET /users/{subAccountId}.
const (
	principalIamUser = "IamUser"
	principalIamRole = "IamRole"
)

// createTimeLayout is the platform's time: UTC, seconds, a Z.
const createTimeLayout = "2006-01-02T15:04:05Z"

// subAccountUser is GET /users/{subAccountId}'s answer: a sub account
// (IamUser) or a role user (IamRole), which alone has sourceIdentity and
// roleNrn.
type subAccountUser struct {
	SubAccountID   string                    `json:"subAccountId" doc:"The user's ID; a role user's is its session's."`
	LoginID        string                    `json:"loginId" doc:"The login ID; a role user's is its role's name."`
	Name           string                    `json:"name"`
	Email          string                    `json:"email"`
	Groups         []subAccountGroup         `json:"groups" nullable:"false"`
	Active         bool                      `json:"active"`
	Deleted        bool                      `json:"deleted"`
	CreateTime     string                    `json:"createTime" example:"2019-08-10T13:21:00Z"`
	PrincipalType  string                    `json:"principalType" enum:"IamUser,IamRole"`
	SourceIdentity *castellan.SourceIdentity `json:"sourceIdentity,omitempty" doc:"Who assumed the role; IamRole only."`
	RoleNrn        string                    `json:"roleNrn,omitempty" doc:"The role's resource name; IamRole only."`
}

type subAccountGroup struct {
	GroupID   string `json:"groupId"`
	GroupName string `json:"groupName"`
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	includeDeleted, err := parseIncludeDeleted(r.URL.Query()["includeDeleted"])
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctx := r.Context()
	principal, _ := castellan.PrincipalFrom(ctx)
	org, id := principal.OrganizationID, r.PathValue("subAccountId")
	u, err := s.services.Users.FindUserByID(ctx, org, id, includeDeleted)
	if err == nil {
		info, err := s.describeUser(r, u)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, info)
		return
	}
	if !nonexistent(err) {
		writeError(w, r, err)
		return
	}
	sess, err := s.services.RoleIdentities.FindRoleSessionByID(ctx, org, id, includeDeleted)
	if err == nil {
		writeJSON(w, describeRoleSession(sess, s.now()))
		return
	}
	if !nonexistent(err) {
		writeError(w, r, err)
		return
	}
	errNonexistent.write(w, r, "Nonexistent account")
}

// parseIncludeDeleted reads the query parameter includeDeleted: absent,
// or once true or false.
func parseIncludeDeleted(values []string) (bool, error) {
	switch {
	case len(values) == 0:
		return false, nil
	case len(values) == 1 && (values[0] == "true" || values[0] == "false"):
		return values[0] == "true", nil
	}
	return false, invalid("includeDeleted", "type", "must be true or false, given once")
}

// nonexistent reports whether err says there is no such principal: not
// found, or an ID that could not be one.
func nonexistent(err error) bool {
	return castellan.ErrorKind(err) == castellan.ENOTFOUND || castellan.ErrorCode(err) == castellan.CodeInvalidID
}

// describeUser describes a sub account with its groups; a deleted one has
// none left.
func (s *Server) describeUser(r *http.Request, u *castellan.User) (*subAccountUser, error) {
	groups := []subAccountGroup{}
	if !u.Deleted {
		found, err := s.services.Groups.FindUserGroups(r.Context(), u.OrganizationID, u.ID)
		if err != nil {
			return nil, err
		}
		for _, g := range found {
			groups = append(groups, subAccountGroup{GroupID: g.ID, GroupName: g.Name})
		}
	}
	return &subAccountUser{SubAccountID: u.ID, LoginID: u.LoginID, Name: u.Name, Email: u.Email, Groups: groups,
		Active: u.Status == castellan.UserActive, Deleted: u.Deleted, CreateTime: u.CreatedAt.UTC().Format(createTimeLayout),
		PrincipalType: principalIamUser}, nil
}

// describeRoleSession describes a role session as a role user.
func describeRoleSession(sess *castellan.RoleSession, now time.Time) *subAccountUser {
	src := sess.SourceIdentity
	return &subAccountUser{SubAccountID: sess.ID, LoginID: sess.RoleName, Name: sess.RoleName, Groups: []subAccountGroup{},
		Active: sess.Active(now), Deleted: sess.Deleted, CreateTime: sess.CreatedAt.UTC().Format(createTimeLayout),
		PrincipalType: principalIamRole, SourceIdentity: &src, RoleNrn: sess.RoleRN}
}
