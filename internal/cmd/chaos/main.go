//go:build unix

// Command chaos measures what survives what in `exportkit sync` (issue 17,
// "Measure"): it runs a manifest of jobs for all four vendors against
// `exportkit fake --lose-create-replies 0.3`, kills `exportkit sync` with
// SIGKILL at random moments many times, then runs it to completion, and
// compares with the same scenario run once with no kill:
//
//	go run ./internal/cmd/chaos                 # 20 kills, a few minutes
//	go run ./internal/cmd/chaos -kills 50 -seed 7
//
// It prints, for each scenario: the job runs done, the vendor exports per
// job run (the goal is exactly 1: Brainbase and Memsolus exports, Orbit
// runs and their CSV exports, Kore exports, counted at the fake), orphan
// exports (created at the fake, adopted by no run: 0), files that differ
// from the fake's (0), the bytes fetched again after kills (storage bytes
// sent less the files' sizes) and the wall time.
//
// Each scenario has its own fake, manifest, store and directory. The jobs
// backfill -periods hourly periods plus the current one.
//
// With -s3 the manifest delivers into a bucket (dir: s3://…) of a Versity
// S3 gateway started here (bash .ci/versitygw.sh install), each scenario
// its own bucket: the objects are compared with the fake's files, and the
// multipart uploads left open are counted (the goal is 0: a killed upload
// is taken up by the next sync, not left behind):
//
//	go run ./internal/cmd/chaos -s3
package main

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exportkit/exportkit/internal/bench"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("chaos: ")
	var c config
	flag.IntVar(&c.kills, "kills", 20, "how many times `exportkit sync` is killed with SIGKILL before it runs to completion")
	flag.Uint64Var(&c.seed, "seed", 1, "seeds the kill moments")
	flag.Float64Var(&c.lose, "lose", 0.3, "the share of create replies the fake loses")
	flag.IntVar(&c.periods, "periods", 6, "hourly periods each job backfills, besides the current one")
	flag.StringVar(&c.fileSize, "file-size", "8MiB", "the size of each export's file")
	flag.StringVar(&c.bin, "bin", "", "the exportkit binary (default: build ./cmd/exportkit)")
	flag.StringVar(&c.dir, "dir", "", "keep each scenario's files under `DIR` (default: a temporary directory, removed)")
	flag.BoolVar(&c.s3, "s3", false, "deliver into buckets of a Versity S3 gateway (dir: s3://…) instead of a directory")
	flag.Parse()
	if c.kills < 0 || c.periods < 0 || c.periods > 9 || c.lose < 0 || c.lose > 1 {
		// sync status shows a job's last 10 finished runs.
		log.Fatal("-kills must be 0 or more, -periods from 0 to 9, -lose from 0 to 1")
	}
	ctx := context.Background()
	if c.dir == "" {
		tmp, err := os.MkdirTemp("", "exportkit-chaos-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		c.dir = tmp
	}
	if c.bin == "" {
		bin, err := bench.BuildCLI(ctx, c.dir)
		if err != nil {
			log.Fatal(err)
		}
		c.bin = bin
	}
	if c.s3 {
		gw, err := bench.StartVersityGW(ctx, filepath.Join(c.dir, "gateway"))
		if err != nil {
			log.Fatal(err)
		}
		defer gw.Stop()
		c.gw = gw
		c.s3c = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(gw.Endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(bench.VersityAccessKey, bench.VersitySecretKey, "")})
	}
	calm, err := c.scenario(ctx, "no kills", 0)
	if err != nil {
		log.Fatal(err)
	}
	// The kill moments are spread over the time a whole sync takes.
	c.span = calm.elapsed
	chaos, err := c.scenario(ctx, fmt.Sprintf("%d kills", c.kills), c.kills)
	if err != nil {
		log.Fatal(err)
	}
	report(os.Stdout, c, calm, chaos)
	if !chaos.ok() || !calm.ok() {
		os.Exit(1)
	}
}

