package castellan

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// User field limits. The core holds whatever either compatibility API
// accepts: login IDs of 2–255 characters (the customer users API's
// userName) and no name (it has none); the sub-account API and /v1 keep
// their narrower rules, SubAccountLoginID* and a required name, with
// CheckSubAccountRegistrations.
const (
	MinLoginIDLength    = 2
	MaxLoginIDLength    = 255
	MinUserNameLength   = 2
	MaxUserNameLength   = 30
	MaxNicknameLength   = 30
	MinPersonNameLength = 2
	MaxPersonNameLength = 255
	MaxMemoBytes        = 300
	// MaxAllowListItems bounds consolePermitIps and apiAllowSources.
	MaxAllowListItems = 100
)

var (
	// loginIDPattern is the customer users API's userName alphabet
	// (^[-a-zA-Z0-9@._+ ]{2,255}$), with spaces only inside.
	loginIDPattern = regexp.MustCompile(`^[-a-zA-Z0-9@._+](?:[-a-zA-Z0-9@._+ ]*[-a-zA-Z0-9@._+])?$`)
	// mobilePattern is E.164: a plus, then up to 15 digits.
	mobilePattern   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	vpcPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	instancePattern = regexp.MustCompile(`^[0-9]{1,20}$`)
)

// ValidateLoginID checks a login ID: 2–255 characters from the letters
// A–Z and a–z, digits and - @ . _ + and inner spaces.
func ValidateLoginID(field, s string) []FieldError {
	var c fieldChecker
	if c.length(field, s, MinLoginIDLength, MaxLoginIDLength) {
		c.match(field, s, loginIDPattern, "may contain only A-Z, a-z, 0-9, - @ . _ + and spaces between them")
	}
	return c.fields
}

// ValidateUserName checks a user's name: empty, or 2–30 characters,
// printable, without surrounding white space.
func ValidateUserName(field, s string) []FieldError {
	if s == "" {
		return nil
	}
	var c fieldChecker
	if c.length(field, s, MinUserNameLength, MaxUserNameLength) {
		c.printable(field, s)
	}
	return c.fields
}

// The sub-account API's login ID limits, narrower than the core's; /v1
// keeps them too.
const (
	SubAccountMinLoginIDLength = 3
	SubAccountMaxLoginIDLength = 60
)

// CheckSubAccountRegistrations applies the rules the sub-account API and
// /v1 add to the core's: a login ID of 3–60 characters and a name. Both
// edges call it before RegisterUsers, which applies the rest; prefix(i)
// names item i as in ValidateRegistrations. Returns EINVALID
// (request.invalid_field).
func CheckSubAccountRegistrations(regs []UserRegistration, prefix func(i int) string) error {
	var c fieldChecker
	for i := range regs {
		c.length(prefix(i)+"loginId", regs[i].LoginID, SubAccountMinLoginIDLength, SubAccountMaxLoginIDLength)
		c.length(prefix(i)+"name", regs[i].Name, MinUserNameLength, MaxUserNameLength)
	}
	return Invalid(c.fields)
}

// ValidateNickname checks a nickname: empty, or up to 30 printable
// characters without surrounding white space.
func ValidateNickname(field, s string) []FieldError {
	var c fieldChecker
	if c.length(field, s, 0, MaxNicknameLength) {
		c.printable(field, s)
	}
	return c.fields
}

// ValidatePersonName checks a first, middle or last name: empty, or 2–255
// characters that are letters of any script (with their combining marks),
// digits and inner spaces, as the customer users API describes them.
func ValidatePersonName(field, s string) []FieldError {
	if s == "" {
		return nil
	}
	var c fieldChecker
	if !c.length(field, s, MinPersonNameLength, MaxPersonNameLength) {
		return c.fields
	}
	bad := strings.IndexFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.Is(unicode.M, r) && !unicode.IsDigit(r) && r != ' '
	})
	switch {
	case bad >= 0:
		c.add(field, "pattern", "may contain only letters, digits and spaces")
	case strings.TrimSpace(s) != s:
		c.add(field, "pattern", "must not begin or end with white space")
	}
	return c.fields
}

