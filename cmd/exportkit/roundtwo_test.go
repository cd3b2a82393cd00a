package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// jsonError decodes the JSON error line that ends stderr under --json.
func jsonError(t *testing.T, r result) errorJSON {
	t.Helper()
	var e errorJSON
	if err := json.Unmarshal([]byte(lastLine(r.stderr)), &e); err != nil {
		t.Fatalf("stderr does not end with a JSON error: %v\n%s", err, r.stderr)
	}
	return e
}

// TestInputKinds: a format Brainbase does not have is refused locally as
// Memsolus's is (exit 2, invalid_input), and a vendor's own 400 validation
// answer is invalid_input too.
func TestInputKinds(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, v := range []string{"brainbase", "memsolus"} {
		e := jsonError(t, cli(t, srv, "create", v, "--format", "XML", "--json").must(t, exitUsage))
		if e.Kind != "invalid_input" || e.Exit != exitUsage {
			t.Errorf("create %s --format XML: %+v", v, e)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("a refused format sent %d requests", n)
	}
	if err := srv.Inject(exporttest.On(exportkit.Brainbase).Method("POST").Status(400)); err != nil {
		t.Fatal(err)
	}
	e := jsonError(t, cli(t, srv, "create", "brainbase", "--json").must(t, exitUsage))
	if e.Kind != "invalid_input" || !strings.Contains(e.Error, "400") {
		t.Errorf("a vendor's 400: %+v", e)
	}
}

// TestDownloadReports: a download ends with its size, time, throughput
// and parts on stderr, and --json has reused and parts.
func TestDownloadReports(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ref, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "f.csv")
	r := cli(t, srv, "download", "brainbase", ref.ID, "-o", out, "--json").must(t, exitOK)
	if !regexp.MustCompile(`downloaded 256.0 KiB in [0-9.]+[µm]?s \([0-9.]+ MB/s, 1 part over 1 connection\), verified`).MatchString(r.stderr) {
		t.Errorf("no summary line on stderr:\n%s", r.stderr)
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	if d["reused"] != float64(0) || d["parts"] != float64(1) {
		t.Errorf("download --json: reused %v, parts %v", d["reused"], d["parts"])
	}
	// Quiet: nothing on stderr.
	out2 := filepath.Join(t.TempDir(), "g.csv")
	if r := cli(t, srv, "download", "brainbase", ref.ID, "-o", out2, "-q").must(t, exitOK); r.stderr != "" {
		t.Errorf("--quiet printed on stderr:\n%s", r.stderr)
	}
	// -o - --json: the JSON summary comes after every status line, whole.
	r = cli(t, srv, "download", "brainbase", ref.ID, "-o", "-", "--json").must(t, exitOK)
	i := strings.Index(r.stderr, "{")
	if i < 0 || json.Unmarshal([]byte(r.stderr[i:]), &d) != nil || d["path"] != "-" {
		t.Errorf("-o - --json: stderr does not end with the JSON summary:\n%s", r.stderr)
	}
}

// TestTimeoutCoversTheTransfer: --timeout is one deadline for the whole
// command, the transfer included: a stalled download ends with exit 5 when
// it runs out, keeps its partial file and says so. The next run goes on
// from it, and a run for another export to the same path starts over and
// says why.
func TestTimeoutCoversTheTransfer(t *testing.T) {
	t.Parallel()
	srv := newServer(t, exporttest.FileSize(4<<20))
	a, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	b, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Inject(exporttest.OnStorage().Path(a.ID).StallAfter(1<<20, time.Minute).Times(1)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "big.csv")
	start := time.Now()
	r := cli(t, srv, "download", "brainbase", a.ID, "-o", out, "--timeout", "1s", "--connections", "1").must(t, exitTimeout)
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("--timeout 1s: the stalled download ran for %s", took)
	}
	if line := errorLine(t, r); !strings.HasSuffix(line, "timed out after 1s") {
		t.Errorf("error line %q", line)
	}
	if !strings.Contains(r.stderr, "timed out after 1s at") || !strings.Contains(r.stderr, "kept "+out+".partial: run the same command to go on") {
		t.Errorf("the task line does not say what was kept:\n%s", r.stderr)
	}
	// Another export to the same path: nothing of the partial file fits.
	r = cli(t, srv, "download", "brainbase", b.ID, "-o", out).must(t, exitOK)
	if !strings.Contains(r.stderr, "started over: "+out+".partial was from another export") || strings.Contains(r.stderr, "went on") {
		t.Errorf("a partial file of another export:\n%s", r.stderr)
	}
	checkFile(t, out, srv.File(exportkit.Brainbase, b.ID))
}

