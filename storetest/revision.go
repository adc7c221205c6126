package storetest

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/castellan-iam/castellan"
)

func testRevisions(t *testing.T, open Opener) {
	t.Run("ConcurrentWrites", func(t *testing.T) {
		s := open(t, nil)
		ctx := operatorCtx("r0")
		org := must(s.Organizations.CreateOrganization(ctx, castellan.OrganizationCreate{Name: "Acme"}))(t)
		const writers, each = 8, 10
		var (
			mu   sync.Mutex
			revs []int64
			wg   sync.WaitGroup
		)
		errs := make(chan error, writers*each)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; i++ {
					// Every writer also tries a name another writer takes: one
					// of each pair must fail without using a revision.
					for _, name := range []string{fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("shared-%d", i)} {
						p, err := s.Projects.CreateProject(ctx, org.ID, castellan.ProjectCreate{Name: name})
						if err != nil {
							if castellan.ErrorCode(err) != castellan.CodeProjectNameTaken {
								errs <- err
							}
							continue
						}
						mu.Lock()
						revs = append(revs, p.Revision)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("unexpected error: %v", err)
		}
		if want := writers*each + each; len(revs) != want {
			t.Fatalf("got %d successful writes, want %d", len(revs), want)
		}
		sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
		for i, rev := range revs {
			if want := org.Revision + int64(i) + 1; rev != want {
				t.Fatalf("got revisions %v, want %d.. without gaps or repeats", revs, org.Revision+1)
			}
		}
		if last := must(s.ChangeLog.Revision(ctx))(t); last != revs[len(revs)-1] {
			t.Fatalf("got store revision %d, want %d", last, revs[len(revs)-1])
		}
	})
}
