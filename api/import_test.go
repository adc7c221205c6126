package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

type importItemError struct {
	Line    int    `json:"line"`
	Ref     string `json:"ref"`
	Kind    string `json:"kind"`
	Code    string `json:"code"`
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// importLine is a progress or result line.
type importLine struct {
	Type           string            `json:"type"`
	Batch          int               `json:"batch"`
	Items          int               `json:"items"`
	Applied        int               `json:"applied"`
	Failed         int               `json:"failed"`
	Batches        int               `json:"batches"`
	ItemsPerSecond float64           `json:"itemsPerSecond"`
	Revision       int64             `json:"revision"`
	IDs            map[string]string `json:"ids"`
	Errors         []importItemError `json:"errors"`
	Error          *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// importResult is an import's answer: its progress lines, its result line
// and every item error by line.
type importResult struct {
	progress []importLine
	result   importLine
	errors   map[int]importItemError
	ids      map[string]string
}

// parseImport splits an import's answer into its lines; the last must be
// the result.
func parseImport(t *testing.T, resp *response) importResult {
	t.Helper()
	wantStatus(t, resp, http.StatusOK)
	if ct := resp.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("got Content-Type %q, want application/x-ndjson", ct)
	}
	out := importResult{errors: map[int]importItemError{}, ids: map[string]string{}}
	lines := bytes.Split(bytes.TrimSpace(resp.body), []byte("\n"))
	for i, raw := range lines {
		var l importLine
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, raw)
		}
		if (l.Type == "result") != (i == len(lines)-1) {
			t.Fatalf("line %d is %s; want progress lines then one result line: %s", i+1, l.Type, resp.body)
		}
		if l.Type == "progress" {
			out.progress = append(out.progress, l)
		}
		for _, e := range l.Errors {
			out.errors[e.Line] = e
		}
		for ref, id := range l.IDs {
			out.ids[ref] = id
		}
		out.result = l
	}
	return out
}

func (e *env) importItems(t *testing.T, token, query string, lines ...string) importResult {
	t.Helper()
	return parseImport(t, e.do(t, request{method: "POST", path: "/v1/organizations/" + e.acme.OrganizationID + ":import" + query, token: token,
		body: strings.Join(lines, "\n") + "\n", header: map[string]string{"Content-Type": "application/x-ndjson"}}))
}

// verifyImported checks the role matrix's import of one group.
func verifyImported(t *testing.T, _ string, resp *response) {
	r := parseImport(t, resp)
	if r.result.Applied != 1 || r.result.Failed != 0 || r.result.Error != nil {
		t.Fatalf("got %s, want one item applied", resp.body)
	}
}

func wantItemError(t *testing.T, r importResult, line int, code, field string) {
	t.Helper()
	got, ok := r.errors[line]
	if !ok {
		t.Fatalf("line %d: no error, want %s on %s (errors %v)", line, code, field, r.errors)
	}
	if got.Code != code || got.Field != field {
		t.Errorf("line %d: got %s on %q (%s), want %s on %q", line, got.Code, got.Field, got.Message, code, field)
	}
}

