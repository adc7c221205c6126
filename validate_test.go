package castellan_test

import (
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func TestValidateProjectName(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule string // "" when valid
	}{
		{"web", ""},
		{"a", ""},
		{"Web-Prod_2.0", ""},
		{"9lives", ""},
		{strings.Repeat("a", 63), ""},
		{"", "required"},
		{strings.Repeat("a", 64), "maxLength"},
		{"-web", "pattern"},
		{".hidden", "pattern"},
		{"web site", "pattern"},
		{"web/prod", "pattern"},
		{"проект", "pattern"},
	} {
		fields := castellan.ValidateProjectName("name", tc.name)
		if tc.rule == "" && len(fields) != 0 {
			t.Errorf("%q: got %+v, want valid", tc.name, fields)
		}
		if tc.rule != "" && (len(fields) != 1 || fields[0].Rule != tc.rule || fields[0].Field != "name") {
			t.Errorf("%q: got %+v, want rule %s", tc.name, fields, tc.rule)
		}
	}
}

func TestValidateOrganizationName(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule string
	}{
		{"Acme Corp", ""},
		{"株式会社アクメ", ""},
		{strings.Repeat("ä", 100), ""},
		{"", "required"},
		{strings.Repeat("ä", 101), "maxLength"},
		{" Acme", "pattern"},
		{"Acme\n", "pattern"},
		{"Ac\x00me", "pattern"},
	} {
		fields := castellan.ValidateOrganizationName("name", tc.name)
		if tc.rule == "" && len(fields) != 0 {
			t.Errorf("%q: got %+v, want valid", tc.name, fields)
		}
		if tc.rule != "" && (len(fields) != 1 || fields[0].Rule != tc.rule) {
			t.Errorf("%q: got %+v, want rule %s", tc.name, fields, tc.rule)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	for email, valid := range map[string]bool{
		"owner@acme.example":         true,
		"first.last+tag@sub.acme.io": true,
		"":                           false,
		"owner":                      false,
		"owner@localhost":            false,
		"owner@@acme.example":        false,
		"owner@acme..example":        false,
		"own er@acme.example":        false,
		"owner@-acme.example":        false,
	} {
		if got := len(castellan.ValidateEmail("email", email)) == 0; got != valid {
			t.Errorf("%q: got valid=%v, want %v", email, got, valid)
		}
	}
}

func TestCheckID(t *testing.T) {
	for id, valid := range map[string]bool{
		"01a20881-1ba6-76a9-b4ca-7a2658674069": true,
		"01A20881-1BA6-76A9-B4CA-7A2658674069": false, // IDs are lower case
		"01a208811ba676a9b4ca7a2658674069":     false,
		"":                                     false,
		"../../etc/passwd":                     false,
	} {
		err := castellan.CheckID("organizationId", id)
		if (err == nil) != valid {
			t.Errorf("%q: got %v, want valid=%v", id, err, valid)
		}
		if err != nil && castellan.ErrorCode(err) != castellan.CodeInvalidID {
			t.Errorf("%q: got code %s", id, castellan.ErrorCode(err))
		}
	}
}

func TestValidTokenSyntax(t *testing.T) {
	good := "cst_" + strings.Repeat("a", 42) + "-"
	for token, valid := range map[string]bool{
		good:                             true,
		good[:len(good)-1]:               false,
		good + "a":                       false,
		"CST_" + good[4:]:                false,
		"cst_" + strings.Repeat("+", 43): false,
	} {
		if got := castellan.ValidTokenSyntax(token); got != valid {
			t.Errorf("%q: got %v, want %v", token, got, valid)
		}
	}
}

func TestInvalid(t *testing.T) {
	if castellan.Invalid(nil) != nil {
		t.Fatal("Invalid(nil) is not nil")
	}
	err := castellan.Invalid([]castellan.FieldError{{Field: "name", Rule: "required", Message: "must not be empty"}, {Field: "description", Rule: "pattern", Message: "x"}})
	if castellan.ErrorKind(err) != castellan.EINVALID || castellan.ErrorCode(err) != castellan.CodeInvalidField || !strings.Contains(err.Error(), "name: ") {
		t.Fatalf("got %v", err)
	}
}

// FuzzValidators checks that the validators never panic and agree with
// themselves: a name they accept has no control characters and fits the
// length limit.
func FuzzValidators(f *testing.F) {
	for _, seed := range []string{"web", "", " a", "a\x00", "проект", strings.Repeat("a", 64), "\xff\xfe", "a@b.c"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(castellan.ValidateProjectName("n", s)) == 0 && (len(s) == 0 || len(s) > castellan.MaxProjectNameLength || strings.ContainsAny(s, " /\x00")) {
			t.Fatalf("project name %q accepted", s)
		}
		if len(castellan.ValidateOrganizationName("n", s)) == 0 && (s == "" || strings.TrimSpace(s) != s || strings.ContainsRune(s, 0)) {
			t.Fatalf("organization name %q accepted", s)
		}
		if len(castellan.ValidateEmail("e", s)) == 0 && strings.Count(s, "@") != 1 {
			t.Fatalf("email %q accepted", s)
		}
		castellan.ValidateDescription("d", s)
		castellan.CheckID("id", s)
		castellan.ValidTokenSyntax(s)
	})
}
