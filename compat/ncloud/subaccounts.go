package ncloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"

	"github.com/castellan-iam/castellan"
)

// subAccountRequest is POST /sub-accounts' body, for the OpenAPI document;
// createSubAccount reads it field by field (decodeSubAccount).
type subAccountRequest struct {
	Active               bool                       `json:"active" doc:"Sub account status (true: enabled, false: disabled)."`
	CanAPIGatewayAccess  bool                       `json:"canAPIGatewayAccess" doc:"Whether access keys of the sub account may call the API."`
	CanConsoleAccess     bool                       `json:"canConsoleAccess" doc:"Whether the sub account may sign in to the console."`
	Email                string                     `json:"email,omitempty"`
	LoginID              string                     `json:"loginId" doc:"3 to 60 characters."`
	Memo                 string                     `json:"memo,omitempty" doc:"Notes, at most 300 bytes."`
	Name                 string                     `json:"name" doc:"2 to 30 characters."`
	NeedPasswordReset    bool                       `json:"needPasswordReset" doc:"Whether the user must change its password at its first sign-in."`
	NeedPasswordGenerate bool                       `json:"needPasswordGenerate,omitempty" doc:"Generate the password; it is returned once, as generatedPassword."`
	Password             string                     `json:"password,omitempty" doc:"Required unless needPasswordGenerate is true."`
	IsMfaMandatory       bool                       `json:"isMfaMandatory,omitempty"`
	UseConsolePermitIP   bool                       `json:"useConsolePermitIp,omitempty"`
	ConsolePermitIPs     []string                   `json:"consolePermitIps,omitempty" doc:"IP ranges (CIDR) the console may be used from."`
	UseAPIAllowSource    bool                       `json:"useApiAllowSource,omitempty"`
	APIAllowSources      []castellan.APIAllowSource `json:"apiAllowSources,omitempty"`
}

// subAccountRequired are the fields the seed marks required.
var subAccountRequired = []string{"active", "canAPIGatewayAccess", "canConsoleAccess", "loginId", "name", "needPasswordReset"}

// subAccountResult is POST /sub-accounts' answer (the platform's
// ProcessResultWithPassword).
type subAccountResult struct {
	Success           bool   `json:"success"`
	ID                string `json:"id" doc:"The sub account's ID."`
	GeneratedPassword string `json:"generatedPassword,omitempty" doc:"The generated password, shown this once: only when needPasswordGenerate was true."`
}

func (s *Server) createSubAccount(w http.ResponseWriter, r *http.Request) {
	reg, err := decodeSubAccount(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	principal, _ := castellan.PrincipalFrom(r.Context())
	if err := castellan.CheckSubAccountRegistrations([]castellan.UserRegistration{reg}, castellan.NoPrefix); err != nil {
		writeError(w, r, err)
		return
	}
	registered, err := s.services.Users.RegisterUser(r.Context(), principal.OrganizationID, reg)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, subAccountResult{Success: true, ID: registered.User.ID, GeneratedPassword: registered.GeneratedPassword})
}

