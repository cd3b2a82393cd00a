package bench

import (
	"flag"
	"runtime"
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

// TestMeasureCLI checks that the CLI measurement runs, on a small file.
// The report measures 4 GiB.
func TestMeasureCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the CLI")
	}
	runs := measureCLI(t, 8<<20)
	if len(runs) != 2 {
		t.Fatalf("%d runs, want to a file and to stdout", len(runs))
	}
	for _, r := range runs {
		if r.Wall <= 0 || (r.PeakRSS <= 0 && runtime.GOOS == "linux") {
			t.Fatalf("nothing measured: %+v", r)
		}
		t.Logf("%s: %v, peak RSS %.1f MiB", r.Output, r.Wall, float64(r.PeakRSS)/(1<<20))
	}
}
