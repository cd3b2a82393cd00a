package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

var scaleWaits = flag.Int("bench.scale", 0, "run the scale test with this many concurrent waits (QUALITY.md 19 asks for 10000)")

// scaleResult is what the scale test measures.
type scaleResult struct {
	Waits          int
	Ready, Failed  int
	Wrong          int // waits that ended other than scripted
	Requests       int64
	PeakGoroutines int
	PeakHeap       uint64 // bytes in use, sampled
	BaseHeap       uint64
	MaxPerSecond   map[exportkit.Vendor]int
	Limit          float64
	Burst          int
	FakeDuration   time.Duration
	WallDuration   time.Duration
}

// countingTransport counts the requests that reach the (in-memory) server
// in each one-second window of the fake clock, per vendor.
type countingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	per  map[exportkit.Vendor]map[int64]int
	n    atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	v := vendorOf(r.URL.Path)
	sec := time.Now().Unix()
	t.mu.Lock()
	if t.per[v] == nil {
		t.per[v] = map[int64]int{}
	}
	t.per[v][sec]++
	t.mu.Unlock()
	t.n.Add(1)
	return t.next.RoundTrip(r)
}

func vendorOf(path string) exportkit.Vendor {
	switch {
	case len(path) > 9 && path[:9] == "/api/team":
		return exportkit.Brainbase
	case len(path) > 11 && path[:11] == "/v1/exports":
		return exportkit.Memsolus
	}
	return "other"
}

// runScale creates n exports (Brainbase and Memsolus alternately, every
// tenth scripted to fail), waits on all of them at once on a fake clock
// against the in-memory fake, with each vendor paced by WithRateLimit, and
// measures peak goroutines and heap and the busiest second per vendor.
func runScale(t *testing.T, n int) scaleResult {
	res := scaleResult{Waits: n, Limit: 200, Burst: 20, MaxPerSecond: map[exportkit.Vendor]int{}}
	wallStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res.BaseHeap = ms.HeapInuse

		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(4), exporttest.KeepRequests(0))
		defer srv.Close()
		ct := &countingTransport{next: srv.Transport(), per: map[exportkit.Vendor]map[int64]int{}}
		opts := append(srv.ClientOptions(),
			productionSchedule, // the fake's client polls fast: measure the SDK's own schedule
			exportkit.WithHTTPClient(&http.Client{Transport: ct}),
			exportkit.WithRateLimit(exportkit.Brainbase, res.Limit, res.Burst),
			exportkit.WithRateLimit(exportkit.Memsolus, res.Limit, res.Burst))
		c, err := exportkit.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()

		exports := make([]exportkit.Export, n)
		fails := make([]bool, n)
		for i := range exports {
			var e exportkit.Export
			var err error
			if i%2 == 0 {
				e, err = c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
			} else {
				e, err = c.Memories.Create(ctx, nil)
			}
			if err != nil {
				t.Fatalf("create %d: %v", i, err)
			}
			if i%10 == 9 {
				fails[i] = true
				if err := srv.FailExport(e.Vendor(), e.ExportID(), "SCALE_FAIL", "scripted"); err != nil {
					t.Fatal(err)
				}
			}
			exports[i] = e
		}

		start := time.Now()
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() { // sample every 5 s of fake time
			defer close(sampled)
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				res.PeakHeap = max(res.PeakHeap, ms.HeapInuse)
				res.PeakGoroutines = max(res.PeakGoroutines, runtime.NumGoroutine())
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Second):
				}
			}
		}()
		var wg sync.WaitGroup
		var ready, failed, wrong atomic.Int64
		for i, e := range exports {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := c.Wait(ctx, e)
				switch {
				case fails[i] && errors.Is(err, exportkit.ErrExportFailed) && got != nil && got.State() == exportkit.StateFailed:
					failed.Add(1)
				case !fails[i] && err == nil && got.State() == exportkit.StateReady:
					ready.Add(1)
				default:
					wrong.Add(1)
					t.Errorf("wait %d (%s %s): state %v, err %v", i, e.Vendor(), e.ExportID(), stateOf(got), err)
				}
			}()
		}
		wg.Wait()
		close(stop)
		<-sampled
		res.FakeDuration = time.Since(start)
		res.Ready, res.Failed, res.Wrong = int(ready.Load()), int(failed.Load()), int(wrong.Load())
		res.Requests = ct.n.Load()
		for v, secs := range ct.per {
			for _, k := range secs {
				res.MaxPerSecond[v] = max(res.MaxPerSecond[v], k)
			}
		}
	})
	res.WallDuration = time.Since(wallStart)
	return res
}

func stateOf(e exportkit.Export) exportkit.State {
	if e == nil {
		return ""
	}
	return e.State()
}

// TestScale runs the scale measurement: a small run in every test run (the
// race detector allows at most 8128 live goroutines), the full 10,000 with
// -bench.scale=10000 or through the report command.
func TestScale(t *testing.T) {
	n := *scaleWaits
	if n == 0 {
		n = 500
	}
	res := runScale(t, n)
	checkScale(t, res)
	if *scaleWaits > 0 {
		fmt.Print(res.table())
	}
}

func checkScale(t *testing.T, res scaleResult) {
	t.Helper()
	if res.Ready+res.Failed != res.Waits || res.Wrong != 0 {
		t.Errorf("%d waits: %d ready, %d failed, %d wrong", res.Waits, res.Ready, res.Failed, res.Wrong)
	}
	allowed := int(res.Limit) + res.Burst
	for v, m := range res.MaxPerSecond {
		if v != "other" && m > allowed {
			t.Errorf("%s saw %d requests in one second; allowed %g/s with burst %d", v, m, res.Limit, res.Burst)
		}
	}
}

func (r scaleResult) table() string {
	return fmt.Sprintf(`Scale: %d concurrent waits (Brainbase and Memsolus, every tenth scripted to fail), in-memory fake, fake clock
  ended as scripted      %d ready + %d failed, %d wrong
  requests               %d in %s of fake time (%s wall)
  peak goroutines        %d
  peak heap in use       %.1f MiB (%.1f MiB before; %.1f KiB per wait)
  busiest second         brainbase %d, memsolus %d (WithRateLimit %g/s, burst %d)
`, r.Waits, r.Ready, r.Failed, r.Wrong, r.Requests, r.FakeDuration.Round(time.Second), r.WallDuration.Round(time.Millisecond),
		r.PeakGoroutines, mib(r.PeakHeap), mib(r.BaseHeap), float64(r.PeakHeap-min(r.BaseHeap, r.PeakHeap))/1024/float64(r.Waits),
		r.MaxPerSecond[exportkit.Brainbase], r.MaxPerSecond[exportkit.Memsolus], r.Limit, r.Burst)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
