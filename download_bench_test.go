package exportkit_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/bench"
)

// BenchmarkDownload measures QUALITY.md 16 and 17 over loopback: exportkit's
// Download without hashing (the default: size verified) next to a bare
// io.CopyBuffer of the same response, and with SHA-1 (WithSHA1) next to a
// bare io.TeeReader(sha1) copy, at 64 MiB and 1 GiB (skipped with -short).
// Compare the MB/s of each pair; peak-heap-MiB is the live
// heap's peak growth during the run, heap-inuse-MiB its growth from start to
// end, and allocs/op must not grow with the size.
//
//	go test -run '^$' -bench BenchmarkDownload -benchtime 3x .
//
// internal/bench.MeasureDownload prints the same comparison with ratios.
func BenchmarkDownload(b *testing.B) {
	srv := bench.NewDownloadServer()
	defer srv.Close()
	c, err := bench.NewClient()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, size := range []int64{64 << 20, 1 << 30} {
		ways := []struct {
			name string
			f    func() error
		}{
			{"exportkit-nosha1", func() error { return bench.SDK(ctx, c, srv, size) }},
			{"exportkit", func() error { return bench.SDK(ctx, c, srv, size, exportkit.WithSHA1()) }},
			{"copy", func() error { return bench.Copy(ctx, srv, size) }},
			{"sha1-tee", func() error { return bench.Tee(ctx, srv, size) }},
		}
		for _, w := range ways {
			b.Run(fmt.Sprintf("%dMiB/%s", size>>20, w.name), func(b *testing.B) {
				if size > 64<<20 && testing.Short() {
					b.Skip("1 GiB skipped with -short")
				}
				if err := w.f(); err != nil { // warm the connection pool
					b.Fatal(err)
				}
				b.SetBytes(size)
				b.ReportAllocs()
				heap := bench.StartHeapSampler()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for b.Loop() {
					if err := w.f(); err != nil {
						b.Fatal(err)
					}
				}
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(heap.Stop())/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/(1<<20), "heap-inuse-MiB")
			})
		}
	}
}
