package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/castellan-iam/castellan"
)

// Latency summarises durations, in microseconds.
type Latency struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50Us"`
	P99   float64 `json:"p99Us"`
	Max   float64 `json:"maxUs"`
}

func summarise(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	// Nearest rank: the smallest value at or above a fraction q of them.
	us := func(q float64) float64 { return float64(d[int(math.Ceil(q*float64(len(d))))-1].Nanoseconds()) / 1000 }
	return Latency{Count: len(d), P50: us(0.5), P99: us(0.99), Max: us(1)}
}

// question is a check ready to ask: the request, its JSON body for the
// HTTP API, and the expected reason.
type question struct {
	category string
	req      castellan.AuthzRequest
	body     []byte
	expect   string
}

// verify reports whether d is the expected answer.
func (q *question) verify(d castellan.Decision) bool {
	return d.Reason == q.expect && d.Allowed == (q.expect == castellan.ReasonAllowed)
}

// InProcess is the in-process Authorize measurement.
type InProcess struct {
	Ops         int     `json:"ops"`
	Seconds     float64 `json:"seconds"`
	OpsPerCore  float64 `json:"opsPerSecondPerCore"`
	Latency     Latency `json:"latency"`
	AllocsPerOp float64 `json:"allocsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
	Mismatches  int     `json:"mismatches"`
	Errors      int     `json:"errors"`
	// ByCategory splits Latency by the checks' categories (direct,
	// group-ou, denied, …): which kind of check makes the tail.
	ByCategory map[string]Latency `json:"byCategory"`
}

// measureInProcess asks the questions of qs in turn on one goroutine
// (one core) for d, timing and verifying each, then for d/2 untimed for
// the rate, then once more counting allocations.
func measureInProcess(ctx context.Context, a castellan.Authorizer, qs []question, d time.Duration) InProcess {
	var r InProcess
	lat := make([]time.Duration, 0, 1<<20)
	byCategory := map[string][]time.Duration{}
	start := time.Now()
	deadline := start.Add(d)
	for i := 0; ; i++ {
		if i%1024 == 0 && time.Now().After(deadline) {
			break
		}
		q := &qs[i%len(qs)]
		t0 := time.Now()
		dec, err := a.Authorize(ctx, q.req)
		el := time.Since(t0)
		if len(lat) < cap(lat) {
			lat = append(lat, el)
			byCategory[q.category] = append(byCategory[q.category], el)
		}
		switch {
		case err != nil:
			r.Errors++
		case !q.verify(dec):
			r.Mismatches++
		}
		r.Ops++
	}
	r.Seconds = time.Since(start).Seconds()
	r.Latency = summarise(lat)
	r.ByCategory = map[string]Latency{}
	for c, l := range byCategory {
		r.ByCategory[c] = summarise(l)
	}
	// The rate comes from a second pass without the two clock reads per
	// call, which cost a large share of a sub-microsecond decision.
	ops := 0
	start = time.Now()
	for deadline = start.Add(d / 2); ops%1024 != 0 || time.Now().Before(deadline); ops++ {
		a.Authorize(ctx, qs[ops%len(qs)].req)
	}
	r.OpsPerCore = float64(ops) / time.Since(start).Seconds()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range qs {
		a.Authorize(ctx, qs[i].req)
	}
	runtime.ReadMemStats(&after)
	r.AllocsPerOp = float64(after.Mallocs-before.Mallocs) / float64(len(qs))
	r.BytesPerOp = float64(after.TotalAlloc-before.TotalAlloc) / float64(len(qs))
	return r
}

// HTTPRun is one HTTP load level.
type HTTPRun struct {
	Concurrency int     `json:"concurrency"`
	Requests    int     `json:"requests"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"requestsPerSecond"`
	Latency     Latency `json:"latency"`
	Errors      int     `json:"errors"`
	Mismatches  int     `json:"mismatches"`
}

// driver is the built-in HTTP load driver: POST /v1/authorize on kept-
// alive connections, authenticated with a bearer token as a calling
// service is.
type driver struct {
	url, token string
	client     *http.Client
}

func newDriver(url, token string, conns int) *driver {
	t := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true, IdleConnTimeout: time.Minute}
	return &driver{url: url, token: token, client: &http.Client{Transport: t, Timeout: 30 * time.Second}}
}

func (d *driver) close() { d.client.CloseIdleConnections() }

// ask sends one question and returns its reason and whether it was
// allowed.
func (d *driver) ask(ctx context.Context, body []byte) (reason string, allowed bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url+"/v1/authorize", bytes.NewReader(body))
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return "", false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", false, fmt.Errorf("POST /v1/authorize: %d %s", resp.StatusCode, b)
	}
	return field(b, "reason"), bytes.Contains(b, []byte(`"allowed":true`)), nil
}

// field returns the string value of a top-level key of a small JSON
// answer, without decoding the whole (the driver shares the cores with
// the server).
func field(b []byte, key string) string {
	_, rest, ok := bytes.Cut(b, []byte(`"`+key+`":"`))
	if !ok {
		return ""
	}
	v, _, _ := bytes.Cut(rest, []byte(`"`))
	return string(v)
}

