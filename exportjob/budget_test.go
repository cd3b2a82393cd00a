package exportjob

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/require"
)

// inFlight counts the create requests in flight at once.
type inFlight struct {
	base    http.RoundTripper
	now     atomic.Int32
	mu      sync.Mutex
	highest int32
}

func (f *inFlight) RoundTrip(req *http.Request) (*http.Response, error) {
	if createVendor(req.Method, req.URL.Path) == "" {
		return f.base.RoundTrip(req)
	}
	n := f.now.Add(1)
	defer f.now.Add(-1)
	f.mu.Lock()
	f.highest = max(f.highest, n)
	f.mu.Unlock()
	return f.base.RoundTrip(req)
}

// WithCreateLimit caps the creates in flight per vendor across all the
// runs of a sync; catchup periods of one job are created one at a time.
func TestCreateLimitAcrossRuns(t *testing.T) {
	v := newEnv(t)
	f := &inFlight{base: v.srv.Transport()}
	var jobs []Job
	for _, name := range []string{"m1", "m2", "m3", "m4", "m5", "m6"} {
		jobs = append(jobs, Job{Name: name, Vendor: exportkit.Memsolus, Catchup: 2, Start: time.Now().Add(-48 * time.Hour)})
	}
	res := v.sync(v.engine(v.client(exportkit.WithHTTPClient(&http.Client{Transport: f})), jobs, WithCreateLimit(2)))
	require.Len(t, res, 6) // by job; each job has three periods
	require.Equal(t, 18, v.creates()[exportkit.Memsolus])
	require.LessOrEqual(t, f.highest, int32(2))
}

// A create refused with 429 and Retry-After is sent again no sooner than
// asked; nothing was created by the refused one.
func TestCreateRetryAfterIsAFloor(t *testing.T) {
	v := newEnv(t)
	require.NoError(t, v.srv.Inject(exporttest.On(exportkit.Brainbase).Method("POST").Status(429).RetryAfter("1").Times(1)))
	start := time.Now()
	v.requireDone(v.sync(v.engine(v.client(exportkit.WithRetry(-1, 0, 0)), allJobs()[:1])), "logs")
	require.GreaterOrEqual(t, time.Since(start), time.Second)
	require.Equal(t, 2, v.creates()[exportkit.Brainbase]) // the refused one and the one that landed
	exports, err := v.client().Exports.List(t.Context())
	require.NoError(t, err)
	require.Len(t, exports, 1)
}

// Two jobs on one Kore bot: a new export replaces the bot's last, so their
// runs take turns, and neither is superseded.
func TestKoreRunsOfOneBotTakeTurns(t *testing.T) {
	v := newEnv(t, exporttest.ReadyAfter(3))
	jobs := []Job{
		{Name: "bot-latest", Vendor: exportkit.Kore, Params: map[string]string{"bot": "st-shared"}},
		{Name: "bot-published", Vendor: exportkit.Kore, Params: map[string]string{"bot": "st-shared", "type": "published"}},
	}
	v.requireDone(v.sync(v.engine(v.client(), jobs)), "bot-latest", "bot-published")
	require.Equal(t, 2, v.creates()[exportkit.Kore])
}
