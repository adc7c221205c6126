package api

import (
	"context"
	"net/http"

	"github.com/castellan-iam/castellan"
	"github.com/castellan-iam/castellan/web"
	"github.com/danielgtaylor/huma/v2"
)

type healthOutput struct {
	Body struct {
		Status string `json:"status" enum:"ok" doc:"Always ok when the process answers."`
	}
}

type readyOutput struct {
	Body struct {
		Status   string `json:"status" enum:"ready" doc:"ready when the store answers."`
		Revision int64  `json:"revision" doc:"Newest committed revision of the store."`
	}
}

func (s *Server) registerHealth() {
	register(s, op{
		id: "get-health", method: http.MethodGet, path: "/healthz", public: true, storeless: true, tag: "Operations",
		summary: "Liveness: the process answers", desc: "200 as long as the process answers; it does not ask the store. For liveness probes.",
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		out := &healthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	register(s, op{
		id: "get-readiness", method: http.MethodGet, path: "/readyz", public: true, tag: "Operations",
		summary: "Readiness: the store answers", desc: "200 with the store's revision when the store answers, 503 store.unavailable otherwise. For readiness probes and load balancers.", errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*readyOutput, error) {
		if err := s.services.ChangeLog.Ping(ctx); err != nil {
			web.Logger(ctx).Warn("not ready", "err", err)
			return nil, castellan.Errorf(castellan.EUNAVAILABLE, castellan.CodeStoreUnavailable, "the store does not answer")
		}
		rev, err := s.services.ChangeLog.Revision(ctx)
		if err != nil {
			return nil, err
		}
		out := &readyOutput{}
		out.Body.Status, out.Body.Revision = "ready", rev
		return out, nil
	})
	// /metrics is Prometheus text, served by web.Plumbing's promhttp
	// handler; it is described in the document by hand.
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "get-metrics", Method: http.MethodGet, Path: "/metrics", Tags: []string{"Operations"},
		Summary: "Prometheus metrics",
		Description: "HTTP requests, latency and errors by code; the store's connection pools, query latency, outbox and change-log lag; " +
			"the token cache; build info; the Go runtime and process metrics. In the Prometheus text format.",
		Security: []map[string][]string{},
		Responses: map[string]*huma.Response{"200": {
			Description: "Metrics in the Prometheus text exposition format.",
			Content:     map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}}},
		}, "400": {
			// web.Plumbing refuses query parameters that are not UTF-8 here too.
			Description: http.StatusText(http.StatusBadRequest),
			Content:     map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Problem"}}},
		}},
	})
}
