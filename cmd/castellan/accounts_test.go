package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
)

// TestAccountLimitFlag reads the account limit from the flag and the
// environment and refuses a limit that is no positive number.
func TestAccountLimitFlag(t *testing.T) {
	parse := func(args []string, env map[string]string) (int, error) {
		f := newFlags("serve", io.Discard, func(k string) string { return env[k] })
		limit := f.accountLimit()
		if err := f.parse(args); err != nil {
			t.Fatal(err)
		}
		return limit()
	}
	if n, err := parse(nil, nil); err != nil || n != castellan.DefaultMaxAccounts {
		t.Fatalf("default: got %d, %v; want %d", n, err, castellan.DefaultMaxAccounts)
	}
	if n, err := parse(nil, map[string]string{"CASTELLAN_MAX_ACCOUNTS_PER_ORGANIZATION": "7"}); err != nil || n != 7 {
		t.Fatalf("environment: got %d, %v; want 7", n, err)
	}
	if n, err := parse([]string{"--max-accounts-per-organization", "3"}, map[string]string{"CASTELLAN_MAX_ACCOUNTS_PER_ORGANIZATION": "7"}); err != nil || n != 3 {
		t.Fatalf("flag over environment: got %d, %v; want 3", n, err)
	}
	for _, bad := range []string{"0", "-1", "many"} {
		if _, err := parse([]string{"--max-accounts-per-organization", bad}, nil); err == nil || !strings.Contains(err.Error(), "--max-accounts-per-organization") {
			t.Errorf("%q: got %v, want the flag named", bad, err)
		}
	}
}

// TestUserLimitFlag reads the user limit from the flag and the
// environment, 0 (no limit) by default, and refuses a limit that is no
// number or is negative.
func TestUserLimitFlag(t *testing.T) {
	parse := func(args []string, env map[string]string) (int, error) {
		f := newFlags("serve", io.Discard, func(k string) string { return env[k] })
		limit := f.userLimit()
		if err := f.parse(args); err != nil {
			t.Fatal(err)
		}
		return limit()
	}
	if n, err := parse(nil, nil); err != nil || n != 0 {
		t.Fatalf("default: got %d, %v; want 0", n, err)
	}
	if n, err := parse(nil, map[string]string{"CASTELLAN_MAX_USERS_PER_ORGANIZATION": "500"}); err != nil || n != 500 {
		t.Fatalf("environment: got %d, %v; want 500", n, err)
	}
	if n, err := parse([]string{"--max-users-per-organization", "0"}, map[string]string{"CASTELLAN_MAX_USERS_PER_ORGANIZATION": "500"}); err != nil || n != 0 {
		t.Fatalf("flag over environment: got %d, %v; want 0", n, err)
	}
	for _, bad := range []string{"-1", "many", ""} {
		if _, err := parse([]string{"--max-users-per-organization", bad}, nil); err == nil || !strings.Contains(err.Error(), "--max-users-per-organization") {
			t.Errorf("%q: got %v, want the flag named", bad, err)
		}
	}
}

// TestServeAccountDeletionNotice deletes an account on a served store
// whose mail goes to a real SMTP server: the deletion notice reaches
// exactly the organization's administrator (its owner: the operator
// bootstrapped it), the account's root user and its delegates, each
// once. The same server holds --max-accounts-per-organization.
func TestServeAccountDeletionNotice(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			operator := decodeOneObject(t, mustCastellan(t, noEnv, "bootstrap", "--operator", "--json", "--database", url), "operatorTokenId", "token")["token"]
			acme := decodeOneObject(t, mustCastellan(t, noEnv, "bootstrap", "--org", "Acme", "--owner-email", "owner@acme.example", "--json", "--database", url),
				"organizationId", "ownerUserId", "token", "passwordLink")
			mx, got := startSink(t)
			srv := startServe(t, envOf(map[string]string{"CASTELLAN_SMTP": "smtp://" + mx}),
				"--listen", "127.0.0.1:0", "--database", url, "--max-accounts-per-organization", "1")
			accounts := "/v1/organizations/" + acme["organizationId"] + "/accounts"
			create := func(name, email string) (*http.Response, []byte) {
				return srv.do(t, http.MethodPost, accounts, acme["token"],
					fmt.Sprintf(`{"name": %q, "email": %q, "emailConfirmation": %q, "iamRoleName": "OrgAdmin"}`, name, email, email))
			}
			resp, body := create("sales-prod", "root@sales.example")
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: got %d %s", resp.StatusCode, body)
			}
			var account castellan.Account
			if err := json.Unmarshal(body, &account); err != nil {
				t.Fatal(err)
			}
			if resp, body := create("sales-dev", "root@dev.example"); resp.StatusCode != http.StatusPreconditionFailed || !strings.Contains(string(body), castellan.CodeAccountLimitReached) {
				t.Fatalf("create beyond the limit of 1: got %d %s", resp.StatusCode, body)
			}
			path := accounts + "/" + account.ID
			if resp, body := srv.do(t, http.MethodPut, path+"/attributes", operator,
				`{"delegates": ["d1@partner.example", "D2@partner.example", "ROOT@sales.example"]}`); resp.StatusCode != http.StatusOK {
				t.Fatalf("attributes: got %d %s", resp.StatusCode, body)
			}
			if resp, body := srv.do(t, http.MethodPost, path+":delete", operator, `{"name": "sales-prod"}`); resp.StatusCode != http.StatusOK {
				t.Fatalf("delete: got %d %s", resp.StatusCode, body)
			}

			want := []string{"D2@partner.example", "d1@partner.example", "owner@acme.example", "root@sales.example"}
			var notified []string
			for len(notified) < len(want) {
				select {
				case msg := <-got:
					if strings.Contains(string(msg.data), "Subject: The account sales-prod of Acme was deleted") {
						notified = append(notified, msg.to...)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("notices delivered to %v, want %v\nstderr:\n%s", notified, want, srv.stderr)
				}
			}
			slices.Sort(notified)
			if !slices.Equal(notified, want) {
				t.Fatalf("notices delivered to %v, want %v", notified, want)
			}
			// The outbox holds no more notices than were delivered.
			resp, body = srv.do(t, http.MethodGet, "/v1/mail?page_size=1000", operator, "")
			var mails struct{ Mails []castellan.Mail }
			if err := json.Unmarshal(body, &mails); resp.StatusCode != http.StatusOK || err != nil {
				t.Fatalf("mail: got %d %s", resp.StatusCode, body)
			}
			n := 0
			for _, m := range mails.Mails {
				if m.Template == castellan.MailAccountDeleted {
					n++
				}
			}
			if n != len(want) {
				t.Fatalf("got %d deletion notices in the outbox, want %d", n, len(want))
			}
			if err := srv.stop(); err != nil {
				t.Fatalf("serve after cancel: %v", err)
			}
		})
	}
}
