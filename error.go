package castellan

import (
	"errors"
	"fmt"
)

// Kind is the broad class of an error; the API maps each kind to one HTTP
// status. Specific codes refine a kind.
type Kind string

// Error kinds.
const (
	EINVALID         Kind = "invalid"
	ENOTFOUND        Kind = "not_found"
	ECONFLICT        Kind = "conflict"
	EUNAUTHENTICATED Kind = "unauthenticated"
	EFORBIDDEN       Kind = "forbidden"
	EPRECONDITION    Kind = "precondition_failed"
	ETOOLARGE        Kind = "too_large"
	ERATELIMITED     Kind = "rate_limited"
	EINTERNAL        Kind = "internal"

	// EUNAVAILABLE: the store cannot be reached, or refuses writes, for
	// now: an outage, not a bug; the same request may succeed later.
	EUNAVAILABLE Kind = "unavailable"
)

// Stable error codes. A code never changes meaning once published; clients
// switch on it. Every code is declared in this file (TestCodesInOneFile),
// grouped by what it is about.
const (
	CodeInternal         = "internal"
	CodeInvalidField     = "request.invalid_field"
	CodeInvalidJSON      = "request.invalid_json"
	CodeInvalidUTF8      = "request.invalid_utf8"
	CodeInvalidID        = "request.invalid_id"
	CodeInvalidPageToken = "request.invalid_page_token"
	CodeBodyTooLarge     = "request.body_too_large"
	CodeUnauthenticated  = "auth.unauthenticated"
	CodeOperatorRequired = "auth.operator_required"
	// CodeSourceNotAllowed refuses a request with a user's token, or an
	// exchange of its key, from outside the user's API allow sources.
	CodeSourceNotAllowed = "auth.source_not_allowed"
	CodeOrgNotFound      = "organization.not_found"
	CodeOrgNameTaken     = "organization.name_taken"
	CodeOrgNotEmpty      = "organization.not_empty"
	CodeProjectNotFound  = "project.not_found"
	CodeProjectNameTaken = "project.name_taken"
	CodeUserEmailTaken   = "user.email_taken"
	CodeNotFound         = "request.not_found"
	CodeMethodNotAllowed = "request.method_not_allowed"
	// CodeStoreUnavailable: the store does not answer or cannot write
	// (connection refused or lost, a read-only or locked database).
	CodeStoreUnavailable = "store.unavailable"
)

// FieldError names one bad field of a request and the rule it breaks.
type FieldError struct {
	// Field is a path into the domain input of the operation, in the
	// JSON names of its fields: "name", "grants[2].roleId",
	// "users[3].loginId", "pageToken". An ID argument of a service method
	// is named after its entity with an Id suffix, as the domain's JSON
	// names it: "organizationId", "userId", "groupId", "subjectId". The
	// root package and the store never name an HTTP location; each edge
	// maps these paths to its own names (the /v1 API to body.name,
	// path.org, query.page_token).
	Field string `json:"field"`
	// Rule is a short stable name of the broken rule: "required",
	// "maxLength", "pattern", "format", "unknownField", "type".
	Rule string `json:"rule"`
	// Message says the rule in words.
	Message string `json:"message"`
}

// Error is the one error type of Castellan's services. Message is safe to
// show to the caller; Err, the cause, is for logs only.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	Err     error
}

// Error implements error; the text includes the cause, for logs.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an error of the given kind and code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// TooManyItems refuses a list field of n items, more than limit
// (request.too_many_items).
func TooManyItems(field string, n, limit int) error {
	return &Error{
		Kind: EINVALID, Code: CodeTooManyItems,
		Message: fmt.Sprintf("%s: %d items, at most %d are allowed in one request", field, n, limit),
		Fields:  []FieldError{{Field: field, Rule: "maxItems", Message: fmt.Sprintf("must list at most %d items", limit)}},
	}
}

// Invalid returns an EINVALID error with code request.invalid_field listing
// the bad fields; nil when fields is empty, so validators can end with
// `return Invalid(fields)`.
func Invalid(fields []FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	msg := fields[0].Field + ": " + fields[0].Message
	if len(fields) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(fields)-1)
	}
	return &Error{Kind: EINVALID, Code: CodeInvalidField, Message: msg, Fields: fields}
}

