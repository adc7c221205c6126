package ncloud_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/compat/ncloud"
	"github.com/castellan-iam/castellan/web"
)

// The handler tests run the API over fakes: what needs no store.

var fakeNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	fakeKey = "CAKAAAAAAAAAAAAAAAAAAAA"
	fakeOrg = "6f1dc6a1-92c1-4d6a-8000-000000000001"
)

type fakeKeys struct {
	castellan.AccessKeyService
	message, signature string
	err                error
	calls              int
}

func (f *fakeKeys) VerifyAccessKeySignature(_ context.Context, keyID string, message []byte, signature string) (castellan.Principal, error) {
	f.calls++
	f.message, f.signature = string(message), signature
	if f.err != nil {
		return castellan.Principal{}, f.err
	}
	return castellan.Principal{Type: castellan.PrincipalUser, ID: "caller", OrganizationID: fakeOrg, KeyID: keyID}, nil
}

type fakeUsers struct {
	castellan.UserService
	org  string
	reg  castellan.UserRegistration
	err  error
	user *castellan.User
}

func (f *fakeUsers) RegisterUser(_ context.Context, org string, reg castellan.UserRegistration) (*castellan.RegisteredUser, error) {
	f.org, f.reg = org, reg
	if f.err != nil {
		return nil, f.err
	}
	return &castellan.RegisteredUser{User: &castellan.User{ID: "new-user"}}, nil
}

func (f *fakeUsers) FindUserByID(_ context.Context, org, id string, _ bool) (*castellan.User, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.user == nil {
		return nil, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeUserNotFound, "no")
	}
	return f.user, nil
}

type fakeRoles struct {
	castellan.RoleIdentityService
	session *castellan.RoleSession
}

func (f *fakeRoles) FindRoleSessionByID(_ context.Context, _, _ string, _ bool) (*castellan.RoleSession, error) {
	if f.session == nil {
		return nil, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeRoleSessionNotFound, "no")
	}
	return f.session, nil
}

type fakeAPI struct {
	keys  *fakeKeys
	users *fakeUsers
	roles *fakeRoles
	mux   *http.ServeMux
}

func newFakeAPI(cfg ncloud.Config) *fakeAPI {
	f := &fakeAPI{keys: &fakeKeys{}, users: &fakeUsers{}, roles: &fakeRoles{}, mux: http.NewServeMux()}
	cfg.Services = castellan.Services{AccessKeys: f.keys, Users: f.users, RoleIdentities: f.roles}
	cfg.Clock = func() time.Time { return fakeNow }
	ncloud.New(cfg).Register(f.mux)
	return f
}

// send makes a request with well-formed headers, edited by edit.
func (f *fakeAPI) send(method, target, body string, edit func(h http.Header)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("x-ncp-apigw-timestamp", strconv.FormatInt(fakeNow.UnixMilli(), 10))
	r.Header.Set("x-ncp-iam-access-key", fakeKey)
	r.Header.Set("x-ncp-apigw-signature-v2", "c2lnbmF0dXJl")
	if edit != nil {
		edit(r.Header)
	}
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, r)
	return w
}

// wantError checks an answer is the platform's error with code.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code, message string) string {
	t.Helper()
	var body struct {
		Error struct{ ErrorCode, Message, Details string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	if w.Code != status || body.Error.ErrorCode != code || body.Error.Message != message || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %s %q (%s), want %d %s %q", w.Code, body.Error.ErrorCode, body.Error.Message, w.Header().Get("Content-Type"), status, code, message)
	}
	return body.Error.Details
}

const authFailedBody = `{"error":{"errorCode":"200","message":"Authentication Failed","details":"Invalid authentication information."}}` + "\n"

func TestSignedMessage(t *testing.T) {
	f := newFakeAPI(ncloud.Config{})
	w := f.send("GET", "/compat/ncloud/api/v1/users/x%2Fy?includeDeleted=true", "", nil)
	wantError(t, w, http.StatusUnauthorized, "30", "Nonexistent account")
	want := "GET /compat/ncloud/api/v1/users/x%2Fy?includeDeleted=true\n" + strconv.FormatInt(fakeNow.UnixMilli(), 10) + "\n" + fakeKey
	if f.keys.message != want || f.keys.signature != "c2lnbmF0dXJl" {
		t.Fatalf("verified %q with %q, want %q", f.keys.message, f.keys.signature, want)
	}

	f = newFakeAPI(ncloud.Config{Prefix: "/other"})
	f.send("POST", "/other/sub-accounts", "{}", nil)
	if want := "POST /other/sub-accounts\n"; !strings.HasPrefix(f.keys.message, want) {
		t.Fatalf("verified %q, want it to start with %q", f.keys.message, want)
	}
}