// TestUsageRefusals: values that mean nothing are exit 2, before any
// request, as are all output paths that cannot be written.
func TestUsageRefusals(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	dir := t.TempDir()
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"connections 0", []string{"download", "brainbase", "x", "-o", "-", "--connections", "0"}, "--connections 0: want a whole number, at least 1"},
		{"connections -3", []string{"download", "brainbase", "x", "-o", "-", "--connections", "-3"}, "--connections -3"},
		{"part size too small", []string{"download", "brainbase", "x", "-o", "-", "--part-size", "1"}, "--part-size 1: at least 64KiB"},
		{"part size in MB", []string{"download", "brainbase", "x", "-o", "-", "--part-size", "8MB"}, "write 8MiB"},
		{"empty base URL", []string{"get", "brainbase", "x", "--base-url", ""}, "--base-url has an empty value"},
		{"base URL not a host", []string{"get", "brainbase", "x", "--base-url", "::"}, "not a host"},
		{"limit 0", []string{"list", "memsolus", "--limit", "0"}, "--limit 0"},
		{"limit -1", []string{"list", "memsolus", "--limit", "-1"}, "--limit -1"},
		{"poll interval on get", []string{"get", "brainbase", "x", "--poll-interval", "1s"}, "only wait and download poll"},
		{"poll interval on create", []string{"create", "brainbase", "--poll-interval", "1s"}, "unknown flag --poll-interval"},
		{"since after until", []string{"create", "brainbase", "--since", "2025-02-01", "--until", "2025-01-01"}, "--since 2025-02-01T00:00:00Z is after --until"},
		{"output is .", []string{"download", "brainbase", "x", "-o", "."}, "is a directory"},
		{"output in a missing directory", []string{"download", "brainbase", "x", "-o", filepath.Join(dir, "nope", "f")}, "cannot write"},
		{"output in a read-only directory", []string{"download", "brainbase", "x", "-o", filepath.Join(ro, "f")}, "cannot write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "output in a read-only directory" && os.Geteuid() == 0 {
				t.Skip("root writes anywhere")
			}
			args := tc.args
			if !strings.Contains(tc.name, "base URL") {
				args = append(args, "--base-url", srv.URL())
			}
			r := runWith(t, fakeEnv, args...).must(t, exitUsage)
			if line := errorLine(t, r); !strings.Contains(line, tc.want) {
				t.Errorf("error line %q lacks %q", line, tc.want)
			}
		})
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("refused command lines sent %d requests: %+v", n, srv.Requests())
	}
}

// TestWording: the create hint keeps --base-url and names the id the other
// commands take; a reused Orbit export is not "created"; a failed export
// with no message says so; a 429's Retry-After shows while it is waited.
func TestWording(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	r := cli(t, srv, "create", "orbit", "aud-1").must(t, exitOK)
	run := strings.TrimSpace(r.stdout)
	if want := "created " + run + " "; !strings.Contains(r.stderr, want) {
		t.Errorf("create orbit: stderr lacks %q:\n%s", want, r.stderr)
	}
	if want := "next: exportkit wait orbit " + run + " --base-url " + srv.URL(); !strings.Contains(r.stderr, want) {
		t.Errorf("create orbit: the hint lacks %q:\n%s", want, r.stderr)
	}
	cli(t, srv, "wait", "orbit", run).must(t, exitOK)
	first := cli(t, srv, "create", "orbit", run).must(t, exitOK)
	again := cli(t, srv, "create", "orbit", run).must(t, exitOK)
	if first.stdout != again.stdout || !strings.Contains(first.stderr, "created") ||
		strings.Contains(again.stderr, "created") || !strings.Contains(again.stderr, "already has its export") {
		t.Errorf("create orbit AUDIENCE/RUN twice:\n%s%s", first.stderr, again.stderr)
	}

	ref, err := srv.AddExport(exportkit.Kore)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.FailExport(exportkit.Kore, ref.ID, "", ""); err != nil {
		t.Fatal(err)
	}
	g := cli(t, srv, "get", "kore", ref.BotID).must(t, exitOK)
	if !regexp.MustCompile(`(?m)^error\s+\S`).MatchString(g.stdout) {
		t.Errorf("a failed export without a message has an empty error line:\n%s", g.stdout)
	}

	b, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Inject(exporttest.On(exportkit.Brainbase).Method("GET").Status(429).RetryAfter("1")); err != nil {
		t.Fatal(err)
	}
	w := cli(t, srv, "wait", "brainbase", b.ID).must(t, exitOK)
	if !strings.Contains(w.stderr, "got 429 Too Many Requests, Retry-After 1s: waiting 1s as asked") {
		t.Errorf("the 429's wait is silent:\n%s", w.stderr)
	}
}
