package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// crashChildEnv marks the process TestCrashConsistency starts and kills.
const crashChildEnv = "CASTELLAN_CRASH_CHILD"

// TestMain runs the tests, except in the child process of
// TestCrashConsistency, where the test binary is `castellan serve` on
// $CASTELLAN_DATABASE instead.
func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "1" {
		os.Exit(m.Run())
	}
	// The parent holds stdin open. Should it die without killing this
	// process, stdin ends and so does the server.
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--log-level", "warn"}
	if err := run(ctx, args, os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// crashChild is `castellan serve` running in a child process.
type crashChild struct {
	URL    string
	stderr *syncBuffer
	// kill sends SIGKILL and returns once the process is gone.
	kill func()
}

// startCrashChild starts the server on the store at url in a child process
// and returns once it listens.
func startCrashChild(t *testing.T, url string) *crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CASTELLAN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, crashChildEnv+"=1", "CASTELLAN_DATABASE="+url)
	if _, err := cmd.StdinPipe(); err != nil { // held open: see TestMain
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(syncBuffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the child: %v", err)
	}

	drained := make(chan struct{})
	kill := sync.OnceFunc(func() {
		cmd.Process.Kill() // SIGKILL on Unix
		<-drained          // Wait closes stdout: reading must be over first
		cmd.Wait()         // and closes stdin
	})
	t.Cleanup(kill)

	// The watchdog only bounds a child that never listens.
	watchdog := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	var addr string
	scanner := bufio.NewScanner(stdout)
	for addr == "" && scanner.Scan() {
		addr, _ = strings.CutPrefix(scanner.Text(), "castellan listening on ")
	}
	watchdog.Stop()
	go func() {
		io.Copy(io.Discard, stdout)
		close(drained)
	}()
	if addr == "" {
		kill()
		t.Fatalf("the child exited before listening\nstderr:\n%s", stderr)
	}
	return &crashChild{URL: addr, stderr: stderr, kill: kill}
}

// ackedProject is a project creation the server answered 201 to.
type ackedProject struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Revision int64  `json:"revision"`
}

// createProject sends one project creation. It returns a transport error
// as is, and an error for any answer but 201.
func createProject(client *http.Client, baseURL, orgID, token, name string) (*ackedProject, error) {
	req, err := http.NewRequest(http.MethodPost, baseURL+"/v1/organizations/"+orgID+"/projects",
		strings.NewReader(fmt.Sprintf(`{"name":%q}`, name)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusCreated {
		return nil, &statusError{resp.StatusCode, string(body)}
	}
	var p ackedProject
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("201 with body %s: %v", body, err)
	}
	return &p, nil
}

// statusError is an answer other than 201: never the kill's doing.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("got %d %s, want 201", e.status, e.body) }

// writeUntilKilled creates projects from several workers, kills the child
// once killAfter creations are acknowledged, and returns the acknowledged
// ones once every worker has stopped on the dead server, with the number
// of writes the kill cut off.
func writeUntilKilled(t *testing.T, child *crashChild, orgID, token string) (acked []*ackedProject, cut int) {
	const (
		workers   = 8
		killAfter = 200
		maxWrites = 100 * killAfter // bounds the test should the kill not take
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 10 * time.Second}
	var (
		mu      sync.Mutex
		enough  = make(chan struct{}) // closed at the killAfter-th acknowledgement
		killed  atomic.Bool
		written atomic.Int64
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				n := written.Add(1)
				if n > maxWrites {
					return
				}
				name := fmt.Sprintf("crash-%05d", n)
				p, err := createProject(client, child.URL, orgID, token, name)
				if err != nil {
					// killed is set before the kill: an error seen while it is
					// still false happened on a live server.
					var status *statusError
					if errors.As(err, &status) || !killed.Load() {
						t.Errorf("create project %s: %v", name, err)
						return
					}
					mu.Lock()
					cut++
					mu.Unlock()
					return
				}
				if p.Name != name {
					t.Errorf("create project %s: got name %q, want %q", name, p.Name, name)
				}
				mu.Lock()
				acked = append(acked, p)
				if len(acked) == killAfter {
					close(enough)
				}
				mu.Unlock()
			}
		})
	}
	stopped := make(chan struct{})
	go func() {
		wg.Wait()
		close(stopped)
	}()
	select {
	case <-enough:
	case <-stopped: // every worker failed early; errors are reported
	}
	killed.Store(true)
	child.kill()
	<-stopped
	client.CloseIdleConnections()
	if len(acked) < killAfter {
		t.Fatalf("acknowledged creations: got %d, want at least %d before the kill", len(acked), killAfter)
	}
	return acked, cut
}

