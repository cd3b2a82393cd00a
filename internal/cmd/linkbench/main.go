//go:build unix

// Command linkbench times `exportkit download` against aria2c and curl on a
// link that caps every connection, as signed-URL storage does (QUALITY.md
// 24 and 30): files of 1 MiB to 1 GiB served by nginx (sendfile, real
// Range and strong ETag) behind Toxiproxy, which adds 40 ms of latency to
// what the server sends and caps each connection at 20 MB/s.
//
//	bash .ci/bench-tools.sh          # nginx, aria2 and Toxiproxy, pinned
//	go run ./internal/cmd/linkbench  # every size, 3 interleaved rounds, ~10 minutes
//
// Every command is a whole process, timed from start to exit, and writes
// the file to disk. The rounds interleave the commands (the order rotates
// each round) so that the load of a shared machine falls on all of them
// alike; the table has the median of each, its share of what 16
// connections at the cap can carry, and its time against aria2c -x16 -s16
// -k1M (the goal: at most 0.80 from 4 MiB up). exportkit starts from a
// local stand-in for Orbit's status endpoint, which gives the file's size
// and SHA-1, so the CLI verifies both before it renames the file into
// place; aria2c and curl verify nothing (from 256 MiB one aria2c row is
// given the SHA-1, for the CPU it costs). Every output's SHA-1 is checked
// after its run.
//
// The kill-and-rerun rows (-kill-size) start exportkit and aria2c -x16,
// SIGKILL each at half its median time, run it again, and count the bytes
// nginx sent to the rerun.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	benchpkg "github.com/exportkit/exportkit/internal/bench"
)

func main() {
	var o options
	flag.StringVar(&o.sizes, "sizes", "1MiB,4MiB,16MiB,64MiB,256MiB,1GiB", "file sizes (B, KiB, MiB, GiB), comma-separated")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds per size; each runs every command once (at most 50)")
	flag.StringVar(&o.conns, "connections", "", "extra exportkit --connections values to time, comma-separated")
	flag.StringVar(&o.partSizes, "part-sizes", "", "extra exportkit --part-size values to time, comma-separated")
	flag.DurationVar(&o.latency, "latency", 40*time.Millisecond, "latency added to what the server sends")
	flag.Float64Var(&o.rate, "rate", 20, "bandwidth cap per connection, MB/s (10^6 bytes)")
	flag.StringVar(&o.dir, "dir", os.TempDir(), "directory for the served file and the downloads (a real disk, not tmpfs)")
	flag.StringVar(&o.bin, "exportkit", "", "exportkit binary (default: build ./cmd/exportkit)")
	flag.StringVar(&o.toxiproxy, "toxiproxy", "", "toxiproxy-server binary (default: on PATH or where bench-tools.sh puts it)")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Minute, "give up after this long")
	flag.BoolVar(&o.noCurl, "no-curl", false, "leave out curl (one connection: the slowest row)")
	flag.StringVar(&o.killSize, "kill-size", "1GiB", "file size of the kill-and-rerun rows; \"\" leaves them out")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("linkbench: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		stop()
		log.Fatal(err)
	}
}

type options struct {
	sizes, conns, partSizes, dir, bin, toxiproxy, killSize string
	rounds                                                 int
	latency, timeout                                       time.Duration
	rate                                                   float64
	noCurl                                                 bool
}

// command is one row of the table.
type command struct {
	tool, conns string // as printed
	args        []string
	env         []string
	verifies    bool // the tool itself checks the file's SHA-1
	exportkit   bool // prints a JSON summary with "verified"
	baseline    bool // aria2c -x16 -s16 -k1M, the reference of the ratios
}

type result struct {
	wall      []time.Duration
	cpu       []time.Duration // user + system of the process
	maxRSS    int64           // bytes, the highest of the runs
	sha1OK    bool            // every output had the right SHA-1
	verified  bool            // the tool said it verified, every run
	failures  int
	lastError string
}

// bench is what every size shares: the tools, the servers, the binary.
type bench struct {
	o       options
	tools   toolPaths
	flags   engineFlags
	bin     string
	www     string
	ng      *benchpkg.Nginx
	fileURL string
	outDir  string
	link    benchpkg.Link
}

