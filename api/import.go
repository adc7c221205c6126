package api

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// ndjson is the media type of import streams, both ways.
const ndjson = "application/x-ndjson"

// importPathSuffix ends the path of the import, whose body is a stream
// (see StreamingBody).
const importPathSuffix = ":import"

// importStreamTimeout is how long the import waits for the client's next
// bytes, or for it to take the next progress line: the stream has no
// overall deadline, since a large import takes as long as it takes.
const importStreamTimeout = 30 * time.Second

// maxBufferedImportBody is the most of a request body net/http's HTTP/1
// server reads on its own when the answer starts (maxPostHandlerReadBytes).
const maxBufferedImportBody = 256 << 10

type importInput struct {
	OrgPath
	Atomic      bool   `query:"atomic" doc:"All or nothing: read and check every item (at most 50,000), then write them in one transaction, or nothing if any fails."`
	BatchSize   int    `query:"batchSize" minimum:"0" maximum:"1000" doc:"Items per transaction (default 1000); ignored when atomic."`
	ContentType string `header:"Content-Type" doc:"application/x-ndjson"`
}

// importItemErrorLine is an item's failure in a progress line.
type importItemErrorLine struct {
	Line    int                    `json:"line"`
	Ref     string                 `json:"ref,omitempty"`
	Kind    string                 `json:"kind,omitempty"`
	Code    string                 `json:"code"`
	Field   string                 `json:"field,omitempty"`
	Rule    string                 `json:"rule,omitempty"`
	Fields  []castellan.FieldError `json:"fields,omitempty"`
	Message string                 `json:"message"`
}

type importProgressLine struct {
	Type           string                `json:"type"`
	Batch          int                   `json:"batch"`
	Items          int                   `json:"items"`
	Applied        int                   `json:"applied"`
	Failed         int                   `json:"failed"`
	ItemsPerSecond float64               `json:"itemsPerSecond"`
	Revision       int64                 `json:"revision"`
	IDs            map[string]string     `json:"ids"`
	Errors         []importItemErrorLine `json:"errors"`
}

type importStreamError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type importResultLine struct {
	Type           string             `json:"type"`
	Items          int                `json:"items"`
	Applied        int                `json:"applied"`
	Failed         int                `json:"failed"`
	Batches        int                `json:"batches"`
	Seconds        float64            `json:"seconds"`
	ItemsPerSecond float64            `json:"itemsPerSecond"`
	Revision       int64              `json:"revision"`
	Atomic         bool               `json:"atomic"`
	Error          *importStreamError `json:"error,omitempty"`
}

func (s *Server) registerImport() {
	register(s, op{
		id: "import", method: http.MethodPost, path: "/v1/organizations/{org}" + importPathSuffix, tag: "Organizations",
		action: castellan.ActionImport, errors: []int{http.StatusNotFound},
		ndjsonBody: true,
		summary:    "Import OUs, projects, users, groups, memberships, service accounts and grants",
		desc: "The body is NDJSON (application/x-ndjson): one item per line, {\"kind\": …, \"ref\": …} with the fields of the kind's " +
			"single create request, where \"#<ref>\" names an earlier item's ID. Items are applied in transactions of batchSize, " +
			"each authorized as its single operation (hierarchy principle included); a failed item does not stop the others unless atomic. " +
			"The answer is NDJSON too: a progress line per batch (counts, rate, revision, IDs per ref, each failed item's line, ref, code and field), " +
			"then a result line. See docs/import.md.",
	}, s.importItems)
}

// StreamingBody reports whether the API reads r's body as a stream itself
// (for web.Config.StreamingBody): the import, which bounds its lines.
func StreamingBody(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/organizations/") && strings.HasSuffix(r.URL.Path, importPathSuffix)
}