// TestCrashConsistency kills the server with SIGKILL in the middle of a
// stream of writes, and checks that the store it leaves is consistent:
// every committed write has its audit event and change-log row, and there
// is nothing else.
func TestCrashConsistency(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			stdout := mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json", "--database", url)
			boot := decodeOneObject(t, stdout, "organizationId", "ownerUserId", "token", "passwordLink")

			child := startCrashChild(t, url)
			acked, cut := writeUntilKilled(t, child, boot["organizationId"], boot["token"])
			if strings.Contains(child.stderr.String(), "DATA RACE") {
				t.Errorf("the child server reported a data race:\n%s", child.stderr)
			}

			// The store reopens, and migrations find nothing to do.
			db := sqltest.MustOpen(t, url, nil)
			if got := mustCastellan(t, noEnv, "migrate", "--database", url); got != "schema is up to date\n" {
				t.Errorf("migrate after the crash: got %q, want %q", got, "schema is up to date\n")
			}
			raw := openRaw(t, url)
			if b.Name == "sqlite" {
				if got := queryStrings(t, raw, `PRAGMA integrity_check`); !slices.Equal(got, []string{"ok"}) {
					t.Errorf("PRAGMA integrity_check: got %q, want [ok]", got)
				}
			}
			snap := readSnapshot(t, raw)
			rev, err := db.Revision(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rev != snap.counter {
				t.Errorf("db.Revision: got %d, want the counter %d", rev, snap.counter)
			}
			checkConsistency(t, snap, boot["organizationId"], acked)
			t.Logf("%d creations acknowledged, %d cut off by the kill, %d committed; revision %d",
				len(acked), cut, len(snap.projects), snap.counter)
		})
	}
}

// storeSnapshot is what the crash left in the store, read in one transaction.
type storeSnapshot struct {
	projects map[string]projectRow // by ID
	changes  []changeRow
	events   []auditRow
	counter  int64
}

type projectRow struct {
	orgID, name string
	revision    int64
}

type changeRow struct {
	revision                               int64
	orgID, entityType, entityID, operation string
}

type auditRow struct {
	revision                            int64
	orgID, action, targetType, targetID string
}

// readSnapshot reads the tables the consistency rules involve. A
// PostgreSQL backend of the killed server may still commit a COMMIT sent
// before the kill, so every read shares one snapshot.
func readSnapshot(t *testing.T, raw *sql.DB) *storeSnapshot {
	t.Helper()
	ctx := context.Background()
	tx, err := raw.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		t.Fatalf("begin: %v", err)
	}
	defer tx.Rollback()
	scan := func(query string, row func(*sql.Rows) error) {
		t.Helper()
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := row(rows); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
	}

	s := &storeSnapshot{projects: map[string]projectRow{}}
	scan(`SELECT id, org_id, name, revision FROM nodes WHERE kind = 'project'`, func(rows *sql.Rows) error {
		var id string
		var p projectRow
		err := rows.Scan(&id, &p.orgID, &p.name, &p.revision)
		s.projects[id] = p
		return err
	})
	scan(`SELECT revision, org_id, entity_type, entity_id, operation FROM change_log`, func(rows *sql.Rows) error {
		var c changeRow
		err := rows.Scan(&c.revision, &c.orgID, &c.entityType, &c.entityID, &c.operation)
		s.changes = append(s.changes, c)
		return err
	})
	scan(`SELECT revision, org_id, action, target_type, target_id FROM audit_events`, func(rows *sql.Rows) error {
		var e auditRow
		err := rows.Scan(&e.revision, &e.orgID, &e.action, &e.targetType, &e.targetID)
		s.events = append(s.events, e)
		return err
	})
	scan(`SELECT value FROM revision_counter`, func(rows *sql.Rows) error {
		return rows.Scan(&s.counter)
	})
	return s
}

