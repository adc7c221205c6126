package castellan_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/castellan-iam/castellan"
)

// validator is the shape of the field validators of the user model.
type validator func(field, s string) []castellan.FieldError

// wantRule checks one validator on one input: valid when rule is "",
// otherwise exactly one error for the field with that rule.
func wantRule(t *testing.T, v validator, input, rule string) {
	t.Helper()
	fields := v("f", input)
	if rule == "" && len(fields) != 0 {
		t.Errorf("%q: got %+v, want valid", input, fields)
	}
	if rule != "" && (len(fields) != 1 || fields[0].Rule != rule || !strings.HasPrefix(fields[0].Field, "f")) {
		t.Errorf("%q: got %+v, want rule %s", input, fields, rule)
	}
}

func TestValidateLoginID(t *testing.T) {
	for _, tc := range []struct{ in, rule string }{
		{"ann", ""},
		{"ann.lee+iam@example.com", ""},
		{"A-b_c", ""},
		{"ann lee", ""},
		{strings.Repeat("a", 255), ""},
		{"ab", ""},
		{"a", "minLength"},
		{"", "required"},
		{strings.Repeat("a", 256), "maxLength"},
		{" ann", "pattern"},
		{"ann ", "pattern"},
		{"ann/lee", "pattern"},
		{"анна", "pattern"},
		{"ann\x00", "pattern"},
	} {
		wantRule(t, castellan.ValidateLoginID, tc.in, tc.rule)
	}
}

func TestValidateUserName(t *testing.T) {
	for _, tc := range []struct{ in, rule string }{
		{"Al", ""},
		{"山田 太郎", ""},
		{strings.Repeat("é", 30), ""},
		{"A", "minLength"},
		{"", ""},
		{strings.Repeat("é", 31), "maxLength"},
		{" Ann", "pattern"},
		{"Ann\u202e", "pattern"},
	} {
		wantRule(t, castellan.ValidateUserName, tc.in, tc.rule)
	}
}

func TestValidateNickname(t *testing.T) {
	for _, tc := range []struct{ in, rule string }{
		{"", ""},
		{"A", ""},
		{strings.Repeat("n", 30), ""},
		{strings.Repeat("n", 31), "maxLength"},
		{"tab\there", "pattern"},
	} {
		wantRule(t, castellan.ValidateNickname, tc.in, tc.rule)
	}
}

func TestValidatePersonName(t *testing.T) {
	for _, tc := range []struct{ in, rule string }{
		{"", ""},
		{"Иван", ""},
		{"María José", ""},
		{"देवनागरी", ""}, // letters with combining marks
		{"Ann2", ""},
		{strings.Repeat("a", 255), ""},
		{"J", "minLength"},
		{strings.Repeat("a", 256), "maxLength"},
		{"O'Brien", "pattern"},
		{"Jean-Luc", "pattern"},
		{" Ann", "pattern"},
		{"Ann\n", "pattern"},
	} {
		wantRule(t, castellan.ValidatePersonName, tc.in, tc.rule)
	}
}

func TestValidateMemo(t *testing.T) {
	for _, tc := range []struct{ in, rule string }{
		{"", ""},
		{"line one\nline two\ttabbed", ""},
		{strings.Repeat("a", 300), ""},
		{strings.Repeat("é", 150), ""},
		{strings.Repeat("a", 301), "maxBytes"},
		{strings.Repeat("é", 151), "maxBytes"}, // 151 characters, 302 bytes
		{"bell\a", "pattern"},
		{"\xff", "utf8"},
	} {
		wantRule(t, castellan.ValidateMemo, tc.in, tc.rule)
	}
}

func TestValidateMobile(t *testing.T) {
	for _, tc := range []struct{ in, rule string }{
		{"", ""},
		{"+821012345678", ""},
		{"+14155550100", ""},
		{"01012345678", "pattern"},
		{"+82 10 1234 5678", "pattern"},
		{"+0123456789", "pattern"},
		{"+1234567890123456", "pattern"},
	} {
		wantRule(t, castellan.ValidateMobile, tc.in, tc.rule)
	}
}