// ErrorKind returns the kind of err: EINTERNAL for errors that are not an
// *Error, "" for nil.
func ErrorKind(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return EINTERNAL
}

// ErrorCode returns the stable code of err: "internal" for errors that are
// not an *Error, "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Access-model error codes.
const (
	CodeInvalidScope      = "request.invalid_scope"
	CodePermissionDenied  = "auth.permission_denied"
	CodeEscalation        = "grant.escalation"
	CodeRoleScopeMismatch = "grant.role_scope_mismatch"
	CodeLastOwner         = "grant.last_owner"
	CodeRolesRequired     = "grant.roles_required"
	CodeGrantNotFound     = "grant.not_found"
	CodeRoleNotFound      = "role.not_found"
	CodeRoleNameTaken     = "role.name_taken"
	CodeRoleInUse         = "role.in_use"
	CodeRoleBuiltIn       = "role.built_in"
	CodeUnknownAction     = "role.unknown_action"
	CodeGroupNotFound     = "group.not_found"
	CodeGroupNameTaken    = "group.name_taken"
	CodeUserNotFound      = "user.not_found"
	CodeTooManyItems      = "request.too_many_items"
)

// Service account error codes.
const (
	CodeServiceAccountNotFound  = "service_account.not_found"
	CodeServiceAccountNameTaken = "service_account.name_taken"
	// CodeSubjectScopeMismatch: a service account may hold grants only on
	// its own project and the resources in it.
	CodeSubjectScopeMismatch = "grant.subject_scope_mismatch"
)

// User error codes.
const (
	CodeUserLoginIDTaken = "user.login_id_taken"
	// CodeUnsafePassword is the sub-account API's "Unsafe password"
	// (9015): the password breaks the policy; the field error names the
	// rule.
	CodeUnsafePassword       = "user.unsafe_password"
	CodeConfirmationMismatch = "user.confirmation_mismatch"
	CodeUserNotPending       = "user.not_pending_invitation"
	CodeUserInvalidStatus    = "user.invalid_status"
	// CodeInvitationInvalid: the link is unknown, or a newer one replaced
	// it.
	CodeInvitationInvalid = "invitation.invalid"
	CodeInvitationUsed    = "invitation.used"
	CodeInvitationExpired = "invitation.expired"
)

// Access key error codes.
const (
	CodeAccessKeyNotFound = "access_key.not_found"
	// CodeAccessKeyLimitReached: the owner holds MaxAccessKeysPerProject
	// unexpired keys in the project; the message names them.
	CodeAccessKeyLimitReached = "access_key.limit_reached"
	// CodeAccessKeyAPIAccessDisabled: the user's apiAccess is off, so a
	// key could not be used.
	CodeAccessKeyAPIAccessDisabled = "access_key.api_access_disabled"
	// CodeAccessKeyNoGrantInProject: the user holds no grant on the
	// project (nor on the organization), so a key there would have
	// nothing to do.
	CodeAccessKeyNoGrantInProject = "access_key.no_grant_in_project"
)

// Idempotency error codes.
const (
	// CodeIdempotencyKeyReused: the key was used in the last 24 hours for
	// another request (method, path or body differ).
	CodeIdempotencyKeyReused = "idempotency.key_reused"
	// CodeIdempotencyInProgress: another request with the same key
	// committed its write while this one waited; its answer is being
	// stored, so a retry in a moment replays it.
	CodeIdempotencyInProgress = "idempotency.in_progress"
	// CodeIdempotencyOutcomeCommitted: the first request with the key
	// committed (at the revision the message names) but its answer was
	// never stored, as when its server stopped in between. The write is
	// done and is not run again.
	CodeIdempotencyOutcomeCommitted = "idempotency.outcome_committed"
)