// TestImport imports an organization's worth of items with refs between
// them in batches of 4, some of them bad: the bad ones fail alone, naming
// their line, field and code, and what names a failed item fails too.
func TestImport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		lines := []string{
			`{"kind": "orgUnit", "ref": "ou1", "parentId": "` + org + `", "name": "Sales"}`,
			`{"kind": "orgUnit", "ref": "ou2", "parentId": "#ou1", "name": "EMEA"}`,
			`{"kind": "project", "ref": "p1", "parentId": "#ou2", "name": "web"}`,
			`{"kind": "project", "ref": "p2", "parentId": "#ou2", "name": "web"}`, // 4: name taken
			`{"kind": "user", "ref": "u1", "loginId": "ann", "email": "ann@acme.example", "name": "Ann Lee"}`,
			`{"kind": "user", "ref": "u2", "loginId": "bob", "email": "bob@acme.example", "name": "Bob", "colour": "red"}`, // 6: unknown field
			`{"kind": "group", "ref": "g1", "name": "sales-team"}`,
			`{"kind": "membership", "groupId": "#g1", "userId": "#u1"}`,
			`{"kind": "membership", "groupId": "#g1", "userId": "#u2"}`,     // 9: u2 failed
			`{"kind": "membership", "groupId": "#g1", "userId": "#nobody"}`, // 10: unknown ref
			`{"kind": "serviceAccount", "ref": "sa1", "projectId": "#p1", "name": "deployer"}`,
			`{"kind": "grant", "roleId": "project.member", "scope": "project/#p1", "subject": {"type": "user", "id": "#u1"}}`,
			`{"kind": "grant", "roleId": "project.reader", "scope": "ou/#ou1", "subject": {"type": "group", "id": "#g1"}}`,
			`{"kind": "grant", "roleId": "project.member", "scope": "project/#p1", "subject": {"type": "serviceAccount", "id": "#sa1"}}`,
			`{"kind": "grant", "roleId": "project.member", "scope": "project/#p1", "subject": {"type": "group", "id": "#u1"}}`, // 15: kind mismatch
			``,
			`{"kind": "robot", "name": "x"}`, // 17: unknown kind
			`{"kind": "group", "ref": "g1", "name": "other"}`, // 18: duplicate ref
			`not json`, // 19
		}
		before := e.state(t)
		r := e.importItems(t, e.acme.Token, "?batchSize=4", lines...)
		if got := len(r.progress); got != 5 {
			t.Errorf("got %d progress lines, want 5 (18 items in batches of 4)", got)
		}
		if r.result.Items != 18 || r.result.Applied != 10 || r.result.Failed != 8 || r.result.Batches != 5 || r.result.Error != nil {
			t.Errorf("got result %+v, want 18 items, 10 applied, 8 failed in 5 batches", r.result)
		}
		last := r.progress[len(r.progress)-1]
		if last.Items != 18 || last.Applied != 10 || last.Failed != 8 || last.Revision != r.result.Revision {
			t.Errorf("got last progress %+v, want the result's totals", last)
		}
		wantItemError(t, r, 4, castellan.CodeProjectNameTaken, "name")
		wantItemError(t, r, 6, castellan.CodeInvalidField, "colour")
		wantItemError(t, r, 9, castellan.CodeImportRefFailed, "userId")
		wantItemError(t, r, 10, castellan.CodeImportUnknownRef, "userId")
		wantItemError(t, r, 15, castellan.CodeImportRefKind, "subject.id")
		wantItemError(t, r, 17, castellan.CodeImportUnknownKind, "kind")
		wantItemError(t, r, 18, castellan.CodeImportDuplicateRef, "ref")
		wantItemError(t, r, 19, castellan.CodeInvalidJSON, "")
		if got := r.errors[6]; got.Ref != "u2" || got.Kind != "user" || got.Rule != "unknownField" {
			t.Errorf("line 6: got %+v, want ref u2, kind user, rule unknownField", got)
		}

		ctx := system
		p1, err := e.db.Projects().FindProjectByID(ctx, org, r.ids["p1"])
		if err != nil || p1.ParentID != r.ids["ou2"] {
			t.Fatalf("project p1: got %+v, %v, want it under ou2 %s", p1, err, r.ids["ou2"])
		}
		members, _, err := e.db.Groups().FindGroupMembers(ctx, org, r.ids["g1"], castellan.GroupFilter{})
		if err != nil || len(members) != 1 || members[0].UserID != r.ids["u1"] {
			t.Fatalf("members of g1: got %+v, %v, want u1", members, err)
		}
		grants, _, err := e.db.Grants().FindGrants(ctx, org, castellan.GrantFilter{Scope: ptr("project/" + r.ids["p1"])})
		if err != nil || len(grants) != 2 {
			t.Fatalf("grants on p1: got %d, %v, want 2", len(grants), err)
		}
		events, _, err := e.db.Audit().FindAuditEvents(ctx, org, castellan.AuditFilter{PageSize: castellan.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(events) - before.Events[org]; got != 4 {
			t.Errorf("got %d new audit events, want one per batch that wrote (4 of 5)", got)
		}
		// The events say what was created and who got what.
		var users, grantSubjects, memberships []string
		for _, ev := range events {
			if ev.Action != string(castellan.ActionImport) {
				continue
			}
			var created map[string][]string
			var grants []struct {
				RoleID, Scope string
				Subject       castellan.Subject
			}
			var members []struct{ GroupID, UserID string }
			for key, v := range map[string]any{"created": &created, "grants": &grants, "memberships": &members} {
				if err := json.Unmarshal(ev.Summary[key], v); err != nil {
					t.Fatalf("event %s: summary %s: %v", ev.ID, key, err)
				}
			}
			users = append(users, created["user"]...)
			for _, g := range grants {
				grantSubjects = append(grantSubjects, g.RoleID+" "+g.Scope+" "+g.Subject.ID)
			}
			for _, m := range members {
				memberships = append(memberships, m.GroupID+" "+m.UserID)
			}
		}
		want := []string{"project.member project/" + r.ids["p1"] + " " + r.ids["sa1"], "project.member project/" + r.ids["p1"] + " " + r.ids["u1"],
			"project.reader ou/" + r.ids["ou1"] + " " + r.ids["g1"]}
		slices.Sort(grantSubjects)
		slices.Sort(want)
		if !slices.Equal(grantSubjects, want) ||
			!slices.Equal(users, []string{r.ids["u1"]}) || !slices.Equal(memberships, []string{r.ids["g1"] + " " + r.ids["u1"]}) {
			t.Errorf("audit events: got users %v, memberships %v, grants %v, want u1, g1 u1 and %v", users, memberships, grantSubjects, want)
		}
		changes, err := e.db.Changes(ctx, before.Revision, 100)
		if err != nil {
			t.Fatal(err)
		}
		created := map[string]bool{}
		for _, c := range changes {
			created[c.EntityType+" "+c.EntityID] = true
		}
		for _, want := range []string{"node " + r.ids["ou1"], "project " + r.ids["p1"], "user " + r.ids["u1"], "group " + r.ids["g1"],
			"group_member " + r.ids["g1"] + "/" + r.ids["u1"], "service_account " + r.ids["sa1"]} {
			if !created[want] {
				t.Errorf("no change-log row for %s", want)
			}
		}
	})
}