// inconsistencies returns every way s breaks the crash rules, for the
// organization orgID and the creations the server acknowledged.
func (s *storeSnapshot) inconsistencies(orgID string, acked []*ackedProject) []string {
	var bad []string
	add := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }

	// Every acknowledged write was committed, as it was acknowledged.
	for _, a := range acked {
		p, ok := s.projects[a.ID]
		switch {
		case !ok:
			add("acknowledged project %s (%s) is missing", a.ID, a.Name)
		case p.name != a.Name || p.revision != a.Revision:
			add("project %s: got name %q revision %d, want %q revision %d as acknowledged", a.ID, p.name, p.revision, a.Name, a.Revision)
		}
	}

	// Every project has its one audit event and its one change-log row, at
	// its revision; neither exists without the project.
	eventsByTarget := map[string][]auditRow{}
	orgEvents := 0
	for _, e := range s.events {
		if e.targetType == "project" {
			eventsByTarget[e.targetID] = append(eventsByTarget[e.targetID], e)
		}
		if e.orgID == orgID {
			orgEvents++
		}
	}
	changesByEntity := map[string][]changeRow{}
	for _, c := range s.changes {
		if c.entityType == "project" {
			changesByEntity[c.entityID] = append(changesByEntity[c.entityID], c)
		}
	}
	for id, p := range s.projects {
		if p.orgID != orgID {
			add("project %s: got org %s, want %s", id, p.orgID, orgID)
		}
		wantEvent := auditRow{p.revision, orgID, "organizations:CreateProject", "project", id}
		if got := eventsByTarget[id]; len(got) != 1 || got[0] != wantEvent {
			add("audit events of project %s: got %+v, want [%+v]", id, got, wantEvent)
		}
		wantChange := changeRow{p.revision, orgID, "project", id, "create"}
		if got := changesByEntity[id]; len(got) != 1 || got[0] != wantChange {
			add("change-log rows of project %s: got %+v, want [%+v]", id, got, wantChange)
		}
	}
	for id := range changesByEntity {
		if _, ok := s.projects[id]; !ok {
			add("change log has project %s, which does not exist", id)
		}
	}
	for id := range eventsByTarget {
		if _, ok := s.projects[id]; !ok {
			add("audit log has project %s, which does not exist", id)
		}
	}
	if want := len(s.projects) + 1; orgEvents != want {
		add("audit events of the organization: got %d, want %d (bootstrap and one per project)", orgEvents, want)
	}

	// Revisions run 1..N without a gap, with one audit event each, and the
	// counter stands at N.
	eventsAt := map[int64]int{}
	for _, e := range s.events {
		eventsAt[e.revision]++
	}
	changed := map[int64]bool{}
	var maxRevision int64
	for _, c := range s.changes {
		changed[c.revision] = true
		maxRevision = max(maxRevision, c.revision)
	}
	if s.counter != maxRevision {
		add("revision_counter: got %d, want MAX(change_log.revision) = %d", s.counter, maxRevision)
	}
	for rev := int64(1); rev <= maxRevision; rev++ {
		if !changed[rev] {
			add("change log has no row at revision %d of 1..%d", rev, maxRevision)
		}
		if eventsAt[rev] != 1 {
			add("audit events at revision %d: got %d, want 1", rev, eventsAt[rev])
		}
	}
	if len(s.events) != int(maxRevision) {
		add("audit events: got %d, want %d (one per revision)", len(s.events), maxRevision)
	}
	return bad
}

// checkConsistency reports the first few inconsistencies of s rather than
// one line per project.
func checkConsistency(t *testing.T, s *storeSnapshot, orgID string, acked []*ackedProject) {
	t.Helper()
	const shown = 20
	bad := s.inconsistencies(orgID, acked)
	if len(bad) > shown {
		bad = append(bad[:shown:shown], fmt.Sprintf("… and %d more", len(bad)-shown))
	}
	if len(bad) > 0 {
		t.Errorf("the store is inconsistent after the crash:\n%s", strings.Join(bad, "\n"))
	}
}

