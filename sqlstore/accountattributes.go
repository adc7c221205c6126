package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/castellan-iam/castellan"
)

// FindAccountAttributes implements castellan.AccountService.
func (s *AccountService) FindAccountAttributes(ctx context.Context, orgID, id string) (*castellan.AccountAttributes, error) {
	return findAccountAttributes(ctx, s.db.queryRow, orgID, id)
}

func findAccountAttributes(ctx context.Context, queryRow func(context.Context, string, ...any) *sql.Row, orgID, id string) (*castellan.AccountAttributes, error) {
	var (
		a         castellan.AccountAttributes
		delegates string
		updated   sql.NullTime
	)
	err := queryRow(ctx, `SELECT payment_method_registered, credit_assigned, resources_in_use, identity_center_delegated, cloud_control,
		delegates, attributes_updated_at, attributes_updated_by FROM accounts WHERE org_id = ? AND id = ?`, orgID, id).
		Scan(&a.PaymentMethodRegistered, &a.CreditAssigned, &a.ResourcesInUse, &a.IdentityCenterDelegated, &a.CloudControl,
			&delegates, &updated, &a.UpdatedBy)
	if isNoRows(err) {
		return nil, accountNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(delegates), &a.Delegates); err != nil {
		return nil, fmt.Errorf("account %s: delegates: %w", id, err)
	}
	if updated.Valid {
		a.UpdatedAt = updated.Time.UTC()
	}
	return &a, nil
}

// SetAccountAttributes implements castellan.AccountService.
func (s *AccountService) SetAccountAttributes(ctx context.Context, orgID, id string, attrs castellan.AccountAttributes) (*castellan.AccountAttributes, error) {
	if attrs.CloudControl == "" {
		attrs.CloudControl = castellan.CloudControlNone
	}
	attrs.Delegates = nonNilSlice(attrs.Delegates)
	if err := attrs.Validate(); err != nil {
		return nil, err
	}
	var out *castellan.AccountAttributes
	err := s.db.update(ctx, func(tx *Tx) error {
		before, err := findAccountAttributes(ctx, tx.queryRow, orgID, id)
		if err != nil {
			return err
		}
		delegates, err := json.Marshal(attrs.Delegates)
		if err != nil {
			return err
		}
		attrs.UpdatedAt, attrs.UpdatedBy = tx.now, tx.actorID()
		_, err = tx.exec(ctx, `UPDATE accounts SET payment_method_registered = ?, credit_assigned = ?, resources_in_use = ?,
			identity_center_delegated = ?, cloud_control = ?, delegates = ?, attributes_updated_at = ?, attributes_updated_by = ?
			WHERE org_id = ? AND id = ?`,
			attrs.PaymentMethodRegistered, attrs.CreditAssigned, attrs.ResourcesInUse, attrs.IdentityCenterDelegated, attrs.CloudControl,
			string(delegates), attrs.UpdatedAt, attrs.UpdatedBy, orgID, id)
		if err != nil {
			return fmt.Errorf("set account attributes: %w", err)
		}
		var name string
		if err := tx.queryRow(ctx, `SELECT name FROM nodes WHERE org_id = ? AND id = ?`, orgID, id).Scan(&name); err != nil {
			return err
		}
		_, err = tx.record(ctx, change{
			orgID: orgID, action: castellan.ActionSetAccountAttributes,
			entityType: "node", entityID: id, entityName: name, operation: "update",
			summary: map[string]any{"attributes": diff{attributeSummary(before), attributeSummary(&attrs)}},
		})
		out = &attrs
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func attributeSummary(a *castellan.AccountAttributes) map[string]any {
	return map[string]any{
		"paymentMethodRegistered": a.PaymentMethodRegistered, "creditAssigned": a.CreditAssigned,
		"resourcesInUse": a.ResourcesInUse, "identityCenterDelegated": a.IdentityCenterDelegated,
		"cloudControl": a.CloudControl, "delegates": slices.Clone(a.Delegates),
	}
}

// AttributeFacts is the default castellan.Billing and
// castellan.ResourceInventory: the account attributes the operator sets
// through the API.
type AttributeFacts struct{ db *DB }

var (
	_ castellan.Billing           = AttributeFacts{}
	_ castellan.ResourceInventory = AttributeFacts{}
)

// AccountBilling implements castellan.Billing.
func (f AttributeFacts) AccountBilling(ctx context.Context, orgID, accountID string) (castellan.BillingFacts, error) {
	a, err := findAccountAttributes(ctx, f.db.queryRow, orgID, accountID)
	if err != nil {
		return castellan.BillingFacts{}, err
	}
	return castellan.BillingFacts{PaymentMethodRegistered: a.PaymentMethodRegistered, CreditAssigned: a.CreditAssigned}, nil
}

// AccountResources implements castellan.ResourceInventory.
func (f AttributeFacts) AccountResources(ctx context.Context, orgID, accountID string) (castellan.ResourceFacts, error) {
	a, err := findAccountAttributes(ctx, f.db.queryRow, orgID, accountID)
	if err != nil {
		return castellan.ResourceFacts{}, err
	}
	return castellan.ResourceFacts{ResourcesInUse: a.ResourcesInUse, IdentityCenterDelegated: a.IdentityCenterDelegated,
		CloudControl: a.CloudControl, Delegates: a.Delegates}, nil
}

// accountFacts gathers what exclusion and deletion of the account are
// decided on, from the store's Billing and ResourceInventory, at the
// store's clock.
func (db *DB) accountFacts(ctx context.Context, a *castellan.Account) (castellan.AccountFacts, error) {
	billing, err := db.billing.AccountBilling(ctx, a.OrganizationID, a.ID)
	if err != nil {
		return castellan.AccountFacts{}, fmt.Errorf("billing facts of account %s: %w", a.ID, err)
	}
	resources, err := db.inventory.AccountResources(ctx, a.OrganizationID, a.ID)
	if err != nil {
		return castellan.AccountFacts{}, fmt.Errorf("resource facts of account %s: %w", a.ID, err)
	}
	return castellan.AccountFacts{Account: a, Billing: billing, Resources: resources, Now: db.now()}, nil
}

// FindAccountPreconditions implements castellan.AccountService.
func (s *AccountService) FindAccountPreconditions(ctx context.Context, orgID, id string) (*castellan.AccountPreconditions, error) {
	a, err := s.FindAccountByID(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	facts, err := s.db.accountFacts(ctx, a)
	if err != nil {
		return nil, err
	}
	return &castellan.AccountPreconditions{Exclusion: castellan.ExclusionChecks(facts), Deletion: castellan.DeletionChecks(facts)}, nil
}
