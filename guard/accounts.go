package guard

import (
	"context"

	"github.com/castellan-iam/castellan"
)

// accounts guards the accounts of an organization: reading, renaming and
// deleting an account are authorized on the account itself, listing on
// the node whose accounts are listed (the root when none is named), and
// creating and moving on the node the account goes under, so that a role
// granted on an OU covers the accounts below it. The billing and
// inventory attributes are the operator's systems' to set.
type accounts struct {
	g    *guard
	next castellan.AccountService
}

var _ castellan.AccountService = (*accounts)(nil)

// allowAccount is allowNode for an account: an unknown account, or a node
// that is no account, is "account not found".
func (s *accounts) allowAccount(ctx context.Context, orgID, id string, action castellan.Action) error {
	if _, err := member(ctx, orgID); err != nil {
		return err
	}
	if err := castellan.CheckID("accountId", id); err != nil {
		return err
	}
	notFound := castellan.Errorf(castellan.ENOTFOUND, castellan.CodeAccountNotFound, "account %s not found", id)
	n, err := s.g.raw.Nodes.FindNodeByID(ctx, orgID, id)
	if castellan.ErrorKind(err) == castellan.ENOTFOUND || err == nil && n.Kind != castellan.NodeAccount {
		return notFound
	}
	if err != nil {
		return err
	}
	return s.g.allow(ctx, orgID, action, n.Scope(), notFound)
}

func (s *accounts) FindAccountByID(ctx context.Context, orgID, id string) (*castellan.Account, error) {
	if err := s.allowAccount(ctx, orgID, id, castellan.ActionGetAccount); err != nil {
		return nil, err
	}
	return s.next.FindAccountByID(ctx, orgID, id)
}

func (s *accounts) FindAccounts(ctx context.Context, orgID string, filter castellan.AccountFilter) ([]*castellan.Account, string, error) {
	parent := orgID
	if filter.ParentID != nil {
		parent = *filter.ParentID
	}
	if err := s.g.allowNode(ctx, orgID, "parentId", parent, castellan.ActionListAccounts); err != nil {
		return nil, "", err
	}
	return s.next.FindAccounts(ctx, orgID, filter)
}

func (s *accounts) CreateAccount(ctx context.Context, orgID string, create castellan.AccountCreate) (*castellan.Account, error) {
	if err := s.g.allowNode(ctx, orgID, "parentId", create.ParentID, castellan.ActionCreateAccount); err != nil {
		return nil, err
	}
	parent, err := s.g.raw.Nodes.FindNodeByID(ctx, orgID, create.ParentID)
	if err != nil {
		return nil, err
	}
	if err := s.g.holdsAccountAdmin(ctx, parent.Scope(), "parentId"); err != nil {
		return nil, err
	}
	return s.next.CreateAccount(ctx, orgID, create)
}

func (s *accounts) UpdateAccount(ctx context.Context, orgID, id string, update castellan.AccountUpdate) (*castellan.Account, error) {
	if err := s.allowAccount(ctx, orgID, id, castellan.ActionUpdateAccount); err != nil {
		return nil, err
	}
	return s.next.UpdateAccount(ctx, orgID, id, update)
}

// MoveAccount needs the move on the account, which leaves its parent,
// and on the destination, which receives it.
func (s *accounts) MoveAccount(ctx context.Context, orgID, id, parentID string) (*castellan.Account, error) {
	if err := s.allowAccount(ctx, orgID, id, castellan.ActionMoveAccount); err != nil {
		return nil, err
	}
	if err := s.g.allowNode(ctx, orgID, "parentId", parentID, castellan.ActionMoveAccount); err != nil {
		return nil, err
	}
	return s.next.MoveAccount(ctx, orgID, id, parentID)
}

func (s *accounts) DeleteAccount(ctx context.Context, orgID, id string, confirm castellan.AccountDeletion) (int64, error) {
	if err := s.allowAccount(ctx, orgID, id, castellan.ActionDeleteAccount); err != nil {
		return 0, err
	}
	return s.next.DeleteAccount(ctx, orgID, id, confirm)
}

func (s *accounts) FindAccountPreconditions(ctx context.Context, orgID, id string) (*castellan.AccountPreconditions, error) {
	if err := s.allowAccount(ctx, orgID, id, castellan.ActionGetAccount); err != nil {
		return nil, err
	}
	return s.next.FindAccountPreconditions(ctx, orgID, id)
}

func (s *accounts) FindAccountAttributes(ctx context.Context, orgID, id string) (*castellan.AccountAttributes, error) {
	if err := s.allowAccount(ctx, orgID, id, castellan.ActionGetAccountAttributes); err != nil {
		return nil, err
	}
	return s.next.FindAccountAttributes(ctx, orgID, id)
}

// SetAccountAttributes is the operator's: the attributes stand for the
// cloud's billing and inventory systems, which no user of the
// organization speaks for.
func (s *accounts) SetAccountAttributes(ctx context.Context, orgID, id string, attrs castellan.AccountAttributes) (*castellan.AccountAttributes, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	return s.next.SetAccountAttributes(ctx, orgID, id, attrs)
}
