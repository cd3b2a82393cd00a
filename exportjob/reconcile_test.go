package exportjob

import (
	"context"
	"errors"
	"github.com/exportkit/exportkit/exporttest"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

// one is one create per vendor.
var one = map[exportkit.Vendor]int{exportkit.Brainbase: 1, exportkit.Memsolus: 1, exportkit.Orbit: 1, exportkit.Kore: 1}

// A create whose reply is lost is reconciled at once: the export the
// vendor made is adopted, and nothing is created again. Orbit's request
// carries the intent's Idempotency-Key, so the SDK's own retries return
// the same run; with every retry's reply lost too, the run list matched on
// the key finds it.
func TestLostCreateRepliesEveryVendor(t *testing.T) {
	v := newEnv(t)
	c := v.losingClient(map[exportkit.Vendor]int{exportkit.Brainbase: 1, exportkit.Memsolus: 1, exportkit.Orbit: 10, exportkit.Kore: 1})
	res := v.sync(v.engine(c, allJobs()))
	v.requireDone(res, "logs", "memories", "audience", "bot")
	creates := v.creates()
	require.Equal(t, 1, creates[exportkit.Brainbase])
	require.Equal(t, 1, creates[exportkit.Memsolus])
	require.Equal(t, 1, creates[exportkit.Kore])
	require.GreaterOrEqual(t, creates[exportkit.Orbit], 1) // the same key each time
	runs, err := v.client().Audiences.ListRuns(context.Background(), "aud_1", nil)
	require.NoError(t, err)
	require.Len(t, runs, 1, "one Orbit run")
}

// Two exports at the vendor that the lost create could have made: the run
// is parked with both as candidates, and no later sync creates anything.
func TestAmbiguousReconciliationParks(t *testing.T) {
	for _, tc := range []struct {
		job   Job
		stray func(c *exportkit.Client) (string, error)
	}{
		{allJobs()[0], func(c *exportkit.Client) (string, error) {
			e, err := c.Exports.Create(context.Background(), &exportkit.LogExportRequest{Format: "CSV"})
			return id(e, err)
		}},
		{allJobs()[1], func(c *exportkit.Client) (string, error) {
			p := periodOf(time.Now(), DefaultEvery)
			e, err := c.Memories.Create(context.Background(), &exportkit.MemoryExportRequest{Format: "json", CreatedAfter: &p.Start, CreatedBefore: &p.End})
			return id(e, err)
		}},
	} {
		t.Run(string(tc.job.Vendor), func(t *testing.T) {
			v := newEnv(t)
			strayID, err := tc.stray(v.client())
			require.NoError(t, err)
			res := v.sync(v.engine(v.losingClient(one), []Job{tc.job}))
			r := res[tc.job.Name]
			require.ErrorIs(t, r.Err, ErrParked)
			require.Equal(t, StateParked, r.Run.State)
			require.Len(t, r.Run.Candidates, 2)
			require.Contains(t, r.Run.Candidates, strayID)
			require.Equal(t, 2, v.creates()[tc.job.Vendor]) // the stray one and the engine's one

			res = v.sync(v.engine(v.client(), []Job{tc.job}))
			require.Empty(t, res, "a parked run is left to a person")
			require.Equal(t, 2, v.creates()[tc.job.Vendor])
		})
	}
}

func id[T exportkit.Export](e T, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return e.ExportID(), nil
}

// A create that may have landed (its connection cut) while the vendor
// lists nothing that matches: parked, not created again.
func TestCutCreateWithNothingListedParks(t *testing.T) {
	v := newEnv(t)
	c := v.client(exportkit.WithHTTPClient(&http.Client{Transport: cutCreates{v.srv.Transport()}}))
	res := v.sync(v.engine(c, allJobs()[:2]))
	for _, name := range []string{"logs", "memories"} {
		require.Equal(t, StateParked, res[name].Run.State, name)
		require.Empty(t, res[name].Run.Candidates)
		require.Contains(t, res[name].Run.Error, "may have landed")
	}
	require.Empty(t, v.creates())
}

// cutCreates fails every create request without sending it, as a
// connection cut mid-request looks to the client.
type cutCreates struct{ base http.RoundTripper }

func (c cutCreates) RoundTrip(req *http.Request) (*http.Response, error) {
	if createVendor(req.Method, req.URL.Path) != "" {
		return nil, errors.New("write: broken pipe")
	}
	return c.base.RoundTrip(req)
}

// The fake's own fault: every create of every vendor is carried out and
// its connection cut before the reply (exporttest.LoseCreateReplies(1)).
// Each run adopts the export its create made; the vendors hold one each.
func TestFakeLosesEveryCreateReply(t *testing.T) {
	v := newEnv(t, exporttest.LoseCreateReplies(1))
	res := v.sync(v.engine(v.client(), allJobs()))
	v.requireDone(res, "logs", "memories", "audience", "bot")
	require.Positive(t, v.srv.LostCreateReplies())
	for _, vendor := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus, exportkit.Kore} {
		require.Equal(t, 1, v.creates()[vendor], vendor)
	}
	runs, err := v.client().Audiences.ListRuns(context.Background(), "aud_1", nil)
	require.NoError(t, err)
	require.Len(t, runs, 1, "one Orbit run")
}

// A job has at most one run with an unresolved create at any moment, even
// with catchup periods and lost replies, so that reconciliation cannot
// take one period's export for another (Brainbase echoes no date range).
func TestOneUnresolvedCreatePerJob(t *testing.T) {
	v := newEnv(t, exporttest.LoseCreateReplies(0.5))
	j := Job{Name: "logs", Vendor: exportkit.Brainbase, Catchup: 4, Start: time.Now().Add(-4 * DefaultEvery)}
	e := v.engine(v.client(), []Job{j})
	var mu sync.Mutex
	most := 0
	e.hook = func(p string) {
		if p != string(StateCreating) {
			return
		}
		var n int
		require.NoError(t, e.st.db.QueryRow(`SELECT count(*) FROM runs WHERE job = 'logs' AND state = 'creating'`).Scan(&n))
		mu.Lock()
		most = max(most, n)
		mu.Unlock()
	}
	res, err := e.Sync(context.Background())
	require.NoError(t, err)
	require.Len(t, res, 5)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
	require.Equal(t, 1, most)
	require.Equal(t, 5, v.creates()[exportkit.Brainbase])
}
