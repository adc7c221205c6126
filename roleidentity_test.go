package castellan_test

import (
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func TestValidateRoleIdentityName(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule string // "" when valid
	}{
		{"a", ""},
		{"deploy-role", ""},
		{"Ops+Admin=1,x.y@z_w", ""},
		{strings.Repeat("r", 64), ""},
		{"", "required"},
		{strings.Repeat("r", 65), "maxLength"},
		{"two words", "pattern"},
		{"a/b", "pattern"},
		{"rôle", "pattern"},
		{"a\u200bb", "pattern"},
		{"\xff", "utf8"},
	} {
		fields := castellan.ValidateRoleIdentityName("name", tc.name)
		if tc.rule == "" && len(fields) != 0 {
			t.Errorf("%q: got %+v, want valid", tc.name, fields)
		}
		if tc.rule != "" && (len(fields) != 1 || fields[0].Rule != tc.rule || fields[0].Field != "name") {
			t.Errorf("%q: got %+v, want rule %s", tc.name, fields, tc.rule)
		}
	}
}

func TestRoleIdentityCreateValidate(t *testing.T) {
	for _, kind := range []string{castellan.RoleKindAccount, castellan.RoleKindServer, castellan.RoleKindSSO, castellan.RoleKindService} {
		rc := castellan.RoleIdentityCreate{Name: "r", Kind: kind, Description: strings.Repeat("d", 300)}
		if err := rc.Validate(); err != nil {
			t.Errorf("kind %s: got %v, want valid", kind, err)
		}
	}
	rc := castellan.RoleIdentityCreate{Name: "bad name", Kind: "Account", Description: strings.Repeat("d", 301)}
	var fields []string
	if e, ok := rc.Validate().(*castellan.Error); ok && e.Code == castellan.CodeInvalidField {
		for _, f := range e.Fields {
			fields = append(fields, f.Field+":"+f.Rule)
		}
	}
	if got, want := strings.Join(fields, " "), "name:pattern kind:enum description:maxLength"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	rc = castellan.RoleIdentityCreate{Name: "r", Kind: castellan.RoleKindSSO, Description: "a\x00b"}
	if castellan.ErrorKind(rc.Validate()) != castellan.EINVALID {
		t.Fatalf("control character in the description: got valid")
	}
}

func TestSourceIdentityValidateFor(t *testing.T) {
	long := strings.Repeat("i", 256)
	for _, tc := range []struct {
		kind string
		src  castellan.SourceIdentity
		want string // "" when valid, else the code and the fields
	}{
		{castellan.RoleKindAccount, castellan.SourceIdentity{Type: "IamUser", ID: "u", Provider: "org"}, ""},
		{castellan.RoleKindServer, castellan.SourceIdentity{Type: "Server"}, ""},
		{castellan.RoleKindSSO, castellan.SourceIdentity{Type: "FederatedUser", ID: "alice@idp", Provider: "tenant-1"}, ""},
		{castellan.RoleKindService, castellan.SourceIdentity{Type: "NcloudService", ID: strings.Repeat("i", 255), Provider: "svc"}, ""},
		{castellan.RoleKindServer, castellan.SourceIdentity{Type: "IamUser"}, "role_session.source_mismatch sourceIdentity.type"},
		{castellan.RoleKindSSO, castellan.SourceIdentity{Type: "NcloudService", ID: "a", Provider: "b"}, "role_session.source_mismatch sourceIdentity.type"},
		{castellan.RoleKindService, castellan.SourceIdentity{}, "role_session.source_mismatch sourceIdentity.type"},
		{castellan.RoleKindServer, castellan.SourceIdentity{Type: "Server", ID: "x"}, "request.invalid_field sourceIdentity.id"},
		{castellan.RoleKindServer, castellan.SourceIdentity{Type: "Server", Provider: "x"}, "request.invalid_field sourceIdentity.provider"},
		{castellan.RoleKindSSO, castellan.SourceIdentity{Type: "FederatedUser"}, "request.invalid_field sourceIdentity.id sourceIdentity.provider"},
		{castellan.RoleKindService, castellan.SourceIdentity{Type: "NcloudService", ID: long, Provider: "p"}, "request.invalid_field sourceIdentity.id"},
		{castellan.RoleKindSSO, castellan.SourceIdentity{Type: "FederatedUser", ID: "a\nb", Provider: " p"}, "request.invalid_field sourceIdentity.id sourceIdentity.provider"},
	} {
		err := tc.src.ValidateFor(tc.kind)
		got := ""
		if err != nil {
			e, ok := err.(*castellan.Error)
			if !ok || e.Kind != castellan.EINVALID {
				t.Errorf("%s %+v: got %v, want EINVALID", tc.kind, tc.src, err)
				continue
			}
			got = e.Code
			for _, f := range e.Fields {
				got += " " + f.Field
			}
		}
		if got != tc.want {
			t.Errorf("%s %+v: got %q, want %q", tc.kind, tc.src, got, tc.want)
		}
	}
}
