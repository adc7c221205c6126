package bench

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"

	"github.com/castellan-iam/castellan"
)

// serveBaseline serves POST /v1/authorize on 127.0.0.1 the cheapest way
// net/http allows: the body read whole and looked up among the
// questions' bodies, the decision written from a table. No
// authentication, no decoding, no logging, no metrics, no decision
// engine. Driven like the real server, it is the ceiling of this driver
// and net/http on this machine, so that the real server's figures can be
// read as a share of it.
func serveBaseline(qs []question) (url string, stop func(), err error) {
	answers := make(map[string][]byte, len(qs))
	for _, q := range qs {
		answers[string(q.body)], _ = json.Marshal(castellan.Decision{Allowed: q.expect == castellan.ReasonAllowed, Reason: q.expect})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		answer, ok := answers[string(body)]
		if err != nil || !ok || r.URL.Path != "/v1/authorize" || r.Header.Get("Authorization") == "" {
			http.Error(w, "not a question of this run", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	})}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// measureBaseline drives serveBaseline at each connection count as the
// real server was driven.
func measureBaseline(ctx context.Context, qs []question, cfg Config) ([]HTTPRun, error) {
	url, stop, err := serveBaseline(qs)
	if err != nil {
		return nil, err
	}
	defer stop()
	var runs []HTTPRun
	for _, conns := range cfg.Concurrency {
		runs = append(runs, measureHTTP(ctx, url, "baseline", qs, conns, cfg.Duration, cfg.Requests))
	}
	return runs, nil
}
