package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
)

// ImportService implements castellan.ImportService.
type ImportService struct{ db *DB }

// Imports returns the store's bulk import.
func (db *DB) Imports() *ImportService { return &ImportService{db: db} }

var _ castellan.ImportService = (*ImportService)(nil)

// BeginImport implements castellan.ImportService.
func (s *ImportService) BeginImport(ctx context.Context, orgID string, opts castellan.ImportOptions) (castellan.Importer, error) {
	if err := castellan.CheckID("organizationId", orgID); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	var id string
	err := s.db.queryRow(ctx, `SELECT id FROM organizations WHERE id = ?`, orgID).Scan(&id)
	if isNoRows(err) {
		return nil, notFound(castellan.CodeOrgNotFound, "organization", orgID)
	}
	if err != nil {
		return nil, err
	}
	return &importer{db: s.db, users: &UserService{db: s.db}, orgID: orgID, opts: opts, failed: map[string]bool{}}, nil
}

// importer runs one import. failed holds the IDs of items that failed,
// so that the items naming them fail too.
type importer struct {
	db     *DB
	users  *UserService
	orgID  string
	opts   castellan.ImportOptions
	failed map[string]bool
	result castellan.ImportResult
}

// Run implements castellan.Importer: items are read one at a time and
// applied a batch at a time, or, atomic, all at once after the last.
func (im *importer) Run(ctx context.Context, next castellan.ImportNext, progress func(*castellan.ImportProgress) error) (*castellan.ImportResult, error) {
	// Elapsed time measures the import (its rate), on the wall clock:
	// db.now stamps what is written and may stand still in tests.
	start := time.Now()
	size := im.opts.BatchSize
	if im.opts.Atomic {
		size = castellan.MaxAtomicImportItems + 1
	}
	var batch []*castellan.ImportItem
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if im.opts.Authorize != nil {
			im.opts.Authorize(ctx, batch)
		}
		p, err := im.apply(ctx, batch)
		batch = batch[:0]
		if p == nil {
			return err
		}
		p.Elapsed = time.Since(start)
		im.result.Elapsed, im.result.Revision = p.Elapsed, p.Revision
		if err == nil {
			// Tables that grow from nothing to tens of thousands of rows
			// within one import get PostgreSQL plans made for empty ones
			// (sequential scans) unless analysed as they grow.
			_, err = im.db.RefreshStatistics(ctx)
		}
		return errors.Join(err, progress(p))
	}
	for {
		item, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if im.opts.Atomic {
				return &im.result, err
			}
			return &im.result, errors.Join(err, flush())
		}
		im.result.Items++
		if im.opts.Atomic && im.result.Items > castellan.MaxAtomicImportItems {
			return &im.result, castellan.Errorf(castellan.EINVALID, castellan.CodeImportTooManyItems,
				"an atomic import holds at most %d items; nothing was written", castellan.MaxAtomicImportItems)
		}
		batch = append(batch, item)
		if len(batch) == size {
			if err := flush(); err != nil {
				return &im.result, err
			}
		}
	}
	if err := flush(); err != nil {
		return &im.result, err
	}
	im.result.Elapsed = time.Since(start)
	return &im.result, nil
}

