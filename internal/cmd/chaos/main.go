// Command chaos measures QUALITY.md item 26: it runs a manifest of jobs for
// all four vendors with `exportkit sync` against the exporttest fake,
// which loses a share of create replies, kills sync with SIGKILL at random
// moments many times, then runs it to completion, and prints: vendor
// exports per job run (goal: exactly 1), orphan exports (0), files that
// differ from the fake's (0), bytes requested again after the kills, and
// the time against the same manifest synced with no kill.
//
//	go run ./internal/cmd/chaos [-kills 30] [-jobs 2] [-periods 3] [-lose 0.3] [-size 1048576]
//
// With -scale N it measures instead N job runs in one sync of one engine:
// the time, the peak memory and the requests per vendor per second.
//
//	go run ./internal/cmd/chaos -scale 1000 [-concurrency 64]
package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/exportkit/exportkit/exporttest"
)

func main() {
	kills := flag.Int("kills", 30, "SIGKILLs before the run to completion")
	jobs := flag.Int("jobs", 2, "jobs per vendor")
	periods := flag.Int("periods", 3, "periods per job (a backfill of daily periods)")
	lose := flag.Float64("lose", 0.3, "share of create replies the fake loses")
	size := flag.Int64("size", 1<<20, "bytes per file")
	maxWait := flag.Duration("max-kill-after", 400*time.Millisecond, "a kill comes at a uniform moment up to this long after each start")
	scaleRuns := flag.Int("scale", 0, "instead: this many job runs in one sync, with peak memory and requests per vendor per second")
	concurrency := flag.Int("concurrency", 64, "with -scale: runs driven at once")
	flag.Parse()
	if *scaleRuns > 0 {
		if err := scale(*scaleRuns, *concurrency); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: scale:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*kills, *jobs, *periods, *lose, *size, *maxWait); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(kills, jobs, periods int, lose float64, size int64, maxWait time.Duration) error {
	tmp, err := os.MkdirTemp("", "exportkit-chaos-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "exportkit")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/exportkit").CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/exportkit (run from the module's root): %v\n%s", err, out)
	}
	manifest := makeManifest(jobs, periods)

	// The baseline: the same manifest, no loss and no kill.
	base, err := newWorld(tmp, "baseline", manifest, size, 0)
	if err != nil {
		return err
	}
	defer base.srv.Close()
	start := time.Now()
	if code, out := base.sync(bin); code != 0 {
		return fmt.Errorf("baseline sync exited %d: %s", code, out)
	}
	baseline := time.Since(start)

	w, err := newWorld(tmp, "chaos", manifest, size, lose)
	if err != nil {
		return err
	}
	defer w.srv.Close()
	start = time.Now()
	killed := 0
	for range kills {
		cmd := w.command(bin)
		if err := cmd.Start(); err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done: // finished before its kill: nothing left to kill
		case <-time.After(time.Duration(rand.Int64N(int64(maxWait)))):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
	}
	finals := 0
	for {
		finals++
		code, out := w.sync(bin)
		if code == 0 {
			break
		}
		if finals == 3 {
			return fmt.Errorf("sync to completion exited %d: %s", code, out)
		}
	}
	total := time.Since(start)
	return w.report(killed, finals, total, baseline, jobs*4*periods, size)
}

// makeManifest is jobs jobs per vendor, each with its own parameters (so
// that no two jobs could take each other's exports), backfilling periods
// daily periods.
func makeManifest(jobs, periods int) string {
	start := time.Now().UTC().AddDate(0, 0, -(periods - 1)).Format(time.DateOnly)
	var b strings.Builder
	fmt.Fprintf(&b, "jobs:\n")
	for i := range jobs {
		fmt.Fprintf(&b, "  - {name: logs%d, vendor: brainbase, format: CSV, log-type: Type%d, start: %s, catchup: %d}\n", i, i, start, periods)
		fmt.Fprintf(&b, "  - {name: memories%d, vendor: memsolus, format: json, user: user%d, start: %s, catchup: %d}\n", i, i, start, periods)
		fmt.Fprintf(&b, "  - {name: audience%d, vendor: orbit, audience: aud_%d, start: %s, catchup: %d}\n", i, i, start, periods)
		fmt.Fprintf(&b, "  - {name: bot%d, vendor: kore, bot: st-bot-%d, start: %s, catchup: %d}\n", i, i, start, periods)
	}
	return b.String()
}

// world is a fake and a manifest directory.
type world struct {
	srv *exporttest.Server
	dir string
}

func newWorld(tmp, name, manifest string, size int64, lose float64) (*world, error) {
	dir := filepath.Join(tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "exportkit.yaml"), []byte(manifest), 0o644); err != nil {
		return nil, err
	}
	opts := []exporttest.Option{exporttest.ReadyAfter(0), exporttest.FileSize(size)}
	if lose > 0 {
		opts = append(opts, exporttest.LoseCreateReplies(lose))
	}
	return &world{srv: exporttest.NewServer(opts...), dir: dir}, nil
}

