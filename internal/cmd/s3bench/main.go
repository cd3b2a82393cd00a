//go:build unix

// Command s3bench times delivering an export into an S3 bucket (issue 18,
// QUALITY.md 31): a file served by nginx behind Toxiproxy (40 ms, 20 MB/s
// per connection, as in linkbench), stored into a Versity S3 gateway on
// loopback, three ways:
//
//   - exportkit download … -o s3://BUCKET/KEY (ranges become parts, no disk)
//   - the same delivery by the smallest program of exportkit's SDK
//     (./sdkonly: Client.DownloadTo into s3dest), the SDK without the CLI
//   - exportkit download … -o FILE, then the file uploaded with the AWS
//     SDK's transfermanager
//   - exportkit download … -o - piped into transfermanager
//
// Each row is whole processes, timed from start to exit, with their peak
// RSS (VmHWM; for the pipe, the sum of the two processes). transfermanager
// is used here only, to compare: it is not a dependency of exportkit (this
// command is a module of its own).
//
//	bash .ci/bench-tools.sh && bash .ci/versitygw.sh install
//	cd internal/cmd/s3bench && go run . -size 1GiB
//
// -rows picks rows (direct, file, pipe); -baseline DIR also builds the
// command of another checkout and runs it as the row base, beside direct:
// a before/after of a change in one run, on the same machine load.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/exportkit/exportkit/internal/bench"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "tm-upload" {
		if err := tmUpload(os.Args[2:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	var o options
	flag.StringVar(&o.size, "size", "1GiB", "file size (B, KiB, MiB, GiB)")
	flag.IntVar(&o.rounds, "rounds", 1, "rounds; each runs every row once")
	flag.IntVar(&o.conns, "connections", 16, "exportkit --connections, and transfermanager's concurrency")
	flag.StringVar(&o.partSize, "part-size", "8MiB", "exportkit --part-size, and transfermanager's part size")
	flag.DurationVar(&o.latency, "latency", 40*time.Millisecond, "latency added to what the server sends")
	flag.Float64Var(&o.rate, "rate", 20, "bandwidth cap per connection, MB/s (10^6 bytes)")
	flag.StringVar(&o.dir, "dir", os.TempDir(), "directory for the served file, the gateway and the local copy")
	flag.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
	flag.StringVar(&o.baseline, "baseline", "", "another checkout of exportkit: its CLI is built too, and the row base delivers with it as direct does (a before/after in one run)")
	flag.StringVar(&o.rows, "rows", "direct,sdk,file,pipe", "the rows to run: direct (-o s3://…), sdk (the same by ./sdkonly, the SDK alone), file (-o FILE, then transfermanager), pipe (-o - | transfermanager)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("s3bench: ")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		stop()
		log.Fatal(err)
	}
}

type options struct {
	size, partSize, dir string
	rows, baseline      string
	rounds, conns       int
	latency, timeout    time.Duration
	rate                float64
}

// row is one way of getting the file into the bucket.
type row struct {
	id    string // its -rows name
	key   string // the object it stores
	name  string
	steps [][]string // processes run one after the other; a step of two is a pipe
	wall  []time.Duration
	rss   int64
	cpu   []time.Duration // user + system, of every process of the row
	err   string
}

func run(ctx context.Context, o options) error {
	size, err := bench.ParseSize(o.size)
	if err != nil {
		return err
	}
	partSize, err := bench.ParseSize(o.partSize)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	work, err := os.MkdirTemp(o.dir, "s3bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	mod, err := bench.ModuleRoot(ctx) // this module's directory
	if err != nil {
		return err
	}
	bin, err := buildCLI(ctx, filepath.Join(mod, "..", "..", ".."), filepath.Join(work, "exportkit"))
	if err != nil {
		return err
	}
	baseBin := ""
	if o.baseline != "" {
		if baseBin, err = buildCLI(ctx, o.baseline, filepath.Join(work, "exportkit-base")); err != nil {
			return err
		}
		if !strings.Contains(o.rows, "base") {
			o.rows = "base," + o.rows
		}
	}
	sdkBin := filepath.Join(work, "sdkonly")
	build := exec.CommandContext(ctx, "go", "build", "-o", sdkBin, "./sdkonly")
	build.Dir = mod
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./sdkonly: %v\n%s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	www := filepath.Join(work, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "writing a %s random file...\n", bench.FormatSize(size))
	want, err := bench.WriteRandomFile(filepath.Join(www, "export.csv"), size)
	if err != nil {
		return err
	}
	ngDir := filepath.Join(work, "nginx")
	if err := os.Mkdir(ngDir, 0o755); err != nil {
		return err
	}
	ng, err := bench.StartNginx(ctx, ngDir, www)
	if err != nil {
		return err
	}
	defer ng.Stop()
	tpBin := bench.ToxiproxyPath()
	if tpBin == "" {
		return fmt.Errorf("toxiproxy-server not found: bash .ci/bench-tools.sh installs it")
	}
	tp, err := bench.StartToxiproxy(ctx, tpBin, filepath.Join(work, "toxiproxy.log"))
	if err != nil {
		return err
	}
	defer tp.Stop()
	link := bench.Link{Latency: o.latency, BytesPerSec: int64(o.rate * 1e6)}
	proxy, err := tp.Proxy(ctx, "nginx", strings.TrimPrefix(ng.URL, "http://"), link)
	if err != nil {
		return err
	}
	fileURL := "http://" + proxy + "/export.csv"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	api := &http.Server{Handler: bench.OrbitAPI(fileURL+"?X-Amz-Signature=bench", size, want), ReadHeaderTimeout: 10 * time.Second}
	go api.Serve(ln)
	defer api.Close()
	apiURL := "http://" + ln.Addr().String()

	gw, err := bench.StartVersityGW(ctx, filepath.Join(work, "gateway"))
	if err != nil {
		return err
	}
	defer gw.Stop()
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(gw.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(bench.VersityAccessKey, bench.VersitySecretKey, "")})
	bucket := "bench"
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		return fmt.Errorf("create bucket: %w", err)
	}
	q := "?endpoint=" + url.QueryEscape(gw.Endpoint) + "&use_path_style=true&disable_https=true&region=us-east-1"
	local := filepath.Join(work, "local.csv")
	conns, ps := fmt.Sprint(o.conns), fmt.Sprint(partSize)
	dlWith := func(bin, out string) []string {
		return []string{bin, "download", "orbit", bench.OrbitExportID, "-o", out, "--force", "-q", "--json",
			"--base-url", apiURL, "--connections", conns, "--part-size", ps}
	}
	dl := func(out string) []string { return dlWith(bin, out) }
	tm := func(src, key string) []string {
		return []string{self, "tm-upload", gw.Endpoint, bucket, key, src, conns, ps}
	}
	all := []*row{
		{id: "direct", key: "direct.csv", name: "exportkit download -o s3://…", steps: [][]string{dl("s3://" + bucket + "/direct.csv" + q)}},
		{id: "sdk", key: "sdk.csv", name: "the SDK alone: DownloadTo into s3dest (./sdkonly)", steps: [][]string{
			{sdkBin, apiURL, bench.OrbitExportID, "s3://" + bucket + "/sdk.csv" + q, conns, ps}}},
		{id: "file", key: "file.csv", name: "exportkit download -o FILE, then transfermanager", steps: [][]string{dl(local), tm(local, "file.csv")}},
		// One step: "|", the writer, "|", the reader.
		{id: "pipe", key: "pipe.csv", name: "exportkit download -o - | transfermanager", steps: [][]string{
			slices.Concat([]string{"|"}, dl("-"), []string{"|"}, tm("-", "pipe.csv"))}},
	}
	if baseBin != "" {
		all = append(all, &row{id: "base", key: "base.csv", name: "exportkit download -o s3://… (the -baseline build)",
			steps: [][]string{dlWith(baseBin, "s3://"+bucket+"/base.csv"+q)}})
	}
	var rows []*row
	for _, id := range strings.Split(o.rows, ",") {
		i := slices.IndexFunc(all, func(r *row) bool { return r.id == strings.TrimSpace(id) })
		if i < 0 {
			return fmt.Errorf("-rows: unknown row %q (direct, sdk, file, pipe; base with -baseline)", id)
		}
		rows = append(rows, all[i])
	}
	env := append(os.Environ(), bench.OrbitEnv...)
	env = append(env, "AWS_ACCESS_KEY_ID="+bench.VersityAccessKey, "AWS_SECRET_ACCESS_KEY="+bench.VersitySecretKey,
		"AWS_REGION=us-east-1", "EXPORTKIT_STATE_DIR="+filepath.Join(work, "state"))
	for r := range o.rounds {
		for i := range rows {
			rw := rows[(i+r)%len(rows)]
			fmt.Fprintf(os.Stderr, "round %d: %s...\n", r+1, rw.name)
			d, rss, cpu, err := runRow(ctx, rw, env)
			if err != nil {
				rw.err = err.Error()
				fmt.Fprintf(os.Stderr, "  failed: %v\n", err)
				continue
			}
			rw.wall = append(rw.wall, d)
			rw.cpu = append(rw.cpu, cpu)
			rw.rss = max(rw.rss, rss)
			os.Remove(local)
		}
	}
	for _, rw := range rows {
		out, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(rw.key)})
		if err != nil || aws.ToInt64(out.ContentLength) != size {
			return fmt.Errorf("%s: not stored whole: %v", rw.key, err)
		}
	}
	fmt.Printf("\n%s from nginx behind Toxiproxy (%s, %.0f MB/s per connection) into versitygw (posix) on loopback; "+
		"%d connections, %s parts; median of %d; %s, %d CPUs\n\n",
		bench.FormatSize(size), o.latency, o.rate, o.conns, bench.FormatSize(partSize), o.rounds, runtime.Version(), runtime.NumCPU())
	fmt.Println("| how | wall | CPU (user + system) | peak RSS | goal 16 MiB + conns × part |")
	fmt.Println("|---|---|---|---|---|")
	goal := 16<<20 + int64(o.conns)*partSize
	for _, rw := range rows {
		if len(rw.wall) == 0 {
			fmt.Printf("| %s | failed: %s | | | |\n", rw.name, rw.err)
			continue
		}
		fmt.Printf("| %s | %.2f s | %.2f s | %s | %s |\n", rw.name, median(rw.wall).Seconds(), median(rw.cpu).Seconds(),
			bench.FormatSize(rw.rss), bench.FormatSize(goal))
	}
	return nil
}

