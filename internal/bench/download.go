package bench

// The download measurement (QUALITY.md 16 and 17) needs no fake clock, so it
// is ordinary code that BenchmarkDownload in the root package and
// TestMeasureDownload here share.

import (
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exportkit/exportkit"
)

// CopyBufferSize is the buffer of the bare copies, the size exportkit's
// download loop uses, so that the comparison is between equals.
const CopyBufferSize = 256 << 10

// patternSize is the block the download server repeats. It is not a power
// of two, so block edges do not line up with reads.
const patternSize = 1<<20 + 7

var pattern = func() []byte {
	b := make([]byte, patternSize)
	var x uint64 = 0x9E3779B97F4A7C15
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}()

// NewDownloadServer serves GET /file?size=N: N deterministic bytes,
// generated on the fly (a 1 GiB file is never held in memory), with a
// Content-Length and a strong ETag.
func NewDownloadServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("size"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.Header().Set("ETag", `"bench-`+strconv.FormatInt(n, 10)+`"`)
		w.Header().Set("Content-Type", "application/octet-stream")
		for n > 0 {
			m := min(n, int64(len(pattern)))
			if _, err := w.Write(pattern[:m]); err != nil {
				return
			}
			n -= m
		}
	}))
}

// FileURL is the URL of a file of size bytes on a download server.
func FileURL(srv *httptest.Server, size int64) string {
	return srv.URL + "/file?size=" + strconv.FormatInt(size, 10) + "&X-Amz-Signature=bench"
}

// NewClient returns an exportkit client for downloads from srv.
func NewClient() (*exportkit.Client, error) {
	return exportkit.NewClient(exportkit.WithBrainbaseAPIKey("bench"))
}

// SDK downloads size bytes from srv with exportkit to io.Discard, the size
// verified and, with WithSHA1 in opts, the SHA-1 computed.
func SDK(ctx context.Context, c *exportkit.Client, srv *httptest.Server, size int64, opts ...exportkit.DownloadOption) error {
	u := FileURL(srv, size)
	fs := float64(size)
	e := &exportkit.LogExport{ID: "bench", Status: "COMPLETED", DownloadURL: &u, FileSizeBytes: &fs}
	res, err := c.Download(ctx, e, io.Discard, opts...)
	if err != nil {
		return err
	}
	if res.Bytes != size || !res.Verified {
		return fmt.Errorf("downloaded %d bytes (verified %v), want %d", res.Bytes, res.Verified, size)
	}
	return nil
}

// writerOnly hides io.Discard's ReadFrom, so that io.CopyBuffer uses the
// buffer it is given, as exportkit's loop does.
type writerOnly struct{ io.Writer }

var bareClient = &http.Client{Transport: func() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	return t
}()}

var buffers = sync.Pool{New: func() any { b := make([]byte, CopyBufferSize); return &b }}

// Copy is the bare baseline: GET and io.CopyBuffer to io.Discard.
func Copy(ctx context.Context, srv *httptest.Server, size int64) error {
	return bare(ctx, srv, size, false)
}

// Tee is the bare baseline with SHA-1: io.CopyBuffer of an
// io.TeeReader(body, sha1).
func Tee(ctx context.Context, srv *httptest.Server, size int64) error {
	return bare(ctx, srv, size, true)
}

func bare(ctx context.Context, srv *httptest.Server, size int64, hash bool) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, FileURL(srv, size), nil)
	if err != nil {
		return err
	}
	resp, err := bareClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r io.Reader = resp.Body
	if hash {
		r = io.TeeReader(resp.Body, sha1.New())
	}
	bp := buffers.Get().(*[]byte)
	defer buffers.Put(bp)
	n, err := io.CopyBuffer(writerOnly{io.Discard}, r, *bp)
	if err == nil && n != size {
		err = fmt.Errorf("copied %d bytes, want %d", n, size)
	}
	return err
}