// writeJSON answers 200 with v.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// decodeSubAccount reads the body as exactly the seed's fields: keys
// match exactly (Go's decoder would take "LOGINID" for loginId), unknown
// keys, values of the wrong type, missing required fields and anything
// after the object are refused, each bad field named. The plumbing has
// already refused duplicate keys in a JSON body.
func decodeSubAccount(r *http.Request) (castellan.UserRegistration, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return castellan.UserRegistration{}, invalid("body", "contentType", "must be JSON: send Content-Type: application/json")
		}
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return castellan.UserRegistration{}, castellan.Errorf(castellan.EINVALID, castellan.CodeInvalidJSON, "request body could not be read")
	}
	var raw map[string]json.RawMessage
	if err := decodeStrict(data, &raw); err != nil || raw == nil {
		return castellan.UserRegistration{}, invalid("body", "json", "must be one JSON object")
	}
	d := fieldDecoder{raw: raw}
	d.checkKeys("", raw, "active", "canAPIGatewayAccess", "canConsoleAccess", "email", "loginId", "memo", "name",
		"needPasswordReset", "needPasswordGenerate", "password", "isMfaMandatory", "useConsolePermitIp",
		"consolePermitIps", "useApiAllowSource", "apiAllowSources")
	for _, name := range subAccountRequired {
		if v, ok := raw[name]; !ok || isNull(v) {
			d.add(name, "required", "is required")
		}
	}
	reg := castellan.UserRegistration{Mode: castellan.ModePassword, AccountType: castellan.AccountLocal}
	var active bool
	d.value("active", &active)
	reg.Disabled = !active
	d.value("canAPIGatewayAccess", &reg.APIAccess)
	d.value("canConsoleAccess", &reg.ConsoleAccess)
	d.value("email", &reg.Email)
	d.value("loginId", &reg.LoginID)
	d.value("memo", &reg.Memo)
	d.value("name", &reg.Name)
	d.value("needPasswordReset", &reg.PasswordResetRequired)
	d.value("needPasswordGenerate", &reg.GeneratePassword)
	d.value("password", &reg.Password)
	d.value("isMfaMandatory", &reg.MFAMandatory)
	d.value("useConsolePermitIp", &reg.UseConsolePermitIP)
	d.value("consolePermitIps", &reg.ConsolePermitIPs)
	d.value("useApiAllowSource", &reg.UseAPIAllowSource)
	reg.APIAllowSources = d.allowSources()
	return reg, castellan.Invalid(d.fields)
}

// decodeStrict unmarshals the one JSON value of data into v; anything
// after it is an error.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }

func invalid(field, rule, msg string) error {
	return castellan.Invalid([]castellan.FieldError{{Field: field, Rule: rule, Message: msg}})
}

// fieldDecoder reads the fields of a JSON object one by one, collecting
// every bad one.
type fieldDecoder struct {
	raw    map[string]json.RawMessage
	fields []castellan.FieldError
}

func (d *fieldDecoder) add(field, rule, msg string) {
	d.fields = append(d.fields, castellan.FieldError{Field: field, Rule: rule, Message: msg})
}

// checkKeys refuses the keys of obj that are not one of known, exactly.
func (d *fieldDecoder) checkKeys(prefix string, obj map[string]json.RawMessage, known ...string) {
	var unknown []string
	for k := range obj {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	// Map order is random; the answer is not.
	slices.Sort(unknown)
	for _, k := range unknown {
		d.add(prefix+k, "unknownField", "is not a field of this request")
	}
}

// value decodes the field name, when present and not null, into v.
func (d *fieldDecoder) value(name string, v any) {
	data, ok := d.raw[name]
	if !ok || isNull(data) {
		return
	}
	if err := json.Unmarshal(data, v); err != nil {
		d.add(name, "type", "must be "+typeName(v))
	}
}

// allowSources decodes apiAllowSources, whose items must have exactly
// the keys type and source.
func (d *fieldDecoder) allowSources() []castellan.APIAllowSource {
	data, ok := d.raw["apiAllowSources"]
	if !ok || isNull(data) {
		return nil
	}
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		d.add("apiAllowSources", "type", "must be an array of objects {type, source}")
		return nil
	}
	sources := make([]castellan.APIAllowSource, len(items))
	for i, item := range items {
		prefix := fmt.Sprintf("apiAllowSources[%d].", i)
		d.checkKeys(prefix, item, "type", "source")
		item := fieldDecoder{raw: item}
		item.value("type", &sources[i].Type)
		item.value("source", &sources[i].Source)
		for _, f := range item.fields {
			d.add(prefix+f.Field, f.Rule, f.Message)
		}
	}
	return sources
}

// typeName names the JSON type of a field decoded into v.
func typeName(v any) string {
	switch v.(type) {
	case *bool:
		return "a boolean"
	case *string:
		return "a string"
	case *[]string:
		return "an array of strings"
	}
	return "of another type"
}
