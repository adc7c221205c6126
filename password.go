package castellan

import (
	"crypto/rand"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Password policy limits.
const (
	MinPasswordLength = 10
	MaxPasswordLength = 128
	// MinPasswordClasses of the four classes (upper-case letters,
	// lower-case letters, digits, others) a password must mix.
	MinPasswordClasses = 3
)

// CheckPassword applies the password policy and returns one field error
// per broken rule: "minLength", "maxLength", "pattern" (control
// characters), "characterClasses", "containsLoginId" (case-insensitive)
// and "common" (one of a list of common passwords, case-insensitive).
func CheckPassword(field, loginID, password string) []FieldError {
	var c fieldChecker
	if !utf8.ValidString(password) {
		c.add(field, "utf8", "must be UTF-8")
		return c.fields
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLength:
		c.add(field, "minLength", "must have at least %d characters", MinPasswordLength)
	case n > MaxPasswordLength:
		c.add(field, "maxLength", "must have at most %d characters", MaxPasswordLength)
	}
	if strings.IndexFunc(password, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		c.add(field, "pattern", "must not contain control or invisible format characters")
	}
	if passwordClasses(password) < MinPasswordClasses {
		c.add(field, "characterClasses", "must mix at least %d of: upper-case letters, lower-case letters, digits, other characters", MinPasswordClasses)
	}
	lower := strings.ToLower(password)
	if loginID != "" && strings.Contains(lower, strings.ToLower(loginID)) {
		c.add(field, "containsLoginId", "must not contain the login ID")
	}
	if commonPasswords[lower] {
		c.add(field, "common", "is too common; choose one that is hard to guess")
	}
	return c.fields
}

// passwordClasses counts the character classes in s.
func passwordClasses(s string) int {
	var upper, lower, digit, other int
	for _, r := range s {
		switch {
		case unicode.IsUpper(r):
			upper = 1
		case unicode.IsLower(r):
			lower = 1
		case unicode.IsDigit(r):
			digit = 1
		default:
			other = 1
		}
	}
	return upper + lower + digit + other
}

// UnsafePassword returns the EINVALID error with code
// user.unsafe_password for the policy failures in fields; nil when there
// are none.
func UnsafePassword(fields []FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	msg := fields[0].Field + ": " + fields[0].Message
	if len(fields) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(fields)-1)
	}
	return &Error{Kind: EINVALID, Code: CodeUnsafePassword, Message: "unsafe password: " + msg, Fields: fields}
}

// Alphabets of generated passwords; look-alike characters (I l 1 O 0) are
// left out so that a password read aloud or from a screen is typed right.
const (
	generatedUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	generatedLower  = "abcdefghijkmnopqrstuvwxyz"
	generatedDigits = "23456789"
	generatedOther  = "!#$%&*+-=?@^_"
	// GeneratedPasswordLength gives about 96 bits of entropy.
	GeneratedPasswordLength = 16
)

// GeneratePassword returns a random password that satisfies the policy
// for loginID: 16 characters with every class at least once.
func GeneratePassword(loginID string) string {
	all := generatedUpper + generatedLower + generatedDigits + generatedOther
	for {
		b := []byte{
			generatedUpper[randomIndex(len(generatedUpper))], generatedLower[randomIndex(len(generatedLower))],
			generatedDigits[randomIndex(len(generatedDigits))], generatedOther[randomIndex(len(generatedOther))],
		}
		for len(b) < GeneratedPasswordLength {
			b = append(b, all[randomIndex(len(all))])
		}
		for i := len(b) - 1; i > 0; i-- { // Fisher–Yates, so the classes are not in a fixed place
			j := randomIndex(i + 1)
			b[i], b[j] = b[j], b[i]
		}
		if p := string(b); len(CheckPassword("password", loginID, p)) == 0 {
			return p
		}
	}
}

// randomIndex returns a uniform random integer in [0, n), n ≤ 256, from
// crypto/rand, rejecting the bytes that would bias it.
func randomIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		rand.Read(b[:]) // never fails (crypto/rand documents it)
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