func (w *world) command(bin string) *exec.Cmd {
	cmd := exec.Command(bin, "sync", "-f", filepath.Join(w.dir, "exportkit.yaml"), "--quiet")
	u := w.srv.URL()
	cmd.Env = append(os.Environ(),
		exportkit.EnvBrainbaseBaseURL+"="+u, exportkit.EnvMemsolusBaseURL+"="+u, exportkit.EnvLeadpipeBaseURL+"="+u, exportkit.EnvKoreHost+"="+u,
		exportkit.EnvBrainbaseAPIKey+"="+exporttest.BrainbaseAPIKey, exportkit.EnvMemsolusAPIKey+"="+exporttest.MemsolusAPIKey,
		exportkit.EnvLeadpipeAPIKey+"="+exporttest.OrbitAPIKey,
		exportkit.EnvKoreClientID+"="+exporttest.KoreClientID, exportkit.EnvKoreClientSecret+"="+exporttest.KoreClientSecret)
	return cmd
}

func (w *world) sync(bin string) (int, string) {
	cmd := w.command(bin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	return cmd.ProcessState.ExitCode(), out.String()
}

// report checks the store against the fake and prints the table.
func (w *world) report(killed, finals int, total, baseline time.Duration, want int, size int64) error {
	ctx := context.Background()
	st, err := exportjob.Open(ctx, filepath.Join(w.dir, "exportkit.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	c := w.srv.Client()
	runs, done, differ := 0, 0, 0
	adopted := map[exportkit.Vendor]map[string]bool{}
	audiences := map[string]bool{}
	for i := 0; ; i++ {
		found := false
		for _, job := range []string{"logs", "memories", "audience", "bot"} {
			rs, err := st.Runs(ctx, job+strconv.Itoa(i))
			if err != nil {
				return err
			}
			for _, r := range rs {
				found = true
				runs++
				if r.State != exportjob.StateDone {
					fmt.Printf("run %s: %s: %s %v\n", r.Fingerprint(), r.State, r.Error, r.Candidates)
					continue
				}
				done++
				if adopted[r.Vendor] == nil {
					adopted[r.Vendor] = map[string]bool{}
				}
				adopted[r.Vendor][r.ExportID] = true
				fileID := r.ExportID
				if r.Vendor == exportkit.Orbit {
					audiences["aud_"+strconv.Itoa(i)] = true
					x, err := c.Audiences.CreateExport(ctx, "aud_"+strconv.Itoa(i), r.ExportID) // create-or-reuse: the run's export
					if err != nil {
						return err
					}
					fileID = x.Export.ID
				}
				b, err := os.ReadFile(filepath.Join(w.dir, "exports", r.File))
				sum := sha1.Sum(b)
				if err != nil || !bytes.Equal(b, w.srv.File(r.Vendor, fileID)) || hex.EncodeToString(sum[:]) != r.SHA1 {
					differ++
				}
			}
		}
		if !found {
			break
		}
	}
	// What the vendors hold: every create that reached the fake (a lost
	// reply's too), and Orbit's distinct runs.
	held := map[exportkit.Vendor]int{}
	var fetched int64
	for _, r := range w.srv.Requests() {
		switch {
		case r.Method == "POST" && (strings.HasSuffix(r.Path, "/api/team/exports") || strings.HasSuffix(r.Path, "/v1/exports") || strings.HasSuffix(r.Path, "/export")):
			held[r.Vendor]++
		case r.Method == "GET" && (r.Storage || strings.HasSuffix(r.Path, "/download")):
			fetched += asked(r.Header.Get("Range"), size)
		}
	}
	for a := range audiences {
		rs, err := c.Audiences.ListRuns(ctx, a, &exportkit.RunListOptions{Limit: 100})
		if err != nil {
			return err
		}
		held[exportkit.Orbit] += len(rs)
	}
	exports, orphans := 0, 0
	for v, n := range held {
		exports += n
		orphans += n - len(adopted[v])
	}
	fmt.Printf("chaos: %d runs, %d kills (SIGKILL), %d final sync(s), %d create replies lost by the fake\n\n",
		want, killed, finals, w.srv.LostCreateReplies())
	fmt.Printf("| figure | goal | measured |\n|---|---|---|\n")
	fmt.Printf("| runs done | %d | %d |\n", want, done)
	fmt.Printf("| vendor exports per job run | exactly 1 | %.3f (%d exports, %d runs) |\n", float64(exports)/float64(max(runs, 1)), exports, runs)
	fmt.Printf("| orphan exports | 0 | %d |\n", orphans)
	fmt.Printf("| files that differ from the fake's | 0 | %d |\n", differ)
	fmt.Printf("| bytes requested again after kills (upper bound) | — | %d (%.2f files' worth) |\n", fetched-int64(done)*size, float64(fetched-int64(done)*size)/float64(size))
	fmt.Printf("| time, kills included, vs a sync with no kill | — | %s vs %s |\n", total.Round(time.Millisecond), baseline.Round(time.Millisecond))
	if done != want || exports != runs || orphans != 0 || differ != 0 {
		return fmt.Errorf("goals missed")
	}
	return nil
}

// asked is how many bytes a request with this Range header asks for, of
// a file of size bytes: the most it can have fetched.
func asked(rng string, size int64) int64 {
	v, ok := strings.CutPrefix(rng, "bytes=")
	if !ok {
		return size
	}
	a, b, _ := strings.Cut(v, "-")
	from, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return size
	}
	to, err := strconv.ParseInt(b, 10, 64)
	if err != nil {
		to = size - 1
	}
	return min(to, size-1) - from + 1
}