// ValidateMemo checks a memo: at most 300 bytes of UTF-8; line breaks and
// tabs are allowed, other control characters are not.
func ValidateMemo(field, s string) []FieldError {
	var c fieldChecker
	switch {
	case !utf8.ValidString(s):
		c.add(field, "utf8", "must be UTF-8")
	case len(s) > MaxMemoBytes:
		c.add(field, "maxBytes", "must be at most %d bytes (UTF-8)", MaxMemoBytes)
	case strings.IndexFunc(s, func(r rune) bool {
		return r != '\n' && r != '\t' && r != '\r' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r))
	}) >= 0:
		c.add(field, "pattern", "must not contain control or invisible format characters")
	}
	return c.fields
}

// ValidateMobile checks a mobile number: empty, or E.164 (a plus, the
// country code and the number, 8–16 characters, no spaces).
func ValidateMobile(field, s string) []FieldError {
	if s == "" {
		return nil
	}
	var c fieldChecker
	c.match(field, s, mobilePattern, "must be an E.164 number like +821012345678")
	return c.fields
}

// ValidateOptionalEmail is ValidateEmail for a field that may be empty.
func ValidateOptionalEmail(field, s string) []FieldError {
	if s == "" {
		return nil
	}
	return ValidateEmail(field, s)
}

// ValidateIPRange checks an IP address or a CIDR (IPv4 or IPv6) in
// canonical form: no zone, no host bits set after the prefix.
func ValidateIPRange(field, s string) []FieldError {
	var c fieldChecker
	if !strings.Contains(s, "/") {
		if a, err := netip.ParseAddr(s); err != nil || a.Zone() != "" {
			c.add(field, "format", "must be an IP address or a CIDR like 203.0.113.0/24")
		}
		return c.fields
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		c.add(field, "format", "must be an IP address or a CIDR like 203.0.113.0/24")
	case p.Masked() != p:
		c.add(field, "format", "has bits set after the prefix length; did you mean %s?", p.Masked())
	}
	return c.fields
}

// ValidateAPIAllowSource checks one API allow source: type IP with an
// address or CIDR, VPC with a VPC ID (letters, digits, - and _, up to 64),
// or VPC_SERVER with a server instance number.
func ValidateAPIAllowSource(field string, src APIAllowSource) []FieldError {
	var c fieldChecker
	switch src.Type {
	case SourceIP:
		return ValidateIPRange(field+".source", src.Source)
	case SourceVPC:
		c.match(field+".source", src.Source, vpcPattern, "must be a VPC ID: letters, digits, - and _, at most 64")
	case SourceVPCServer:
		c.match(field+".source", src.Source, instancePattern, "must be a server instance number")
	default:
		c.add(field+".type", "enum", "must be IP, VPC or VPC_SERVER")
	}
	return c.fields
}

// validateConsolePermitIPs checks the console allow list: at most 100
// ranges, and at least one when in use (an empty list in use would lock
// everyone out).
func validateConsolePermitIPs(prefix string, use bool, ips []string) []FieldError {
	field := prefix + "consolePermitIps"
	var fields []FieldError
	switch {
	case len(ips) > MaxAllowListItems:
		return []FieldError{{Field: field, Rule: "maxItems", Message: fmt.Sprintf("must list at most %d ranges", MaxAllowListItems)}}
	case use && len(ips) == 0:
		fields = append(fields, FieldError{Field: field, Rule: "minItems", Message: "must list at least one range when useConsolePermitIp is true"})
	}
	for i, ip := range ips {
		fields = append(fields, ValidateIPRange(fmt.Sprintf("%s[%d]", field, i), ip)...)
	}
	return fields
}