type config struct {
	kills, periods int
	seed           uint64
	lose           float64
	fileSize       string
	bin, dir       string
	span           time.Duration
	s3             bool
	gw             *bench.VersityGW
	s3c            *s3.Client
}

// outcome is what one scenario measured.
type outcome struct {
	name          string
	runs, done    int
	states        map[string]int
	perVendor     map[string][2]int // vendor → exports created at the fake, runs
	maxPerRun     float64
	orphans       []string
	differ        []string
	shared        []string // export ids more than one run adopted
	refetched     int64
	fetched, size int64
	kills, early  int // SIGKILLs sent; syncs that ended before their kill
	finalExits    []int
	elapsed       time.Duration
	lost          int // create replies the fake cut
	bucket        string
	openUploads   []string // -s3: multipart uploads open at the end
}

func (o *outcome) ok() bool {
	return o.done == o.runs && o.maxPerRun == 1 && len(o.orphans) == 0 && len(o.differ) == 0 && len(o.shared) == 0 &&
		len(o.openUploads) == 0
}

// scenario runs the manifest against a fresh fake with kills SIGKILLs,
// then to completion, and measures.
func (c *config) scenario(ctx context.Context, name string, kills int) (*outcome, error) {
	dir := filepath.Join(c.dir, strings.ReplaceAll(name, " ", "-"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	fake, env, err := c.startFake(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = fake.Process.Signal(syscall.SIGTERM)
		_ = fake.Wait()
	}()
	out := &outcome{name: name}
	head := ""
	if c.s3 {
		// A bucket per scenario; the bucket's credentials go to sync.
		out.bucket = "chaos-" + strings.ReplaceAll(name, " ", "-")
		if _, err := c.s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &out.bucket}); err != nil {
			return nil, fmt.Errorf("create bucket: %w", err)
		}
		head = "dir: s3://" + out.bucket + "/exports?endpoint=" + url.QueryEscape(c.gw.Endpoint) +
			"&use_path_style=true&disable_https=true&region=us-east-1\n"
		env = append(env, "AWS_ACCESS_KEY_ID="+bench.VersityAccessKey, "AWS_SECRET_ACCESS_KEY="+bench.VersitySecretKey, "AWS_REGION=us-east-1")
	}
	mf := filepath.Join(dir, "exportkit.yaml")
	if err := os.WriteFile(mf, []byte(head+manifest(env, c.periods)), 0o644); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(c.seed, uint64(kills)))
	start := time.Now()
	for out.kills < kills {
		// Random moments, on average the time a whole sync takes divided
		// by the kills, so that the kills land all along the work (each
		// sync does a little before it is killed).
		mean := max(c.span/time.Duration(kills), 100*time.Millisecond)
		delay := 30*time.Millisecond + time.Duration(rng.Int64N(int64(2*mean)))
		killed, err := c.syncOnce(ctx, mf, env, delay)
		if err != nil {
			return nil, err
		}
		if killed {
			out.kills++
		} else {
			out.early++
			if out.early > 3*kills+10 {
				break // the work is done before any kill can land
			}
		}
	}
	// To completion: a failed run is taken up by the next sync, as from
	// cron; at most a few.
	for range 5 {
		code, err := c.syncToEnd(ctx, mf, env)
		if err != nil {
			return nil, err
		}
		out.finalExits = append(out.finalExits, code)
		if code == 0 {
			break
		}
	}
	out.elapsed = time.Since(start)
	return out, c.measure(ctx, dir, mf, env, out)
}

// startFake starts `exportkit fake` and returns it with its environment.
func (c *config) startFake(ctx context.Context, dir string) (*exec.Cmd, []string, error) {
	cmd := exec.CommandContext(ctx, c.bin, "fake", "--lose-create-replies", fmt.Sprint(c.lose), "--ready-after", "1",
		"--file-size", c.fileSize, "--env-file", filepath.Join(dir, "fake.env"))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	var env []string
	sc := bufio.NewScanner(stdout)
	for len(env) < 12 && sc.Scan() {
		env = append(env, sc.Text())
	}
	if len(env) < 12 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, nil, fmt.Errorf("exportkit fake printed %d environment lines, want 12", len(env))
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return cmd, env, nil
}

