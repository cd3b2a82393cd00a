package exportjob

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/require"
)

// A vendor down longer than the outage budget: the run fails with the
// cause, and the next sync takes the wait up from its token: nothing is
// created again.
func TestVendorDownLongerThanOutageBudget(t *testing.T) {
	for _, j := range allJobs() {
		t.Run(string(j.Vendor), func(t *testing.T) {
			v := newEnv(t, exporttest.ReadyAfter(3))
			e := v.engine(v.client(), []Job{j}, WithMaxOutage(20*time.Millisecond))
			e.hook = func(p string) {
				if p == string(StateWaiting) {
					_ = v.srv.Inject(exporttest.On(j.Vendor).Method("GET").Status(503).Always())
				}
			}
			r := v.sync(e)[j.Name]
			v.srv.ClearFaults()
			require.Equal(t, StateFailed, r.Run.State)
			require.True(t, r.Run.Retryable())
			require.ErrorContains(t, r.Err, "503")
			require.ErrorContains(t, r.Err, "maximum outage")

			v.requireDone(v.sync(v.engine(v.client(), []Job{j})), j.Name)
			require.Equal(t, 1, v.creates()[j.Vendor])
		})
	}
}

// An export that expires before its file is fetched: the run is expired;
// the next sync makes a new intent, reconciled first (the expired export
// belongs to the run already, so it is no candidate), and creates once.
func TestExportExpiresBeforeDownload(t *testing.T) {
	for _, j := range allJobs()[:2] {
		t.Run(string(j.Vendor), func(t *testing.T) {
			v := newEnv(t)
			e := v.engine(v.client(), []Job{j})
			var once sync.Once
			e.hook = func(p string) {
				if p == string(StateDownloading) {
					once.Do(func() {
						r, err := e.st.pending(context.Background(), j.Name)
						require.NoError(t, err)
						require.NoError(t, v.srv.Expire(j.Vendor, r[0].ExportID))
					})
				}
			}
			r := v.sync(e)[j.Name]
			require.Equal(t, StateExpired, r.Run.State)
			require.ErrorIs(t, r.Err, exportkit.ErrExportExpired)
			require.Equal(t, 1, v.creates()[j.Vendor])

			v.requireDone(v.sync(v.engine(v.client(), []Job{j})), j.Name)
			require.Equal(t, 2, v.creates()[j.Vendor])
		})
	}
}

// Two engines on one store, syncing at once: every run is done once, by
// one of them; the vendors see one create per run.
func TestTwoEnginesOneStore(t *testing.T) {
	v := newEnv(t)
	a, b := v.engine(v.client(), allJobs()), v.engine(v.client(), allJobs())
	var wg sync.WaitGroup
	var ra, rb map[string]Result
	wg.Go(func() { ra = v.sync(a) })
	wg.Go(func() { rb = v.sync(b) })
	wg.Wait()
	for _, name := range []string{"logs", "memories", "audience", "bot"} {
		_, inA := ra[name]
		_, inB := rb[name]
		require.True(t, inA || inB, name)
		for _, res := range []map[string]Result{ra, rb} {
			if r, ok := res[name]; ok { // the other engine may have finished it before this one listed its runs
				v.requireDone(map[string]Result{name: r}, name)
			}
		}
	}
	require.Equal(t, one, v.creates())
}

// A holder killed with its lease in the store: its run is taken over once
// the lease lapses, within seconds.
func TestLeaseOfKilledHolderTakenOver(t *testing.T) {
	v := newEnv(t)
	st := v.open()
	j := allJobs()[0]
	nj, _, err := j.normalized()
	require.NoError(t, err)
	require.NoError(t, st.plan(context.Background(), nj, time.Now(), DefaultMaxRecreates))
	runs, err := st.pending(context.Background(), j.Name)
	require.NoError(t, err)
	ok, err := st.acquire(context.Background(), runLease(runs[0].fingerprint), "dead-holder", time.Second)
	require.NoError(t, err)
	require.True(t, ok)

	start := time.Now()
	r := v.sync(v.engine(v.client(), []Job{j}))
	v.requireDone(r, j.Name)
	took := time.Since(start)
	require.GreaterOrEqual(t, took, 500*time.Millisecond, "the live lease was respected")
	require.Less(t, took, 5*time.Second)
}