// measureHTTP runs conns workers asking the questions for at most d and
// at most limit requests in all.
func measureHTTP(ctx context.Context, url, token string, qs []question, conns int, d time.Duration, limit int) HTTPRun {
	drv := newDriver(url, token, conns)
	defer drv.close()
	r := HTTPRun{Concurrency: conns}
	var (
		sent               atomic.Int64
		mu                 sync.Mutex
		all                []time.Duration
		errors, mismatches atomic.Int64
		wg                 sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := range conns {
		wg.Go(func() {
			lat := make([]time.Duration, 0, 4096)
			for i := w * len(qs) / conns; sent.Add(1) <= int64(limit) && time.Now().Before(deadline); i++ {
				q := &qs[i%len(qs)]
				t0 := time.Now()
				reason, allowed, err := drv.ask(ctx, q.body)
				lat = append(lat, time.Since(t0))
				switch {
				case err != nil:
					errors.Add(1)
				case reason != q.expect || allowed != (q.expect == castellan.ReasonAllowed):
					mismatches.Add(1)
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	r.Requests = len(all)
	r.PerSecond = float64(r.Requests) / r.Seconds
	r.Latency = summarise(all)
	r.Errors, r.Mismatches = int(errors.Load()), int(mismatches.Load())
	return r
}

// waitAllowed asks until the decision is allowed, at most for limit,
// and returns when it first was.
func waitAllowed(limit time.Duration, ask func() (bool, error)) (time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		ok, err := ask()
		if err != nil {
			return time.Time{}, err
		}
		now := time.Now()
		if ok {
			return now, nil
		}
		if now.After(deadline) {
			return time.Time{}, fmt.Errorf("not visible after %s", limit)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// postGrant writes a grant through the API at url as the bearer of
// token.
func postGrant(ctx context.Context, client *http.Client, url, token, org string, g castellan.GrantCreate) error {
	body, _ := json.Marshal(map[string]any{"grants": []map[string]any{{"roleId": g.RoleID, "scope": g.Scope, "subject": g.Subject}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/organizations/"+org+"/grants:batchCreate", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST grants:batchCreate: %d %s", resp.StatusCode, b)
	}
	return nil
}

// measureUserList reads pages pages of 100 users through the API,
// following the page tokens and starting over at the end.
func measureUserList(ctx context.Context, client *http.Client, url, token, org string, pages int) (Latency, error) {
	var lat []time.Duration
	next := ""
	for range pages {
		u := url + "/v1/organizations/" + org + "/users?page_size=100"
		if next != "" {
			u += "&page_token=" + next
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return Latency{}, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return Latency{}, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if err != nil {
			return Latency{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return Latency{}, fmt.Errorf("GET users: %d %s", resp.StatusCode, b)
		}
		var page struct {
			NextPageToken string `json:"nextPageToken"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return Latency{}, err
		}
		next = page.NextPageToken
	}
	return summarise(lat), nil
}

// Memory is the process's memory after the index is built.
type Memory struct {
	RSSBytes int64 `json:"rssBytes"`
	// AnonRSSBytes is the part of RSS that is the process's own memory;
	// the rest is files mapped and read (SQLite maps its database), which
	// the system reclaims as it needs.
	AnonRSSBytes int64  `json:"anonRssBytes"`
	HeapBytes    uint64 `json:"goHeapBytes"`
}

// memory collects garbage and reads the Go heap in use and the
// resident set size (Linux; 0 elsewhere).
func memory() Memory {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := Memory{HeapBytes: ms.HeapAlloc}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			name, v, _ := strings.Cut(line, ":")
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			switch name {
			case "VmRSS":
				m.RSSBytes = kb * 1024
			case "RssAnon":
				m.AnonRSSBytes = kb * 1024
			}
		}
	}
	return m
}
