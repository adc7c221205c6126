package cloudru

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/castellan-iam/castellan"
)

// protoc-gen-validate's messages for the rules of the original, built
// from the core's limits so that both move together.
var (
	// msgLoginID is the userName rule: the core's alphabet and lengths.
	msgLoginID = fmt.Sprintf(`value does not match regex pattern "^[-a-zA-Z0-9@._+ ]{%d,%d}$"`,
		castellan.MinLoginIDLength, castellan.MaxLoginIDLength)
	msgPersonNameLength = fmt.Sprintf("value length must be between %d and %d runes, inclusive",
		castellan.MinPersonNameLength, castellan.MaxPersonNameLength)
	msgPersonNamePattern = `value does not match regex pattern "^[\\p{L}\\p{M}\\p{N} ]+$"`
	msgEmail             = "value must be a valid email address"
	msgUUID              = "value must be a valid UUID"
	msgRequired          = "value length must be at least 1 runes"
	msgMinItems          = "value must contain at least 1 item(s)"
	msgMaxItems          = fmt.Sprintf("value must contain no more than %d item(s)", castellan.MaxBatchItems)
	msgFuture            = "value must be greater than now"
)

// uuidPattern is protoc-gen-validate's well-known UUID rule, which, unlike
// Castellan's IDs, allows upper case.
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkUUID adds the violation of a field that must be a UUID, and
// returns the ID in Castellan's form (lower case).
func checkUUID(vs *[]violation, goName, id string) string {
	if !uuidPattern.MatchString(id) {
		*vs = append(*vs, violation{goName: goName, index: -1, message: msgUUID})
	}
	return strings.ToLower(id)
}

// checkEnum adds the violation of a field that must be one of values.
func checkEnum(vs *[]violation, goName, value string, values ...string) {
	for _, v := range values {
		if v == value {
			return
		}
	}
	*vs = append(*vs, violation{goName: goName, index: -1,
		message: fmt.Sprintf("value must be in list [%s]", strings.Join(values, " "))})
}

// personNameMessage is the message of a broken rule of a first, middle or
// last name.
func personNameMessage(rule string) string {
	if rule == "pattern" {
		return msgPersonNamePattern
	}
	return msgPersonNameLength
}
