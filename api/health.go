package api

import (
	"context"
	"net/http"
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

func (s *Server) registerHealth(mux *http.ServeMux) {
	register(s, op{
		id: "get-health", method: http.MethodGet, path: "/healthz", public: true, tag: "Operations",
		summary: "Liveness: the process answers",
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		out := &healthOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	register(s, op{
		id: "get-readiness", method: http.MethodGet, path: "/readyz", public: true, tag: "Operations",
		summary: "Readiness: the store answers", errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*readyOutput, error) {
		if err := s.services.ChangeLog.Ping(ctx); err != nil {
			loggerFrom(ctx).Warn("not ready", "err", err)
			return nil, newProblem(ctx, http.StatusServiceUnavailable, "store.unavailable", "the store does not answer", nil)
		}
		rev, err := s.services.ChangeLog.Revision(ctx)
		if err != nil {
			return nil, err
		}
		out := &readyOutput{}
		out.Body.Status, out.Body.Revision = "ready", rev
		return out, nil
	})
	mux.Handle("GET /metrics", s.metrics.handler())
}
