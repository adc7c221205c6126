package castellan

// OrganizationOwnerRoleID is the built-in Owner role. The Owner rule: an
// organization that has an owner keeps one, an owner being an active user
// holding this role on the organization itself without expiry, directly
// or through a group it is a member of. A write that would take the last
// one away (revoking or changing grants, giving one an expiry, disabling
// or deleting the user, removing it from the group, deleting the group)
// fails with EPRECONDITION (grant.last_owner) and changes nothing.
const OrganizationOwnerRoleID = "organization.owner"

// AccountAdminRoleID is the built-in role a new account's root user holds
// on the account: it administers the account's projects.
const AccountAdminRoleID = "account.admin"

// Role limits.
const (
	// MaxRoleNameLength is the longest custom role name.
	MaxRoleNameLength = 100
	// MaxRoleActions bounds the action patterns of a custom role.
	MaxRoleActions = 100
	// MaxRoleIDLength bounds a role ID in a request: a UUID or a built-in
	// ID such as organization.admin.
	MaxRoleIDLength = 100
)

// ValidateRoleName checks a custom role name: 1–100 characters, no control
// characters, no surrounding white space; unique among the organization's
// custom roles, case-sensitively.
func ValidateRoleName(field, name string) []FieldError {
	var c fieldChecker
	if c.length(field, name, 1, MaxRoleNameLength) {
		c.printable(field, name)
	}
	return c.fields
}

// validateCustomRoleKind checks the kind of a custom role: resource roles
// come only from the catalogue, which ties them to a resource type.
func validateCustomRoleKind(field string, kind RoleKind) []FieldError {
	var c fieldChecker
	switch kind {
	case RoleOrganization, RoleProject, RoleServiceKind:
	case RoleResource:
		c.add(field, "enum", "custom roles of kind resource are not supported; use organization, project or service")
	default:
		c.add(field, "enum", "must be organization, project or service")
	}
	return c.fields
}

// Validate checks a custom role against the catalogue. When an action
// pattern matches no catalogue action the code is role.unknown_action;
// the fields list every failure either way.
func (rc *RoleCreate) Validate(c *Catalog) error {
	extra := validateCustomRoleKind("kind", rc.Kind)
	extra = append(extra, c.ValidateActions("actions", rc.Actions)...)
	return withUnknownActionCode(validateNamed(ValidateRoleName, &rc.Name, &rc.Description, extra...))
}

// Validate checks the fields being changed, as RoleCreate.Validate does.
func (ru *RoleUpdate) Validate(c *Catalog) error {
	var extra []FieldError
	if ru.Actions != nil {
		extra = c.ValidateActions("actions", ru.Actions)
	}
	return withUnknownActionCode(validateNamed(ValidateRoleName, ru.Name, ru.Description, extra...))
}

// withUnknownActionCode gives a validation error the code
// role.unknown_action when one of its fields names an action the catalogue
// does not know, so that clients can tell a typo in a name from an action
// that does not exist.
func withUnknownActionCode(err error) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	for _, f := range e.Fields {
		if f.Rule == "unknownAction" {
			e.Code = CodeUnknownAction
			break
		}
	}
	return e
}
