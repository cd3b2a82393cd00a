package exportjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/require"
)

// The SIGKILL test runs this test binary as a child that syncs one job
// against the parent's fake and kills itself with SIGKILL at a named
// point; the environment says which.
const (
	killEnv    = "EXPORTJOB_TEST_KILL_AT" // the point, or "none" to sync to the end
	killURL    = "EXPORTJOB_TEST_URL"
	killStore  = "EXPORTJOB_TEST_STORE"
	killJob    = "EXPORTJOB_TEST_JOB" // an index into allJobs
	pointSent  = "create-sent"        // the create request has left, its reply not read
	pointBytes = "mid-download"       // a quarter of the file received
)

// killPoints are every named point of a run's life, in order.
var killPoints = []string{"planned", string(StateCreating), pointSent, string(StateCreated), string(StateWaiting),
	string(StateDownloading), pointBytes, "downloaded", "published", string(StateDone)}

// killFileSize is the fake's file size in the SIGKILL test.
const killFileSize = 1 << 20

// killChild is the child: it syncs and exits 0 when its run is done.
func killChild(point string) int {
	die := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	idx, _ := strconv.Atoi(os.Getenv(killJob))
	base := os.Getenv(killURL)
	hc := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(req)
		if point == pointSent && createVendor(req.Method, req.URL.Path) != "" {
			die() // the vendor acted; its reply is never read
		}
		if err == nil && point == pointBytes && strings.HasSuffix(req.URL.Path, "/download") {
			resp.Body = &dieAfter{ReadCloser: resp.Body, left: killFileSize / 4, die: die} // Memsolus serves the file itself
		}
		return resp, err
	})}
	storage := http.DefaultTransport.(*http.Transport).Clone()
	storage.DisableCompression = true
	shc := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := storage.RoundTrip(req)
		if err == nil && point == pointBytes {
			resp.Body = &dieAfter{ReadCloser: resp.Body, left: killFileSize / 4, die: die}
		}
		return resp, err
	})}
	c, err := exportkit.NewClient(exportkit.WithStorageHTTPClient(shc),
		exportkit.WithBaseURL(exportkit.Brainbase, base), exportkit.WithBaseURL(exportkit.Memsolus, base),
		exportkit.WithBaseURL(exportkit.Orbit, base), exportkit.WithBaseURL(exportkit.Kore, base),
		exportkit.WithBrainbaseAPIKey(exporttest.BrainbaseAPIKey), exportkit.WithMemsolusAPIKey(exporttest.MemsolusAPIKey),
		exportkit.WithOrbitAPIKey(exporttest.OrbitAPIKey), exportkit.WithKoreApp(exporttest.KoreClientID, exporttest.KoreClientSecret),
		exportkit.WithHTTPClient(hc), exportkit.WithRetry(2, time.Millisecond, 5*time.Millisecond),
		exportkit.WithRateLimit(exportkit.Kore, 1000, 100))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	st, err := Open(ctx, os.Getenv(killStore))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e, err := New(c, st, filepath.Join(filepath.Dir(os.Getenv(killStore)), "exports"), allJobs()[idx:idx+1],
		WithPollSchedule(fastPoll), WithLeaseTTL(200*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	e.hook = func(p string) {
		if p == point {
			die()
		}
	}
	res, err := e.Sync(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, r := range res {
		if r.Err != nil {
			fmt.Fprintln(os.Stderr, r.Err)
			return 1
		}
	}
	return 0
}

// dieAfter is a body that kills the process once left bytes are read.
type dieAfter struct {
	io.ReadCloser
	left int
	die  func()
}

func (d *dieAfter) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	if d.left -= n; d.left <= 0 {
		d.die()
	}
	return n, err
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A sync killed with SIGKILL at every point of a run's life, including
// after the create request left and before its reply was read, and then
// run again to the end: the run is done, its file verified and identical
// to the vendor's, and the vendor holds exactly one export (or run).
func TestSIGKILLAtEveryTransition(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process per point")
	}
	self, err := os.Executable()
	require.NoError(t, err)
	for idx, j := range allJobs() {
		for _, point := range killPoints {
			t.Run(string(j.Vendor)+"/"+point, func(t *testing.T) {
				v := newEnv(t, exporttest.FileSize(killFileSize))
				run := func(point string) error {
					cmd := exec.Command(self, "-test.run=^$")
					cmd.Env = append(os.Environ(), killEnv+"="+point, killURL+"="+v.srv.URL(), killStore+"="+v.store,
						killJob+"="+strconv.Itoa(idx))
					out, err := cmd.CombinedOutput()
					if err != nil {
						return fmt.Errorf("%w: %s", err, out)
					}
					return nil
				}
				err := run(point)
				var ee *exec.ExitError
				require.True(t, errors.As(err, &ee), "the child was to die at %s: %v", point, err)
				require.Equal(t, syscall.SIGKILL, ee.Sys().(syscall.WaitStatus).Signal(), "%v", err)
				require.NoError(t, run("none"))

				st := v.open()
				runs, err := st.Runs(context.Background(), j.Name)
				require.NoError(t, err)
				require.Len(t, runs, 1)
				r := runs[0]
				v.requireDone(map[string]Result{j.Name: {Run: *r}}, j.Name)
				require.Equal(t, 1, v.creates()[j.Vendor], "one export at the vendor")
				if j.Vendor == exportkit.Orbit {
					runs, err := v.client().Audiences.ListRuns(context.Background(), "aud_1", nil)
					require.NoError(t, err)
					require.Len(t, runs, 1)
				}
			})
		}
	}
}
