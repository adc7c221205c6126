package sqlstore_test

import (
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

func TestConformance(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			storetest.RunAllTests(t, func(tb testing.TB, clock castellan.Clock) castellan.Services {
				return sqltest.MustOpen(tb, b.URL(tb), clock).Services()
			})
		})
	}
}
