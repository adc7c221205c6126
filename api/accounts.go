package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// AccountPath names one account of one organization.
type AccountPath struct {
	Org     string `path:"org" doc:"Organization ID (a UUID)."`
	Account string `path:"account" doc:"Account ID (a UUID)."`
}

type accountOutput struct{ Body *castellan.Account }

type accountCreateBody struct {
	ParentID          string   `json:"parentId,omitempty" doc:"The root (the organization's ID) or an OU the account goes under; the root when absent."`
	Name              string   `json:"name" minLength:"3" maxLength:"30" doc:"3 to 30 letters (any script), digits, spaces and + = - _ @ [ ] ( ) , . — unique in the organization." example:"sales-prod"`
	Email             string   `json:"email" maxLength:"254" doc:"Email of the account's root user: the organization's user with it, or a new one invited to set a password." example:"root@sales.example"`
	EmailConfirmation string   `json:"emailConfirmation" maxLength:"254" doc:"The email again; must equal email."`
	IAMRoleName       string   `json:"iamRoleName" minLength:"1" maxLength:"64" doc:"Role the organization's administrators assume in the account: English letters, digits and + = - _ @ , ." example:"OrganizationAccountAccessRole"`
	PolicyIDs         []string `json:"policyIds,omitempty" doc:"Control policies attached at creation; FullAccess when absent."`
}

type accountUpdateBody struct {
	Name *string `json:"name,omitempty" minLength:"3" maxLength:"30" doc:"New name."`
}

type accountMoveBody struct {
	ParentID string `json:"parentId" doc:"The root (the organization's ID) or an OU."`
}

type accountDeleteBody struct {
	Password string `json:"password,omitempty" doc:"The caller's own console password; the operator, who has none, omits it. A wrong one counts towards the caller's lockout."`
	Name     string `json:"name" doc:"The account's name, typed to confirm."`
}

type accountAttributesBody struct {
	PaymentMethodRegistered bool     `json:"paymentMethodRegistered,omitempty" doc:"A payment method is registered for the account; false when absent."`
	CreditAssigned          bool     `json:"creditAssigned,omitempty" doc:"Credit is assigned to the account; false when absent."`
	ResourcesInUse          int      `json:"resourcesInUse,omitempty" minimum:"0" doc:"Number of resources the account has in use; 0 when absent."`
	IdentityCenterDelegated bool     `json:"identityCenterDelegated,omitempty" doc:"Authority over the account is delegated by an identity center; false when absent."`
	CloudControl            string   `json:"cloudControl,omitempty" enum:"none,registering,registered" doc:"Registration in Cloud Control; none when absent."`
	Delegates               []string `json:"delegates,omitempty" maxItems:"20" doc:"Emails of the users with delegation for the account; they get its deletion notice."`
}

type accountAttributesOutput struct{ Body *castellan.AccountAttributes }

type accountPreconditionsOutput struct {
	Body *castellan.AccountPreconditions
}

type listAccountsOutput struct {
	Body struct {
		Accounts      []*castellan.Account `json:"accounts" nullable:"false"`
		NextPageToken string               `json:"nextPageToken,omitempty" doc:"Token of the next page; absent on the last page."`
	}
}

func (s *Server) registerAccounts() {
	const tag = "Accounts"
	base := "/v1/organizations/{org}/accounts"
	register(s, op{
		id: "create-account", method: http.MethodPost, path: base, tag: tag,
		action: castellan.ActionCreateAccount, status: http.StatusCreated,
		errors:  []int{http.StatusNotFound, http.StatusConflict, http.StatusPreconditionFailed},
		summary: "Create an account",
		desc: "Creates an account under the root or an OU with its root user (the organization's user with the email, or a new one invited by mail), " +
			"who gets account.admin on it. Fails with account.name_taken, with account.limit_reached when the organization holds its most accounts, " +
			"and with user.limit_reached when a new root user would pass its user limit.",
	}, s.createAccount)
	register(s, op{
		id: "list-accounts", method: http.MethodGet, path: base, tag: tag,
		action: castellan.ActionListAccounts, errors: []int{http.StatusNotFound},
		summary: "List accounts", desc: "Accounts of the organization, or of one parent, by name, with their email, joined time and addition type.",
	}, s.listAccounts)
	register(s, op{
		id: "get-account", method: http.MethodGet, path: base + "/{account}", tag: tag,
		action: castellan.ActionGetAccount, errors: []int{http.StatusNotFound},
		summary: "Get an account", desc: "The account with its creator, editor, times and the nodes above it.",
	}, s.getAccount)
	register(s, op{
		id: "update-account", method: http.MethodPatch, path: base + "/{account}", tag: tag,
		action: castellan.ActionUpdateAccount, errors: []int{http.StatusNotFound, http.StatusConflict},
		summary: "Rename an account", desc: "Changes the fields present; fails with account.name_taken.",
	}, s.updateAccount)
	register(s, op{
		id: "move-account", method: http.MethodPost, path: base + "/{account}:move", tag: tag,
		action: castellan.ActionMoveAccount, errors: []int{http.StatusNotFound},
		summary: "Move an account", desc: "Puts the account, with its projects, under the root or an OU. The caller needs the move on the account and on the destination.",
	}, s.moveAccount)
	register(s, op{
		id: "delete-account", method: http.MethodPost, path: base + "/{account}:delete", tag: tag,
		action: castellan.ActionDeleteAccount, errors: []int{http.StatusNotFound, http.StatusPreconditionFailed},
		summary: "Delete an account",
		desc: "Deletes the account with its projects and everything in them, and mails a notice to the organization's creating administrator, " +
			"the root user and the delegates. The caller confirms with its password (auth.wrong_password) and the account's name typed " +
			"(account.name_mismatch); an unmet precondition answers 412 with its code, every unmet one listed in errors.",
	}, s.deleteAccount)
	register(s, op{
		id: "get-account-preconditions", method: http.MethodGet, path: base + "/{account}/preconditions", tag: tag,
		action: castellan.ActionGetAccount, errors: []int{http.StatusNotFound},
		summary: "Check an account's preconditions", desc: "The checklists of excluding and deleting the account as they stand now, each check with the code of its refusal.",
	}, s.getAccountPreconditions)
	register(s, op{
		id: "get-account-attributes", method: http.MethodGet, path: base + "/{account}/attributes", tag: tag,
		action: castellan.ActionGetAccountAttributes, errors: []int{http.StatusNotFound},
		summary: "Get an account's attributes", desc: "The billing and inventory facts that exclusion and deletion are decided on.",
	}, s.getAccountAttributes)
	register(s, op{
		id: "set-account-attributes", method: http.MethodPut, path: base + "/{account}/attributes", tag: tag,
		action: castellan.ActionSetAccountAttributes, errors: []int{http.StatusNotFound},
		summary: "Set an account's attributes", desc: "Replaces the billing and inventory facts; the operator's systems only.",
	}, s.setAccountAttributes)
}

