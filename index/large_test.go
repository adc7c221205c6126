package index_test

import (
	"context"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/catalog"
	"github.com/castellan-iam/castellan/index"
)

// synthetic is a generated organization served as a castellan.AuthzSource:
// root ─ 100 OUs (3 levels) ─ accounts ─ projects, users in groups,
// grants to users on projects and resources and to groups on OUs,
// FullAccess on every OU and account and a forbid on a tenth of the
// accounts. It measures the engine (build, memory, decisions), not the
// store's reads.
type synthetic struct {
	users, grants      int
	org                string
	ous, accounts      []string
	projects, userIDs  []string
	groupIDs           []string
	projectOf          []int // a project's account
	forbidden          map[string]bool
	parent             map[string]string
	kind               map[string]castellan.NodeKind
	groupsPerUser      int
	resourceGrantEvery int
}

// id is the UUID-shaped ID of the n-th entity of a kind, built without
// fmt: the generator must not cost more than the load it feeds.
func id(kind byte, n int) string {
	const hex = "0123456789abcdef"
	b := []byte("00000000-0000-4000-8000-000000000000")
	for i, v := 7, n; i >= 0; i, v = i-1, v>>4 {
		b[i] = hex[v&15]
	}
	b[21], b[22] = hex[kind>>4&15], hex[kind&15]
	for i, v := 35, n; i >= 24; i, v = i-1, v>>4 {
		b[i] = hex[v&15]
	}
	return string(b)
}

func newSynthetic(users, grants int) *synthetic {
	s := &synthetic{users: users, grants: grants, org: id(0, 0), parent: map[string]string{}, kind: map[string]castellan.NodeKind{},
		forbidden: map[string]bool{}, groupsPerUser: 2, resourceGrantEvery: 4}
	s.kind[s.org] = castellan.NodeRoot
	for i := range 100 {
		ou := id(1, i)
		s.ous = append(s.ous, ou)
		s.kind[ou] = castellan.NodeOU
		switch {
		case i < 10:
			s.parent[ou] = s.org
		case i < 40:
			s.parent[ou] = s.ous[i%10]
		default:
			s.parent[ou] = s.ous[10+i%30]
		}
	}
	for i := range 1000 {
		a := id(2, i)
		s.accounts = append(s.accounts, a)
		s.kind[a], s.parent[a] = castellan.NodeAccount, s.ous[i%100]
		if i%10 == 0 {
			s.forbidden[a] = true
		}
	}
	for i := range 10000 {
		p := id(3, i)
		s.projects = append(s.projects, p)
		s.projectOf = append(s.projectOf, i%1000)
		s.kind[p], s.parent[p] = castellan.NodeProject, s.accounts[i%1000]
	}
	for i := range users {
		s.userIDs = append(s.userIDs, id(4, i))
	}
	for i := range max(users/10, 1) {
		s.groupIDs = append(s.groupIDs, id(5, i))
	}
	return s
}

func (s *synthetic) ReadAuthz(_ context.Context, read func(castellan.AuthzReader) error) error {
	return read(s)
}

func (s *synthetic) Revision() int64 { return 1 }

func (s *synthetic) Organizations(each func(string) error) error { return each(s.org) }

func (s *synthetic) Nodes(_ string, each func(castellan.AuthzNode) error) error {
	for nodeID, kind := range s.kind {
		if err := each(castellan.AuthzNode{ID: nodeID, ParentID: s.parent[nodeID], Kind: kind, Name: nodeID[:8]}); err != nil {
			return err
		}
	}
	return nil
}

func (s *synthetic) Users(_ string, _ []string, each func(string) error) error {
	for _, u := range s.userIDs {
		if err := each(u); err != nil {
			return err
		}
	}
	return nil
}

// groupOf is the j-th group of user i.
func (s *synthetic) groupOf(i, j int) string {
	return s.groupIDs[(i/10+j*7919)%len(s.groupIDs)]
}