// sizeRun is one size's results.
type sizeRun struct {
	size    int64
	cmds    []command
	results []result
}

func run(ctx context.Context, o options) error {
	var sizes []int64
	for _, f := range strings.Split(o.sizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := benchpkg.ParseSize(f)
		if err != nil {
			return err
		}
		sizes = append(sizes, n)
	}
	if o.rounds < 1 || o.rounds > 50 {
		return fmt.Errorf("-rounds %d: want 1 to 50", o.rounds)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	tools, err := findTools(o.toxiproxy)
	if err != nil {
		return err
	}
	root, err := benchpkg.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(o.dir, "linkbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bench{o: o, tools: tools, bin: o.bin}
	if b.bin == "" {
		if b.bin, err = benchpkg.BuildCLI(ctx, work); err != nil {
			return err
		}
	}
	version := exportkitVersion(root, o.bin == "")
	if b.flags, err = downloadFlags(ctx, b.bin, work); err != nil {
		return err
	}
	b.www = filepath.Join(work, "www")
	ngDir := filepath.Join(work, "nginx")
	b.outDir = filepath.Join(work, "out")
	for _, d := range []string{b.www, ngDir, b.outDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if b.ng, err = benchpkg.StartNginx(ctx, ngDir, b.www); err != nil {
		return err
	}
	defer b.ng.Stop()
	tp, err := benchpkg.StartToxiproxy(ctx, tools.toxiproxy, filepath.Join(work, "toxiproxy.log"))
	if err != nil {
		return err
	}
	defer tp.Stop()
	b.link = benchpkg.Link{Latency: o.latency, BytesPerSec: int64(o.rate * 1e6)}
	proxy, err := tp.Proxy(ctx, "nginx", strings.TrimPrefix(b.ng.URL, "http://"), b.link)
	if err != nil {
		return err
	}
	b.fileURL = "http://" + proxy + "/export.csv"

	load0 := loadAvg()
	started := time.Now()
	var runs []sizeRun
	for _, size := range sizes {
		r, err := b.measure(ctx, size)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	var kills []killRow
	if o.killSize != "" {
		size, err := benchpkg.ParseSize(o.killSize)
		if err != nil {
			return err
		}
		if kills, err = b.killRows(ctx, size, runs); err != nil {
			return err
		}
	}
	printTable(os.Stdout, b, runs, kills, version, load0, time.Since(started))
	return nil
}

// serve writes a random file of size bytes for nginx and starts the Orbit
// stand-in that points at it; stop ends the stand-in.
func (b *bench) serve(size int64) (apiURL, sha1Hex string, stop func(), err error) {
	fmt.Fprintf(os.Stderr, "writing a %s random file...\n", benchpkg.FormatSize(size))
	if sha1Hex, err = benchpkg.WriteRandomFile(filepath.Join(b.www, "export.csv"), size); err != nil {
		return "", "", nil, err
	}
	apiURL, stop, err = b.api(b.fileURL, size, sha1Hex)
	return apiURL, sha1Hex, stop, err
}

// api starts an Orbit stand-in whose export is at fileURL.
func (b *bench) api(fileURL string, size int64, sha1Hex string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	api := &http.Server{Handler: benchpkg.OrbitAPI(fileURL+"?X-Amz-Signature=bench", size, sha1Hex), ReadHeaderTimeout: 10 * time.Second}
	go api.Serve(ln)
	return "http://" + ln.Addr().String(), func() { api.Close() }, nil
}

// measure times every command at one size.
func (b *bench) measure(ctx context.Context, size int64) (sizeRun, error) {
	apiURL, want, stop, err := b.serve(size)
	if err != nil {
		return sizeRun{}, err
	}
	defer stop()
	out := filepath.Join(b.outDir, "export.csv")
	cmds := commands(b.o, b.flags, b.bin, apiURL, b.fileURL, out, b.tools)
	if size >= 256<<20 {
		// aria2c verifying the same SHA-1, for the CPU it costs.
		cmds = append(cmds, command{tool: "aria2c -x16 -s16 -k1M --checksum=sha-1=…", conns: "16", verifies: true,
			args: append(aria(b.tools, "16", out, b.fileURL), "--checksum=sha-1="+want)})
	}
	// One unmeasured run first: the file into the page cache, nginx and
	// Toxiproxy warm.
	for _, c := range cmds {
		if c.baseline {
			if _, _, _, err := runOnce(ctx, c, b.outDir, size, b.link.BytesPerSec); err != nil {
				return sizeRun{}, fmt.Errorf("warm-up: %w", err)
			}
		}
	}
	results := make([]result, len(cmds))
	for i := range results {
		results[i].sha1OK, results[i].verified = true, true
	}
	for r := range b.o.rounds {
		for k := range cmds {
			i := (k + r) % len(cmds)
			c := cmds[i]
			if err := ctx.Err(); err != nil {
				return sizeRun{}, fmt.Errorf("stopped in round %d: %w", r+1, err)
			}
			fmt.Fprintf(os.Stderr, "%s round %d/%d: %s %s... ", benchpkg.FormatSize(size), r+1, b.o.rounds, c.tool, c.conns)
			took, ps, verified, err := runOnce(ctx, c, b.outDir, size, b.link.BytesPerSec)
			res := &results[i]
			if err != nil {
				fmt.Fprintf(os.Stderr, "FAILED: %v\n", err)
				res.failures++
				res.lastError = err.Error()
				continue
			}
			got, err := benchpkg.FileSHA1(out)
			if err != nil || got != want {
				res.sha1OK = false
			}
			res.verified = res.verified && verified
			res.wall = append(res.wall, took)
			res.cpu = append(res.cpu, ps.UserTime()+ps.SystemTime())
			res.maxRSS = max(res.maxRSS, ps.peakRSS)
			fmt.Fprintf(os.Stderr, "%.2f s\n", took.Seconds())
		}
	}
	return sizeRun{size: size, cmds: cmds, results: results}, nil
}

// usage is what a finished command used.
type usage struct {
	*os.ProcessState
	peakRSS int64 // bytes
}

type toolPaths struct{ aria2c, curl, toxiproxy, nginx string }

func findTools(toxiproxy string) (toolPaths, error) {
	var t toolPaths
	var missing []string
	t.nginx = benchpkg.NginxPath()
	if t.nginx == "" {
		missing = append(missing, "nginx")
	}
	if toxiproxy == "" {
		toxiproxy = benchpkg.ToxiproxyPath()
	}
	if t.toxiproxy = toxiproxy; t.toxiproxy == "" {
		missing = append(missing, "toxiproxy-server")
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"aria2c", &t.aria2c}, {"curl", &t.curl}} {
		if path, err := exec.LookPath(p.name); err == nil {
			*p.dst = path
		} else {
			missing = append(missing, p.name)
		}
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("not installed: %s; bash .ci/bench-tools.sh installs them", strings.Join(missing, ", "))
	}
	return t, nil
}

// engineFlags are the download flags of the parallel engine this command
// uses when the binary has them.
type engineFlags struct{ connections, noResume bool }

// downloadFlags finds out which of the engine's flags bin takes: a
// download with the flag and no credentials fails on the flag when it is
// unknown, on the credentials otherwise. Nothing is sent anywhere.
func downloadFlags(ctx context.Context, bin, dir string) (engineFlags, error) {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LEADPIPE_") {
			env = append(env, kv)
		}
	}
	takes := func(flag ...string) (bool, error) {
		args := append([]string{"download", "orbit", benchpkg.OrbitExportID, "-o", filepath.Join(dir, "probe"), "--base-url", "http://127.0.0.1:9"}, flag...)
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err == nil {
			return false, fmt.Errorf("%s download without credentials succeeded: %s", bin, out)
		}
		return !strings.Contains(string(out), "not defined: "+flag[0]), nil
	}
	var f engineFlags
	var err error
	if f.connections, err = takes("-connections", "1"); err != nil {
		return f, err
	}
	f.noResume, err = takes("-no-resume")
	return f, err
}

func commands(o options, f engineFlags, bin, apiURL, fileURL, out string, t toolPaths) []command {
	base := []string{bin, "download", "orbit", benchpkg.OrbitExportID, "-o", out, "--force", "-q", "--json", "--base-url", apiURL}
	if f.noResume {
		base = append(base, "--no-resume")
	}
	var cmds []command
	if f.connections {
		for _, n := range strings.Split(o.conns, ",") {
			n = strings.TrimSpace(n)
			if _, err := strconv.Atoi(n); err != nil || n == "" {
				continue
			}
			cmds = append(cmds, command{tool: "exportkit download", conns: n, exportkit: true, verifies: true,
				args: append(slices.Clone(base), "--connections", n), env: benchpkg.OrbitEnv})
		}
		for _, ps := range strings.Split(o.partSizes, ",") {
			if ps = strings.TrimSpace(ps); ps != "" {
				cmds = append(cmds, command{tool: "exportkit download --part-size " + ps, conns: "default", exportkit: true, verifies: true,
					args: append(slices.Clone(base), "--part-size", ps), env: benchpkg.OrbitEnv})
			}
		}
	}
	cmds = append(cmds, command{tool: "exportkit download", conns: "default", exportkit: true, verifies: true,
		args: slices.Clone(base), env: benchpkg.OrbitEnv})
	cmds = append(cmds,
		command{tool: "aria2c -x16 -s16 -k1M", conns: "16", args: aria(t, "16", out, fileURL), baseline: true},
		command{tool: "aria2c -x8 -s8 -k1M", conns: "8", args: aria(t, "8", out, fileURL)},
	)
	if !o.noCurl {
		cmds = append(cmds, command{tool: "curl -s -o FILE", conns: "1", args: []string{t.curl, "-s", "-o", out, fileURL}})
	}
	return cmds
}

// aria is an aria2c command with n connections to out, replacing a file
// there but resuming from its control file when there is one.
func aria(t toolPaths, n, out, fileURL string) []string {
	dir, name := filepath.Split(out)
	return []string{t.aria2c, "-x" + n, "-s" + n, "-k1M", "-d", dir, "-o", name, "--allow-overwrite=true",
		"--auto-file-renaming=false", "-q", "--summary-interval=0", fileURL}
}

// runOnce runs c once from an empty output directory and a synced disk,
// and returns its wall time, its process state and whether it said it
// verified the file (exportkit's JSON; aria2c with --checksum fails
// otherwise).
func runOnce(ctx context.Context, c command, outDir string, size, bytesPerSec int64) (time.Duration, usage, bool, error) {
	clean(outDir)
	return runIn(ctx, c, size, bytesPerSec)
}

// clean empties dir.
func clean(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

// runIn runs c once, on what the output directory holds.
func runIn(ctx context.Context, c command, size, bytesPerSec int64) (time.Duration, usage, bool, error) {
	// Start from a quiet disk: no writeback of the previous run's bytes
	// is billed to this one.
	syscall.Sync()
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
		return 0, usage{}, false, ctx.Err()
	}
	// Bound each run: ten times the time of one capped connection, and
	// at least a minute.
	limit := max(time.Minute, 10*time.Duration(float64(size)/float64(bytesPerSec)*float64(time.Second)))
	rctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(rctx, c.args[0], c.args[1:]...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	peak, err := benchpkg.RunPeakRSS(cmd)
	took := time.Since(start)
	if err != nil {
		return 0, usage{}, false, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	verified := c.verifies
	if c.exportkit {
		var v struct {
			Bytes    int64 `json:"bytes"`
			Verified bool  `json:"verified"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
			return 0, usage{}, false, fmt.Errorf("exportkit's JSON summary: %v: %q", err, stdout.String())
		}
		verified = v.Verified && v.Bytes == size
	}
	return took, usage{cmd.ProcessState, peak}, verified, nil
}

func printTable(w *os.File, b *bench, runs []sizeRun, kills []killRow, version string, load0 [3]float64, took time.Duration) {
	load1 := loadAvg()
	o, t := b.o, b.tools
	capacity := 16 * float64(b.link.BytesPerSec)
	fmt.Fprintf(w, "\nnginx behind Toxiproxy %s (%s), %d rounds interleaved per size, median per row; %s\n",
		benchpkg.ToxiproxyVersion, b.link, o.rounds, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "machine: %d cores, %s/%s, %s; load average %.1f at the start, %.1f at the end; %s of runs\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), load0[0], load1[0], took.Round(time.Second))
	fmt.Fprintf(w, "tools: exportkit %s; %s; %s; %s\n\n", version, versionLine(t.nginx, "-v"),
		versionLine(t.aria2c, "--version"), versionLine(t.curl, "--version"))

	fmt.Fprintf(w, "| size | tool | connections | median s | MB/s | share of 16 × %.0f MB/s | vs aria2c -x16 | CPU s | CPU s/GiB | peak RSS | verified | output SHA-1 |\n", float64(b.link.BytesPerSec)/1e6)
	fmt.Fprintln(w, "|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|")
	for _, sr := range runs {
		var ref float64
		for i, c := range sr.cmds {
			if c.baseline && len(sr.results[i].wall) > 0 {
				ref = median(sr.results[i].wall).Seconds()
			}
		}
		for i, c := range sr.cmds {
			r := sr.results[i]
			name := benchpkg.FormatSize(sr.size)
			if len(r.wall) == 0 {
				fmt.Fprintf(w, "| %s | %s | %s | failed | | | | | | | | %s |\n", name, c.tool, c.conns, r.lastError)
				continue
			}
			sec := median(r.wall).Seconds()
			ratio := "–"
			if ref > 0 {
				ratio = fmt.Sprintf("%.2f", sec/ref)
			}
			verified, sum := "no", "ok"
			if c.verifies && r.verified {
				verified = "yes"
			} else if c.verifies {
				verified = "**NO**"
			}
			if !r.sha1OK {
				sum = "**WRONG**"
			}
			if r.failures > 0 {
				sum += fmt.Sprintf(" (%d runs failed: %s)", r.failures, r.lastError)
			}
			rate := float64(sr.size) / sec
			cpu := median(r.cpu).Seconds()
			fmt.Fprintf(w, "| %s | %s | %s | %.2f | %.1f | %.0f%% | %s | %.2f | %.2f | %.0f MiB | %s | %s |\n", name, c.tool, c.conns, sec,
				rate/1e6, 100*rate/capacity, ratio, cpu, cpu/(float64(sr.size)/(1<<30)), float64(r.maxRSS)/(1<<20), verified, sum)
		}
	}
	fmt.Fprintf(w, "\nThe goal (QUALITY.md 30): exportkit at most 0.80× the time of aria2c -x16 -s16 -k1M from 4 MiB to 1 GiB.\n")
	if len(kills) > 0 {
		printKills(w, kills)
	}
}

func median(t []time.Duration) time.Duration {
	s := slices.Clone(t)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	for i, f := range strings.Fields(string(b)) {
		if i < 3 {
			l[i], _ = strconv.ParseFloat(f, 64)
		}
	}
	return l
}

// versionLine is the tool's name and version: the first two words of
// what it prints first.
func versionLine(bin string, flag string) string {
	out, _ := exec.Command(bin, flag).CombinedOutput()
	var f []string
	for _, w := range strings.Fields(firstLine(string(out))) {
		if w != "version" && w != "version:" {
			f = append(f, w)
		}
	}
	if len(f) > 1 && f[0] == "nginx" { // nginx version: nginx/1.22.1
		f = f[1:]
	}
	return strings.Join(f[:min(2, len(f))], " ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// exportkitVersion names the commit of the tree the binary was built
// from (when it was built here), with "+dirty" for uncommitted changes.
func exportkitVersion(root string, built bool) string {
	if !built {
		return "(given binary)"
	}
	rev, err := exec.Command("git", "-C", root, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "(unknown commit)"
	}
	v := strings.TrimSpace(string(rev))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		v += "+dirty"
	}
	return v
}
