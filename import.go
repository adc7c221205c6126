package castellan

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ImportKind is the kind of object one item of a bulk import creates.
type ImportKind string

// The kinds of import items.
const (
	ImportKindOrgUnit        ImportKind = "orgUnit"
	ImportKindProject        ImportKind = "project"
	ImportKindUser           ImportKind = "user"
	ImportKindGroup          ImportKind = "group"
	ImportKindMembership     ImportKind = "membership"
	ImportKindServiceAccount ImportKind = "serviceAccount"
	ImportKindGrant          ImportKind = "grant"
)

// Limits of bulk imports.
const (
	DefaultImportBatchSize = 1000
	// MaxImportBatchSize bounds a batch, which is held in memory until
	// its transaction: each item at most a checked line of 64 KiB.
	MaxImportBatchSize = 1000
	// MaxAtomicImportItems bounds an atomic import, which is held in
	// memory until its one transaction.
	MaxAtomicImportItems = 50_000
)

// ImportMembership puts a user in a group.
type ImportMembership struct {
	GroupID string
	UserID  string
}

// ImportServiceAccount creates a service account in a project.
type ImportServiceAccount struct {
	ProjectID string
	ServiceAccountCreate
}

// ImportRef is a reference of an item to an earlier item of the same
// import: Field of the item holds ID, the ID the earlier item creates.
type ImportRef struct {
	Field string
	Ref   string
	ID    string
}

// ImportItem is one item of a bulk import: exactly one of the kind's
// fields is set. ID is the ID the item's object gets (chosen when the
// item is read, so that later items can name it before it exists); it is
// empty for memberships and grants, which no item can name.
type ImportItem struct {
	Line int
	Kind ImportKind
	Ref  string
	ID   string

	OrgUnit        *OrgUnitCreate
	Project        *ProjectCreate
	User           *UserRegistration
	Group          *GroupCreate
	Membership     *ImportMembership
	ServiceAccount *ImportServiceAccount
	Grant          *GrantCreate

	// Refs are the item's references to earlier items: an item whose
	// referenced item failed fails with import.ref_failed.
	Refs []ImportRef
	// Err, when set, refuses the item before it reaches the store (it
	// could not be decoded, a reference is wrong, the caller may not).
	Err error
}

// ImportOptions choose how an import is applied.
type ImportOptions struct {
	// Atomic applies every item in one transaction, or none.
	Atomic bool
	// BatchSize is the number of items per transaction when not atomic;
	// 0 means DefaultImportBatchSize.
	BatchSize int
	// Authorize, when set, is called with each batch (atomic, with every
	// item) right before the store applies it, and sets the Err of the
	// items the caller may not create. Package guard authorizes there, so
	// that no answer is older than the batch it admits.
	Authorize func(ctx context.Context, items []*ImportItem)
}

// Validate checks the options.
func (o *ImportOptions) Validate() error {
	if o.BatchSize < 0 || o.BatchSize > MaxImportBatchSize {
		return Invalid([]FieldError{{Field: "batchSize", Rule: "maximum", Message: fmt.Sprintf("must be between 1 and %d", MaxImportBatchSize)}})
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultImportBatchSize
	}
	return nil
}

// ImportItemError is an item's failure.
type ImportItemError struct {
	Line int
	Ref  string
	Kind ImportKind
	Err  error
}

// ImportProgress reports a committed batch (or, atomic, the one
// transaction); the counts are running totals.
type ImportProgress struct {
	Batch    int
	Items    int
	Applied  int
	Failed   int
	Elapsed  time.Duration
	Revision int64
	// IDs are the IDs created for the refs of the batch's items.
	IDs    map[string]string
	Errors []ImportItemError
}

// ImportResult sums an import up.
type ImportResult struct {
	Items, Applied, Failed, Batches int
	Elapsed                         time.Duration
	Revision                        int64
}

// ImportNext returns the next item of an import, io.EOF after the last.
// Another error ends the import.
type ImportNext func() (*ImportItem, error)

// Importer runs one import that BeginImport accepted.
type Importer interface {
	// Run applies the items next returns, in batches (or all at once when
	// atomic), calling progress after each commit. An item's failure is
	// reported in progress and does not stop the others. Run returns the
	// totals and, when the import stopped early, the error that stopped
	// it: next's error, EINVALID (import.too_many_items) for an atomic
	// import of more than MaxAtomicImportItems, EPRECONDITION
	// (import.rolled_back) for an atomic import with a failed item (then
	// nothing is written), or a store failure. Batches committed before
	// stay committed.
	Run(ctx context.Context, next ImportNext, progress func(*ImportProgress) error) (*ImportResult, error)
}

// ImportService loads many objects into an organization. Each batch is
// one transaction with one audit event (organizations:Import, counting
// the items per kind and naming the objects, memberships and grants it
// created) and a change-log row per object created.
type ImportService interface {
	// BeginImport checks the organization and the options and returns the
	// importer. Returns ENOTFOUND (organization.not_found) or EINVALID.
	BeginImport(ctx context.Context, orgID string, opts ImportOptions) (Importer, error)
}

// WithField names field and rule in an error of kind that names no
// field, so that an import item's error says which of its fields is at
// fault; any other error is returned as it is.
func WithField(err error, kind Kind, field, rule string) error {
	var e *Error
	if !errors.As(err, &e) || e.Kind != kind || len(e.Fields) > 0 {
		return err
	}
	named := *e
	named.Fields = []FieldError{{Field: field, Rule: rule, Message: e.Message}}
	return &named
}
