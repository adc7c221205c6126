package api_test

import (
	"encoding/json"
	"fmt"
	"testing"

	c "github.com/castellan-iam/castellan"
)

// bounds are the lower and upper limit of a field: minLength and
// maxLength of a string, minItems and maxItems of an array, minimum and
// maximum of a number; 0 where the document states none.
type bounds struct{ min, max int }

// limitOf is the root constant behind each constrained field of the
// OpenAPI document: component schema and property, or query.<parameter>.
// A lower bound of 1 means "not empty".
var limitOf = map[string]bounds{
	"query.page_size": {0, c.MaxPageSize},
	"query.q":         {0, c.MaxUserQueryLength},

	"header.Idempotency-Key": {1, c.MaxIdempotencyKeyLength},
	"query.batchSize":        {0, c.MaxImportBatchSize},

	// /v1 keeps the sub-account API's narrower rule (the core holds
	// 2..255): c.CheckSubAccountRegistrations.
	"UserRegistrationBody.loginId":          {c.SubAccountMinLoginIDLength, c.SubAccountMaxLoginIDLength},
	"UserRegistrationBody.email":            {0, c.MaxEmailLength},
	"UserRegistrationBody.name":             {c.MinUserNameLength, c.MaxUserNameLength},
	"UserRegistrationBody.nickname":         {0, c.MaxNicknameLength},
	"UserRegistrationBody.firstName":        {0, c.MaxPersonNameLength},
	"UserRegistrationBody.middleName":       {0, c.MaxPersonNameLength},
	"UserRegistrationBody.lastName":         {0, c.MaxPersonNameLength},
	"UserRegistrationBody.contactEmail":     {0, c.MaxEmailLength},
	"UserRegistrationBody.consolePermitIps": {0, c.MaxAllowListItems},
	"UserRegistrationBody.apiAllowSources":  {0, c.MaxAllowListItems},
	"UserUpdateBody.email":                  {0, c.MaxEmailLength},
	"UserUpdateBody.name":                   {c.MinUserNameLength, c.MaxUserNameLength},
	"UserUpdateBody.nickname":               {0, c.MaxNicknameLength},
	"UserUpdateBody.firstName":              {0, c.MaxPersonNameLength},
	"UserUpdateBody.middleName":             {0, c.MaxPersonNameLength},
	"UserUpdateBody.lastName":               {0, c.MaxPersonNameLength},
	"UserUpdateBody.contactEmail":           {0, c.MaxEmailLength},
	"UserUpdateBody.consolePermitIps":       {0, c.MaxAllowListItems},
	"UserUpdateBody.apiAllowSources":        {0, c.MaxAllowListItems},
	"BatchRegisterBody.users":               {1, c.MaxBatchItems},

	"AccountInvitationsBody.emails": {1, c.MaxAccountInvitations},

	"GroupCreateBody.name":        {1, c.MaxGroupNameLength},
	"GroupCreateBody.description": {0, c.MaxGroupDescriptionLength},
	"GroupUpdateBody.name":        {1, c.MaxGroupNameLength},
	"GroupUpdateBody.description": {0, c.MaxGroupDescriptionLength},
	"MembersBody.userIds":         {1, c.MaxBatchItems},

	"RoleIdentityCreateBody.name":        {1, c.MaxRoleIdentityNameLength},
	"RoleIdentityCreateBody.description": {0, c.MaxRoleIdentityDescriptionLength},
	"SourceIdentityBody.id":              {0, c.MaxSourceIdentityLength},
	"SourceIdentityBody.provider":        {0, c.MaxSourceIdentityLength},

	"GrantItem.roleId":                     {1, c.MaxRoleIDLength},
	"GrantItem.scope":                      {1, c.MaxScopeLength},
	"Create-grantsRequest.grants":          {1, c.MaxBatchItems},
	"Delete-grantsRequest.grantIds":        {1, c.MaxBatchItems},
	"RolesScope.scope":                     {1, c.MaxScopeLength},
	"SetRolesBody.scope":                   {1, c.MaxScopeLength},
	"SetRolesBody.roleIds":                 {1, c.MaxBatchItems},
	"RemoveRolesBody.scope":                {1, c.MaxScopeLength},
	"RemoveRolesBody.roleIds":              {1, c.MaxBatchItems},
	"RoleCreateBody.name":                  {1, c.MaxRoleNameLength},
	"RoleCreateBody.description":           {0, c.MaxDescriptionLength},
	"RoleCreateBody.actions":               {1, c.MaxRoleActions},
	"RoleUpdateBody.name":                  {1, c.MaxRoleNameLength},
	"RoleUpdateBody.description":           {0, c.MaxDescriptionLength},
	"RoleUpdateBody.actions":               {1, c.MaxRoleActions},
	"AuthzCheck.action":                    {c.MinActionLength, c.MaxActionLength},
	"AuthzCheck.resource":                  {1, c.MaxScopeLength},
	"LookupResourcesBody.action":           {c.MinActionLength, c.MaxActionLength},
	"LookupSubjectsBody.action":            {c.MinActionLength, c.MaxActionLength},
	"LookupSubjectsBody.resource":          {1, c.MaxScopeLength},
	"LookupResourcesBody.minRevision":      {0, 0},
	"LookupSubjectsBody.minRevision":       {0, 0},
	"AuthorizeInput.action":                {c.MinActionLength, c.MaxActionLength},
	"AuthorizeInput.resource":              {1, c.MaxScopeLength},
	"AuthorizeInput.minRevision":           {0, 0},
	"Authorize-batchRequest.minRevision":   {0, 0},
	"Authorize-batchRequest.checks":        {1, c.MaxAuthorizeChecks},
	"OrganizationCreateBody.name":          {1, c.MaxOrganizationNameLength},
	"OrganizationCreateBody.description":   {0, c.MaxDescriptionLength},
	"OrganizationUpdateBody.name":          {1, c.MaxOrganizationNameLength},
	"OrganizationUpdateBody.description":   {0, c.MaxDescriptionLength},
	"ProjectCreateBody.name":               {1, c.MaxProjectNameLength},
	"ProjectCreateBody.description":        {0, c.MaxDescriptionLength},
	"ProjectUpdateBody.name":               {1, c.MaxProjectNameLength},
	"ProjectUpdateBody.description":        {0, c.MaxDescriptionLength},
	"OrgUnitCreateBody.name":               {1, c.MaxOUNameLength},
	"OrgUnitCreateBody.description":        {0, c.MaxLongDescriptionLength},
	"OrgUnitCreateBody.policyIds":          {0, c.MaxPoliciesPerTarget},
	"OrgUnitUpdateBody.name":               {1, c.MaxOUNameLength},
	"OrgUnitUpdateBody.description":        {0, c.MaxLongDescriptionLength},
	"ServiceAccountCreateBody.name":        {1, c.MaxServiceAccountNameLength},
	"ServiceAccountCreateBody.description": {0, c.MaxDescriptionLength},
	"ServiceAccountUpdateBody.name":        {1, c.MaxServiceAccountNameLength},
	"ServiceAccountUpdateBody.description": {0, c.MaxDescriptionLength},
	"AccessKeyCreateBody.name":             {1, c.MaxAccessKeyNameLength},
	"UserAccessKeyCreateBody.name":         {1, c.MaxAccessKeyNameLength},
	"AccessKeyUpdateBody.name":             {1, c.MaxAccessKeyNameLength},
	"TokenExchangeBody.keyId":              {0, c.MaxAccessKeyIDInput},
	"TokenExchangeBody.secret":             {0, c.MaxAccessKeySecretInput},
	"IntrospectBody.token":                 {0, c.MaxTokenInput},
	"AcceptInvitationBody.token":           {0, c.MaxInvitationTokenInput},

	"AccountCreateBody.name":               {c.MinAccountNameLength, c.MaxAccountNameLength},
	"AccountCreateBody.email":              {0, c.MaxEmailLength},
	"AccountCreateBody.emailConfirmation":  {0, c.MaxEmailLength},
	"AccountCreateBody.iamRoleName":        {1, c.MaxIAMRoleNameLength},
	"AccountUpdateBody.name":               {c.MinAccountNameLength, c.MaxAccountNameLength},
	"AccountAttributesBody.resourcesInUse": {0, 0},
	"AccountAttributesBody.delegates":      {0, c.MaxAccountDelegates},
	"AccountAttributes.resourcesInUse":     {0, 0},
	"AccountAttributes.delegates":          {0, c.MaxAccountDelegates},
	"ControlPolicyCreateBody.name":         {1, c.MaxControlPolicyNameLength},
	"ControlPolicyCreateBody.description":  {0, c.MaxLongDescriptionLength},
	"ControlPolicyCreateBody.document":     {1, c.MaxControlPolicyDocumentLength},
	"ControlPolicyUpdateBody.name":         {1, c.MaxControlPolicyNameLength},
	"ControlPolicyUpdateBody.description":  {0, c.MaxLongDescriptionLength},
	"ControlPolicyUpdateBody.document":     {1, c.MaxControlPolicyDocumentLength},
	"FederationCreateBody.name":            {1, c.MaxFederationNameLength},
	"FederationCreateBody.description":     {0, c.MaxDescriptionLength},
	"FederationCreateBody.issuer":          {1, c.MaxIssuerLength},
	"FederationCreateBody.clientId":        {1, c.MaxClientIDLength},
	"FederationCreateBody.clientSecret":    {0, c.MaxClientSecretLength},
	"FederationCreateBody.scopes":          {0, c.MaxFederationScopes},
	"FederationCreateBody.emailClaim":      {0, c.MaxClaimNameLength},
	"FederationCreateBody.nameClaim":       {0, c.MaxClaimNameLength},
	"FederationCreateBody.groupsClaim":     {0, c.MaxClaimNameLength},
	"FederationCreateBody.allowedDomains":  {0, c.MaxAllowedDomains},
	"FederationCreateBody.groupMappings":   {0, c.MaxGroupMappings},
	"FederationUpdateBody.name":            {1, c.MaxFederationNameLength},
	"FederationUpdateBody.description":     {0, c.MaxDescriptionLength},
	"FederationUpdateBody.issuer":          {1, c.MaxIssuerLength},
	"FederationUpdateBody.clientId":        {1, c.MaxClientIDLength},
	"FederationUpdateBody.clientSecret":    {0, c.MaxClientSecretLength},
	"FederationUpdateBody.scopes":          {0, c.MaxFederationScopes},
	"FederationUpdateBody.emailClaim":      {0, c.MaxClaimNameLength},
	"FederationUpdateBody.nameClaim":       {0, c.MaxClaimNameLength},
	"FederationUpdateBody.groupsClaim":     {0, c.MaxClaimNameLength},
	"FederationUpdateBody.allowedDomains":  {0, c.MaxAllowedDomains},
	"FederationUpdateBody.groupMappings":   {0, c.MaxGroupMappings},
	"ScimTokenCreateBody.name":             {1, c.MaxSCIMTokenNameLength},
	"ScimTokenCreateBody.validDays":        {0, c.MaxSCIMTokenDays},
	// The customer users API (compat/cloudru).
	"CloudruAddFederatedUsersRequest.emails": {1, c.MaxBatchItems},
}

