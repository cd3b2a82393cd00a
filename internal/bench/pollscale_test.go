package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
)

// scale measures QUALITY 19: n concurrent waits against the fake server,
// with a vendor rate limit, finish with bounded memory and never exceed the
// limit in any one-second window. It returns an error text per broken
// bound, empty when all hold.
func scale(t *testing.T, w io.Writer, n int) (problems []string) {
	const perSecond, burst = 200, 10
	ready := readyTimes(short, n, 3)
	synctest.Test(t, func(t *testing.T) {
		srv, c, ids := newSim(t, n, exportkit.WithRateLimit(exportkit.Brainbase, perSecond, burst))
		start := time.Now()
		exports := make([]exportkit.Export, n)
		for i, d := range ready {
			exports[i] = &exportkit.LogExport{ID: ids[i]}
			time.AfterFunc(d, func() {
				if err := srv.SetState(exportkit.Brainbase, ids[i], exportkit.StateReady); err != nil {
					t.Error(err)
				}
			})
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var peak atomic.Uint64
		ctx, stop := context.WithCancel(context.Background())
		sampled := make(chan struct{})
		go func() { // sample the heap every 5 s of fake time while the waits run
			defer close(sampled)
			var m runtime.MemStats
			for ctx.Err() == nil {
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second):
				}
			}
		}()
		res := c.WaitAll(context.Background(), exports, exportkit.WithConcurrency(n))
		took := time.Since(start)
		stop()
		<-sampled

		failed := 0
		for _, r := range res {
			if r.Err != nil {
				failed++
			}
		}
		var all []time.Duration
		for _, ts := range statusReads(srv, start) {
			all = append(all, ts...)
		}
		busiest := busiestSecond(all, 0)
		grew := int64(peak.Load()) - int64(before.HeapAlloc)
		perWait := float64(grew) / float64(n)

		fmt.Fprintf(w, "%d concurrent waits (ready U[2s,60s]), WithRateLimit(Brainbase, %d/s, burst %d):\n\n", n, perSecond, burst)
		fmt.Fprintf(w, "| waits | failed | requests | fake time | busiest second | heap growth at peak | per wait |\n")
		fmt.Fprintf(w, "|------:|-------:|---------:|----------:|---------------:|--------------------:|---------:|\n")
		fmt.Fprintf(w, "| %5d | %6d | %8d | %8.0fs | %14d | %16.1f MiB | %5.1f KiB |\n\n",
			n, failed, len(all), took.Seconds(), busiest, float64(grew)/(1<<20), perWait/1024)

		if failed > 0 {
			problems = append(problems, fmt.Sprintf("%d of %d waits failed", failed, n))
		}
		if busiest > perSecond+burst {
			problems = append(problems, fmt.Sprintf("%d requests in one second, limit %d/s burst %d", busiest, perSecond, burst))
		}
		// A wait holds a goroutine, a timer and a few small values: far
		// under 64 KiB. Growth with n beyond that would be a leak.
		if perWait > 64<<10 {
			problems = append(problems, fmt.Sprintf("heap grew %.0f KiB per wait", perWait/1024))
		}
	})
	return problems
}