// validateAPIAllowSources is validateConsolePermitIPs for apiAllowSources.
func validateAPIAllowSources(prefix string, use bool, sources []APIAllowSource) []FieldError {
	field := prefix + "apiAllowSources"
	var fields []FieldError
	switch {
	case len(sources) > MaxAllowListItems:
		return []FieldError{{Field: field, Rule: "maxItems", Message: fmt.Sprintf("must list at most %d sources", MaxAllowListItems)}}
	case use && len(sources) == 0:
		fields = append(fields, FieldError{Field: field, Rule: "minItems", Message: "must list at least one source when useApiAllowSource is true"})
	}
	for i, src := range sources {
		fields = append(fields, ValidateAPIAllowSource(fmt.Sprintf("%s[%d]", field, i), src)...)
	}
	return fields
}

// profileFields checks the fields a registration and an update share;
// nil pointers are not checked.
type profileFields struct {
	name, nickname, firstName, middleName, lastName, contactEmail, mobile, memo *string
}

func (p profileFields) check(prefix string) []FieldError {
	var fields []FieldError
	for _, f := range []struct {
		name     string
		value    *string
		validate func(string, string) []FieldError
	}{
		{"name", p.name, ValidateUserName},
		{"nickname", p.nickname, ValidateNickname},
		{"firstName", p.firstName, ValidatePersonName},
		{"middleName", p.middleName, ValidatePersonName},
		{"lastName", p.lastName, ValidatePersonName},
		{"contactEmail", p.contactEmail, ValidateOptionalEmail},
		{"mobile", p.mobile, ValidateMobile},
		{"memo", p.memo, ValidateMemo},
	} {
		if f.value != nil {
			fields = append(fields, f.validate(prefix+f.name, *f.value)...)
		}
	}
	return fields
}

// fields checks every field of r but the password policy; fields are
// named prefix+name (prefix "" or "users[3].").
func (r *UserRegistration) fields(prefix string) []FieldError {
	fields := ValidateLoginID(prefix+"loginId", r.LoginID)
	fields = append(fields, r.emailFields(prefix+"email")...)
	fields = append(fields, profileFields{&r.Name, &r.Nickname, &r.FirstName, &r.MiddleName, &r.LastName,
		&r.ContactEmail, &r.Mobile, &r.Memo}.check(prefix)...)
	fields = append(fields, r.modeFields(prefix)...)
	fields = append(fields, validateConsolePermitIPs(prefix, r.UseConsolePermitIP, r.ConsolePermitIPs)...)
	return append(fields, validateAPIAllowSources(prefix, r.UseAPIAllowSource, r.APIAllowSources)...)
}

// emailFields checks the ID email. Seed 004 makes it optional: a local
// user registered with a password may have none (and several such users
// may coexist). It is required where mail is the way in: invitation mode
// mails the link there, and a federated user is known by it.
func (r *UserRegistration) emailFields(field string) []FieldError {
	switch {
	case r.Mode == ModePassword && r.AccountType != AccountFederated:
		return ValidateOptionalEmail(field, r.Email)
	case r.Email == "":
		return []FieldError{{Field: field, Rule: "required",
			Message: "is required in invitation mode (the invitation is mailed there) and for a federated user"}}
	}
	return ValidateEmail(field, r.Email)
}