func TestAuthenticationRefused(t *testing.T) {
	ms := func(d time.Duration) string { return strconv.FormatInt(fakeNow.Add(d).UnixMilli(), 10) }
	for _, c := range []struct {
		name     string
		edit     func(h http.Header)
		verified bool
	}{
		{"TimestampPast", func(h http.Header) { h.Set("x-ncp-apigw-timestamp", ms(-5*time.Minute-time.Millisecond)) }, false},
		{"TimestampFuture", func(h http.Header) { h.Set("x-ncp-apigw-timestamp", ms(5*time.Minute+time.Millisecond)) }, false},
		{"TimestampSeconds", func(h http.Header) { h.Set("x-ncp-apigw-timestamp", strconv.FormatInt(fakeNow.Unix(), 10)) }, false},
		{"TimestampNotNumber", func(h http.Header) { h.Set("x-ncp-apigw-timestamp", "soon") }, false},
		{"NoTimestamp", func(h http.Header) { h.Del("x-ncp-apigw-timestamp") }, false},
		{"NoAccessKey", func(h http.Header) { h.Del("x-ncp-iam-access-key") }, false},
		{"NoSignature", func(h http.Header) { h.Del("x-ncp-apigw-signature-v2") }, false},
		{"Refused", nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeAPI(ncloud.Config{})
			f.keys.err = castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated, "wrong signature")
			w := f.send("POST", "/compat/ncloud/api/v1/sub-accounts", "{}", c.edit)
			if w.Code != http.StatusUnauthorized || w.Body.String() != authFailedBody {
				t.Fatalf("got %d %s, want 401 %s", w.Code, w.Body, authFailedBody)
			}
			if verified := f.keys.calls > 0; verified != c.verified {
				t.Fatalf("verified: got %v, want %v", verified, c.verified)
			}
			if f.users.org != "" {
				t.Fatal("registered a user")
			}
		})
	}
	t.Run("TimestampAtTheEdges", func(t *testing.T) {
		for _, d := range []time.Duration{-5 * time.Minute, 5 * time.Minute} {
			f := newFakeAPI(ncloud.Config{})
			f.send("GET", "/compat/ncloud/api/v1/users/x", "", func(h http.Header) { h.Set("x-ncp-apigw-timestamp", ms(d)) })
			if f.keys.calls != 1 {
				t.Fatalf("timestamp %v off: not verified", d)
			}
		}
	})
	t.Run("SourceNotAllowed", func(t *testing.T) {
		f := newFakeAPI(ncloud.Config{})
		f.keys.err = castellan.Errorf(castellan.EFORBIDDEN, castellan.CodeSourceNotAllowed, "not from here")
		wantError(t, f.send("GET", "/compat/ncloud/api/v1/users/x", "", nil), http.StatusForbidden, "230", "Forbidden")
	})
}

// TestFailuresRateLimited: verified requests are not limited; failed
// ones are, per key and address and per address, and a caller over a
// limit is refused without a verification.
func TestFailuresRateLimited(t *testing.T) {
	f := newFakeAPI(ncloud.Config{FailuresPerKey: web.RateLimit{PerSecond: 0.5, Burst: 2}})
	for range 50 {
		if w := f.send("GET", "/compat/ncloud/api/v1/users/x", "", nil); w.Code == http.StatusTooManyRequests {
			t.Fatal("a verified request was rate limited")
		}
	}
	f.keys.err = castellan.TokenRefused()
	for range 2 {
		if w := f.send("GET", "/compat/ncloud/api/v1/users/x", "", nil); w.Code != http.StatusUnauthorized {
			t.Fatalf("got %d, want 401", w.Code)
		}
	}
	calls := f.keys.calls
	f.keys.err = nil // even the right signature waits now
	w := f.send("GET", "/compat/ncloud/api/v1/users/x", "", nil)
	wantError(t, w, http.StatusTooManyRequests, "420", "Rate Limited")
	if got := w.Header().Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2", got)
	}
	if f.keys.calls != calls {
		t.Fatal("a limited request was verified")
	}
	// Another key from the same address has its own allowance.
	f.send("GET", "/compat/ncloud/api/v1/users/x", "", func(h http.Header) { h.Set("x-ncp-iam-access-key", "CAKBBBBBBBBBBBBBBBBBBBB") })
	if f.keys.calls != calls+1 {
		t.Fatal("another key was limited too")
	}

	f = newFakeAPI(ncloud.Config{FailuresPerSource: web.RateLimit{PerSecond: 1, Burst: 1}})
	f.send("GET", "/compat/ncloud/api/v1/users/x", "", func(h http.Header) { h.Set("x-ncp-apigw-signature-v2", "") })
	w = f.send("GET", "/compat/ncloud/api/v1/users/x", "", func(h http.Header) { h.Set("x-ncp-iam-access-key", "CAKBBBBBBBBBBBBBBBBBBBB") })
	wantError(t, w, http.StatusTooManyRequests, "420", "Rate Limited")
}