func (s *synthetic) Memberships(_ string, _ []string, each func(string, string) error) error {
	for i, u := range s.userIDs {
		for j := range s.groupsPerUser {
			if err := each(u, s.groupOf(i, j)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *synthetic) ServiceAccounts(string, []string, func(string) error) error { return nil }

func (s *synthetic) Roles(string, func(*castellan.Role) error) error { return nil }

// Grants: grant i goes to user i%users; every resourceGrantEvery-th is
// s3e.viewer on a bucket of the user's project, the others project.member
// on the project; a group in ten holds project.admin on an OU.
func (s *synthetic) Grants(_ string, _ []string, each func(castellan.AuthzGrant) error) error {
	for i := range s.grants {
		g := castellan.AuthzGrant{ID: id(6, i), RoleID: "project.member", Subject: castellan.Subject{Type: castellan.SubjectUser, ID: s.userIDs[i%s.users]}}
		project := s.projects[(i/s.users*31+i)%len(s.projects)]
		g.Scope = "project/" + project
		switch {
		case i < len(s.groupIDs)/10:
			g.RoleID, g.Scope = "project.admin", "ou/"+s.ous[i%len(s.ous)]
			g.Subject = castellan.Subject{Type: castellan.SubjectGroup, ID: s.groupIDs[i*10]}
		case i%s.resourceGrantEvery == 0:
			g.RoleID, g.Scope = "s3e.viewer", "rn:s3e:"+project+":bucket/b"+strconv.Itoa(i)
		}
		if err := each(g); err != nil {
			return err
		}
	}
	return nil
}

func (s *synthetic) Attachments(_ string, each func(string, *castellan.ControlPolicy) error) error {
	full := castellan.SystemControlPolicy(castellan.FullAccessPolicyID)
	forbid := &castellan.ControlPolicy{ID: id(7, 0), Name: "no-start", Document: `forbid (principal, action == Action::"compute:StartInstance", resource);`}
	for nodeID, kind := range s.kind {
		if kind == castellan.NodeProject {
			continue
		}
		if err := each(nodeID, full); err != nil {
			return err
		}
		if s.forbidden[nodeID] {
			if err := each(nodeID, forbid); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkLargeOrg loads a generated organization of
// CASTELLAN_INDEX_LARGE="users,grants" (e.g. 100000,1000000) and reports
// the load time (wall and CPU), the heap and the RSS after it (and once
// the load's garbage is returned to the system), and per decision of a mix
// (allowed through a direct project grant, a resource grant and a group
// grant on an OU, denied, refused by a control policy) the mean, p50 and
// p99. It is not in the default run.
func BenchmarkLargeOrg(b *testing.B) {
	size := os.Getenv("CASTELLAN_INDEX_LARGE")
	if size == "" {
		b.Skip("set CASTELLAN_INDEX_LARGE=users,grants to run")
	}
	users, grants, _ := strings.Cut(size, ",")
	nUsers, err1 := strconv.Atoi(users)
	nGrants, err2 := strconv.Atoi(grants)
	if err1 != nil || err2 != nil {
		b.Fatalf("CASTELLAN_INDEX_LARGE=%q: want users,grants", size)
	}
	src := newSynthetic(nUsers, nGrants)
	cat, err := catalog.Default()
	if err != nil {
		b.Fatal(err)
	}
	idx := index.New(src, castellan.Services{Catalog: cat}, func() time.Time { return time.Unix(1_800_000_000, 0) })
	ctx := context.Background()
	runtime.GC()
	start, startCPU := time.Now(), cpuTime()
	if err := idx.Reload(ctx); err != nil {
		b.Fatal(err)
	}
	// The CPU time too: on a shared machine the wall time says more of
	// the neighbours than of the load.
	load, loadCPU := time.Since(start), cpuTime()-startCPU
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	heap, resident := float64(mem.HeapAlloc)/(1<<20), rss()/(1<<20)
	// What the runtime's scavenger leaves resident once it has returned
	// the load's garbage to the system, as it does in a few minutes.
	debug.FreeOSMemory()
	released := rss() / (1 << 20)

	reqs := src.mix()
	reasons := map[string]int{}
	for _, req := range reqs {
		d, err := idx.Authorize(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		reasons[d.Reason]++
	}
	b.Logf("the mix's reasons: %v", reasons)
	rng := rand.New(rand.NewPCG(1, 2))
	samples := make([]time.Duration, 0, 100000)
	for range cap(samples) {
		req := reqs[rng.IntN(len(reqs))]
		t0 := time.Now()
		if _, err := idx.Authorize(ctx, req); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(t0))
	}
	slices.Sort(samples)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := idx.Authorize(ctx, reqs[i%len(reqs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	// After the loop: b.Loop resets the metrics reported before it.
	b.ReportMetric(load.Seconds(), "load-s")
	b.ReportMetric(loadCPU.Seconds(), "load-cpu-s")
	b.ReportMetric(heap, "heap-MiB")
	b.ReportMetric(resident, "rss-MiB")
	b.ReportMetric(released, "rss-released-MiB")
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(samples[len(samples)*99/100].Nanoseconds()), "p99-ns")
}

// mix returns decisions of every kind, each checked once.
func (s *synthetic) mix() []castellan.AuthzRequest {
	var out []castellan.AuthzRequest
	for k := range 1000 {
		i := (k * 7919) % s.users
		user := castellan.Principal{Type: castellan.PrincipalUser, ID: s.userIDs[i], OrganizationID: s.org}
		direct := s.projects[(i/s.users*31+i)%len(s.projects)] // grant i's project
		bucket := (i / s.resourceGrantEvery) * s.resourceGrantEvery
		resource := "rn:s3e:" + s.projects[(bucket/s.users*31+bucket)%len(s.projects)] + ":bucket/b" + strconv.Itoa(bucket)
		out = append(out,
			castellan.AuthzRequest{Principal: user, Action: "compute:StopInstance", Resource: "rn:compute:" + direct + ":instance/vm-1"},
			castellan.AuthzRequest{Principal: castellan.Principal{Type: castellan.PrincipalUser, ID: s.userIDs[bucket%s.users], OrganizationID: s.org},
				Action: "s3e:GetObject", Resource: resource},
			castellan.AuthzRequest{Principal: user, Action: "compute:StopInstance", Resource: "project/" + s.projects[(k*104729)%len(s.projects)]},
			castellan.AuthzRequest{Principal: user, Action: "compute:StartInstance", Resource: "project/" + direct},
		)
	}
	return out
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// rss returns the process's resident set size in bytes (Linux).
func rss() float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkDependentRead is the unit a large organization's decisions
// are made of on this machine: one read whose address depends on the
// read before it, at a random place in 1 GiB (a cache and TLB miss), as
// a decision's map and list lookups are in an index of that size. It
// runs with BenchmarkLargeOrg (CASTELLAN_INDEX_LARGE set), to read its
// latencies as a number of such reads.
func BenchmarkDependentRead(b *testing.B) {
	if os.Getenv("CASTELLAN_INDEX_LARGE") == "" {
		b.Skip("set CASTELLAN_INDEX_LARGE=users,grants to run")
	}
	// One cycle through every slot (Sattolo's shuffle), so the walk never
	// settles in a short loop that the caches would hold.
	next := make([]uint32, 1<<28)
	for i := range next {
		next[i] = uint32(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := len(next) - 1; i > 0; i-- {
		j := rng.IntN(i)
		next[i], next[j] = next[j], next[i]
	}
	at := uint32(0)
	for b.Loop() {
		at = next[at]
	}
	runtime.KeepAlive(at)
}
