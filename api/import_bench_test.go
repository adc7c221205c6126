package api_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"

	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// peerStream is an import of the peers' dataset shape into org: 100 OUs
// up to 4 levels deep, 10,000 projects under them, 20,000 users (the
// last 2,000 without access), 2,000 groups of 10 members, and ~50,000
// grants: 30,000 of users and 18,000 of groups on projects, 2,000 of
// groups on OUs, 20 of users at the root. The same seed gives the same
// stream.
func peerStream(org string, seed uint64) (body []byte, items int) {
	const ous, projects, users, groups, members = 100, 10_000, 20_000, 2_000, 10
	rng := rand.New(rand.NewPCG(seed, seed))
	var b bytes.Buffer
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, format+"\n", args...)
		items++
	}
	for i := range ous {
		parent := org
		if i >= 3 {
			parent = fmt.Sprintf("#ou%d", (i-3)/3)
		}
		line(`{"kind":"orgUnit","ref":"ou%d","parentId":%q,"name":"ou-%d"}`, i, parent, i)
	}
	for i := range projects {
		line(`{"kind":"project","ref":"p%d","parentId":"#ou%d","name":"project-%d"}`, i, i%ous, i)
	}
	for i := range users {
		line(`{"kind":"user","ref":"u%d","loginId":"user-%d","email":"user-%d@peer.example","name":"User %d"}`, i, i, i, i)
	}
	withAccess := users - 2_000
	for i := range groups {
		line(`{"kind":"group","ref":"g%d","name":"group-%d"}`, i, i)
		for j := range members {
			line(`{"kind":"membership","groupId":"#g%d","userId":"#u%d"}`, i, (i*members+j)%withAccess)
		}
	}
	grant := func(role, scope, subjectType, subject string) {
		line(`{"kind":"grant","roleId":%q,"scope":%q,"subject":{"type":%q,"id":%q}}`, role, scope, subjectType, subject)
	}
	for i := range 30_000 {
		grant("project.member", fmt.Sprintf("project/#p%d", rng.IntN(projects)), "user", fmt.Sprintf("#u%d", i%withAccess))
	}
	for i := range 18_000 {
		grant("project.reader", fmt.Sprintf("project/#p%d", rng.IntN(projects)), "group", fmt.Sprintf("#g%d", i%groups))
	}
	for i := range 2_000 {
		grant("project.member", fmt.Sprintf("ou/#ou%d", rng.IntN(ous)), "group", fmt.Sprintf("#g%d", i%groups))
	}
	for i := range 20 {
		grant("organization.reader", "organization/"+org, "user", fmt.Sprintf("#u%d", i))
	}
	return b.Bytes(), items
}

// BenchmarkImportPeer imports the peers' dataset (about 102,000 items)
// through POST :import as the organization's owner, into a fresh store
// each time, and reports items/s.
func BenchmarkImportPeer(b *testing.B) {
	for _, backend := range sqltest.Backends() {
		b.Run(backend.Name, func(b *testing.B) {
			items := 0
			for b.Loop() {
				b.StopTimer()
				e := newEnv(b, backend.URL(b))
				body, n := peerStream(e.acme.OrganizationID, 1)
				items = n
				req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/organizations/"+e.acme.OrganizationID+":import?batchSize=1000", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/x-ndjson")
				req.Header.Set("Authorization", "Bearer "+e.acme.Token)
				b.StartTimer()
				resp, err := e.srv.Client().Do(req)
				if err != nil {
					b.Fatal(err)
				}
				var out bytes.Buffer
				_, err = out.ReadFrom(resp.Body)
				resp.Body.Close()
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
				result := string(lines[len(lines)-1])
				if want := fmt.Sprintf(`"applied":%d,"failed":0`, n); !bytes.Contains(lines[len(lines)-1], []byte(want)) {
					b.Fatalf("got %s, want every item applied", result)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(items*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}
