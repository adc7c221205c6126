package castellan_test

import (
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

func TestValidateServiceAccountName(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule string // "" when valid
	}{
		{"ci-deployer", ""},
		{"a", ""},
		{"Build_Bot.v2", ""},
		{"9lives", ""},
		{strings.Repeat("a", 63), ""},
		{"", "required"},
		{strings.Repeat("a", 64), "maxLength"},
		{"-bot", "pattern"},
		{"_bot", "pattern"},
		{"ci bot", "pattern"},
		{"ci/bot", "pattern"},
		{"ci@bot", "pattern"},
		{"сi-bot", "pattern"}, // Cyrillic es: a look-alike of another name
		{"ci\u200bbot", "pattern"},
		{"\xff", "utf8"},
	} {
		fields := castellan.ValidateServiceAccountName("name", tc.name)
		if tc.rule == "" && len(fields) != 0 {
			t.Errorf("%q: got %+v, want valid", tc.name, fields)
		}
		if tc.rule != "" && (len(fields) != 1 || fields[0].Rule != tc.rule || fields[0].Field != "name") {
			t.Errorf("%q: got %+v, want rule %s", tc.name, fields, tc.rule)
		}
	}
}

func TestServiceAccountCreateValidate(t *testing.T) {
	sc := castellan.ServiceAccountCreate{Name: "bad name", Description: strings.Repeat("d", 257)}
	err := sc.Validate()
	e, ok := err.(*castellan.Error)
	if !ok || e.Code != castellan.CodeInvalidField || len(e.Fields) != 2 || e.Fields[0].Field != "name" || e.Fields[1].Field != "description" {
		t.Fatalf("got %v, want both fields named", err)
	}
	name := "ok"
	if err := (&castellan.ServiceAccountUpdate{Name: &name}).Validate(); err != nil {
		t.Fatalf("update of the name alone: got %v", err)
	}
	if err := (&castellan.ServiceAccountUpdate{}).Validate(); err != nil {
		t.Fatalf("empty update: got %v", err)
	}
}

func TestServiceAccountCanHoldOn(t *testing.T) {
	const (
		org     = "01a20881-1ba6-76a9-b4ca-7a2658674069"
		project = "01a20881-1ba6-76a9-b4ca-7a2658674070"
		other   = "01a20881-1ba6-76a9-b4ca-7a2658674071"
	)
	a := &castellan.ServiceAccount{ID: "01a20881-1ba6-76a9-b4ca-7a2658674072", OrganizationID: org, ProjectID: project}
	for scope, ok := range map[string]bool{
		"project/" + project:                     true,
		"rn:s3e:" + project + ":bucket/logs":     true,
		"rn:registry:" + project + ":registry/r": true,
		"organization/" + org:                    false,
		"organization/" + project:                false, // an organization scope whose ID happens to be the project's
		"project/" + other:                       false,
		"rn:s3e:" + other + ":bucket/logs":       false,
	} {
		s, err := castellan.ParseScope("scope", scope)
		if err != nil {
			t.Fatal(err)
		}
		err = a.CanHoldOn(s)
		if (err == nil) != ok {
			t.Errorf("%s: got %v, want allowed=%v", scope, err, ok)
		}
		if err != nil && castellan.ErrorCode(err) != castellan.CodeSubjectScopeMismatch {
			t.Errorf("%s: got code %s", scope, castellan.ErrorCode(err))
		}
	}
}

// FuzzServiceAccountName checks that the name validator never panics and
// accepts only what the documented rule allows: 1–63 ASCII letters, digits,
// '.', '_' and '-', starting with a letter or digit.
func FuzzServiceAccountName(f *testing.F) {
	for _, seed := range []string{"ci-deployer", "", "a", "-a", "a b", "сi", strings.Repeat("a", 63), strings.Repeat("a", 64), "\xff", "a\x00", "a\u200b"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidateServiceAccountName("name", s)
		if len(fields) > 0 {
			for _, fe := range fields {
				if fe.Field != "name" || fe.Rule == "" || fe.Message == "" {
					t.Fatalf("%q: malformed field error %+v", s, fe)
				}
			}
			return
		}
		if len(s) == 0 || len(s) > castellan.MaxServiceAccountNameLength {
			t.Fatalf("%q accepted: length %d", s, len(s))
		}
		for i, r := range s {
			alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
			if !alnum && (i == 0 || !strings.ContainsRune("._-", r)) {
				t.Fatalf("%q accepted: %q at %d", s, r, i)
			}
		}
		sc := castellan.ServiceAccountCreate{Name: s}
		if err := sc.Validate(); err != nil {
			t.Fatalf("%q: the validator accepts it but Validate says %v", s, err)
		}
	})
}