// Consistency error codes.
const (
	// CodeRevisionNotApplied: the request asked (Consistency-Token or
	// minRevision) for a revision this process had not applied within
	// the bounded wait; retry, on this replica or another (503,
	// Retry-After).
	CodeRevisionNotApplied = "revision.not_applied"
	// CodeInvalidConsistencyToken: the Consistency-Token header is not a
	// positive decimal revision.
	CodeInvalidConsistencyToken = "request.invalid_consistency_token"
)

// Mail error codes.
const (
	// CodeMailNotFound: the outbox has no mail of this ID.
	CodeMailNotFound = "mail.not_found"
	// CodeMailUnrenderable: the mail's template is unknown or its data
	// lacks a key the template needs.
	CodeMailUnrenderable = "mail.unrenderable"
)

// MFA error codes.
const (
	// CodeMFAFailed: the code is wrong, already used, or of a time step
	// not newer than the last accepted one.
	CodeMFAFailed = "auth.mfa_failed"
	// CodeMFANotEnrolled: the user has no confirmed second factor.
	CodeMFANotEnrolled = "auth.mfa_not_enrolled"
	// CodeMFANoPendingSetup: ConfirmTOTP without a BeginTOTP.
	CodeMFANoPendingSetup = "auth.mfa_no_pending_setup"
	// CodeMFAUnavailable: BeginTOTP for a user that is not an active local
	// user (a federated user's identity provider asks for its second
	// factor).
	CodeMFAUnavailable = "auth.mfa_unavailable"
)

// Authentication error codes of the console.
const (
	// CodeSignInFailed is the one answer for an unknown organization or
	// user, a wrong password, a locked account and a user that may not
	// use the console, so that none can be told from another.
	CodeSignInFailed = "auth.sign_in_failed"
	// CodeConsoleIPNotAllowed: a request of a session comes from an
	// address the user's console IP allow list does not hold. (At
	// sign-in such an address gets CodeSignInFailed.)
	CodeConsoleIPNotAllowed = "auth.console_ip_not_allowed"
	// CodeSessionInvalid: the session cookie is unknown, expired or
	// revoked, or its user may no longer use the console.
	CodeSessionInvalid = "auth.session_invalid"
	// CodeWrongPassword: the current password given to change it is
	// wrong.
	CodeWrongPassword = "auth.wrong_password"
	// CodeSamePassword: the new password equals the current one.
	CodeSamePassword    = "user.same_password"
	CodeSessionNotFound = "session.not_found"
	// CodeCSRFFailed: a console form came without its token, with a wrong
	// one, or from another site.
	CodeCSRFFailed = "auth.csrf_failed"
)

// Request error codes the REST API's edge answers with before a service
// is called.
const (
	// CodeDuplicateKey: a JSON body in which an object names the same key
	// twice.
	CodeDuplicateKey = "request.duplicate_key"
	// CodeRateLimited is the code of a 429 answer.
	CodeRateLimited = "request.rate_limited"
)

// Organization structure error codes: the tree, OUs and accounts.
const (
	CodeNodeNotFound = "node.not_found"
	// CodeInvalidParent: a node cannot hang there (an OU under an
	// account, anything under a project).
	CodeInvalidParent = "node.invalid_parent"
	CodeOUNotFound    = "ou.not_found"
	CodeOUNameTaken   = "ou.name_taken"
	// CodeOUTooDeep: the OU, or the deepest OU of a moved subtree, would
	// be more than MaxOUDepth levels below the root.
	CodeOUTooDeep = "ou.too_deep"
	// CodeOUCycle: an OU cannot move into its own subtree.
	CodeOUCycle    = "ou.cycle"
	CodeOUNotEmpty = "ou.not_empty"

	CodeAccountNotFound  = "account.not_found"
	CodeAccountNameTaken = "account.name_taken"
	// CodeAccountLimitReached: the organization holds its maximum of
	// accounts.
	CodeAccountLimitReached = "account.limit_reached"
	// CodeAccountNameMismatch: the name typed to confirm a deletion is
	// not the account's.
	CodeAccountNameMismatch = "account.name_mismatch"
	// CodeAccountNotStandalone: only an organization's management
	// account (a standalone account) can accept an invitation to join
	// another organization.
	CodeAccountNotStandalone = "account.not_standalone"

	// Preconditions of excluding and deleting an account (seed 001),
	// each refused with EPRECONDITION.
	CodeAccountNoPaymentMethod   = "account.no_payment_method"
	CodeAccountCreditAssigned    = "account.credit_assigned"
	CodeAccountSettlementDay     = "account.settlement_day"
	CodeAccountResourcesInUse    = "account.resources_in_use"
	CodeAccountDelegated         = "account.identity_center_delegated"
	CodeAccountManagement        = "account.management_account"
	CodeAccountJoinedByInvite    = "account.joined_by_invitation"
	CodeAccountUnderCloudControl = "account.cloud_control"

	CodeAccountInvitationNotFound   = "account_invitation.not_found"
	CodeAccountInvitationNotPending = "account_invitation.not_pending"
	// CodeAccountInvitationPending: the organization already has a
	// pending invitation for the email.
	CodeAccountInvitationPending = "account_invitation.pending"
)

