package api_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/decisionlog"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

func init() { matrixRowSets = append(matrixRowSets, decisionLogRows) }

// decisionLogRows are the role-matrix rows of the decision log and the
// unused permissions.
func decisionLogRows() []matrixRow {
	return []matrixRow{
		{op: "list-decision-log", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/decisionLog"}
		}, allowed: orgReaders},
		{op: "get-user-unused-permissions", build: func(f *fixture) request {
			return request{method: "GET", path: f.orgPath() + "/users/" + f.e.acme.OwnerUserID + "/unusedPermissions?since=720h"}
		}, allowed: orgReaders},
		{op: "get-service-account-unused-permissions", build: func(f *fixture) request {
			return request{method: "GET", path: f.accountsPath(f.project) + "/" + f.newServiceAccount(f.project) + "/unusedPermissions?since=30d"}
		}, allowed: orgReaders},
	}
}

// loggedEnv is an env whose server records every decision in the log
// until stop, which flushes it.
func loggedEnv(t *testing.T) (e *env, stop func()) {
	e = newEnv(t, sqltest.SQLiteURL(t))
	l := decisionlog.New(decisionlog.Config{Mode: castellan.DecisionLogAll, Store: e.db.Services().DecisionLog,
		Clock: e.clock.Now, FlushInterval: time.Hour})
	e.srv = e.store.Serve(t, e.db.Services(), apitest.Options{DecisionLog: l})
	ctx, cancel := context.WithCancel(context.Background())
	wait := l.Start(ctx)
	return e, func() { cancel(); wait() }
}

type unusedAnswer struct {
	Since            time.Time
	Complete         bool
	IncompleteReason string
	Coverage         struct{ RecordingSince *time.Time }
	Grants           []struct {
		GrantID, RoleID, Scope     string
		Via                        *castellan.Subject
		UnusedActions, UsedActions []string
	}
}

