package bench

import (
	"flag"
	"testing"
)

var downloadMiB = flag.Int("bench.download", 0, "measure downloads of this many MiB (QUALITY.md 16-17 ask for 64 and 1024) and print the ratios")

// TestMeasureDownload checks that the download measurement runs, on a small
// file; with -bench.download=N it measures N MiB and prints the report. The
// figures are printed, never asserted: a timed unit test would be flaky.
func TestMeasureDownload(t *testing.T) {
	size, rounds := int64(4<<20), 1
	if *downloadMiB > 0 {
		size, rounds = int64(*downloadMiB)<<20, 5
	}
	r, err := MeasureDownload(t.Context(), size, rounds)
	if err != nil {
		t.Fatal(err)
	}
	if r.SDK <= 0 || r.SDKNoHash <= 0 || r.Copy <= 0 || r.Tee <= 0 {
		t.Fatalf("no throughput measured: %+v", r)
	}
	t.Log(r)
}