func TestErrorTable(t *testing.T) {
	for _, c := range []struct {
		name          string
		err           error
		status        int
		code, message string
		details       string
	}{
		{"LoginIDTaken", castellan.Errorf(castellan.ECONFLICT, castellan.CodeUserLoginIDTaken, "taken"), 400, "120", "Duplicate ID", "You need to enter another ID"},
		{"UnsafePassword", &castellan.Error{Kind: castellan.EINVALID, Code: castellan.CodeUnsafePassword, Message: "password: too short",
			Fields: []castellan.FieldError{{Field: "password", Rule: "minLength", Message: "must be at least 8 characters"}}},
			400, "9015", "Unsafe password", "password: must be at least 8 characters (minLength)"},
		{"Invalid", castellan.Invalid([]castellan.FieldError{{Field: "apiAllowSources[1].type", Rule: "enum", Message: "must be IP, VPC or VPC_SERVER"},
			{Field: "consolePermitIps[0]", Rule: "format", Message: "must be an IP address"}}),
			400, "100", "Bad Request Exception", "apiAllowSources[1].type: must be IP, VPC or VPC_SERVER (enum); consolePermitIps[0]: must be an IP address (format)"},
		{"Conflict", castellan.Errorf(castellan.ECONFLICT, castellan.CodeUserEmailTaken, "email taken"), 400, "100", "Bad Request Exception", "email taken"},
		{"Precondition", castellan.Errorf(castellan.EPRECONDITION, castellan.CodeUserLimitReached, "full"), 400, "100", "Bad Request Exception", "full"},
		{"Forbidden", castellan.Errorf(castellan.EFORBIDDEN, castellan.CodePermissionDenied, "you may not"), 401, "210", "Permission Denied", "you may not"},
		{"Unauthenticated", castellan.Errorf(castellan.EUNAUTHENTICATED, castellan.CodeUnauthenticated, "who?"), 401, "200", "Authentication Failed", "Invalid authentication information."},
		{"RateLimited", castellan.Errorf(castellan.ERATELIMITED, castellan.CodeRateLimited, "slow down"), 429, "420", "Rate Limited", "slow down"},
		{"Unavailable", castellan.Errorf(castellan.EUNAVAILABLE, castellan.CodeStoreUnavailable, "db down at 10.0.0.1"), 503, "500", "Endpoint Error", "The service is unavailable for now; retry later."},
		{"Internal", castellan.Errorf(castellan.EINTERNAL, castellan.CodeInternal, "secret detail"), 500, "900", "Unexpected Error", "Quote the request ID  to the operator."},
		{"NotCastellan", context.DeadlineExceeded, 500, "900", "Unexpected Error", "Quote the request ID  to the operator."},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeAPI(ncloud.Config{})
			f.users.err = c.err
			w := f.send("POST", "/compat/ncloud/api/v1/sub-accounts", validBody, nil)
			if details := wantError(t, w, c.status, c.code, c.message); details != c.details {
				t.Fatalf("details %q, want %q", details, c.details)
			}
		})
	}
}

const validBody = `{"active":true,"canAPIGatewayAccess":true,"canConsoleAccess":false,"loginId":"jane.doe","name":"Jane Doe",` +
	`"needPasswordReset":true,"password":"x"}`

