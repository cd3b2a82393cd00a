package bench

import (
	"bytes"
	"flag"
	"io"
	"net/http"
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

// TestMeasureParts checks that the parts measurement runs, on a small file,
// and that the range server serves the same bytes in ranges.
func TestMeasureParts(t *testing.T) {
	r, err := MeasureParts(t.Context(), 20<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.SDK <= 0 || r.Copy <= 0 {
		t.Fatalf("no throughput measured: %+v", r)
	}
	t.Logf("%+v", r)
}

// TestRangeServer: a range is the same bytes as that part of the whole.
func TestRangeServer(t *testing.T) {
	srv := NewRangeServer()
	defer srv.Close()
	get := func(rg string) (int, []byte) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, FileURL(srv, 3<<20), nil)
		if rg != "" {
			req.Header.Set("Range", rg)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	code, whole := get("")
	if code != 200 || len(whole) != 3<<20 {
		t.Fatalf("whole: %d, %d bytes", code, len(whole))
	}
	for _, tc := range []struct {
		rg         string
		start, end int
	}{{"bytes=0-0", 0, 1}, {"bytes=1048570-2097160", 1048570, 2097161}, {"bytes=3000000-", 3000000, 3 << 20}} {
		code, b := get(tc.rg)
		if code != 206 || !bytes.Equal(b, whole[tc.start:tc.end]) {
			t.Errorf("%s: %d, %d bytes, equal %v", tc.rg, code, len(b), bytes.Equal(b, whole[tc.start:tc.end]))
		}
	}
	if code, _ := get("bytes=5000000-"); code != 416 {
		t.Errorf("a range past the end: %d, want 416", code)
	}
}