// modeFields checks the account type, federation and registration mode
// agree.
func (r *UserRegistration) modeFields(prefix string) []FieldError {
	var c fieldChecker
	switch r.AccountType {
	case AccountFederated:
		if !ValidID(r.FederationID) {
			c.add(prefix+"federationId", "format", "must be the UUID of the identity federation of a federated user")
		}
		if r.Mode != "" || r.Password != "" || r.GeneratePassword {
			c.add(prefix+"mode", "federated", "must be empty: federated users sign in through their identity provider and have no password or invitation")
		}
		return c.fields
	case "", AccountLocal:
	default:
		c.add(prefix+"accountType", "enum", "must be local or federated")
		return c.fields
	}
	if r.FederationID != "" {
		c.add(prefix+"federationId", "local", "must be empty for a local user")
	}
	switch r.Mode {
	case ModeInvitation:
		if r.Password != "" || r.GeneratePassword {
			c.add(prefix+"password", "invitation", "must be empty in invitation mode: the user sets its password from the invitation")
		}
		if r.Disabled {
			c.add(prefix+"active", "invitation", "must be true in invitation mode: the user becomes active by accepting")
		}
	case ModePassword:
		switch {
		case r.Password == "" && !r.GeneratePassword:
			c.add(prefix+"password", "required", "is required in password mode unless needPasswordGenerate is true")
		case r.Password != "" && r.GeneratePassword:
			c.add(prefix+"password", "generated", "must be empty when needPasswordGenerate is true")
		}
	default:
		c.add(prefix+"mode", "enum", "must be invitation or password for a local user")
	}
	return c.fields
}

// passwordFields applies the password policy to an administrator-set
// password.
func (r *UserRegistration) passwordFields(prefix string) []FieldError {
	if r.Mode != ModePassword || r.Password == "" {
		return nil
	}
	return CheckPassword(prefix+"password", r.LoginID, r.Password)
}

// Validate checks a registration of one user, naming fields by their
// names ("loginId").
// Returns EINVALID: request.invalid_field, or user.unsafe_password when
// only the password is at fault.
func (r *UserRegistration) Validate() error {
	return ValidateRegistrations([]UserRegistration{*r}, NoPrefix)
}

// NoPrefix names the fields of a lone registration: by their names.
func NoPrefix(int) string { return "" }

// ValidateRegistrations checks a batch: prefix(i) names item i
// ("users[3]."). Every bad field of every item is listed; the
// password policy is applied once the rest is valid.
func ValidateRegistrations(regs []UserRegistration, prefix func(i int) string) error {
	var fields []FieldError
	for i := range regs {
		fields = append(fields, regs[i].fields(prefix(i))...)
	}
	if err := Invalid(fields); err != nil {
		return err
	}
	for i := range regs {
		fields = append(fields, regs[i].passwordFields(prefix(i))...)
	}
	return UnsafePassword(fields)
}

// Validate checks the fields being changed.
func (u *UserUpdate) Validate() error {
	fields := profileFields{u.Name, u.Nickname, u.FirstName, u.MiddleName, u.LastName, u.ContactEmail, u.Mobile, u.Memo}.check("")
	if u.Email != nil {
		fields = append(fields, ValidateEmail("email", *u.Email)...)
	}
	if u.Status != nil && *u.Status != UserActive && *u.Status != UserDisabled {
		return &Error{Kind: EINVALID, Code: CodeUserInvalidStatus, Message: "status: must be active or disabled",
			Fields: []FieldError{{Field: "status", Rule: "enum", Message: "must be active or disabled"}}}
	}
	if u.ConsolePermitIPs != nil {
		fields = append(fields, validateConsolePermitIPs("", false, *u.ConsolePermitIPs)...)
	}
	if u.APIAllowSources != nil {
		fields = append(fields, validateAPIAllowSources("", false, *u.APIAllowSources)...)
	}
	return Invalid(fields)
}

// CheckAllowLists checks that allow lists in use are not empty, on the
// user as an update leaves it.
func (u *User) CheckAllowLists() error {
	var fields []FieldError
	if u.UseConsolePermitIP && len(u.ConsolePermitIPs) == 0 {
		fields = append(fields, FieldError{Field: "consolePermitIps", Rule: "minItems", Message: "must list at least one range when useConsolePermitIp is true"})
	}
	if u.UseAPIAllowSource && len(u.APIAllowSources) == 0 {
		fields = append(fields, FieldError{Field: "apiAllowSources", Rule: "minItems", Message: "must list at least one source when useApiAllowSource is true"})
	}
	return Invalid(fields)
}