func TestCreateSubAccountMapping(t *testing.T) {
	f := newFakeAPI(ncloud.Config{})
	body := `{"active":false,"canAPIGatewayAccess":true,"canConsoleAccess":false,"email":"j@example.com","loginId":"jane.doe",` +
		`"memo":"m","name":"Jane Doe","needPasswordReset":true,"needPasswordGenerate":true,"isMfaMandatory":true,` +
		`"useConsolePermitIp":true,"consolePermitIps":["10.0.0.0/8"],"useApiAllowSource":true,"apiAllowSources":[{"type":"VPC","source":"vpc-1"}]}`
	w := f.send("POST", "/compat/ncloud/api/v1/sub-accounts", body, nil)
	if w.Code != 200 || w.Body.String() != `{"success":true,"id":"new-user"}`+"\n" {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	r := f.users.reg
	if f.users.org != fakeOrg || r.Mode != castellan.ModePassword || !r.Disabled || !r.APIAccess || r.ConsoleAccess || r.Email != "j@example.com" ||
		r.LoginID != "jane.doe" || r.Memo != "m" || r.Name != "Jane Doe" || !r.PasswordResetRequired || !r.GeneratePassword || !r.MFAMandatory ||
		!r.UseConsolePermitIP || len(r.ConsolePermitIPs) != 1 || !r.UseAPIAllowSource || len(r.APIAllowSources) != 1 || r.APIAllowSources[0].Source != "vpc-1" {
		t.Fatalf("registered %+v in %s", r, f.users.org)
	}
}

func TestCreateSubAccountBadBody(t *testing.T) {
	for _, c := range []struct{ name, body, details string }{
		{"Required", `{"email":"a@example.com"}`, "active: is required (required); canAPIGatewayAccess: is required (required); canConsoleAccess: is required (required); " +
			"loginId: is required (required); name: is required (required); needPasswordReset: is required (required)"},
		{"RequiredNull", strings.Replace(validBody, `"active":true`, `"active":null`, 1), "active: is required (required)"},
		{"UnknownField", strings.Replace(validBody, `{`, `{"role":"admin",`, 1), "role: is not a field of this request (unknownField)"},
		{"OtherCase", strings.Replace(validBody, `"loginId"`, `"LOGINID"`, 1), "LOGINID: is not a field of this request (unknownField); loginId: is required (required)"},
		{"WrongType", strings.Replace(validBody, `"active":true`, `"active":"true"`, 1), "active: must be a boolean (type)"},
		{"WrongItemType", strings.Replace(validBody, `{`, `{"consolePermitIps":[1],`, 1), "consolePermitIps: must be an array of strings (type)"},
		{"UnknownSourceField", strings.Replace(validBody, `{`, `{"apiAllowSources":[{"type":"IP","source":"10.0.0.1","note":"x"}],`, 1),
			"apiAllowSources[0].note: is not a field of this request (unknownField)"},
		{"WrongSourceType", strings.Replace(validBody, `{`, `{"apiAllowSources":[{"type":1,"source":"10.0.0.1"}],`, 1), "apiAllowSources[0].type: must be a string (type)"},
		{"TrailingData", validBody + `{}`, "body: must be one JSON object (json)"},
		{"NotObject", `[]`, "body: must be one JSON object (json)"},
		{"Null", `null`, "body: must be one JSON object (json)"},
		{"NotJSON", `active=true`, "body: must be one JSON object (json)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeAPI(ncloud.Config{})
			w := f.send("POST", "/compat/ncloud/api/v1/sub-accounts", c.body, nil)
			if details := wantError(t, w, 400, "100", "Bad Request Exception"); details != c.details {
				t.Fatalf("details %q, want %q", details, c.details)
			}
			if f.users.org != "" {
				t.Fatal("registered a user")
			}
		})
	}
	t.Run("ContentType", func(t *testing.T) {
		f := newFakeAPI(ncloud.Config{})
		w := f.send("POST", "/compat/ncloud/api/v1/sub-accounts", validBody, func(h http.Header) { h.Set("Content-Type", "text/plain") })
		wantError(t, w, 400, "100", "Bad Request Exception")
	})
	// The sub-account API's own limits come from the core
	// (CheckSubAccountRegistrations), before the service is called.
	t.Run("SubAccountLimits", func(t *testing.T) {
		f := newFakeAPI(ncloud.Config{})
		body := strings.Replace(strings.Replace(validBody, `"jane.doe"`, `"jd"`, 1), `"Jane Doe"`, `"J"`, 1)
		details := wantError(t, f.send("POST", "/compat/ncloud/api/v1/sub-accounts", body, nil), 400, "100", "Bad Request Exception")
		if !strings.HasPrefix(details, "loginId: ") || !strings.Contains(details, "; name: ") || f.users.org != "" {
			t.Fatalf("details %q", details)
		}
	})
}

