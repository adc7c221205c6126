// Package compat_test checks what the two compatibility APIs share: the
// rules they apply are the core's, set in one place.
package compat_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/internal/apitest"
	"github.com/castellan-iam/castellan/sealing"
	"github.com/castellan-iam/castellan/sqlstore"
	"github.com/castellan-iam/castellan/sqlstore/sqltest"
	"github.com/castellan-iam/castellan/storetest"
)

var system = context.Background()

// site is a server over a store that limits each organization to
// maxUsers users, with the owner of one organization calling both APIs:
// with its token (customer users API) and its access key (sub-account
// API, signed).
type site struct {
	t      *testing.T
	db     *sqlstore.DB
	clock  *storetest.Clock
	srv    *httptest.Server
	org    string
	token  string
	keyID  string
	secret string
}

func newSite(t *testing.T, url string, maxUsers int) *site {
	t.Helper()
	kek := make([]byte, sealing.KeySize)
	rand.Read(kek)
	keyring, err := sealing.Parse("keys", []byte("k1 "+base64.StdEncoding.EncodeToString(kek)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := &site{t: t, clock: storetest.NewClock()}
	s.db = sqltest.MustOpenWith(t, url, sqlstore.Options{Clock: s.clock.Now, Sealer: keyring, MaxUsers: maxUsers})
	acme, err := s.db.Tokens().BootstrapOrganization(system, castellan.Bootstrap{OrganizationName: "Acme", OwnerEmail: "owner@acme.example"})
	if err != nil {
		t.Fatal(err)
	}
	s.org, s.token = acme.OrganizationID, acme.Token
	services := s.db.Services()
	p, err := services.Projects.CreateProject(system, s.org, castellan.ProjectCreate{Name: "scripts"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := services.AccessKeys.CreateAccessKey(system, s.org, castellan.AccessKeyCreate{
		Owner: castellan.Subject{Type: castellan.SubjectUser, ID: acme.OwnerUserID}, ProjectID: p.ID, Name: "script"})
	if err != nil {
		t.Fatal(err)
	}
	s.keyID, s.secret = k.ID, k.Secret
	s.srv = httptest.NewServer(apitest.Handler(services, apitest.Options{Clock: s.clock.Now, Revisions: apitest.Feed(t, s.db)}))
	t.Cleanup(s.srv.Close)
	return s
}

// subAccount creates a user through the sub-account API, signing as its
// gateway requires, and returns the status and the body.
func (s *site) subAccount(n int) (int, []byte) {
	body := fmt.Sprintf(`{"active":true,"canAPIGatewayAccess":true,"canConsoleAccess":false,"loginId":"sub%d","name":"Sub %d",`+
		`"needPasswordReset":false,"needPasswordGenerate":true}`, n, n)
	uri := "/compat/ncloud/api/v1/sub-accounts"
	ts := strconv.FormatInt(s.clock.Now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(s.secret))
	mac.Write([]byte("POST " + uri + "\n" + ts + "\n" + s.keyID))
	req := s.request(uri, body)
	req.Header.Set("x-ncp-apigw-timestamp", ts)
	req.Header.Set("x-ncp-iam-access-key", s.keyID)
	req.Header.Set("x-ncp-apigw-signature-v2", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return s.send(req)
}

// customerUser creates a user through the customer users API.
func (s *site) customerUser(n int) (int, []byte) {
	body := fmt.Sprintf(`{"userName":"cust%d@acme.example","firstName":"Иван","lastName":"Иванов","email":"cust%d@acme.example",`+
		`"accountType":"USER_ACCOUNT_TYPE_LOCAL"}`, n, n)
	req := s.request("/compat/cloudru/api/v1/customers/"+s.org+"/users", body)
	req.Header.Set("Authorization", "Bearer "+s.token)
	return s.send(req)
}

func (s *site) request(uri, body string) *http.Request {
	req, err := http.NewRequest(http.MethodPost, s.srv.URL+uri, bytes.NewReader([]byte(body)))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

func (s *site) send(req *http.Request) (int, []byte) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (s *site) users() int {
	users, _, err := s.db.Services().Users.FindUsers(system, s.org, castellan.UserFilter{PageSize: 100})
	if err != nil {
		s.t.Fatal(err)
	}
	return len(users)
}

// TestOneUserLimitBothAPIs sets the organization's user limit in one
// place, the store's option, and fills the organization through both
// APIs in turn: each accepts users exactly up to the limit and then
// refuses, in its own error shape, with the core's code and message; a
// different limit moves both.
func TestOneUserLimitBothAPIs(t *testing.T) {
	for _, b := range sqltest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			for _, limit := range []int{3, 4} {
				s := newSite(t, b.URL(t), limit)
				// The owner is the first user.
				for n := 1; n < limit; n++ {
					create := s.subAccount
					if n%2 == 0 {
						create = s.customerUser
					}
					if status, body := create(n); status != http.StatusOK {
						t.Fatalf("limit %d, user %d: got %d %s, want it created", limit, n+1, status, body)
					}
				}
				status, body := s.subAccount(limit)
				var ncloud struct {
					Error struct{ ErrorCode, Message, Details string }
				}
				if err := json.Unmarshal(body, &ncloud); err != nil || status != http.StatusBadRequest || ncloud.Error.ErrorCode != "100" ||
					!bytes.Contains(body, []byte(strconv.Itoa(limit))) {
					t.Fatalf("limit %d, sub-account API: got %d %s, want 400 errorCode 100 naming the limit", limit, status, body)
				}
				status, body = s.customerUser(limit)
				var cloudru struct {
					Code    int
					Message string
				}
				if err := json.Unmarshal(body, &cloudru); err != nil || status != http.StatusBadRequest || cloudru.Code != 9 ||
					!bytes.Contains(body, []byte(strconv.Itoa(limit))) {
					t.Fatalf("limit %d, customer users API: got %d %s, want 400 code 9 (FAILED_PRECONDITION) naming the limit", limit, status, body)
				}
				if got := s.users(); got != limit {
					t.Fatalf("limit %d: the organization has %d users", limit, got)
				}
			}
		})
	}
}
