package exportkit_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

// Test credentials: distinctive, so a leak test can search for them.
const (
	testBrainbaseKey = "bb_secret_KEY_0001"
	testMemsolusKey  = "msk_test_SECRET_0002"
	testOrbitKey     = "sk_test_SECRET_0003"
	testKoreID       = "cs-test-client-id"
	testKoreSecret   = "kore_SECRET_0004_long_enough_for_hs256"
	testBase         = "http://localhost:8080"
)

// handlerTransport serves requests in-process with h: no sockets, so tests
// can run inside a testing/synctest bubble.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// recorder is a handler that records requests and answers with a scripted
// sequence of responses (the last one repeats).
type recorder struct {
	mu        sync.Mutex
	requests  []*http.Request
	bodies    []string
	responses []func(w http.ResponseWriter, r *http.Request)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if r.Body != nil {
		_, _ = buf.ReadFrom(r.Body)
	}
	rec.mu.Lock()
	n := len(rec.requests)
	rec.requests = append(rec.requests, r.Clone(r.Context()))
	rec.bodies = append(rec.bodies, buf.String())
	var f func(http.ResponseWriter, *http.Request)
	if len(rec.responses) > 0 {
		f = rec.responses[min(n, len(rec.responses)-1)]
	}
	rec.mu.Unlock()
	if f == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	f(w, r)
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.requests)
}

func (rec *recorder) last() *http.Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.requests[len(rec.requests)-1]
}

// reply answers with status, headers (pairs) and body.
func reply(status int, body string, headers ...string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// newClient returns a client for every vendor at testBase, served by h.
func newClient(t testing.TB, h http.Handler, opts ...exportkit.Option) *exportkit.Client {
	t.Helper()
	hc := &http.Client{Transport: handlerTransport{h}}
	base := []exportkit.Option{
		exportkit.WithHTTPClient(hc),
		exportkit.WithStorageHTTPClient(hc),
		exportkit.WithBrainbaseAPIKey(testBrainbaseKey),
		exportkit.WithMemsolusAPIKey(testMemsolusKey),
		exportkit.WithOrbitAPIKey(testOrbitKey),
		exportkit.WithKoreApp(testKoreID, testKoreSecret),
		exportkit.WithRateLimit(exportkit.Kore, 1000, 1000),
		exportkit.WithRetry(3, 1, 2), // tiny waits: retries are tested on a fake clock
	}
	for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus, exportkit.Orbit, exportkit.Kore} {
		base = append(base, exportkit.WithBaseURL(v, testBase))
	}
	c, err := exportkit.NewClient(append(base, opts...)...)
	require.NoError(t, err)
	return c
}
