package sqlstore_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestImportNamesOfManyUsers: the taken emails and login IDs of an atomic
// import's users are read whatever their number (one query for 17,000
// would pass SQLite's 32,766 parameters).
func TestImportNamesOfManyUsers(t *testing.T) {
	t.Parallel()
	db := sqltest.MustOpen(t, sqltest.SQLiteURL(t), nil)
	boot, err := db.Services().Tokens.BootstrapOrganization(context.Background(), castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	users := make([]castellan.UserRegistration, 17_000)
	for i := range users {
		users[i] = castellan.UserRegistration{LoginID: fmt.Sprintf("u%d", i), Email: fmt.Sprintf("u%d@acme.example", i)}
	}
	users[16_999].Email = "Owner@acme.example"
	emails, _, err := sqlstore.ReadImportNames(db, boot.OrganizationID, users)
	if err != nil {
		t.Fatal(err)
	}
	if len(emails) != 1 || !emails["owner@acme.example"] {
		t.Fatalf("got taken emails %v, want the owner's", emails)
	}
}
