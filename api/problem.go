package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
	"github.com/danielgtaylor/huma/v2"
)

// Problem is an RFC 9457 problem document, the body of every error
// response of the API.
type Problem struct {
	// Type identifies the problem; it is urn:castellan:problem:<code>.
	Type   string `json:"type" doc:"URI naming the problem type: urn:castellan:problem:<code>."`
	Title  string `json:"title" doc:"Short summary of the HTTP status."`
	Status int    `json:"status" doc:"HTTP status code."`
	Detail string `json:"detail" doc:"What went wrong with this request, for humans."`
	// Code is stable: clients switch on it.
	Code      string `json:"code" doc:"Stable machine-readable error code, such as project.name_taken or request.invalid_field."`
	RequestID string `json:"requestId,omitempty" doc:"ID of the request, also in the X-Request-Id header; quote it to the operator."`
	// Errors names each bad field and the rule it breaks.
	Errors []castellan.FieldError `json:"errors,omitempty" doc:"One entry per bad field: the field (body.name, path.org, query.page_size), the rule and a message."`
}

// Error implements error.
func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// ContentType implements huma.ContentTypeFilter: problems are
// application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// problemFor turns any error into the problem the client sees. Internal
// errors are logged with the request ID and shown only as "internal error".
func problemFor(ctx context.Context, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		if p.RequestID == "" {
			p.RequestID = castellan.RequestInfoFrom(ctx).RequestID
		}
		return p
	}
	e := web.PublicError(ctx, err)
	return newProblem(ctx, web.Status(e.Kind), e.Code, e.Message, e.Fields)
}

func newProblem(ctx context.Context, status int, code, detail string, fields []castellan.FieldError) *Problem {
	web.NoteErrorCode(ctx, code)
	return &Problem{
		Type:      "urn:castellan:problem:" + code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Code:      code,
		RequestID: castellan.RequestInfoFrom(ctx).RequestID,
		Errors:    fields,
	}
}

// writeProblem renders err as problem+json outside huma (middleware).
func writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	WriteProblem(w, r, 0, err)
}

// WriteProblem renders err as the API's problem+json; a status other than
// 0 replaces the one of err's kind. It is a web.ErrorWriter.
func WriteProblem(w http.ResponseWriter, r *http.Request, status int, err error) {
	p := problemFor(r.Context(), err)
	if status != 0 {
		p.Status, p.Title = status, http.StatusText(status)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// humaError replaces huma.NewErrorWithContext, so that huma's own errors
// (validation, unreadable bodies) and errors returned by handlers become
// the same Problem.
func humaError(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
	var ctx context.Context = context.Background()
	if hctx != nil {
		ctx = hctx.Context()
	}
	for _, err := range errs {
		var e *castellan.Error
		var p *Problem
		if errors.As(err, &e) || errors.As(err, &p) {
			return problemFor(ctx, wireError(hctx, err))
		}
	}
	var fields []castellan.FieldError
	for _, err := range errs {
		var d *huma.ErrorDetail
		if errors.As(err, &d) {
			fields = append(fields, fieldFromDetail(d))
		}
	}
	switch {
	case status == http.StatusUnprocessableEntity:
		return newProblem(ctx, http.StatusBadRequest, castellan.CodeInvalidField, fieldsDetail(fields, msg), fields)
	case status == http.StatusBadRequest && len(fields) > 0 && fields[0].Field == "body":
		// The body is not JSON, or not JSON of the right shape.
		for i := range fields {
			fields[i].Rule = "json"
		}
		return newProblem(ctx, http.StatusBadRequest, castellan.CodeInvalidJSON, "request body is not valid JSON: "+fields[0].Message, fields)
	case status == http.StatusBadRequest:
		return newProblem(ctx, http.StatusBadRequest, castellan.CodeInvalidField, fieldsDetail(fields, msg), fields)
	case status == http.StatusUnsupportedMediaType:
		return newProblem(ctx, status, "request.unsupported_media_type", "the body must be JSON: send Content-Type: application/json", fields)
	case status == http.StatusRequestEntityTooLarge:
		return newProblem(ctx, status, castellan.CodeBodyTooLarge, msg, nil)
	case status >= 500:
		if len(errs) > 0 {
			web.Logger(ctx).Error("internal error", "err", errors.Join(errs...))
		}
		return newProblem(ctx, status, castellan.CodeInternal, "internal error; quote the request ID to the operator", nil)
	}
	return newProblem(ctx, status, "request."+strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_"), msg, fields)
}

func fieldsDetail(fields []castellan.FieldError, fallback string) string {
	if len(fields) == 0 {
		return fallback
	}
	return castellan.Invalid(fields).(*castellan.Error).Message
}

// fieldFromDetail names the rule behind one of huma's validation messages.
func fieldFromDetail(d *huma.ErrorDetail) castellan.FieldError {
	f := castellan.FieldError{Field: d.Location, Message: d.Message, Rule: "invalid"}
	if name, ok := strings.CutPrefix(d.Message, "expected required property "); ok {
		name = strings.TrimSuffix(name, " to be present")
		f.Field, f.Rule, f.Message = d.Location+"."+name, "required", "is required"
		return f
	}
	for _, r := range []struct{ prefix, rule string }{
		{"unexpected property", "unknownField"},
		{"unknown content type", "contentType"},
		{"unknown query parameter", "unknownField"},
		{"expected length >=", "minLength"},
		{"expected length <=", "maxLength"},
		{"expected number >", "minimum"},
		{"expected number <", "maximum"},
		{"expected string to match pattern", "pattern"},
		{"expected string to be", "format"},
		{"expected value to be one of", "enum"},
		{"expected array length >=", "minItems"},
		{"expected array length <=", "maxItems"},
		{"invalid integer", "type"},
		{"invalid date/time", "format"},
		{"expected ", "type"},
	} {
		if strings.HasPrefix(d.Message, r.prefix) {
			f.Rule = r.rule
			break
		}
	}
	return f
}
