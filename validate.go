package castellan

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// uuidPattern matches the canonical textual form of a UUID, the form of every
// Castellan ID.
var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ValidID reports whether id has the form of a Castellan ID (a lower-case
// UUID).
func ValidID(id string) bool { return uuidPattern.MatchString(id) }

// CheckID returns an EINVALID error with code request.invalid_id when id is
// not a well-formed ID; field names the argument ("organizationId").
func CheckID(field, id string) error {
	if ValidID(id) {
		return nil
	}
	return &Error{
		Kind: EINVALID, Code: CodeInvalidID,
		Message: fmt.Sprintf("%s: %q is not a valid ID", field, id),
		Fields:  []FieldError{{Field: field, Rule: "format", Message: "must be a UUID"}},
	}
}

// fieldChecker collects field errors of one validation.
type fieldChecker struct {
	fields []FieldError
}

func (c *fieldChecker) add(field, rule, format string, args ...any) {
	c.fields = append(c.fields, FieldError{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// length checks that s is UTF-8 and has between min and max characters
// (runes).
func (c *fieldChecker) length(field, s string, min, max int) bool {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		c.add(field, "utf8", "must be UTF-8")
	case n == 0 && min > 0:
		c.add(field, "required", "must not be empty")
	case n < min:
		c.add(field, "minLength", "must have at least %d characters", min)
	case n > max:
		c.add(field, "maxLength", "must have at most %d characters", max)
	default:
		return true
	}
	return false
}

// printable checks that s has no control or invisible format characters
// (such as bidirectional overrides, which make names read other than they
// are) and no leading or trailing white space.
func (c *fieldChecker) printable(field, s string) {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		c.add(field, "pattern", "must not contain control or invisible format characters")
		return
	}
	if strings.TrimSpace(s) != s {
		c.add(field, "pattern", "must not begin or end with white space")
	}
}

func (c *fieldChecker) match(field, s string, re *regexp.Regexp, rule string) {
	if !re.MatchString(s) {
		c.add(field, "pattern", "%s", rule)
	}
}

func itoa(i int) string { return fmt.Sprint(i) }

// checkIDField returns the field error of an ID field that is not a
// well-formed ID.
func checkIDField(field, id string) []FieldError {
	if ValidID(id) {
		return nil
	}
	return []FieldError{{Field: field, Rule: "format", Message: "must be a UUID"}}
}