// TestImportAtomic writes nothing of an atomic import with one bad item,
// lists every failed item, and writes all of a good one in one batch.
func TestImportAtomic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		good := []string{
			`{"kind": "project", "ref": "p", "parentId": "` + org + `", "name": "atomic"}`,
			`{"kind": "group", "ref": "g", "name": "atomic-team"}`,
			`{"kind": "grant", "roleId": "project.member", "scope": "project/#p", "subject": {"type": "group", "id": "#g"}}`,
		}
		before := e.state(t)
		r := e.importItems(t, e.acme.Token, "?atomic=true", append(good, `{"kind": "group", "name": ""}`)...)
		if r.result.Error == nil || r.result.Error.Code != castellan.CodeImportRolledBack || r.result.Applied != 0 || r.result.Failed != 1 {
			t.Fatalf("got result %+v, want import.rolled_back with 1 failed and nothing applied", r.result)
		}
		wantItemError(t, r, 4, castellan.CodeInvalidField, "name")
		if !e.state(t).equal(before) {
			t.Fatal("a failed atomic import changed the store")
		}
		r = e.importItems(t, e.acme.Token, "?atomic=true&batchSize=1", good...)
		if r.result.Error != nil || r.result.Applied != 3 || r.result.Batches != 1 || len(r.ids) != 2 {
			t.Fatalf("got result %+v, ids %v, want 3 applied in one batch", r.result, r.ids)
		}
	})
}

