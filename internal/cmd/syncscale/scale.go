package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/exportkit/exportkit/exporttest"
)

// scale runs n job runs (n/4 jobs per vendor, one period each) in one
// sync of one engine against the fake on loopback, and prints the wall
// time, the peak heap and RSS of this process (the fake included), and
// the busiest second of requests per vendor.
func scale(n, concurrency int) error {
	tmp, err := os.MkdirTemp("", "exportkit-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	srv := exporttest.NewServer(exporttest.ReadyAfter(1), exporttest.FileSize(16<<10))
	defer srv.Close()
	c := srv.Client(exportkit.WithRetry(2, 10*time.Millisecond, 100*time.Millisecond))
	st, err := exportjob.Open(context.Background(), filepath.Join(tmp, "exportkit.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	var jobs []exportjob.Job
	for i := range n / 4 {
		s := strconv.Itoa(i)
		jobs = append(jobs,
			exportjob.Job{Name: "logs" + s, Vendor: exportkit.Brainbase, Params: map[string]string{"log-type": "T" + s}},
			exportjob.Job{Name: "memories" + s, Vendor: exportkit.Memsolus, Params: map[string]string{"user": "u" + s}},
			exportjob.Job{Name: "audience" + s, Vendor: exportkit.Orbit, Params: map[string]string{"audience": "aud_" + s}},
			exportjob.Job{Name: "bot" + s, Vendor: exportkit.Kore, Params: map[string]string{"bot": "st-bot-" + s}})
	}
	e, err := exportjob.New(c, st, filepath.Join(tmp, "exports"), jobs, exportjob.WithConcurrency(concurrency),
		exportjob.WithPollSchedule(exportkit.PollSchedule{Min: 200 * time.Millisecond, Max: time.Second, Multiplier: 1.5, Jitter: 0.2}))
	if err != nil {
		return err
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
		}
	})
	start := time.Now()
	res, err := e.Sync(context.Background())
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	done := 0
	for _, r := range res {
		if r.Err == nil {
			done++
		}
	}
	busiest := map[exportkit.Vendor]int{}
	perSecond := map[exportkit.Vendor]map[int64]int{}
	total := map[exportkit.Vendor]int{}
	for _, r := range srv.Requests() {
		v := r.Vendor
		if r.Storage {
			v = "storage"
		}
		if perSecond[v] == nil {
			perSecond[v] = map[int64]int{}
		}
		perSecond[v][r.Time.Unix()]++
		total[v]++
		busiest[v] = max(busiest[v], perSecond[v][r.Time.Unix()])
	}
	fmt.Printf("scale: %d job runs in one sync (concurrency %d), %d done, in %s\n", n, concurrency, done, took.Round(time.Millisecond))
	fmt.Printf("peak heap growth %.1f MiB (the fake in the same process), peak RSS %s\n",
		float64(peak-min(peak, base))/(1<<20), vmHWM())
	var vs []string
	for v := range total {
		vs = append(vs, string(v))
	}
	sort.Strings(vs)
	fmt.Printf("| vendor | requests | busiest second | mean per second |\n|---|--:|--:|--:|\n")
	for _, v := range vs {
		fmt.Printf("| %s | %d | %d | %.1f |\n", v, total[exportkit.Vendor(v)], busiest[exportkit.Vendor(v)], float64(total[exportkit.Vendor(v)])/took.Seconds())
	}
	if done != n {
		return fmt.Errorf("%d of %d runs done", done, n)
	}
	return nil
}

// vmHWM is this process's peak resident set, from /proc.
func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