func TestValidateIPRange(t *testing.T) {
	for _, tc := range []struct{ in, rule string }{
		{"203.0.113.0/24", ""},
		{"203.0.113.7", ""},
		{"203.0.113.7/32", ""},
		{"0.0.0.0/0", ""},
		{"2001:db8::/32", ""},
		{"2001:db8::1", ""},
		{"203.0.113.7/24", "format"},
		{"10.0.0.0/33", "format"},
		{"300.0.0.0/8", "format"},
		{"fe80::1%eth0", "format"},
		{"example.com", "format"},
		{"", "format"},
	} {
		wantRule(t, castellan.ValidateIPRange, tc.in, tc.rule)
	}
}

func TestValidateAPIAllowSource(t *testing.T) {
	for _, tc := range []struct {
		src         castellan.APIAllowSource
		field, rule string
	}{
		{castellan.APIAllowSource{Type: "IP", Source: "198.51.100.0/24"}, "", ""},
		{castellan.APIAllowSource{Type: "VPC", Source: "vpc-01_a"}, "", ""},
		{castellan.APIAllowSource{Type: "VPC_SERVER", Source: "1234567"}, "", ""},
		{castellan.APIAllowSource{Type: "IP", Source: "vpc-1"}, "s.source", "format"},
		{castellan.APIAllowSource{Type: "VPC", Source: "vpc 1"}, "s.source", "pattern"},
		{castellan.APIAllowSource{Type: "VPC_SERVER", Source: "i-123"}, "s.source", "pattern"},
		{castellan.APIAllowSource{Type: "ip", Source: "10.0.0.1"}, "s.type", "enum"},
	} {
		fields := castellan.ValidateAPIAllowSource("s", tc.src)
		if tc.rule == "" && len(fields) != 0 {
			t.Errorf("%+v: got %+v, want valid", tc.src, fields)
		}
		if tc.rule != "" && (len(fields) != 1 || fields[0].Rule != tc.rule || fields[0].Field != tc.field) {
			t.Errorf("%+v: got %+v, want %s %s", tc.src, fields, tc.field, tc.rule)
		}
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct{ password, rule string }{
		{"Correct-Horse-7", ""},
		{"CorrectHorseBattery", "characterClasses"},
		{"Shrt-1a", "minLength"},
		{strings.Repeat("aB3-", 32), ""},
		{strings.Repeat("aB3-", 32) + "x", "maxLength"},
		{"ann.lee-Secret-7", "containsLoginId"},
		{"xxANN.LEE99!", "containsLoginId"},
		{"P@ssw0rd123", "common"},
		{"WELCOME123!", "common"},
		{"Pass\x00word-123", "pattern"},
		{"Пароль-Надёжный-7", ""}, // upper, lower, digit, other in Cyrillic
	} {
		fields := castellan.CheckPassword("password", "ann.lee", tc.password)
		if tc.rule == "" && len(fields) != 0 {
			t.Errorf("%q: got %+v, want valid", tc.password, fields)
			continue
		}
		if tc.rule != "" && !hasRule(fields, tc.rule) {
			t.Errorf("%q: got %+v, want rule %s", tc.password, fields, tc.rule)
		}
	}
	// correcthorse7battery mixes only two classes.
	if fields := castellan.CheckPassword("p", "x", "correcthorse7battery"); !hasRule(fields, "characterClasses") {
		t.Errorf("two classes: got %+v", fields)
	}
}

func hasRule(fields []castellan.FieldError, rule string) bool {
	for _, f := range fields {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

func TestUnsafePassword(t *testing.T) {
	err := castellan.UnsafePassword(castellan.CheckPassword("password", "ann", "short"))
	if castellan.ErrorCode(err) != castellan.CodeUnsafePassword || castellan.ErrorKind(err) != castellan.EINVALID {
		t.Fatalf("got %v", err)
	}
	if castellan.UnsafePassword(nil) != nil {
		t.Fatal("no failures must be no error")
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		p := castellan.GeneratePassword("ann")
		if len(p) != castellan.GeneratedPasswordLength || seen[p] {
			t.Fatalf("got %q (seen before: %v)", p, seen[p])
		}
		if fields := castellan.CheckPassword("p", "ann", p); len(fields) != 0 {
			t.Fatalf("%q breaks the policy: %+v", p, fields)
		}
		seen[p] = true
	}
}

func TestValidateRegistrations(t *testing.T) {
	good := castellan.UserRegistration{LoginID: "ann", Email: "ann@example.com", Name: "Ann", Mode: castellan.ModeInvitation}
	bad := good
	bad.Email, bad.Name = "nope", "A"
	weak := good
	weak.Mode, weak.Password = castellan.ModePassword, "weakweakweak"
	prefix := func(i int) string { return "users[" + string(rune('0'+i)) + "]." }
	err := castellan.ValidateRegistrations([]castellan.UserRegistration{good, bad, weak}, prefix)
	if castellan.ErrorCode(err) != castellan.CodeInvalidField {
		t.Fatalf("got %v, want the field errors first", err)
	}
	e := err.(*castellan.Error)
	if len(e.Fields) != 2 || e.Fields[0].Field != "users[1].email" || e.Fields[1].Field != "users[1].name" {
		t.Fatalf("got %+v", e.Fields)
	}
	err = castellan.ValidateRegistrations([]castellan.UserRegistration{good, weak}, prefix)
	if castellan.ErrorCode(err) != castellan.CodeUnsafePassword || err.(*castellan.Error).Fields[0].Field != "users[1].password" {
		t.Fatalf("got %v", err)
	}
	if err := castellan.ValidateRegistrations([]castellan.UserRegistration{good}, prefix); err != nil {
		t.Fatal(err)
	}
}

// The fuzz targets check that no input panics a validator and that what
// a validator accepts keeps the rule it states. Run one with
// go test -fuzz=FuzzValidateLoginID -fuzztime=30s .

// wellFormed fails t unless every error names field and a rule.
func wellFormed(t *testing.T, field string, fields []castellan.FieldError) {
	for _, f := range fields {
		if !strings.HasPrefix(f.Field, field) || f.Rule == "" || f.Message == "" {
			t.Fatalf("malformed field error %+v", f)
		}
	}
}

func FuzzValidateLoginID(f *testing.F) {
	for _, s := range []string{"ann", "a b", " ab", "ann@example.com", "a", strings.Repeat("x", 256), "анна", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidateLoginID("loginId", s)
		wellFormed(t, "loginId", fields)
		if len(fields) > 0 {
			return
		}
		if n := utf8.RuneCountInString(s); n < castellan.MinLoginIDLength || n > castellan.MaxLoginIDLength || strings.TrimSpace(s) != s {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if !strings.ContainsRune("-@._+ ", r) && (r > unicode.MaxASCII || !unicode.IsLetter(r) && !unicode.IsDigit(r)) {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
	})
}

func FuzzValidateUserName(f *testing.F) {
	for _, s := range []string{"Al", "A", "山田 太郎", " x ", "a\u202eb", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidateUserName("name", s)
		wellFormed(t, "name", fields)
		if len(fields) == 0 {
			if n := utf8.RuneCountInString(s); !utf8.ValidString(s) || n < 2 || n > 30 || strings.ContainsFunc(s, unicode.IsControl) {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}

func FuzzValidateNickname(f *testing.F) {
	for _, s := range []string{"", "N", strings.Repeat("n", 31), "a\tb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidateNickname("nickname", s)
		wellFormed(t, "nickname", fields)
		if len(fields) == 0 && (!utf8.ValidString(s) || utf8.RuneCountInString(s) > 30 || strings.ContainsFunc(s, unicode.IsControl)) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzValidatePersonName(f *testing.F) {
	for _, s := range []string{"", "Иван", "María José", "O'Brien", "J", "देवनागरी", "a\u0301b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidatePersonName("firstName", s)
		wellFormed(t, "firstName", fields)
		if len(fields) > 0 || s == "" {
			return
		}
		if n := utf8.RuneCountInString(s); !utf8.ValidString(s) || n < 2 || n > 255 || strings.TrimSpace(s) != s {
			t.Fatalf("accepted %q", s)
		}
		for _, r := range s {
			if !unicode.IsLetter(r) && !unicode.Is(unicode.M, r) && !unicode.IsDigit(r) && r != ' ' {
				t.Fatalf("accepted %q with %q", s, r)
			}
		}
	})
}

func FuzzValidateMemo(f *testing.F) {
	for _, s := range []string{"", "notes\nmore", strings.Repeat("é", 151), "\a", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidateMemo("memo", s)
		wellFormed(t, "memo", fields)
		if len(fields) == 0 && (len(s) > 300 || !utf8.ValidString(s)) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzValidateMobile(f *testing.F) {
	for _, s := range []string{"", "+821012345678", "010", "+0", "+1 415"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidateMobile("mobile", s)
		wellFormed(t, "mobile", fields)
		if len(fields) == 0 && s != "" && (s[0] != '+' || len(s) < 8 || len(s) > 16 || strings.Trim(s[1:], "0123456789") != "") {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzValidateIPRange(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "10.0.0.1/8", "::/0", "fe80::1%eth0", "1.2.3.4", "1.2.3.4/", "/8", "::ffff:1.2.3.4/128"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidateIPRange("ip", s)
		wellFormed(t, "ip", fields)
		if len(fields) > 0 {
			return
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			if p.Masked() != p {
				t.Fatalf("accepted %q with host bits", s)
			}
			return
		}
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzValidateAPIAllowSource(f *testing.F) {
	for _, c := range [][2]string{{"IP", "10.0.0.0/8"}, {"VPC", "vpc-1"}, {"VPC_SERVER", "123"}, {"SUBNET", "x"}, {"IP", ""}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, typ, source string) {
		fields := castellan.ValidateAPIAllowSource("s", castellan.APIAllowSource{Type: typ, Source: source})
		wellFormed(t, "s", fields)
		if len(fields) == 0 && typ != "IP" && typ != "VPC" && typ != "VPC_SERVER" {
			t.Fatalf("accepted type %q", typ)
		}
	})
}

func FuzzCheckPassword(f *testing.F) {
	for _, c := range [][2]string{{"ann", "Correct-Horse-7"}, {"ann", "password123"}, {"", "xANNx-Secret-9"}, {"ann", "\xff"}, {"a", "Пароль-Надёжный-7"}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, loginID, password string) {
		fields := castellan.CheckPassword("password", loginID, password)
		wellFormed(t, "password", fields)
		if len(fields) > 0 {
			return
		}
		n := utf8.RuneCountInString(password)
		if !utf8.ValidString(password) || n < 10 || n > 128 ||
			loginID != "" && strings.Contains(strings.ToLower(password), strings.ToLower(loginID)) {
			t.Fatalf("accepted %q for login %q", password, loginID)
		}
	})
}

func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{"ann@example.com", "a@b", "@example.com", "ann@-x.com", strings.Repeat("a", 250) + "@x.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fields := castellan.ValidateEmail("email", s)
		wellFormed(t, "email", fields)
		if len(fields) == 0 && (len(s) > 254 || strings.Count(s, "@") != 1 || !strings.Contains(s[strings.IndexByte(s, '@'):], ".")) {
			t.Fatalf("accepted %q", s)
		}
	})
}

func TestCheckSubAccountRegistrations(t *testing.T) {
	regs := []castellan.UserRegistration{
		{LoginID: "ann", Name: "Ann"},
		{LoginID: "ab", Name: ""},
		{LoginID: strings.Repeat("a", 61), Name: "A"},
	}
	err := castellan.CheckSubAccountRegistrations(regs, func(i int) string { return fmt.Sprintf("users[%d].", i) })
	var e *castellan.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want field errors", err)
	}
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Field+" "+f.Rule)
	}
	want := []string{"users[1].loginId minLength", "users[1].name required", "users[2].loginId maxLength", "users[2].name minLength"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
