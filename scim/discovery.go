package scim

import (
	"net/http"
	"strings"
)

// The discovery documents (RFC 7644 §4) say what this endpoint does:
// PATCH, filters (eq on the attributes listUsers and listGroups name, at
// most 100 results a page), bearer tokens; no bulk, sort, ETags or
// password changes.

type supported struct {
	Supported bool `json:"supported"`
}

type filterSupport struct {
	Supported  bool `json:"supported"`
	MaxResults int  `json:"maxResults"`
}

type bulkSupport struct {
	Supported      bool `json:"supported"`
	MaxOperations  int  `json:"maxOperations"`
	MaxPayloadSize int  `json:"maxPayloadSize"`
}

type authScheme struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Primary     bool   `json:"primary"`
}

type serviceProviderConfig struct {
	Schemas               []string      `json:"schemas"`
	DocumentationURI      string        `json:"documentationUri,omitempty"`
	Patch                 supported     `json:"patch"`
	Bulk                  bulkSupport   `json:"bulk"`
	Filter                filterSupport `json:"filter"`
	ChangePassword        supported     `json:"changePassword"`
	Sort                  supported     `json:"sort"`
	Etag                  supported     `json:"etag"`
	AuthenticationSchemes []authScheme  `json:"authenticationSchemes"`
	Meta                  struct {
		ResourceType string `json:"resourceType"`
		Location     string `json:"location"`
	} `json:"meta"`
}

func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *request) error {
	c := serviceProviderConfig{
		Schemas: []string{schemaSPConfig}, Patch: supported{true}, Filter: filterSupport{Supported: true, MaxResults: maxCount},
		AuthenticationSchemes: []authScheme{{Type: "oauthbearertoken", Name: "SCIM token",
			Description: "A SCIM token of the organization (POST /v1/organizations/{org}/scimTokens) as Authorization: Bearer.", Primary: true}},
	}
	c.Meta.ResourceType, c.Meta.Location = "ServiceProviderConfig", r.base+"/ServiceProviderConfig"
	writeSCIM(w, http.StatusOK, c)
	return nil
}

type resourceType struct {
	Schemas          []string `json:"schemas"`
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Endpoint         string   `json:"endpoint"`
	Description      string   `json:"description"`
	Schema           string   `json:"schema"`
	SchemaExtensions []any    `json:"schemaExtensions"`
	Meta             struct {
		ResourceType string `json:"resourceType"`
		Location     string `json:"location"`
	} `json:"meta"`
}

func (s *Server) resourceTypeList(r *request) []resourceType {
	types := []resourceType{
		{ID: "User", Name: "User", Endpoint: "/Users", Description: "A user of the organization", Schema: schemaUser},
		{ID: "Group", Name: "Group", Endpoint: "/Groups", Description: "A group of users of the organization", Schema: schemaGroup},
	}
	for i := range types {
		types[i].Schemas, types[i].SchemaExtensions = []string{schemaResType}, []any{}
		types[i].Meta.ResourceType, types[i].Meta.Location = "ResourceType", r.base+"/ResourceTypes/"+types[i].ID
	}
	return types
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *request) error {
	writeAll(w, s.resourceTypeList(r))
	return nil
}

// writeAll writes every item as one list.
func writeAll[T any](w http.ResponseWriter, items []T) {
	resources := make([]any, len(items))
	for i, item := range items {
		resources[i] = item
	}
	writeList(w, page{start: 1, count: len(resources)}, len(resources), resources)
}

func (s *Server) resourceType(w http.ResponseWriter, r *request) error {
	for _, t := range s.resourceTypeList(r) {
		if t.ID == r.PathValue("name") {
			writeSCIM(w, http.StatusOK, t)
			return nil
		}
	}
	return &Error{Status: http.StatusNotFound, Detail: "no resource type " + r.PathValue("name")}
}

// attribute describes one attribute of a schema (RFC 7643 §7).
type attribute struct {
	Name          string      `json:"name"`
	Type          string      `json:"type"`
	MultiValued   bool        `json:"multiValued"`
	Description   string      `json:"description"`
	Required      bool        `json:"required"`
	CaseExact     bool        `json:"caseExact"`
	Mutability    string      `json:"mutability"`
	Returned      string      `json:"returned"`
	Uniqueness    string      `json:"uniqueness"`
	SubAttributes []attribute `json:"subAttributes,omitempty"`
}

func attr(name, typ, mutability, description string) attribute {
	return attribute{Name: name, Type: typ, Description: description, Mutability: mutability, Returned: "default", Uniqueness: "none"}
}

type schemaDoc struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Attributes  []attribute `json:"attributes"`
	Meta        struct {
		ResourceType string `json:"resourceType"`
		Location     string `json:"location"`
	} `json:"meta"`
}

func (s *Server) schemaList(r *request) []schemaDoc {
	userName := attr("userName", "string", "immutable", "The user's login ID: 2–255 of A-Z a-z 0-9 - @ . _ + and inner spaces; unique, case-insensitively.")
	userName.Required, userName.Uniqueness = true, "server"
	emails := attr("emails", "complex", "readWrite", "The primary (else work, else first) email is the user's ID email, unique in the organization.")
	emails.MultiValued = true
	emails.SubAttributes = []attribute{attr("value", "string", "readWrite", "An email address."), attr("type", "string", "readWrite", "work, home, other."),
		attr("primary", "boolean", "readWrite", "The ID email.")}
	name := attr("name", "complex", "readWrite", "The person's names: letters, digits and spaces, 2–255 each.")
	name.SubAttributes = []attribute{attr("givenName", "string", "readWrite", "First name."), attr("middleName", "string", "readWrite", "Middle name."),
		attr("familyName", "string", "readWrite", "Last name."), attr("formatted", "string", "readOnly", "The names together.")}
	members := attr("members", "complex", "readWrite", "Users of the organization; a group holds no groups.")
	members.MultiValued = true
	members.SubAttributes = []attribute{attr("value", "string", "immutable", "The user's id."), attr("$ref", "reference", "immutable", "The user's URI."),
		attr("display", "string", "readOnly", "The user's email.")}
	displayName := attr("displayName", "string", "readWrite", "The group's name: 1–100 characters, unique in the organization.")
	displayName.Required, displayName.Uniqueness = true, "server"
	docs := []schemaDoc{
		{ID: schemaUser, Name: "User", Description: "A user of the organization", Attributes: []attribute{
			userName, name, attr("displayName", "string", "readWrite", "The user's name: 2–30 printable characters."),
			attr("nickName", "string", "readWrite", "Up to 30 printable characters."), emails,
			attr("active", "boolean", "readWrite", "false disables the user: its sessions and tokens stop at once."),
		}},
		{ID: schemaGroup, Name: "Group", Description: "A group of users of the organization", Attributes: []attribute{displayName, members}},
	}
	for i := range docs {
		docs[i].Schemas = []string{schemaSchema}
		docs[i].Meta.ResourceType, docs[i].Meta.Location = "Schema", r.base+"/Schemas/"+docs[i].ID
	}
	return docs
}

func (s *Server) schemas(w http.ResponseWriter, r *request) error {
	writeAll(w, s.schemaList(r))
	return nil
}

func (s *Server) schema(w http.ResponseWriter, r *request) error {
	for _, d := range s.schemaList(r) {
		if strings.EqualFold(d.ID, r.PathValue("id")) {
			writeSCIM(w, http.StatusOK, d)
			return nil
		}
	}
	return &Error{Status: http.StatusNotFound, Detail: "no schema " + r.PathValue("id")}
}