func TestGetUserIncludeDeleted(t *testing.T) {
	for _, q := range []string{"?includeDeleted=yes", "?includeDeleted=1", "?includeDeleted=TRUE", "?includeDeleted=true&includeDeleted=true", "?includeDeleted="} {
		f := newFakeAPI(ncloud.Config{})
		details := wantError(t, f.send("GET", "/compat/ncloud/api/v1/users/x"+q, "", nil), 400, "100", "Bad Request Exception")
		if details != "includeDeleted: must be true or false, given once (type)" {
			t.Fatalf("%s: details %q", q, details)
		}
	}
}

func TestGetRoleUser(t *testing.T) {
	f := newFakeAPI(ncloud.Config{})
	f.roles.session = &castellan.RoleSession{ID: "sess-1", RoleName: "deployer", RoleRN: "rn:iam:org:role/r1",
		SourceIdentity: castellan.SourceIdentity{Type: castellan.SourceIamUser, ID: "user-1", Provider: fakeOrg},
		CreatedAt:      time.Date(2019, 8, 10, 22, 21, 0, 123, time.FixedZone("KST", 9*3600)), ExpiresAt: fakeNow.Add(time.Minute)}
	w := f.send("GET", "/compat/ncloud/api/v1/users/sess-1", "", nil)
	want := `{"subAccountId":"sess-1","loginId":"deployer","name":"deployer","email":"","groups":[],"active":true,"deleted":false,` +
		`"createTime":"2019-08-10T13:21:00Z","principalType":"IamRole","sourceIdentity":{"type":"IamUser","id":"user-1","provider":"` + fakeOrg + `"},` +
		`"roleNrn":"rn:iam:org:role/r1"}` + "\n"
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("got %d %s\nwant %s", w.Code, w.Body, want)
	}
	f.roles.session.ExpiresAt = fakeNow
	w = f.send("GET", "/compat/ncloud/api/v1/users/sess-1", "", nil)
	if !strings.Contains(w.Body.String(), `"active":false,"deleted":false`) {
		t.Fatalf("expired session: %s", w.Body)
	}
}

func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		status int
		err    error
		want   int
		code   string
	}{
		{http.StatusNotFound, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeNotFound, "no such endpoint"), 404, "300"},
		{http.StatusMethodNotAllowed, castellan.Errorf(castellan.ENOTFOUND, castellan.CodeMethodNotAllowed, "no"), 404, "300"},
		{0, castellan.Errorf(castellan.ETOOLARGE, castellan.CodeBodyTooLarge, "big"), 413, "430"},
		{0, castellan.Errorf(castellan.EINVALID, castellan.CodeDuplicateKey, "body.name appears twice"), 400, "100"},
	} {
		w := httptest.NewRecorder()
		ncloud.WriteError(w, httptest.NewRequest("GET", "/", nil), c.status, c.err)
		if w.Code != c.want || !strings.Contains(w.Body.String(), `"errorCode":"`+c.code+`"`) {
			t.Errorf("%v: got %d %s, want %d %s", c.err, w.Code, w.Body, c.want, c.code)
		}
	}
}

// TestMalformedKeyNotKept: an access key header that cannot be a key ID
// is refused as any failure, without verifying and without a bucket of
// the per-key limiter, which would otherwise keep every header a
// stranger invents (up to a megabyte each) until its next sweep.
func TestMalformedKeyNotKept(t *testing.T) {
	f := newFakeAPI(ncloud.Config{FailuresPerKey: web.RateLimit{PerSecond: 0.001, Burst: 1}})
	huge := strings.Repeat("K", 1<<16)
	for _, key := range []string{huge, huge, "not-a-key", "not-a-key"} {
		w := f.send("GET", "/compat/ncloud/api/v1/users/x", "", func(h http.Header) { h.Set("x-ncp-iam-access-key", key) })
		if w.Code != http.StatusUnauthorized || w.Body.String() != authFailedBody {
			t.Fatalf("key of %d bytes: got %d %s, want 401 %s", len(key), w.Code, w.Body, authFailedBody)
		}
	}
	if f.keys.calls != 0 {
		t.Fatalf("verified %d malformed keys", f.keys.calls)
	}
}