func lookupEnv(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// manifest has jobs for all four vendors, two of Brainbase and Memsolus
// (different formats, so their reconciliation tells them apart), each
// backfilling periods hours.
func manifest(env []string, periods int) string {
	start := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(periods) * time.Hour).Format(time.RFC3339)
	job := func(name, vendor, params string) string {
		return fmt.Sprintf("  - {name: %s, vendor: %s, every: 1h, start: %s, catchup: %d, %s}\n", name, vendor, start, periods+1, params)
	}
	return "jobs:\n" +
		job("logs-csv", "brainbase", "format: CSV") +
		job("logs-json", "brainbase", "format: JSON") +
		job("memories", "memsolus", "format: json") +
		job("notes", "memsolus", "format: markdown") +
		job("audience", "orbit", "audience: "+lookupEnv(env, "LEADPIPE_AUDIENCE_ID")) +
		job("bot", "kore", "bot: "+lookupEnv(env, "KORE_BOT_ID"))
}

func (c *config) syncCmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// syncOnce starts a sync and kills it with SIGKILL after delay; killed is
// false when it ended first.
func (c *config) syncOnce(ctx context.Context, mf string, env []string, delay time.Duration) (killed bool, err error) {
	cmd := c.syncCmd(ctx, env, "sync", "-f", mf, "--quiet")
	if err := cmd.Start(); err != nil {
		return false, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-exited:
		return false, nil
	case <-t.C:
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	return true, nil
}

// syncToEnd runs a sync to its end and returns its exit code.
func (c *config) syncToEnd(ctx context.Context, mf string, env []string) (int, error) {
	cmd := c.syncCmd(ctx, env, "sync", "-f", mf, "--quiet")
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, err
	}
	return cmd.ProcessState.ExitCode(), nil
}

// statusRun is a run of `sync status --json` (API.md section 9).
type statusRun struct {
	Period   string `json:"period"`
	State    string `json:"state"`
	ExportID string `json:"export_id"`
	File     string `json:"file"`
	Size     *int64 `json:"size"`
	SHA1     string `json:"sha1"`
}