// TestImportRefused: the import is the organization's managers', each
// grant follows the hierarchy principle, and nothing of another
// organization can be named.
func TestImportRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org, other := e.acme.OrganizationID, e.globex.OrganizationID
		f := &fixture{t: t, e: e, org: org}
		adminID := f.newUser()
		f.grant("organization.admin", "organization/"+org, castellan.Subject{Type: castellan.SubjectUser, ID: adminID})
		admin, err := e.db.Services().Tokens.CreateUserToken(system, org, adminID)
		if err != nil {
			t.Fatal(err)
		}
		readerID := f.newUser()
		f.grant("organization.reader", "organization/"+org, castellan.Subject{Type: castellan.SubjectUser, ID: readerID})
		reader, err := e.db.Services().Tokens.CreateUserToken(system, org, readerID)
		if err != nil {
			t.Fatal(err)
		}
		globexGroup, err := e.db.Groups().CreateGroup(system, other, castellan.GroupCreate{Name: "globex-team"})
		if err != nil {
			t.Fatal(err)
		}
		before := e.state(t)
		for _, tc := range []struct {
			token, org string
			status     int
			code       string
		}{
			{reader, org, http.StatusForbidden, castellan.CodePermissionDenied},
			{e.globex.Token, org, http.StatusNotFound, castellan.CodeOrgNotFound},
		} {
			e.refused(t, request{method: "POST", path: "/v1/organizations/" + tc.org + ":import", token: tc.token,
				body: `{"kind": "group", "name": "x"}` + "\n", header: map[string]string{"Content-Type": "application/x-ndjson"}}, tc.status, tc.code)
		}
		e.refused(t, request{method: "POST", path: "/v1/organizations/" + org + ":import", token: admin,
			body: `{"kind": "group", "name": "x"}` + "\n"}, http.StatusBadRequest, castellan.CodeImportBadContentType)
		if !e.state(t).equal(before) {
			t.Fatal("a refused import changed the store")
		}

		project := f.newProject()
		r := e.importItems(t, admin, "",
			`{"kind": "user", "ref": "u", "loginId": "carol", "email": "carol@acme.example", "name": "Carol"}`,
			`{"kind": "grant", "roleId": "organization.owner", "scope": "organization/`+org+`", "subject": {"type": "user", "id": "#u"}}`,
			`{"kind": "grant", "roleId": "project.admin", "scope": "project/`+project+`", "subject": {"type": "user", "id": "#u"}}`,
			`{"kind": "project", "parentId": "`+other+`", "name": "stolen"}`,
			`{"kind": "membership", "groupId": "`+globexGroup.ID+`", "userId": "#u"}`,
			`{"kind": "grant", "roleId": "project.admin", "scope": "organization/`+other+`", "subject": {"type": "user", "id": "#u"}}`,
			`{"kind": "grant", "roleId": "project.admin", "scope": "project/`+project+`", "subject": {"type": "user", "id": "`+e.globex.OwnerUserID+`"}}`,
		)
		if r.result.Applied != 2 || r.result.Failed != 5 {
			t.Fatalf("got result %+v (errors %v), want 2 applied and 5 refused", r.result, r.errors)
		}
		wantItemError(t, r, 2, castellan.CodeEscalation, "roleId")
		// Another organization's objects are not found; its root is a
		// scope the caller may not grant on, as in grants:batchCreate.
		wantItemError(t, r, 4, castellan.CodeNodeNotFound, "parentId")
		wantItemError(t, r, 5, castellan.CodeGroupNotFound, "groupId")
		wantItemError(t, r, 6, castellan.CodePermissionDenied, "")
		wantItemError(t, r, 7, castellan.CodeUserNotFound, "subject.id")
		if members, _, err := e.db.Groups().FindGroupMembers(system, other, globexGroup.ID, castellan.GroupFilter{}); err != nil || len(members) != 0 {
			t.Fatalf("members of Globex's group: got %d, %v, want none", len(members), err)
		}
	})
}

// TestImportLimits: a line over 64 KiB ends the import, and a batch size
// over the maximum is refused before anything is read.
func TestImportLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sqltest.SQLiteURL(t))
	r := e.importItems(t, e.acme.Token, "", `{"kind": "group", "name": "ok"}`, `{"kind": "group", "name": "`+strings.Repeat("x", 70<<10)+`"}`)
	if r.result.Error == nil || r.result.Error.Code != castellan.CodeImportLineTooLong || r.result.Applied != 1 {
		t.Fatalf("got result %+v, want import.line_too_long after the first item was applied", r.result)
	}
	e.refused(t, request{method: "POST", path: fmt.Sprintf("/v1/organizations/%s:import?batchSize=%d", e.acme.OrganizationID, castellan.MaxImportBatchSize+1), token: e.acme.Token,
		body: "\n", header: map[string]string{"Content-Type": "application/x-ndjson"}}, http.StatusBadRequest, castellan.CodeInvalidField)

	// A short path ending in :import is no import (and no panic).
	e.refused(t, request{method: "POST", path: "/console/:import", body: "\n", header: map[string]string{"Content-Type": "application/x-ndjson"}},
		http.StatusNotFound, "request.not_found")

	// An item is checked as its single request's body is when read: more
	// than it could hold is refused.
	ips := `"1"` + strings.Repeat(`, "1"`, 100)
	r = e.importItems(t, e.acme.Token, "",
		`{"kind": "user", "loginId": "dave", "email": "dave@acme.example", "name": "Dave", "consolePermitIps": [`+ips+`]}`,
		`{"kind": "group", "name": "`+strings.Repeat("g", 1000)+`"}`)
	if r.result.Applied != 0 || r.result.Failed != 2 {
		t.Fatalf("got result %+v (errors %v), want 2 refused", r.result, r.errors)
	}
	wantItemError(t, r, 1, castellan.CodeInvalidField, "consolePermitIps")
	wantItemError(t, r, 2, castellan.CodeInvalidField, "name")
	if r.errors[1].Rule != "maxItems" || r.errors[2].Rule != "maxLength" {
		t.Errorf("got rules %q and %q, want maxItems and maxLength", r.errors[1].Rule, r.errors[2].Rule)
	}
}

