package exportjob

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/require"
)

// fastPoll is a schedule for the fake, which is quick.
var fastPoll = exportkit.PollSchedule{Min: time.Millisecond, Max: 10 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2}

// allJobs is one job per vendor.
func allJobs() []Job {
	return []Job{
		{Name: "logs", Vendor: exportkit.Brainbase, Params: map[string]string{"format": "CSV"}},
		{Name: "memories", Vendor: exportkit.Memsolus, Params: map[string]string{"format": "json"}},
		{Name: "audience", Vendor: exportkit.Orbit, Params: map[string]string{"audience": "aud_1"}},
		{Name: "bot", Vendor: exportkit.Kore, Params: map[string]string{"bot": "st-bot-1"}},
	}
}

// env is a fake, a store path and an export directory, for one test.
type env struct {
	t     *testing.T
	srv   *exporttest.Server
	dir   string
	store string
}

func newEnv(t *testing.T, opts ...exporttest.Option) *env {
	t.Helper()
	srv := exporttest.NewServer(append([]exporttest.Option{exporttest.ReadyAfter(1), exporttest.FileSize(64 << 10)}, opts...)...)
	t.Cleanup(srv.Close)
	d := t.TempDir()
	return &env{t: t, srv: srv, dir: filepath.Join(d, "exports"), store: filepath.Join(d, "exportkit.db")}
}

// client is a client of the fake, retrying fast and with Kore paced for
// tests, with extra options.
func (v *env) client(extra ...exportkit.Option) *exportkit.Client {
	return v.srv.Client(append([]exportkit.Option{exportkit.WithRetry(2, time.Millisecond, 5*time.Millisecond),
		exportkit.WithRateLimit(exportkit.Kore, 1000, 100)}, extra...)...)
}

// createVendor names the vendor whose create request path is p, or "".
func createVendor(method, p string) exportkit.Vendor {
	if method != http.MethodPost {
		return ""
	}
	switch {
	case strings.HasSuffix(p, "/api/team/exports"):
		return exportkit.Brainbase
	case strings.HasSuffix(p, "/v1/exports"):
		return exportkit.Memsolus
	case strings.HasSuffix(p, "/runs"):
		return exportkit.Orbit
	case strings.HasSuffix(p, "/export"):
		return exportkit.Kore
	}
	return ""
}

// loseReplies carries out create requests and then loses the reply, as a
// connection cut after the vendor acted does: the next left[vendor] ones
// per vendor. It stands in for the fake's own fault until that lands.
type loseReplies struct {
	base http.RoundTripper
	mu   sync.Mutex
	left map[exportkit.Vendor]int
}

func (l *loseReplies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	v := createVendor(req.Method, req.URL.Path)
	if err != nil || v == "" {
		return resp, err
	}
	l.mu.Lock()
	lose := l.left[v] > 0
	if lose {
		l.left[v]--
	}
	l.mu.Unlock()
	if !lose {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("read: connection reset by peer")
}

// losingClient is a client whose create replies are lost, left[vendor]
// of them.
func (v *env) losingClient(left map[exportkit.Vendor]int) *exportkit.Client {
	return v.client(exportkit.WithHTTPClient(&http.Client{Transport: &loseReplies{base: v.srv.Transport(), left: left}}))
}

// open opens the env's store, closed with the test.
func (v *env) open() *Store {
	v.t.Helper()
	st, err := Open(context.Background(), v.store)
	require.NoError(v.t, err)
	v.t.Cleanup(func() { st.Close() })
	return st
}

// engine is an engine on a new store handle, fast polling, with opts.
func (v *env) engine(c *exportkit.Client, jobs []Job, opts ...Option) *Engine {
	v.t.Helper()
	e, err := New(c, v.open(), v.dir, jobs, append([]Option{WithPollSchedule(fastPoll), WithLeaseTTL(time.Second)}, opts...)...)
	require.NoError(v.t, err)
	return e
}

// sync runs one sync and returns its results by job name.
func (v *env) sync(e *Engine) map[string]Result {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := e.Sync(ctx)
	require.NoError(v.t, err)
	out := map[string]Result{}
	for _, r := range res {
		out[r.Run.Job] = r
	}
	return out
}

// creates counts the create requests the fake received per vendor
// (Orbit: run creations; its export creation is create-or-reuse).
func (v *env) creates() map[exportkit.Vendor]int {
	out := map[exportkit.Vendor]int{}
	for _, r := range v.srv.Requests() {
		if r.Storage {
			continue
		}
		if createVendor(r.Method, r.Path) != "" {
			out[r.Vendor]++
		}
	}
	return out
}

// requireDone checks that every result is done, its file published with
// the recorded size and SHA-1, and (but Orbit's, whose id is the run's)
// byte-identical to the fake's.
func (v *env) requireDone(res map[string]Result, jobs ...string) {
	v.t.Helper()
	for _, name := range jobs {
		r, ok := res[name]
		require.True(v.t, ok, "no result for %s", name)
		require.NoError(v.t, r.Err, name)
		require.Equal(v.t, StateDone, r.Run.State, name)
		b, err := os.ReadFile(filepath.Join(v.dir, r.Run.File))
		require.NoError(v.t, err, name)
		sum := sha1.Sum(b)
		require.Equal(v.t, hex.EncodeToString(sum[:]), r.Run.SHA1, name)
		require.Equal(v.t, int64(len(b)), r.Run.Size, name)
		if r.Run.Vendor != exportkit.Orbit && r.Run.ExportID != "" {
			require.Equal(v.t, v.srv.File(r.Run.Vendor, r.Run.ExportID), b, name)
		}
	}
}

var errNoSpace = syscall.ENOSPC

// withClock makes the engine's clock now.
func withClock(now func() time.Time) Option {
	return func(c *config) error { c.now = now; return nil }
}