func TestUnusedPermissions(t *testing.T) {
	t.Parallel()
	e, stop := loggedEnv(t)
	f := &fixture{t: t, e: e, org: e.acme.OrganizationID}
	project := f.newProject()
	user := f.newUser()
	direct := f.grant("project.member", "project/"+project, castellan.Subject{Type: castellan.SubjectUser, ID: user})
	group := f.newGroup()
	if _, err := e.db.Services().Groups.AddGroupMembers(system, f.org, group, []string{user}); err != nil {
		t.Fatal(err)
	}
	viaGroup := f.grant("organization.reader", "organization/"+f.org, castellan.Subject{Type: castellan.SubjectGroup, ID: group})
	account := f.newServiceAccount(project)
	f.grant("project.reader", "project/"+project, castellan.Subject{Type: castellan.SubjectServiceAccount, ID: account})
	// The recording started a minute before the checks.
	e.clock.Advance(time.Minute)

	if allowed, _ := f.decideFor(t, "user", user, "iam:ListRoles", "project/"+project); !allowed {
		t.Fatal("iam:ListRoles on the project was not allowed")
	}
	if allowed, _ := f.decideFor(t, "user", user, "iam:CreateUser", "organization/"+f.org); allowed {
		t.Fatal("iam:CreateUser was allowed")
	}
	if allowed, _ := f.decideFor(t, "serviceAccount", account, "iam:ListAccessKeys", "project/"+project); !allowed {
		t.Fatal("the service account's iam:ListAccessKeys was not allowed")
	}
	stop()
	e.clock.Advance(time.Minute)

	get := func(t *testing.T, path, since, token string) unusedAnswer {
		t.Helper()
		resp := e.do(t, request{method: "GET", path: path + "/unusedPermissions?since=" + url.QueryEscape(since), token: token})
		wantStatus(t, resp, http.StatusOK)
		var out unusedAnswer
		resp.decode(t, &out)
		return out
	}
	userPath := f.orgPath() + "/users/" + user

	t.Run("OK", func(t *testing.T) {
		out := get(t, userPath, "90s", e.acme.Token)
		if !out.Complete || out.Coverage.RecordingSince == nil || len(out.Grants) != 2 {
			t.Fatalf("got %+v, want a complete answer on 2 grants", out)
		}
		for _, g := range out.Grants {
			switch g.GrantID {
			case direct.ID:
				if g.Via != nil || !slices.Contains(g.UsedActions, "iam:ListRoles") || slices.Contains(g.UnusedActions, "iam:ListRoles") ||
					!slices.Contains(g.UnusedActions, "iam:GetRole") {
					t.Errorf("direct grant: got %+v, want iam:ListRoles used and iam:GetRole unused", g)
				}
			case viaGroup.ID:
				// Used on a project under the grant's scope.
				if g.Via == nil || g.Via.ID != group || !slices.Equal(g.UsedActions, []string{"iam:ListRoles"}) || !slices.Contains(g.UnusedActions, "iam:ListUsers") {
					t.Errorf("group grant: got %+v, want only iam:ListRoles used, through the group", g)
				}
			default:
				t.Errorf("unexpected grant %+v", g)
			}
		}
	})
	t.Run("NothingUsedSinceLater", func(t *testing.T) {
		since := e.clock.Now().Add(-30 * time.Second).Format(time.RFC3339)
		for _, g := range get(t, userPath, since, e.acme.Token).Grants {
			if len(g.UsedActions) != 0 {
				t.Errorf("grant %s: got used %v, want none since %s", g.GrantID, g.UsedActions, since)
			}
		}
	})
	t.Run("IncompleteBeforeTheRecording", func(t *testing.T) {
		out := get(t, userPath, "24h", e.acme.Token)
		if out.Complete || out.IncompleteReason != castellan.IncompleteStartedLater {
			t.Fatalf("got complete=%v reason %q, want incomplete: %s", out.Complete, out.IncompleteReason, castellan.IncompleteStartedLater)
		}
	})
	t.Run("ServiceAccount", func(t *testing.T) {
		out := get(t, f.accountsPath(project)+"/"+account, "90s", e.acme.Token)
		if len(out.Grants) != 1 || !slices.Equal(out.Grants[0].UsedActions, []string{"iam:ListAccessKeys"}) {
			t.Fatalf("got %+v, want iam:ListAccessKeys used", out.Grants)
		}
		// Another project's path does not hold the account.
		e.refused(t, request{method: "GET", path: f.accountsPath(f.newProject()) + "/" + account + "/unusedPermissions?since=5m", token: e.acme.Token},
			http.StatusNotFound, castellan.CodeServiceAccountNotFound)
	})
	t.Run("DecisionLog", func(t *testing.T) {
		resp := e.do(t, request{method: "GET", path: f.orgPath() + "/decisionLog?principal=user/" + user, token: e.acme.Token})
		wantStatus(t, resp, http.StatusOK)
		var out struct{ Records []castellan.DecisionRecord }
		resp.decode(t, &out)
		if len(out.Records) != 2 {
			t.Fatalf("got %+v, want the allowed and the denied check", out.Records)
		}
		for _, r := range out.Records {
			if r.PrincipalID != user || r.Count != 1 || (r.Action == "iam:ListRoles") != (r.Allowed == 1) {
				t.Errorf("got %+v", r)
			}
		}
	})
	t.Run("ErrBadSince", func(t *testing.T) {
		for _, since := range []string{"yesterday", "-5m", "2999-01-01T00:00:00Z", "20000d"} {
			p := e.refused(t, request{method: "GET", path: userPath + "/unusedPermissions?since=" + url.QueryEscape(since), token: e.acme.Token},
				http.StatusBadRequest, castellan.CodeInvalidField)
			if len(p.Errors) != 1 || p.Errors[0].Field != "query.since" || p.Errors[0].Rule == "" {
				t.Errorf("since=%s: got %+v, want one error on since", since, p.Errors)
			}
		}
		e.refused(t, request{method: "GET", path: f.orgPath() + "/decisionLog?principal=group/" + group, token: e.acme.Token},
			http.StatusBadRequest, castellan.CodeInvalidField)
	})
	t.Run("ErrOtherOrganization", func(t *testing.T) {
		for _, path := range []string{userPath + "/unusedPermissions?since=5m", f.orgPath() + "/decisionLog",
			f.accountsPath(project) + "/" + account + "/unusedPermissions?since=5m"} {
			e.refused(t, request{method: "GET", path: path, token: e.globex.Token}, http.StatusNotFound, castellan.CodeOrgNotFound)
		}
		// Globex's owner asking in its own organization about Acme's user.
		e.refused(t, request{method: "GET", path: "/v1/organizations/" + e.globex.OrganizationID + "/users/" + user + "/unusedPermissions?since=5m", token: e.globex.Token},
			http.StatusNotFound, castellan.CodeUserNotFound)
	})
}

func TestUnusedPermissionsWithoutTheLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqltest.SQLiteURL(t))
	resp := e.do(t, request{method: "GET", path: "/v1/organizations/" + e.acme.OrganizationID + "/users/" + e.acme.OwnerUserID + "/unusedPermissions?since=1h", token: e.acme.Token})
	wantStatus(t, resp, http.StatusOK)
	var out unusedAnswer
	resp.decode(t, &out)
	if out.Complete || out.IncompleteReason != castellan.IncompleteNotRecording || out.Coverage.RecordingSince != nil {
		t.Fatalf("got %+v, want incomplete: not recording", out)
	}
	if len(out.Grants) != 1 || len(out.Grants[0].UsedActions) != 0 || len(out.Grants[0].UnusedActions) == 0 {
		t.Fatalf("got %+v, want the owner grant with every action unused", out.Grants)
	}
}