func TestDuePeriods(t *testing.T) {
	day := 24 * time.Hour
	now := time.Date(2026, 12, 10, 15, 0, 0, 0, time.UTC)
	d := func(n int) time.Time { return time.Date(2026, 12, n, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct {
		name string
		job  Job
		next time.Time
		want []time.Time
	}{
		{"new job: the period containing now", Job{Every: day, Catchup: 7}, time.Time{}, []time.Time{d(10)}},
		{"up to date", Job{Every: day, Catchup: 7}, d(11), nil},
		{"two missed", Job{Every: day, Catchup: 7}, d(8), []time.Time{d(8), d(9), d(10)}},
		{"missed beyond catchup are skipped", Job{Every: day, Catchup: 2}, d(1), []time.Time{d(8), d(9), d(10)}},
		{"no catchup", Job{Every: day, Catchup: 0}, d(1), []time.Time{d(10)}},
		{"start backfills oldest first", Job{Every: day, Catchup: 2, Start: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}, time.Time{}, []time.Time{d(3), d(4), d(5)}},
		{"start, next sync", Job{Every: day, Catchup: 2, Start: d(3)}, d(6), []time.Time{d(6), d(7), d(8)}},
		{"hourly", Job{Every: time.Hour, Catchup: 1}, now.Add(-3 * time.Hour), []time.Time{now.Add(-time.Hour), now}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []time.Time
			for _, p := range duePeriods(tc.job, now, tc.next) {
				require.Equal(t, tc.job.Every, p.End.Sub(p.Start))
				got = append(got, p.Start)
			}
			require.Equal(t, tc.want, got)
		})
	}
}

func TestNewRefusesBadJobs(t *testing.T) {
	c := exporttest.NewServer()
	defer c.Close()
	st, err := Open(context.Background(), t.TempDir()+"/s.db")
	require.NoError(t, err)
	defer st.Close()
	for _, tc := range []struct {
		name string
		jobs []Job
		opts []Option
		want string
	}{
		{"bad name", []Job{{Name: "a b", Vendor: exportkit.Kore}}, nil, "a name is"},
		{"unknown vendor", []Job{{Name: "a", Vendor: "acme"}}, nil, `unknown vendor "acme"`},
		{"duplicate", []Job{{Name: "a", Vendor: exportkit.Orbit, Params: map[string]string{"audience": "x"}}, {Name: "a", Vendor: exportkit.Orbit, Params: map[string]string{"audience": "x"}}}, nil, "defined twice"},
		{"short period", []Job{{Name: "a", Vendor: exportkit.Kore, Every: time.Second, Params: map[string]string{"bot": "b"}}}, nil, "at least 1m"},
		{"unknown param", []Job{{Name: "a", Vendor: exportkit.Brainbase, Params: map[string]string{"bot": "b"}}}, nil, `unknown parameter "bot"`},
		{"missing param", []Job{{Name: "a", Vendor: exportkit.Kore}}, nil, `"bot" is required`},
		{"bad format", []Job{{Name: "a", Vendor: exportkit.Memsolus, Params: map[string]string{"format": "xml"}}}, nil, "format must be"},
		{"bad option", nil, []Option{WithConcurrency(0)}, "WithConcurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(c.Client(), st, t.TempDir(), tc.jobs, tc.opts...)
			require.ErrorIs(t, err, exportkit.ErrInvalidInput)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// A run that lasts several lease lifetimes keeps its lease (renewed every
// third of it): a second engine that starts meanwhile waits for it, and
// the first one finishes without losing the run.
func TestLeaseRenewedDuringLongRun(t *testing.T) {
	v := newEnv(t, exporttest.ReadyAfterDuration(1500*time.Millisecond))
	j := []Job{allJobs()[1]}
	a := v.engine(v.client(), j, WithLeaseTTL(300*time.Millisecond))
	b := v.engine(v.client(), j, WithLeaseTTL(300*time.Millisecond))
	started := make(chan struct{})
	var once sync.Once
	a.hook = func(p string) {
		if p == string(StateWaiting) {
			once.Do(func() { close(started) })
		}
	}
	var ra, rb map[string]Result
	var wg sync.WaitGroup
	wg.Go(func() { ra = v.sync(a) })
	<-started
	wg.Go(func() { rb = v.sync(b) })
	wg.Wait()
	v.requireDone(ra, j[0].Name)
	v.requireDone(rb, j[0].Name) // b waited, then read the run a finished
	require.Equal(t, 1, v.creates()[exportkit.Memsolus])
}
