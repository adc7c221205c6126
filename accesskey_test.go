package castellan_test

import (
	"strings"
	"testing"

	"github.com/castellan-iam/castellan"
)

// FuzzCredentialSyntax checks the parsers of bearer tokens, key IDs and
// secrets: they never panic and accept only strings of their exact shape,
// so nothing else reaches a lookup.
func FuzzCredentialSyntax(f *testing.F) {
	for _, s := range []string{"", "cst_", "cst_" + strings.Repeat("A", 43), "CAK" + strings.Repeat("A", 20),
		strings.Repeat("a", 43), "cst_" + strings.Repeat("é", 43), "CAKaaaaaaaaaaaaaaaaaaaa", "cst_" + strings.Repeat("A", 43) + "\n"} {
		f.Add(s)
	}
	onlyOf := func(s, alphabet string) bool {
		for _, r := range s {
			if !strings.ContainsRune(alphabet, r) {
				return false
			}
		}
		return true
	}
	const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	f.Fuzz(func(t *testing.T, s string) {
		wantToken := len(s) == 47 && strings.HasPrefix(s, castellan.TokenPrefix) && onlyOf(s[4:], b64url)
		if castellan.ValidTokenSyntax(s) != wantToken {
			t.Fatalf("token %q: got %v, want %v", s, !wantToken, wantToken)
		}
		if castellan.ValidAccessKeyID(s) && (len(s) != 23 || !strings.HasPrefix(s, "CAK") || !onlyOf(s[3:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")) {
			t.Fatalf("key ID %q accepted", s)
		}
		if castellan.ValidAccessKeySecret(s) && (len(s) != 43 || !onlyOf(s, b64url)) {
			t.Fatalf("secret %q accepted", s)
		}
	})
}

// FuzzBearerToken checks the Authorization header parser: it never panics,
// and what it accepts is exactly "Bearer", in some case, a space and a
// token without spaces, which it returns unchanged.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer", "Bearer ", "Bearer cst_x", "bEaReR cst_x", "Bearer  x", "Bearer x y", "Basic x",
		"Bearer\tx", "Bearer x\n", "Bearer " + "cst_" + strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		token, ok := castellan.BearerToken(header)
		if !ok {
			if token != "" {
				t.Fatalf("%q refused with token %q", header, token)
			}
			return
		}
		if token == "" || strings.ContainsAny(token, " \t") || len(header) != len("Bearer ")+len(token) ||
			!strings.EqualFold(header[:7], "Bearer ") || header[7:] != token {
			t.Fatalf("%q accepted as %q", header, token)
		}
	})
}