// TestInconsistencies checks the checker of TestCrashConsistency: a
// consistent store passes, and each kind of damage is caught.
func TestInconsistencies(t *testing.T) {
	const org = "org"
	// consistent is a store after bootstrap (revision 1) and two project
	// creations, of which the first was acknowledged.
	consistent := func() (*storeSnapshot, []*ackedProject) {
		s := &storeSnapshot{
			projects: map[string]projectRow{"p1": {org, "one", 2}, "p2": {org, "two", 3}},
			changes: []changeRow{
				{1, org, "organization", org, "create"}, {1, org, "node", org, "create"},
				{1, org, "user", "u", "create"}, {1, org, "api_token", "tk", "create"},
				{2, org, "project", "p1", "create"}, {3, org, "project", "p2", "create"},
			},
			events: []auditRow{
				{1, org, "organizations:BootstrapOrganization", "organization", org},
				{2, org, "organizations:CreateProject", "project", "p1"},
				{3, org, "organizations:CreateProject", "project", "p2"},
			},
			counter: 3,
		}
		return s, []*ackedProject{{"p1", "one", 2}}
	}
	tests := []struct {
		name    string
		damage  func(s *storeSnapshot, acked *[]*ackedProject)
		wantBad string
	}{
		{"Consistent", func(*storeSnapshot, *[]*ackedProject) {}, ""},
		{"AcknowledgedMissing", func(s *storeSnapshot, acked *[]*ackedProject) {
			*acked = append(*acked, &ackedProject{"p9", "nine", 4})
		}, "acknowledged project p9"},
		{"AcknowledgedAtOtherRevision", func(s *storeSnapshot, acked *[]*ackedProject) {
			(*acked)[0].Revision = 3
		}, "as acknowledged"},
		{"MissingAuditEvent", func(s *storeSnapshot, _ *[]*ackedProject) {
			s.events = s.events[:2]
		}, "audit events of project p2"},
		{"DuplicateAuditEvent", func(s *storeSnapshot, _ *[]*ackedProject) {
			s.events = append(s.events, s.events[2])
		}, "audit events of project p2"},
		{"AuditEventAtOtherRevision", func(s *storeSnapshot, _ *[]*ackedProject) {
			s.events[2].revision = 2
		}, "audit events of project p2"},
		{"MissingChangeRow", func(s *storeSnapshot, _ *[]*ackedProject) {
			s.changes = s.changes[:5]
		}, "change-log rows of project p2"},
		{"ChangeRowAtOtherRevision", func(s *storeSnapshot, _ *[]*ackedProject) {
			s.changes[5].revision = 2
		}, "change-log rows of project p2"},
		{"ProjectWithoutRows", func(s *storeSnapshot, _ *[]*ackedProject) {
			s.projects["p3"] = projectRow{org, "three", 4}
		}, "project p3"},
		{"RowsWithoutProject", func(s *storeSnapshot, _ *[]*ackedProject) {
			delete(s.projects, "p2")
		}, "project p2, which does not exist"},
		{"RevisionGap", func(s *storeSnapshot, _ *[]*ackedProject) {
			s.projects["p2"] = projectRow{org, "two", 4}
			s.changes[5].revision, s.events[2].revision, s.counter = 4, 4, 4
		}, "no row at revision 3"},
		{"CounterAhead", func(s *storeSnapshot, _ *[]*ackedProject) {
			s.counter = 4
		}, "revision_counter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, acked := consistent()
			tt.damage(s, &acked)
			bad := s.inconsistencies(org, acked)
			if tt.wantBad == "" {
				if len(bad) > 0 {
					t.Errorf("got %q, want no inconsistency", bad)
				}
				return
			}
			if !slices.ContainsFunc(bad, func(b string) bool { return strings.Contains(b, tt.wantBad) }) {
				t.Errorf("got %q, want an inconsistency mentioning %q", bad, tt.wantBad)
			}
		})
	}
}