func (s *Server) importItems(ctx context.Context, in *importInput) (*huma.StreamResponse, error) {
	if media, _, err := mime.ParseMediaType(in.ContentType); err != nil || media != ndjson {
		return nil, &castellan.Error{
			Kind: castellan.EINVALID, Code: castellan.CodeImportBadContentType, Message: "the body must be NDJSON: send Content-Type: " + ndjson,
			Fields: []castellan.FieldError{{Field: "header.Content-Type", Rule: "enum", Message: "must be " + ndjson}},
		}
	}
	opts := castellan.ImportOptions{Atomic: in.Atomic, BatchSize: in.BatchSize}
	importer, err := s.services.Imports.BeginImport(ctx, in.Org, opts)
	if err != nil {
		return nil, err
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		// Progress lines go out while the body is still being read. At
		// the first flush an HTTP/1 server reads what is left of the body
		// into memory, up to 256 KiB, and ends a longer (or chunked) one
		// there: the line being read would arrive cut. Such a body is
		// read in full duplex instead.
		if r.ContentLength < 0 || r.ContentLength > maxBufferedImportBody {
			_ = rc.EnableFullDuplex()
		}
		w.Header().Set("Content-Type", ndjson)
		w.WriteHeader(http.StatusOK)
		enc := json.NewEncoder(w)
		send := func(line any) error {
			_ = rc.SetWriteDeadline(time.Now().Add(importStreamTimeout))
			if err := enc.Encode(line); err != nil {
				return err
			}
			return rc.Flush()
		}
		dec := newImportDecoder(r.Body, rc)
		result, err := importer.Run(ctx, dec.next, func(p *castellan.ImportProgress) error {
			return send(progressLine(p))
		})
		line := importResultLine{Type: "result", Atomic: in.Atomic}
		if result != nil {
			line.Items, line.Applied, line.Failed, line.Batches = result.Items, result.Applied, result.Failed, result.Batches
			line.Seconds, line.ItemsPerSecond, line.Revision = result.Elapsed.Seconds(), rate(result.Items, result.Elapsed), result.Revision
		}
		if err != nil {
			line.Error = streamError(ctx, err)
		}
		_ = send(line)
	}}, nil
}

func rate(items int, elapsed time.Duration) float64 {
	if elapsed <= 0 {
		return 0
	}
	return float64(items) / elapsed.Seconds()
}

func progressLine(p *castellan.ImportProgress) importProgressLine {
	line := importProgressLine{
		Type: "progress", Batch: p.Batch, Items: p.Items, Applied: p.Applied, Failed: p.Failed,
		ItemsPerSecond: rate(p.Items, p.Elapsed), Revision: p.Revision, IDs: p.IDs, Errors: []importItemErrorLine{},
	}
	for _, e := range p.Errors {
		line.Errors = append(line.Errors, itemErrorLine(e))
	}
	return line
}

func itemErrorLine(e castellan.ImportItemError) importItemErrorLine {
	out := importItemErrorLine{Line: e.Line, Ref: e.Ref, Kind: string(e.Kind), Code: castellan.ErrorCode(e.Err), Message: publicMessage(e.Err)}
	var ce *castellan.Error
	if errors.As(e.Err, &ce) && len(ce.Fields) > 0 {
		out.Field, out.Rule = ce.Fields[0].Field, ce.Fields[0].Rule
		if len(ce.Fields) > 1 {
			out.Fields = ce.Fields
		}
	}
	return out
}

// streamError is the error that ended an import, as the result line
// shows it: an internal error's cause goes to the log only.
func streamError(ctx context.Context, err error) *importStreamError {
	if castellan.ErrorKind(err) == castellan.EINTERNAL {
		web.Logger(ctx).Error("import failed", "err", err)
	}
	return &importStreamError{Code: castellan.ErrorCode(err), Message: publicMessage(err)}
}

// publicMessage is err's message for the caller: "internal error" for
// an error that is not a castellan.Error or is internal.
func publicMessage(err error) string {
	var ce *castellan.Error
	if errors.As(err, &ce) && ce.Kind != castellan.EINTERNAL {
		return ce.Message
	}
	return "internal error; quote the request ID to the operator"
}