// fakeExport is an entry of GET /_exporttest/exports.
type fakeExport struct {
	Vendor string `json:"vendor"`
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	State  string `json:"state"`
	Size   int64  `json:"size"`
	SHA1   string `json:"sha1"`
	RunID  string `json:"run_id"` // an Orbit CSV export's run
	// Kept in the dump, for looking into a duplicate.
	Created        time.Time `json:"created_at"`
	BotID          string    `json:"bot_id,omitempty"`
	AudienceID     string    `json:"audience_id,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
}

// measure reads sync status, the fake's exports and requests, and the
// files.
func (c *config) measure(ctx context.Context, dir, mf string, env []string, out *outcome) error {
	raw, err := c.syncCmd(ctx, env, "sync", "status", "-f", mf, "--json").Output()
	if err != nil {
		return fmt.Errorf("sync status: %w", err)
	}
	var status struct {
		Jobs []struct {
			Name, Vendor string
			Runs         []statusRun
		}
	}
	if err := json.Unmarshal(raw, &status); err != nil {
		return fmt.Errorf("sync status: %w", err)
	}
	admin := lookupEnv(env, "EXPORTTEST_URL")
	var exports []fakeExport
	if err := getJSON(ctx, admin+"/_exporttest/exports", &exports); err != nil {
		return err
	}
	var requests []struct {
		Vendor  string    `json:"vendor"`
		Method  string    `json:"method"`
		Path    string    `json:"path"`
		Storage bool      `json:"storage"`
		Status  int       `json:"status"`
		Bytes   int64     `json:"bytes"`
		Time    time.Time `json:"time"`
	}
	if err := getJSON(ctx, admin+"/_exporttest/requests", &requests); err != nil {
		return err
	}
	// Kept beside the store, for looking into a duplicate or an orphan.
	for name, v := range map[string]any{"fake-exports.json": exports, "fake-requests.json": requests, "status.json": json.RawMessage(raw)} {
		b, _ := json.MarshalIndent(v, "", " ")
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	byID := map[string]fakeExport{}
	csvOf := map[string]fakeExport{} // Orbit run id → its CSV export
	for _, e := range exports {
		byID[e.ID] = e
		if e.RunID != "" {
			csvOf[e.RunID] = e
		}
	}
	// Each run names its export (Orbit: its run, whose CSV export holds
	// the file; or both ids).
	adopted := map[string]bool{}
	runOf := map[string]string{} // export id → the run that named it
	out.states = map[string]int{}
	out.perVendor = map[string][2]int{}
	for _, j := range status.Jobs {
		for _, r := range j.Runs {
			out.runs++
			out.states[r.State]++
			pv := out.perVendor[j.Vendor]
			pv[1]++
			out.perVendor[j.Vendor] = pv
			if first, ok := runOf[r.ExportID]; ok && r.ExportID != "" {
				out.shared = append(out.shared, fmt.Sprintf("%s: %s %s and %s", r.ExportID, j.Name, r.Period, first))
			}
			runOf[r.ExportID] = j.Name + " " + r.Period
			var file *fakeExport
			for _, part := range strings.FieldsFunc(r.ExportID, func(c rune) bool { return c == '/' }) {
				if e, ok := byID[part]; ok {
					adopted[part] = true
					if csv, ok := csvOf[part]; ok && e.Kind == "run" {
						adopted[csv.ID], e = true, csv
					}
					if e.Kind == "export" {
						file = &e
					}
				}
			}
			if r.State != "done" {
				continue
			}
			out.done++
			if file == nil {
				out.differ = append(out.differ, j.Name+" "+r.Period+": no export at the fake for "+r.ExportID)
				continue
			}
			var sum string
			var size int64
			if c.s3 {
				sum, size, err = c.sha1Object(ctx, out.bucket, r.File)
			} else {
				sum, size, err = sha1File(filepath.Join(dir, filepath.FromSlash(r.File)))
			}
			switch {
			case err != nil:
				out.differ = append(out.differ, j.Name+" "+r.Period+": "+err.Error())
			case sum != file.SHA1 || size != file.Size || sum != r.SHA1:
				out.differ = append(out.differ, fmt.Sprintf("%s %s: file sha1 %s, fake %s, store %s", j.Name, r.Period, sum, file.SHA1, r.SHA1))
			}
			out.size += size
		}
	}
	// Exports created at the fake, per vendor: Orbit's runs are its
	// creates; its CSV exports are counted too, each run's being one.
	for _, e := range exports {
		creates := e.Kind == "export" && e.Vendor != "orbit" || e.Kind == "run"
		if creates {
			pv := out.perVendor[e.Vendor]
			pv[0]++
			out.perVendor[e.Vendor] = pv
		}
		if !adopted[e.ID] {
			out.orphans = append(out.orphans, e.Vendor+" "+e.Kind+" "+e.ID)
		}
	}
	out.maxPerRun = 0
	for _, pv := range out.perVendor {
		if pv[1] > 0 {
			out.maxPerRun = max(out.maxPerRun, float64(pv[0])/float64(pv[1]))
		}
	}
	for _, q := range requests {
		// Files come from the storage host, Memsolus's from its API.
		if q.Storage || q.Method == http.MethodGet && strings.HasSuffix(q.Path, "/download") {
			out.fetched += q.Bytes
		}
		if q.Status == 0 && q.Method == http.MethodPost {
			out.lost++
		}
	}
	out.refetched = out.fetched - out.size
	sort.Strings(out.orphans)
	if c.s3 {
		lu, err := c.s3c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &out.bucket})
		if err != nil {
			return fmt.Errorf("list multipart uploads: %w", err)
		}
		for _, u := range lu.Uploads {
			out.openUploads = append(out.openUploads, aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
		}
	}
	return nil
}

// sha1Object is the SHA-1 and size of the object at an s3:// URL in
// bucket, read back from the gateway.
func (c *config) sha1Object(ctx context.Context, bucket, file string) (string, int64, error) {
	key, ok := strings.CutPrefix(file, "s3://"+bucket+"/")
	if !ok {
		return "", 0, fmt.Errorf("%q is not in bucket %s", file, bucket)
	}
	obj, err := c.s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return "", 0, err
	}
	defer obj.Body.Close()
	h := sha1.New()
	n, err := io.Copy(h, obj.Body)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func sha1File(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha1.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func report(w io.Writer, c config, outs ...*outcome) {
	into := "a directory"
	if c.s3 {
		into = "an S3 bucket (versitygw)"
	}
	fmt.Fprintf(w, "exportkit sync under chaos: 6 jobs (brainbase ×2, memsolus ×2, orbit, kore), %d hourly periods each,\n"+
		"files of %s into %s, the fake losing %.0f%% of create replies; kill moments seeded %d\n\n",
		c.periods+1, c.fileSize, into, c.lose*100, c.seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(label string, f func(o *outcome) string, goal string) {
		fmt.Fprintf(tw, "%s\t", label)
		for _, o := range outs {
			fmt.Fprintf(tw, "%s\t", f(o))
		}
		fmt.Fprintf(tw, "%s\t\n", goal)
	}
	row("", func(o *outcome) string { return o.name }, "goal")
	row("SIGKILLs (syncs that ended first)", func(o *outcome) string { return fmt.Sprintf("%d (%d)", o.kills, o.early) }, "")
	row("create replies lost", func(o *outcome) string { return fmt.Sprint(o.lost) }, "")
	row("job runs done / planned", func(o *outcome) string { return fmt.Sprintf("%d / %d", o.done, o.runs) }, "all")
	for _, v := range []string{"brainbase", "memsolus", "orbit", "kore"} {
		row("  "+v+" exports / runs", func(o *outcome) string {
			pv := o.perVendor[v]
			return fmt.Sprintf("%d / %d", pv[0], pv[1])
		}, "")
	}
	row("vendor exports per job run (max)", func(o *outcome) string { return fmt.Sprintf("%.2f", o.maxPerRun) }, "1")
	row("orphan exports", func(o *outcome) string { return fmt.Sprint(len(o.orphans)) }, "0")
	row("exports adopted by two runs", func(o *outcome) string { return fmt.Sprint(len(o.shared)) }, "0")
	row("files differing from the fake's", func(o *outcome) string { return fmt.Sprint(len(o.differ)) }, "0")
	if c.s3 {
		row("multipart uploads left open", func(o *outcome) string { return fmt.Sprint(len(o.openUploads)) }, "0")
	}
	row("bytes fetched / published", func(o *outcome) string { return mib(o.fetched) + " / " + mib(o.size) }, "")
	row("bytes fetched again", func(o *outcome) string { return mib(o.refetched) }, "")
	row("final syncs' exit codes", func(o *outcome) string { return strings.Trim(fmt.Sprint(o.finalExits), "[]") }, "0")
	row("wall time", func(o *outcome) string { return o.elapsed.Round(10 * time.Millisecond).String() }, "")
	_ = tw.Flush()
	for _, o := range outs {
		if len(o.states) > 1 || o.states["done"] != o.runs {
			fmt.Fprintf(w, "\n%s: run states %v\n", o.name, o.states)
		}
		for _, s := range o.orphans {
			fmt.Fprintf(w, "%s: orphan %s\n", o.name, s)
		}
		for _, s := range o.differ {
			fmt.Fprintf(w, "%s: differs: %s\n", o.name, s)
		}
		for _, s := range o.shared {
			fmt.Fprintf(w, "%s: adopted twice: %s\n", o.name, s)
		}
		for _, s := range o.openUploads {
			fmt.Fprintf(w, "%s: upload left open: %s\n", o.name, s)
		}
	}
}