// apply writes one batch in one transaction: each item in a savepoint,
// so that a failed item leaves the others (an error of the store itself
// ends the import), then one audit event and every item's change-log
// rows. Atomic, one failed item rolls everything back.
func (im *importer) apply(ctx context.Context, items []*castellan.ImportItem) (*castellan.ImportProgress, error) {
	hashes, err := im.hashPasswords(ctx, items)
	if err != nil {
		return nil, err
	}
	im.result.Batches++
	p := &castellan.ImportProgress{Batch: im.result.Batches, IDs: map[string]string{}}
	var errs []castellan.ImportItemError
	applied := 0
	err = im.db.update(ctx, func(tx *Tx) error {
		errs, applied = nil, 0
		orgName, err := lockOrganizationName(ctx, tx, im.orgID)
		if err != nil {
			return err
		}
		ic := &itemContext{tx: tx, orgID: im.orgID, orgName: orgName, grants: newGrantChecker(tx, im.orgID)}
		ic.grants.field = func(_ int, member string) string { return strings.TrimPrefix(member, ".") }
		if err := ic.readRegisteredNames(ctx, items); err != nil {
			return err
		}
		counts := map[castellan.ImportKind]int{}
		// created and members name what the batch created, so that its
		// audit event says who got what (with ic.granted).
		created := map[castellan.ImportKind][]string{}
		var members []castellan.ImportMembership
		var also []changedEntity
		for i := 0; i < len(items); {
			run := items[i : i+1]
			for n := i + 1; n < len(items) && sameRun(items[i], items[n]); n++ {
				run = items[i : n+1]
			}
			i += len(run)
			for _, item := range run {
				// Before any other error: the item's own may only echo the
				// failure (the guard found no such parent).
				if err := im.refFailed(item); err != nil {
					item.Err = err
				}
			}
			var changes []change
			if len(run) > 1 {
				changes, err = ic.applyRun(ctx, run, hashes)
			} else if item := run[0]; item.Err == nil {
				changes, item.Err = ic.applyInSavepoint(ctx, item, hashes[item])
				if storeFailed(item.Err) {
					err = item.Err
				}
			}
			if err != nil {
				return err
			}
			for _, c := range changes {
				also = append(also, c.entities()...)
			}
			for _, item := range run {
				if im.account(item, &errs) {
					applied++
					counts[item.Kind]++
					if item.ID != "" {
						created[item.Kind] = append(created[item.Kind], item.ID)
					}
					if item.Membership != nil {
						members = append(members, *item.Membership)
					}
				}
			}
		}
		if im.opts.Atomic && len(errs) > 0 {
			return errImportRolledBack
		}
		if len(also) == 0 {
			return nil
		}
		p.Revision, err = tx.record(ctx, change{
			orgID: im.orgID, action: castellan.ActionImport, entityType: "organization", entityID: im.orgID,
			summary: map[string]any{
				"applied": counts, "failed": len(errs), "created": created,
				"memberships": importMemberships(members), "grants": grantSummaries(ic.granted),
			},
			also: also,
		})
		return err
	})
	if err != nil && !errors.Is(err, errImportRolledBack) {
		return nil, err
	}
	if errors.Is(err, errImportRolledBack) {
		applied = 0
	}
	im.result.Applied += applied
	im.result.Failed += len(errs)
	p.Items, p.Applied, p.Failed, p.Errors = im.result.Items, im.result.Applied, im.result.Failed, errs
	if p.Revision == 0 {
		if p.Revision, err = im.db.Revision(ctx); err != nil {
			return nil, err
		}
	}
	if applied > 0 {
		for _, item := range items {
			if item.Err == nil && item.Ref != "" && item.ID != "" {
				p.IDs[item.Ref] = item.ID
			}
		}
	}
	if im.opts.Atomic && len(errs) > 0 {
		return p, errImportRolledBack
	}
	return p, nil
}

// account reports whether item was applied; a failed item is added to
// errs, and its ID noted, so that the items naming it fail too.
func (im *importer) account(item *castellan.ImportItem, errs *[]castellan.ImportItemError) bool {
	if item.Err == nil {
		return true
	}
	if item.ID != "" {
		im.failed[item.ID] = true
	}
	*errs = append(*errs, castellan.ImportItemError{Line: item.Line, Ref: item.Ref, Kind: item.Kind, Err: item.Err})
	return false
}

// storeFailed reports whether err is the store's own failure, which ends
// the import, rather than an item's.
func storeFailed(err error) bool {
	kind := castellan.ErrorKind(err)
	return kind == castellan.EINTERNAL || kind == castellan.EUNAVAILABLE
}

// importMemberships are the memberships of an import's audit event.
func importMemberships(members []castellan.ImportMembership) []map[string]string {
	out := make([]map[string]string, len(members))
	for i, m := range members {
		out[i] = map[string]string{"groupId": m.GroupID, "userId": m.UserID}
	}
	return out
}

// errImportRolledBack ends an atomic import with a failed item.
var errImportRolledBack = castellan.Errorf(castellan.EPRECONDITION, castellan.CodeImportRolledBack,
	"an item of the atomic import failed; nothing was written")

// refFailed fails an item that names an earlier item that failed.
func (im *importer) refFailed(item *castellan.ImportItem) error {
	for _, r := range item.Refs {
		if im.failed[r.ID] {
			return &castellan.Error{
				Kind: castellan.EPRECONDITION, Code: castellan.CodeImportRefFailed,
				Message: fmt.Sprintf("%s: #%s names an item that failed", r.Field, r.Ref),
				Fields:  []castellan.FieldError{{Field: r.Field, Rule: "ref", Message: "names an item that failed"}},
			}
		}
	}
	return nil
}

// hashPasswords hashes the passwords of the batch's users in password
// mode before the transaction, as RegisterUsers does.
func (im *importer) hashPasswords(ctx context.Context, items []*castellan.ImportItem) (map[*castellan.ImportItem]string, error) {
	var users []*castellan.ImportItem
	var regs []castellan.UserRegistration
	for _, item := range items {
		if item.Err == nil && item.User != nil {
			if err := castellan.ValidateRegistrations([]castellan.UserRegistration{*item.User}, castellan.NoPrefix); err != nil {
				item.Err = err
				continue
			}
			users, regs = append(users, item), append(regs, *item.User)
		}
	}
	hashes := map[*castellan.ImportItem]string{}
	if len(regs) == 0 {
		return hashes, nil
	}
	list, _, err := im.users.hashPasswords(ctx, regs)
	if err != nil {
		return nil, err
	}
	for i, item := range users {
		hashes[item] = list[i]
	}
	return hashes, nil
}