// Role identity error codes.
const (
	CodeRoleIdentityNotFound  = "role_identity.not_found"
	CodeRoleIdentityNameTaken = "role_identity.name_taken"
	CodeRoleSessionNotFound   = "role_session.not_found"
	// CodeRoleSessionSourceMismatch: the source identity's type is not
	// the one of the role's kind (SourceTypeOf).
	CodeRoleSessionSourceMismatch = "role_session.source_mismatch"
)

// Federation error codes.
const (
	CodeFederationNotFound  = "federation.not_found"
	CodeFederationNameTaken = "federation.name_taken"
	// CodeFederationInUse: users that are not deleted belong to the
	// federation.
	CodeFederationInUse = "federation.in_use"
	// CodeFederationSecretNotSealable: the store has no key-encryption
	// key to seal a client secret with (serve --secret-key-file).
	CodeFederationSecretNotSealable = "federation.secret_not_sealable"
)

// SCIM token error codes.
const (
	CodeSCIMTokenNotFound = "scim_token.not_found"
	// CodeSCIMTokenNeedsUser: a SCIM token acts as its creator, who must
	// be a user of the organization.
	CodeSCIMTokenNeedsUser = "scim_token.needs_user"
)

// CodeUserLimitReached: the organization holds its maximum of users
// (sqlstore.Options.MaxUsers, --max-users-per-organization).
const CodeUserLimitReached = "user.limit_reached"

// Control policy error codes.
const (
	CodeControlPolicyNotFound  = "controlpolicy.not_found"
	CodeControlPolicyNameTaken = "controlpolicy.name_taken"
	// CodeControlPolicyInvalid: the Cedar document does not parse, or
	// names actions or entity types the catalogue does not have; each
	// field error gives the line and column.
	CodeControlPolicyInvalid = "controlpolicy.invalid_document"
	// CodeControlPolicySystem: system policies cannot be changed or
	// deleted.
	CodeControlPolicySystem         = "controlpolicy.system"
	CodeControlPolicyInUse          = "controlpolicy.in_use"
	CodeControlPolicyAttached       = "controlpolicy.already_attached"
	CodeControlPolicyNotAttached    = "controlpolicy.not_attached"
	CodeControlPolicyTooMany        = "controlpolicy.too_many"
	CodeControlPolicyLastAttachment = "controlpolicy.last_attachment"
	CodeControlPolicyInvalidTarget  = "controlpolicy.invalid_target"
)

// Codes of bulk imports.
const (
	CodeImportDuplicateRef   = "import.duplicate_ref"
	CodeImportUnknownRef     = "import.unknown_ref"
	CodeImportRefFailed      = "import.ref_failed"
	CodeImportRefKind        = "import.ref_kind_mismatch"
	CodeImportLineTooLong    = "import.line_too_long"
	CodeImportTooManyItems   = "import.too_many_items"
	CodeImportRolledBack     = "import.rolled_back"
	CodeImportUnknownKind    = "import.unknown_kind"
	CodeImportBadContentType = "import.content_type"
)
