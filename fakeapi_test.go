package exportkit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

// memTransport serves requests with an http.Handler in memory. Tests that
// run inside a testing/synctest bubble need it: a real socket is not
// "durably blocked", so the fake clock would not move while one is open.
type memTransport struct{ h http.Handler }

// errReset stands for a connection reset by the server.
var errReset = errors.New("read: connection reset by peer")

func (m memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, r)
	if rec.Header().Get("X-Test-Reset") != "" {
		return nil, errReset
	}
	if err := r.Context().Err(); err != nil { // the handler stalled until cancel
		return nil, err
	}
	res := rec.Result()
	res.Request = r
	return res, nil
}

// step is one scripted answer of the fake API.
type step struct {
	status     int    // default 200
	body       string // JSON
	retryAfter string
	reset      bool // drop the connection instead of answering
	stall      bool // hang until the request's context ends
}

// fakeAPI answers the four vendors' endpoints from scripts: each route
// ("GET /path") plays its replies in order and repeats the last one. It
// records every request with the (fake) time it came in.
type fakeAPI struct {
	mu     sync.Mutex
	routes map[string]func(n int) step
	hits   []hit
}

type hit struct {
	route string
	at    time.Time
}

func newFakeAPI() *fakeAPI { return &fakeAPI{routes: map[string]func(int) step{}} }

// on scripts a route with replies played in order, the last one repeated.
func (f *fakeAPI) on(route string, rs ...step) *fakeAPI {
	return f.onFunc(route, func(n int) step { return rs[min(n, len(rs)-1)] })
}

// onFunc scripts a route with a function of the route's 0-based hit count.
func (f *fakeAPI) onFunc(route string, fn func(n int) step) *fakeAPI {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = fn
	return f
}

// times returns when each request to route came in.
func (f *fakeAPI) times(route string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ts []time.Time
	for _, h := range f.hits {
		if h.route == route {
			ts = append(ts, h.at)
		}
	}
	return ts
}

// routesHit returns the routes requested, in order.
func (f *fakeAPI) routesHit() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var rs []string
	for _, h := range f.hits {
		rs = append(rs, h.route)
	}
	return rs
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	f.mu.Lock()
	n := 0
	for _, h := range f.hits {
		if h.route == route {
			n++
		}
	}
	f.hits = append(f.hits, hit{route: route, at: time.Now()})
	fn := f.routes[route]
	f.mu.Unlock()
	if fn == nil {
		http.Error(w, `{"error":"NOT_FOUND","message":"no such route"}`, http.StatusNotFound)
		return
	}
	rp := fn(n)
	switch {
	case rp.stall:
		<-r.Context().Done()
		return
	case rp.reset:
		w.Header().Set("X-Test-Reset", "1")
		return
	}
	if rp.retryAfter != "" {
		w.Header().Set("Retry-After", rp.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(cmp(rp.status, http.StatusOK))
	_, _ = w.Write([]byte(rp.body))
}

func cmp(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// Test credentials: none may appear in a log line, error or token.
const (
	bbKey   = "bb-secret-key-123"
	memKey  = "msk_test_secret456"
	orbKey  = "sk_secret789"
	koreJWT = "eyJ.kore-secret.jwt"
)

// newTestClient returns a client whose four vendors are served by h in
// memory, with keys set, request retries as given (default: the client's).
func newTestClient(t testing.TB, h http.Handler, opts ...exportkit.Option) *exportkit.Client {
	t.Helper()
	base := []exportkit.Option{
		exportkit.WithHTTPClient(&http.Client{Transport: memTransport{h}}),
		exportkit.WithBaseURL(exportkit.Brainbase, "http://brainbase.localhost"),
		exportkit.WithBaseURL(exportkit.Memsolus, "http://memsolus.localhost"),
		exportkit.WithBaseURL(exportkit.Orbit, "http://orbit.localhost"),
		exportkit.WithBaseURL(exportkit.Kore, "http://kore.localhost"),
		exportkit.WithBrainbaseAPIKey(bbKey),
		exportkit.WithMemsolusAPIKey(memKey),
		exportkit.WithOrbitAPIKey(orbKey),
		exportkit.WithKoreToken(koreJWT),
	}
	c, err := exportkit.NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return c
}

// Routes and bodies of the vendors' status endpoints.
const (
	bbRoute         = "GET /api/team/exports/e1"
	memRoute        = "GET /v1/exports/m1"
	runsRoute       = "GET /v1/intent/audiences/a1/runs"
	createXRoute    = "POST /v1/intent/audiences/a1/runs/r1/exports"
	orbXRoute       = "GET /v1/intent/audiences/a1/runs/r1/exports/x1"
	koreStartRoute  = "POST /api/public/bot/st-1/export"
	koreStatusRoute = "GET /api/public/bot/st-1/export/status"
)

func bbBody(status string) string {
	return `{"id":"e1","status":"` + status + `","format":"CSV","createdAt":"2026-01-01T00:00:00Z","errorMessage":"disk full"}`
}

func memBody(status string) string {
	return `{"id":"m1","format":"json","status":"` + status + `"}`
}

func runsBody(status string) string {
	return `{"data":[{"id":"r0","audienceId":"a1","status":"completed","runType":"daily"},` +
		`{"id":"r1","audienceId":"a1","status":"` + status + `","runType":"manual","errorCode":"QUERY_TIMEOUT","errorMessage":"query took too long"}],"meta":{"request_id":"req-1"}}`
}

func orbXBody(status string) string {
	return `{"data":{"export":{"id":"x1","audienceId":"a1","runId":"r1","status":"` + status +
		`","errorCode":"B2_DOWN","errorMessage":"storage unavailable"},"downloadUrl":null}}`
}

func koreBody(id, status string) string {
	return `{"_id":"` + id + `","botId":"st-1","status":"` + status + `","fileSize":"947"}`
}

// gaps returns the time between consecutive instants.
func gaps(ts []time.Time) []time.Duration {
	var d []time.Duration
	for i := 1; i < len(ts); i++ {
		d = append(d, ts[i].Sub(ts[i-1]))
	}
	return d
}

// since returns a function that tells the fake time elapsed from now.
func since() func() time.Duration {
	start := time.Now()
	return func() time.Duration { return time.Since(start) }
}

// cancelAfter returns a context canceled after d of (fake) time.
func cancelAfter(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	time.AfterFunc(d, cancel)
	return ctx
}

// noSecrets fails when s holds any test credential.
func noSecrets(t testing.TB, s string) {
	t.Helper()
	for _, k := range []string{bbKey, memKey, orbKey, koreJWT} {
		require.False(t, strings.Contains(s, k), "secret %q leaked in %q", k, s)
	}
}
