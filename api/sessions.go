package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// UserSessionPath names one console session of one user.
type UserSessionPath struct {
	UserPath
	Session string `path:"session" doc:"Session ID (a UUID): the public name of a session, not its cookie."`
}

type listSessionsOutput struct {
	Body struct {
		Sessions []*castellan.Session `json:"sessions" nullable:"false"`
	}
}

func (s *Server) registerSessions() {
	const tag = "Users"
	const selfNote = " A user manages its own sessions without any role; others' need the action on the organization."
	register(s, op{
		id: "list-user-sessions", method: http.MethodGet, path: "/v1/organizations/{org}/users/{user}/sessions", tag: tag,
		action: castellan.ActionListUserSessions, errors: []int{http.StatusNotFound},
		summary: "List a user's console sessions", desc: "Live sessions, newest first: sign-in time, last use, address and browser." + selfNote,
	}, s.listUserSessions)
	register(s, op{
		id: "revoke-user-session", method: http.MethodDelete, path: "/v1/organizations/{org}/users/{user}/sessions/{session}", tag: tag,
		action: castellan.ActionRevokeUserSession, errors: []int{http.StatusNotFound},
		summary: "Revoke a console session",
		desc:    "The session is refused from its next request. Revoking another user's session also needs every role that user holds (grant.escalation)." + selfNote,
	}, s.revokeUserSession)
}

func (s *Server) listUserSessions(ctx context.Context, in *UserPath) (*listSessionsOutput, error) {
	list, err := s.services.Sessions.FindSessions(ctx, in.Org, in.User)
	if err != nil {
		return nil, err
	}
	out := &listSessionsOutput{}
	out.Body.Sessions = nonNil(list)
	return out, nil
}

func (s *Server) revokeUserSession(ctx context.Context, in *UserSessionPath) (*revisionOutput, error) {
	rev, err := s.services.Sessions.RevokeSession(ctx, in.Org, in.User, in.Session)
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}
