package storetest

import (
	"io"
	"testing"

	"github.com/castellan-iam/castellan"
	"github.com/google/uuid"
)

func testImport(t *testing.T, open Opener) {
	t.Run("Batches", func(t *testing.T) { testImportBatches(t, open) })
	t.Run("Atomic", func(t *testing.T) { testImportAtomic(t, open) })
}

// importItems runs an import of items and returns its progress reports.
func importItems(t *testing.T, s castellan.Services, orgID string, opts castellan.ImportOptions, items ...*castellan.ImportItem) ([]*castellan.ImportProgress, *castellan.ImportResult, error) {
	t.Helper()
	im := must(s.Imports.BeginImport(operatorCtx("req-import"), orgID, opts))(t)
	var reports []*castellan.ImportProgress
	next := 0
	res, err := im.Run(operatorCtx("req-import"), func() (*castellan.ImportItem, error) {
		if next == len(items) {
			return nil, io.EOF
		}
		next++
		return items[next-1], nil
	}, func(p *castellan.ImportProgress) error {
		reports = append(reports, p)
		return nil
	})
	return reports, res, err
}

func importGroup(line int, ref, name string) *castellan.ImportItem {
	return &castellan.ImportItem{Line: line, Kind: castellan.ImportKindGroup, Ref: ref, ID: uuid.Must(uuid.NewV7()).String(), Group: &castellan.GroupCreate{Name: name}}
}

// testImportBatches: a failed item fails alone, an item naming it fails
// with import.ref_failed, and each batch is one audit event.
func testImportBatches(t *testing.T, open Opener) {
	s := open(t, NewClock().Now)
	boot := bootstrap(t, s, "Acme")
	taken := importGroup(2, "b", "team")
	member := &castellan.ImportItem{Line: 3, Kind: castellan.ImportKindMembership,
		Membership: &castellan.ImportMembership{GroupID: taken.ID, UserID: boot.OwnerUserID},
		Refs:       []castellan.ImportRef{{Field: "groupId", Ref: "b", ID: taken.ID}}}
	reports, res, err := importItems(t, s, boot.OrganizationID, castellan.ImportOptions{BatchSize: 2},
		importGroup(1, "a", "team"), taken, member, importGroup(4, "", "other"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Items != 4 || res.Applied != 2 || res.Failed != 2 || res.Batches != 2 || len(reports) != 2 {
		t.Fatalf("got %+v with %d reports, want 4 items, 2 applied, 2 failed in 2 batches", res, len(reports))
	}
	if got := castellan.ErrorCode(reports[0].Errors[0].Err); reports[0].Errors[0].Line != 2 || got != castellan.CodeGroupNameTaken {
		t.Errorf("batch 1: got line %d %s, want line 2 %s", reports[0].Errors[0].Line, got, castellan.CodeGroupNameTaken)
	}
	if got := castellan.ErrorCode(reports[1].Errors[0].Err); got != castellan.CodeImportRefFailed {
		t.Errorf("batch 2: got %s, want %s", got, castellan.CodeImportRefFailed)
	}
	if reports[0].IDs["a"] == "" || reports[0].IDs["b"] != "" {
		t.Errorf("batch 1 IDs: got %v, want a only", reports[0].IDs)
	}
	events := listed(s.Audit.FindAuditEvents(operatorCtx("r"), boot.OrganizationID, castellan.AuditFilter{Action: ptr(string(castellan.ActionImport))}))(t)
	if len(events) != 2 {
		t.Errorf("got %d import audit events, want one per batch (2)", len(events))
	}
}

// testImportAtomic: one failed item and nothing is written.
func testImportAtomic(t *testing.T, open Opener) {
	s := open(t, NewClock().Now)
	boot := bootstrap(t, s, "Acme")
	before := must(s.ChangeLog.Revision(operatorCtx("r")))(t)
	reports, res, err := importItems(t, s, boot.OrganizationID, castellan.ImportOptions{Atomic: true},
		importGroup(1, "a", "team"), importGroup(2, "b", "team"))
	if castellan.ErrorCode(err) != castellan.CodeImportRolledBack || res.Applied != 0 || len(reports) != 1 || len(reports[0].Errors) != 1 {
		t.Fatalf("got %v, %+v, want import.rolled_back with one failed item reported", err, res)
	}
	if after := must(s.ChangeLog.Revision(operatorCtx("r")))(t); after != before {
		t.Errorf("revision: got %d, want %d unchanged", after, before)
	}
	groups := listed(s.Groups.FindGroups(operatorCtx("r"), boot.OrganizationID, castellan.GroupFilter{}))(t)
	if len(groups) != 0 {
		t.Errorf("got %d groups after a failed atomic import, want none", len(groups))
	}
}