// runRow runs a row's steps and returns the wall time, the peak RSS (the
// highest step's, or for a pipe the sum of its two processes) and the CPU
// time of all its processes.
func runRow(ctx context.Context, rw *row, env []string) (time.Duration, int64, time.Duration, error) {
	start := time.Now()
	var peak int64
	var cpu time.Duration
	used := func(c *exec.Cmd) {
		if ps := c.ProcessState; ps != nil {
			cpu += ps.UserTime() + ps.SystemTime()
		}
	}
	for _, step := range rw.steps {
		if step[0] == "|" {
			i := slices.Index(step[1:], "|") + 1
			a, b := step[1:i], step[i+1:]
			ca, cb := exec.CommandContext(ctx, a[0], a[1:]...), exec.CommandContext(ctx, b[0], b[1:]...)
			ca.Env, cb.Env = env, env
			ca.Stderr, cb.Stderr = os.Stderr, os.Stderr
			pr, pw, err := os.Pipe()
			if err != nil {
				return 0, 0, 0, err
			}
			ca.Stdout, cb.Stdin = pw, pr
			type res struct {
				rss int64
				err error
			}
			ch := make(chan res, 2)
			go func() { n, err := bench.RunPeakRSS(ca); pw.Close(); ch <- res{n, err} }()
			go func() { n, err := bench.RunPeakRSS(cb); pr.Close(); ch <- res{n, err} }()
			var sum int64
			for range 2 {
				r := <-ch
				if r.err != nil {
					return 0, 0, 0, r.err
				}
				sum += r.rss
			}
			used(ca)
			used(cb)
			peak = max(peak, sum)
			continue
		}
		cmd := exec.CommandContext(ctx, step[0], step[1:]...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		n, err := bench.RunPeakRSS(cmd)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: %w", filepath.Base(step[0]), err)
		}
		used(cmd)
		peak = max(peak, n)
	}
	return time.Since(start), peak, cpu, nil
}