// HeapSampler tracks the peak of the live heap while it runs, through
// runtime/metrics, which does not stop the world.
type HeapSampler struct {
	base uint64
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

const heapMetric = "/memory/classes/heap/objects:bytes"

// heapObjects reads the live heap into s, which is reused so that the
// sampling itself allocates nothing.
func heapObjects(s []metrics.Sample) uint64 {
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func newHeapSample() []metrics.Sample { return []metrics.Sample{{Name: heapMetric}} }

// StartHeapSampler collects garbage, takes the baseline and samples every
// 2 ms until Stop.
func StartHeapSampler() *HeapSampler {
	runtime.GC()
	h := &HeapSampler{base: heapObjects(newHeapSample()), stop: make(chan struct{}), done: make(chan struct{})}
	h.peak.Store(h.base)
	sample := newHeapSample()
	go func() {
		defer close(h.done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-t.C:
				if v := heapObjects(sample); v > h.peak.Load() {
					h.peak.Store(v)
				}
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak growth of the heap over the
// baseline, in bytes (garbage not yet collected included).
func (h *HeapSampler) Stop() uint64 {
	close(h.stop)
	<-h.done
	if v := heapObjects(newHeapSample()); v > h.peak.Load() {
		h.peak.Store(v)
	}
	return h.peak.Load() - h.base
}

// DownloadReport compares exportkit's download with the bare copies of
// the same response (QUALITY.md 16 and 17): streaming without hashing
// against a bare io.CopyBuffer, and with SHA-1 against a bare
// io.TeeReader(sha1) copy.
type DownloadReport struct {
	Size                int64
	SDK                 float64 // MB/s with SHA-1 (WithSHA1), median of the rounds
	SDKNoHash           float64 // MB/s without SHA-1 (the default when none is to be verified)
	Copy, Tee           float64 // MB/s of the bare copies
	RatioCopy, RatioTee float64 // SDKNoHash / Copy, SDK / Tee
	PeakHeapGrowth      uint64  // bytes, during the SDK downloads
	AllocsPerDownload   float64 // heap allocations per SDK download
	BytesPerDownload    float64 // bytes allocated per SDK download
}

func (r DownloadReport) String() string {
	return fmt.Sprintf("%d MiB: exportkit without hashing %.0f MB/s vs bare copy %.0f MB/s (ratio %.2f); exportkit with SHA-1 %.0f MB/s vs sha1 tee %.0f MB/s (ratio %.2f); peak heap growth %.2f MiB, %.0f allocs and %.0f B per download",
		r.Size>>20, r.SDKNoHash, r.Copy, r.RatioCopy, r.SDK, r.Tee, r.RatioTee, float64(r.PeakHeapGrowth)/(1<<20), r.AllocsPerDownload, r.BytesPerDownload)
}

// MeasureDownload downloads size bytes rounds times each way, interleaved
// so that the machine's drift hits all four alike, and reports the median
// throughput of each with the heap and allocations of exportkit's. The
// median, not the best: with the server on the same two cores, one lucky
// round of a baseline would otherwise decide the ratio.
func MeasureDownload(ctx context.Context, size int64, rounds int) (DownloadReport, error) {
	srv := NewDownloadServer()
	defer srv.Close()
	c, err := NewClient()
	if err != nil {
		return DownloadReport{}, err
	}
	r := DownloadReport{Size: size}
	mbps := func(d time.Duration) float64 { return float64(size) / d.Seconds() / 1e6 }
	timed := func(f func() error) (float64, error) {
		start := time.Now()
		err := f()
		return mbps(time.Since(start)), err
	}
	ways := [...]func() error{
		func() error { return SDK(ctx, c, srv, size, exportkit.WithSHA1()) }, // measured for heap and allocations too
		func() error { return SDK(ctx, c, srv, size) },
		func() error { return Copy(ctx, srv, size) },
		func() error { return Tee(ctx, srv, size) },
	}
	// One of each first, to open connections and warm up.
	for _, f := range ways {
		if err := f(); err != nil {
			return r, err
		}
	}
	var m0, m1 runtime.MemStats
	var allocs, allocBytes uint64
	var mbpsOf [len(ways)][]float64
	for round := range rounds {
		for k := range ways {
			i := (k + round) % len(ways) // rotate which goes first
			if i != 0 {
				v, err := timed(ways[i])
				if err != nil {
					return r, err
				}
				mbpsOf[i] = append(mbpsOf[i], v)
				continue
			}
			heap := StartHeapSampler()
			runtime.ReadMemStats(&m0)
			v, err := timed(ways[0])
			runtime.ReadMemStats(&m1)
			r.PeakHeapGrowth = max(r.PeakHeapGrowth, heap.Stop())
			if err != nil {
				return r, err
			}
			allocs += m1.Mallocs - m0.Mallocs
			allocBytes += m1.TotalAlloc - m0.TotalAlloc
			mbpsOf[0] = append(mbpsOf[0], v)
		}
	}
	sdk, sdkNoHash, cp, tee := mbpsOf[0], mbpsOf[1], mbpsOf[2], mbpsOf[3]
	r.SDK, r.SDKNoHash, r.Copy, r.Tee = median(sdk), median(sdkNoHash), median(cp), median(tee)
	r.RatioCopy, r.RatioTee = r.SDKNoHash/r.Copy, r.SDK/r.Tee
	r.AllocsPerDownload = float64(allocs) / float64(rounds)
	r.BytesPerDownload = float64(allocBytes) / float64(rounds)
	return r, nil
}

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Clone(x)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