// limitKeywords pairs the lower and upper bound keywords of JSON Schema.
var limitKeywords = [][2]string{{"minLength", "maxLength"}, {"minItems", "maxItems"}, {"minimum", "maximum"}}

// TestOpenAPILimits checks that every bound the document states equals
// the root constant the services validate with: the struct tags of the
// API cannot name a constant, so a change to one must fail here.
func TestOpenAPILimits(t *testing.T) {
	e := newEnv(t, "sqlite://"+t.TempDir()+"/castellan.db")
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string         `json:"name"`
				In     string         `json:"in"`
				Schema map[string]any `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(fetchOpenAPI(t, e), &doc); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	check := func(key string, schema map[string]any) {
		var got bounds
		constrained := false
		for _, kw := range limitKeywords {
			if v, ok := schema[kw[0]].(float64); ok {
				got.min, constrained = int(v), true
			}
			if v, ok := schema[kw[1]].(float64); ok {
				got.max, constrained = int(v), true
			}
		}
		if !constrained {
			return
		}
		want, ok := limitOf[key]
		switch {
		case !ok:
			t.Errorf("%s: bounds %d..%d in the document but no root constant in limitOf", key, got.min, got.max)
		case got != want:
			t.Errorf("%s: the document says %d..%d, the root constants %d..%d", key, got.min, got.max, want.min, want.max)
		}
		used[key] = true
	}
	for path, methods := range doc.Paths {
		for method, op := range methods {
			for _, p := range op.Parameters {
				if p.In == "path" {
					check(fmt.Sprintf("%s %s path.%s", method, path, p.Name), p.Schema)
				} else {
					check(p.In+"."+p.Name, p.Schema)
				}
			}
		}
	}
	for name, schema := range doc.Components.Schemas {
		for prop, s := range schema.Properties {
			check(name+"."+prop, s)
		}
	}
	for key := range limitOf {
		if !used[key] {
			t.Errorf("%s: in limitOf but not constrained in the document", key)
		}
	}
}