// tmUpload is the uploader process: tm-upload ENDPOINT BUCKET KEY SRC CONNS PARTSIZE,
// SRC a file or - for stdin, with the AWS SDK's transfermanager.
func tmUpload(args []string) error {
	if len(args) != 6 {
		return fmt.Errorf("tm-upload ENDPOINT BUCKET KEY SRC CONNS PARTSIZE")
	}
	var conns int
	var ps int64
	fmt.Sscan(args[4], &conns)
	fmt.Sscan(args[5], &ps)
	var body io.Reader = struct{ io.Reader }{os.Stdin} // a stream: no Seek
	if args[3] != "-" {
		f, err := os.Open(args[3])
		if err != nil {
			return err
		}
		defer f.Close()
		body = f
	}
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(args[0]), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(bench.VersityAccessKey, bench.VersitySecretKey, "")})
	tm := transfermanager.New(c, func(o *transfermanager.Options) {
		o.Concurrency = conns
		o.PartSizeBytes = ps
	})
	_, err := tm.UploadObject(context.Background(), &transfermanager.UploadObjectInput{
		Bucket: aws.String(args[1]), Key: aws.String(args[2]), Body: body})
	return err
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// buildCLI builds the exportkit command of the checkout src (this
// module's own is three directories up from its go.mod) as bin.
func buildCLI(ctx context.Context, src, bin string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/exportkit")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/exportkit: %v\n%s", err, out)
	}
	return bin, nil
}