func (s *Server) createAccount(ctx context.Context, in *struct {
	OrgPath
	Body accountCreateBody
}) (*accountOutput, error) {
	b := in.Body
	if b.ParentID == "" {
		b.ParentID = in.Org
	}
	a, err := s.services.Accounts.CreateAccount(ctx, in.Org, castellan.AccountCreate{ParentID: b.ParentID, Name: b.Name, Email: b.Email,
		EmailConfirmation: b.EmailConfirmation, IAMRoleName: b.IAMRoleName, PolicyIDs: b.PolicyIDs})
	if err != nil {
		return nil, err
	}
	return &accountOutput{Body: a}, nil
}

func (s *Server) listAccounts(ctx context.Context, in *struct {
	OrgPath
	PageParams
	ParentID string `query:"parent_id" doc:"Only the accounts directly under this node (the root or an OU)."`
}) (*listAccountsOutput, error) {
	f := castellan.AccountFilter{PageSize: in.PageSize, PageToken: in.PageToken}
	if in.ParentID != "" {
		f.ParentID = &in.ParentID
	}
	accounts, next, err := s.services.Accounts.FindAccounts(ctx, in.Org, f)
	if err != nil {
		return nil, err
	}
	out := &listAccountsOutput{}
	out.Body.Accounts, out.Body.NextPageToken = nonNil(accounts), next
	return out, nil
}

func (s *Server) getAccount(ctx context.Context, in *AccountPath) (*accountOutput, error) {
	a, err := s.services.Accounts.FindAccountByID(ctx, in.Org, in.Account)
	if err != nil {
		return nil, err
	}
	return &accountOutput{Body: a}, nil
}

func (s *Server) updateAccount(ctx context.Context, in *struct {
	AccountPath
	Body accountUpdateBody
}) (*accountOutput, error) {
	a, err := s.services.Accounts.UpdateAccount(ctx, in.Org, in.Account, castellan.AccountUpdate{Name: in.Body.Name})
	if err != nil {
		return nil, err
	}
	return &accountOutput{Body: a}, nil
}

func (s *Server) moveAccount(ctx context.Context, in *struct {
	AccountPath
	Body accountMoveBody
}) (*accountOutput, error) {
	a, err := s.services.Accounts.MoveAccount(ctx, in.Org, in.Account, in.Body.ParentID)
	if err != nil {
		return nil, err
	}
	return &accountOutput{Body: a}, nil
}

func (s *Server) deleteAccount(ctx context.Context, in *struct {
	AccountPath
	Body accountDeleteBody
}) (*revisionOutput, error) {
	rev, err := s.services.Accounts.DeleteAccount(ctx, in.Org, in.Account, castellan.AccountDeletion{Password: in.Body.Password, Name: in.Body.Name})
	if err != nil {
		return nil, err
	}
	return revisionOf(rev), nil
}

func (s *Server) getAccountPreconditions(ctx context.Context, in *AccountPath) (*accountPreconditionsOutput, error) {
	p, err := s.services.Accounts.FindAccountPreconditions(ctx, in.Org, in.Account)
	if err != nil {
		return nil, err
	}
	return &accountPreconditionsOutput{Body: p}, nil
}

func (s *Server) getAccountAttributes(ctx context.Context, in *AccountPath) (*accountAttributesOutput, error) {
	a, err := s.services.Accounts.FindAccountAttributes(ctx, in.Org, in.Account)
	if err != nil {
		return nil, err
	}
	return &accountAttributesOutput{Body: a}, nil
}

func (s *Server) setAccountAttributes(ctx context.Context, in *struct {
	AccountPath
	Body accountAttributesBody
}) (*accountAttributesOutput, error) {
	b := in.Body
	a, err := s.services.Accounts.SetAccountAttributes(ctx, in.Org, in.Account, castellan.AccountAttributes{
		PaymentMethodRegistered: b.PaymentMethodRegistered, CreditAssigned: b.CreditAssigned, ResourcesInUse: b.ResourcesInUse,
		IdentityCenterDelegated: b.IdentityCenterDelegated, CloudControl: b.CloudControl, Delegates: b.Delegates})
	if err != nil {
		return nil, err
	}
	return &accountAttributesOutput{Body: a}, nil
}