// TestImportRuns: runs of users, of one group's memberships and of grants
// are written at once; an item refused inside a run fails alone (a name
// taken before or earlier in the run, a user another organization has, a
// grant on a scope of another organization), and the run's other items
// are applied, on both backends.
func TestImportRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		org := e.acme.OrganizationID
		taken, err := e.db.Services().Users.CreateUser(system, org, castellan.UserCreate{Email: "taken@acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		r := e.importItems(t, e.acme.Token, "",
			`{"kind": "project", "ref": "p", "name": "runs"}`,
			`{"kind": "group", "ref": "g", "name": "runners"}`,
			`{"kind": "user", "ref": "u1", "loginId": "user1", "email": "u1@acme.example", "name": "One"}`,
			`{"kind": "user", "ref": "u2", "loginId": "user2", "email": "taken@acme.example", "name": "Two"}`, // 4: taken before
			`{"kind": "user", "ref": "u3", "loginId": "user3", "email": "u3@acme.example", "name": "Three"}`,
			`{"kind": "user", "ref": "u4", "loginId": "user1", "email": "u4@acme.example", "name": "Four"}`, // 6: taken in the run
			`{"kind": "membership", "groupId": "#g", "userId": "#u1"}`,
			`{"kind": "membership", "groupId": "#g", "userId": "`+e.globex.OwnerUserID+`"}`, // 8: another organization's
			`{"kind": "membership", "groupId": "#g", "userId": "#u3"}`,
			`{"kind": "membership", "groupId": "#g", "userId": "#u1"}`, // again: already a member
			`{"kind": "grant", "roleId": "project.member", "scope": "project/#p", "subject": {"type": "user", "id": "#u1"}}`,
			`{"kind": "grant", "roleId": "project.member", "scope": "project/#p", "subject": {"type": "user", "id": "`+e.globex.OwnerUserID+`"}}`, // 12
			`{"kind": "grant", "roleId": "project.reader", "scope": "project/#p", "subject": {"type": "group", "id": "#g"}}`,
			`{"kind": "grant", "roleId": "project.member", "scope": "project/#p", "subject": {"type": "user", "id": "#u1"}}`, // again: stands
			`{"kind": "project", "ref": "q1", "name": "q"}`,
			`{"kind": "project", "ref": "q2", "name": "q"}`, // 16: taken in the run
			`{"kind": "project", "ref": "q3", "name": "q3"}`,
		)
		if r.result.Applied != 12 || r.result.Failed != 5 {
			t.Fatalf("got result %+v (errors %v), want 12 applied and 5 refused", r.result, r.errors)
		}
		wantItemError(t, r, 16, castellan.CodeProjectNameTaken, "name")
		for _, ref := range []string{"q1", "q3"} {
			if p, err := e.db.Projects().FindProjectByID(system, org, r.ids[ref]); err != nil || p.ParentID != org {
				t.Fatalf("project %s: got %+v, %v, want it under the root", ref, p, err)
			}
		}
		wantItemError(t, r, 4, castellan.CodeUserEmailTaken, "email")
		wantItemError(t, r, 6, castellan.CodeUserLoginIDTaken, "loginId")
		wantItemError(t, r, 8, castellan.CodeUserNotFound, "userId")
		wantItemError(t, r, 12, castellan.CodeUserNotFound, "subject.id")

		members, _, err := e.db.Groups().FindGroupMembers(system, org, r.ids["g"], castellan.GroupFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range members {
			got = append(got, m.UserID)
		}
		slices.Sort(got)
		want := []string{r.ids["u1"], r.ids["u3"]}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("members: got %v, want u1 and u3 %v", got, want)
		}
		grants, _, err := e.db.Grants().FindGrants(system, org, castellan.GrantFilter{Scope: ptr("project/" + r.ids["p"])})
		if err != nil || len(grants) != 2 {
			t.Fatalf("grants on the project: got %d, %v, want u1's and the group's", len(grants), err)
		}
		for _, ref := range []string{"u2", "u4", "q2"} {
			if _, ok := r.ids[ref]; ok {
				t.Errorf("%s was refused but reported created", ref)
			}
		}
		if u, err := e.db.Users().FindUserByID(system, org, taken.ID, false); err != nil || u.Email != "taken@acme.example" {
			t.Fatalf("the user whose email was taken: got %+v, %v", u, err)
		}
		users, _, err := e.db.Users().FindUsers(system, org, castellan.UserFilter{PageSize: castellan.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		// The owner, taken, u1 and u3.
		if len(users) != 4 {
			t.Fatalf("got %d users, want 4", len(users))
		}
	})
}

// TestImportGrantRenewals: in a run of grants, new ones are inserted at
// once, one that renews an existing grant replaces it, and a renewal the
// Owner rule refuses (the last owner's grant given an expiry) fails
// alone, leaving the grant it would have replaced, on both backends.
func TestImportGrantRenewals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		s, org := e.db.Services(), e.acme.OrganizationID
		bob, err := s.Users.CreateUser(system, org, castellan.UserCreate{Email: "bob@acme.example"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Projects.CreateProject(system, org, castellan.ProjectCreate{Name: "renewals"})
		if err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(365 * 24 * time.Hour).UTC().Truncate(time.Second)
		bobUser := castellan.Subject{Type: castellan.SubjectUser, ID: bob.ID}
		old, _, err := s.Grants.CreateGrants(system, org, []castellan.GrantCreate{
			{RoleID: "project.member", Scope: "project/" + p.ID, Subject: bobUser, ExpiresAt: &later}})
		if err != nil {
			t.Fatal(err)
		}
		owners := func() []*castellan.Grant {
			t.Helper()
			gs, _, err := s.Grants.FindGrants(system, org, castellan.GrantFilter{RoleID: ptr(castellan.OrganizationOwnerRoleID)})
			if err != nil || len(gs) != 1 {
				t.Fatalf("owner grants: got %d, %v, want 1", len(gs), err)
			}
			return gs
		}
		before := owners()[0]

		r := e.importItems(t, e.acme.Token, "",
			`{"kind": "grant", "roleId": "project.reader", "scope": "project/`+p.ID+`", "subject": {"type": "user", "id": "`+bob.ID+`"}}`,
			`{"kind": "grant", "roleId": "project.member", "scope": "project/`+p.ID+`", "subject": {"type": "user", "id": "`+bob.ID+`"}}`,                                                                    // renews
			`{"kind": "grant", "roleId": "organization.owner", "scope": "organization/`+org+`", "subject": {"type": "user", "id": "`+e.acme.OwnerUserID+`"}, "expiresAt": "`+later.Format(time.RFC3339)+`"}`, // 3: last owner
			`{"kind": "grant", "roleId": "project.reader", "scope": "project/`+p.ID+`", "subject": {"type": "user", "id": "`+e.acme.OwnerUserID+`"}}`,
		)
		if r.result.Applied != 3 || r.result.Failed != 1 {
			t.Fatalf("got result %+v (errors %v), want 3 applied and 1 refused", r.result, r.errors)
		}
		wantItemError(t, r, 3, castellan.CodeLastOwner, "")
		if after := owners()[0]; after.ID != before.ID || after.ExpiresAt != nil {
			t.Errorf("owner grant: got %+v, want %+v untouched", after, before)
		}
		grants, _, err := s.Grants.FindGrants(system, org, castellan.GrantFilter{Scope: ptr("project/" + p.ID)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*castellan.Grant{}
		for _, g := range grants {
			got[g.RoleID+" "+g.Subject.ID] = g
		}
		if len(grants) != 3 || got["project.reader "+bob.ID] == nil || got["project.reader "+e.acme.OwnerUserID] == nil {
			t.Fatalf("grants on the project: got %v, want bob's member and reader grants and the owner's reader grant", got)
		}
		if m := got["project.member "+bob.ID]; m == nil || m.ID == old[0].ID || m.ExpiresAt != nil {
			t.Errorf("bob's member grant: got %+v, want a new grant without expiry in place of %s", m, old[0].ID)
		}
	})
}
