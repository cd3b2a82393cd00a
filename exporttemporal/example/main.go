// Command example runs exporttemporal end to end.
//
//	go run ./example            # demo: everything in this process
//	go run ./example demo
//
// The demo starts an in-process Temporal server (temporaltest), the
// exporttest fake of the four vendors and a worker; runs ExportWorkflow for
// each vendor; then starts a long wait, stops the worker in the middle of
// it, and starts another that takes the wait up from the heartbeat; then
// starts a manifest's job runs from two "machines" at once against a fake
// that loses every create reply: one workflow per run, one export each.
//
// Against your own Temporal (temporal server start-dev, say) and the real
// vendor APIs, with their credentials in the environment (see exportkit's
// README), run a worker and a starter:
//
//	go run ./example worker -address localhost:7233
//	go run ./example start -address localhost:7233 -vendor brainbase -out /shared/exports/logs.csv
//	go run ./example jobs -address localhost:7233 -manifest sync.yaml   # from cron, on every machine
//
// -out must be a path every worker can write (a shared volume): a retried
// download may run on another worker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/exportkit/exportkit/exporttemporal"
	"github.com/exportkit/exportkit/exporttest"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
)

const taskQueue = "exportkit"

func main() {
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd, args := "demo", os.Args[1:]
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "demo":
		err = demo(ctx)
	case "worker":
		err = runWorker(ctx, args)
	case "start":
		err = start(ctx, args)
	case "jobs":
		err = startJobs(ctx, args)
	default:
		err = fmt.Errorf("unknown command %q: want demo, worker, start or jobs", cmd)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// quiet keeps the SDK's and the server's logs out of the demo's output.
var quiet = tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

func demo(ctx context.Context) error {
	fmt.Println("starting an in-process Temporal server and the exporttest fake of the four vendors")
	srv := exporttest.NewServer(exporttest.ReadyAfter(4), exporttest.FileSize(1<<20))
	defer srv.Close()
	c, err := srv.ClientE()
	if err != nil {
		return err
	}
	ts := temporaltest.NewServer(temporaltest.WithBaseClientOptions(client.Options{Logger: quiet}))
	defer ts.Stop()
	tc := ts.GetDefaultClient()
	acts := exporttemporal.NewActivities(c)
	register := func(r worker.Registry) { exporttemporal.Register(r, acts) }
	first := ts.NewWorker(taskQueue, register)
	dir, err := os.MkdirTemp("", "exporttemporal-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// The fake is fast: poll it often. Keep the default for real APIs.
	fast := exportkit.PollSchedule{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond, Multiplier: 1.5, Jitter: 0.2}

	fmt.Println("\n1. ExportWorkflow for each vendor: durable timers between status activities")
	for _, req := range []exporttemporal.CreateRequest{
		{Brainbase: &exportkit.LogExportRequest{Format: "CSV"}},
		{Memsolus: &exportkit.MemoryExportRequest{Format: "csv"}},
		{Orbit: &exporttemporal.OrbitRunRequest{AudienceID: "aud-demo"}},
		{Kore: &exporttemporal.KoreExportRequest{BotID: "st-demo-bot"}},
	} {
		v, _ := req.Vendor()
		out, err := execute(ctx, tc, "demo-"+string(v), exporttemporal.ExportWorkflowInput{
			Create: req, Schedule: fast,
			Destination: exporttemporal.Destination{Path: filepath.Join(dir, string(v)+".out")},
		})
		if err != nil {
			return fmt.Errorf("%s: %w", v, err)
		}
		fmt.Printf("   %-9s export %s ready after %d status reads; %d bytes to %s (verified: %t)\n",
			v, out.Export.ID, out.Polls, out.Download.Bytes, filepath.Base(out.Download.Destination.Path), out.Download.Verified)
	}

	fmt.Println("\n2. A worker lost in the middle of a wait (WaitInActivity, heartbeat timeout 2 s)")
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "demo-lost-worker", TaskQueue: taskQueue},
		exporttemporal.ExportWorkflow, exporttemporal.ExportWorkflowInput{
			Create:         exporttemporal.CreateRequest{Brainbase: &exportkit.LogExportRequest{Format: "JSON"}},
			WaitInActivity: true, HeartbeatTimeout: 2 * time.Second,
			Schedule: exportkit.PollSchedule{Min: 400 * time.Millisecond, Max: 400 * time.Millisecond, Multiplier: 1},
		})
	if err != nil {
		return err
	}
	srv.ResetRequests()
	for reads(srv) < 2 { // let the first worker make a few status reads
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	first.Stop()
	fmt.Printf("   worker 1 stopped mid-wait after %d status reads; starting worker 2\n", reads(srv))
	ts.NewWorker(taskQueue, register)
	var out exporttemporal.ExportWorkflowOutput
	if err := run.Get(ctx, &out); err != nil {
		return err
	}
	fmt.Printf("   worker 2 took the wait up from worker 1's heartbeat: export %s %s after %d status reads (as the heartbeats counted them)\n",
		out.Export.ID, out.Export.State, out.Polls)
	return jobsDemo(ctx, ts, dir, fast)
}

// jobsDemo starts a manifest's job runs from two machines at once, on a
// fake that loses every create reply.
func jobsDemo(ctx context.Context, ts *temporaltest.TestServer, dir string, fast exportkit.PollSchedule) error {
	fmt.Println("\n3. A manifest's jobs started from two machines at once; the fake loses every create reply")
	srv := exporttest.NewServer(exporttest.ReadyAfter(2), exporttest.FileSize(64<<10), exporttest.LoseCreateReplies(1))
	defer srv.Close()
	c, err := srv.ClientE()
	if err != nil {
		return err
	}
	tc := ts.GetDefaultClient()
	acts := exporttemporal.NewActivities(c)
	acts.Temporal = tc
	ts.NewWorker("jobs", func(r worker.Registry) { exporttemporal.Register(r, acts) })
	jobs := []exportjob.Job{
		{Name: "logs", Vendor: exportkit.Brainbase, Catchup: -1, Params: map[string]string{"format": "CSV"}},
		{Name: "memories", Vendor: exportkit.Memsolus, Catchup: -1, Params: map[string]string{"format": "json"}},
		{Name: "audience", Vendor: exportkit.Orbit, Catchup: -1, Params: map[string]string{"audience": "aud-demo"}},
		{Name: "bot", Vendor: exportkit.Kore, Catchup: -1, Params: map[string]string{"bot": "st-demo-bot"}},
	}
	opts := exporttemporal.StartOptions{TaskQueue: "jobs", Run: exporttemporal.JobRunInput{
		Dir: filepath.Join(dir, "jobs"), Wait: exporttemporal.ExportWorkflowInput{Schedule: fast}}}
	now := time.Now()
	var wg sync.WaitGroup
	starts := make([][]exporttemporal.JobRunStart, 2)
	errs := make([]error, 2)
	for i := range starts {
		wg.Go(func() { starts[i], errs[i] = exporttemporal.StartJobRuns(ctx, tc, jobs, now, opts) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, s := range starts[0] {
		by := "A"
		if !s.Started {
			by = "B"
		}
		var out exporttemporal.JobRunOutput
		if err := tc.GetWorkflow(ctx, s.Fingerprint, "").Get(ctx, &out); err != nil {
			return fmt.Errorf("%s: %w", s.Fingerprint, err)
		}
		fmt.Printf("   %-30s started by machine %s (the other's start refused: %t); %s, adopted after a lost reply: %t, export %s\n",
			s.Fingerprint, by, s.Started != starts[1][i].Started, out.State, out.Adopted, out.Export.ID)
	}
	count := map[exportkit.Vendor]int{}
	for _, e := range srv.Exports() {
		if e.Vendor != exportkit.Orbit || e.Kind == "run" {
			count[e.Vendor]++
		}
	}
	fmt.Printf("   create replies lost: %d; exports at the vendors: brainbase %d, memsolus %d, orbit %d (runs), kore %d\n",
		srv.LostCreateReplies(), count[exportkit.Brainbase], count[exportkit.Memsolus], count[exportkit.Orbit], count[exportkit.Kore])
	return nil
}

// reads counts the status reads the fake server received.
func reads(srv *exporttest.Server) int {
	n := 0
	for _, r := range srv.Requests() {
		if !r.Storage && r.Method == "GET" {
			n++
		}
	}
	return n
}

// execute runs one ExportWorkflow to its end.
func execute(ctx context.Context, tc client.Client, id string, in exporttemporal.ExportWorkflowInput) (exporttemporal.ExportWorkflowOutput, error) {
	var out exporttemporal.ExportWorkflowOutput
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, exporttemporal.ExportWorkflow, in)
	if err != nil {
		return out, err
	}
	return out, run.Get(ctx, &out)
}

// dial connects to the Temporal server named by the flags.
func dial(fs *flag.FlagSet, args []string) (client.Client, error) {
	address := fs.String("address", client.DefaultHostPort, "Temporal frontend host:port")
	namespace := fs.String("namespace", client.DefaultNamespace, "Temporal namespace")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return client.Dial(client.Options{HostPort: *address, Namespace: *namespace})
}

// runWorker runs a worker with the real vendor APIs until interrupted.
func runWorker(ctx context.Context, args []string) error {
	tc, err := dial(flag.NewFlagSet("worker", flag.ExitOnError), args)
	if err != nil {
		return err
	}
	defer tc.Close()
	c, err := exportkit.NewClient(exportkit.WithLogger(slog.Default()))
	if err != nil {
		return err
	}
	w := worker.New(tc, taskQueue, worker.Options{})
	acts := exporttemporal.NewActivities(c)
	acts.Temporal = tc // JobRunWorkflow asks about a job's previous run
	exporttemporal.Register(w, acts)
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	fmt.Printf("worker on task queue %q; interrupt to stop\n", taskQueue)
	<-ctx.Done()
	return nil
}

// start starts one ExportWorkflow and waits for its result.
func start(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("start", flag.ExitOnError)
	vendor := fs.String("vendor", "brainbase", "brainbase, memsolus, orbit or kore")
	audience := fs.String("audience", os.Getenv("LEADPIPE_AUDIENCE_ID"), "Orbit audience id")
	bot := fs.String("bot", os.Getenv("KORE_BOT_ID"), "Kore bot id")
	out := fs.String("out", "", "where the file goes: a path every worker can write")
	tc, err := dial(fs, args)
	if err != nil {
		return err
	}
	defer tc.Close()
	var req exporttemporal.CreateRequest
	switch exportkit.Vendor(*vendor) {
	case exportkit.Brainbase:
		req.Brainbase = &exportkit.LogExportRequest{Format: "CSV"}
	case exportkit.Memsolus:
		req.Memsolus = &exportkit.MemoryExportRequest{Format: "csv"}
	case exportkit.Orbit:
		req.Orbit = &exporttemporal.OrbitRunRequest{AudienceID: *audience}
	case exportkit.Kore:
		req.Kore = &exporttemporal.KoreExportRequest{BotID: *bot}
	default:
		return errors.New("-vendor: want brainbase, memsolus, orbit or kore")
	}
	res, err := execute(ctx, tc, fmt.Sprintf("export-%s-%d", *vendor, time.Now().UnixMilli()),
		exporttemporal.ExportWorkflowInput{Create: req, Destination: exporttemporal.Destination{Path: *out}})
	if err != nil {
		return err
	}
	fmt.Printf("%s export %s: %s, %d status reads\n", res.Export.Vendor, res.Export.ID, res.Export.State, res.Polls)
	if res.Download != nil {
		fmt.Printf("%d bytes to %s (verified: %t)\n", res.Download.Bytes, res.Download.Destination.Path, res.Download.Verified)
	}
	return nil
}

// startJobs starts the job runs of an `exportkit sync` manifest that are
// due now; the files go under the manifest's dir, which must be a path
// every worker can write. Run it from cron on every machine: Temporal
// refuses the runs another machine started.
func startJobs(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("jobs", flag.ExitOnError)
	path := fs.String("manifest", "sync.yaml", "the exportkit sync manifest")
	tc, err := dial(fs, args)
	if err != nil {
		return err
	}
	defer tc.Close()
	jobs, dir, err := exportjob.LoadManifest(*path)
	if err != nil {
		return err
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("the manifest's dir %q: want a path every worker can write", dir)
	}
	starts, err := exporttemporal.StartJobRuns(ctx, tc, jobs, time.Now(),
		exporttemporal.StartOptions{TaskQueue: taskQueue, Run: exporttemporal.JobRunInput{Dir: dir}})
	for _, s := range starts {
		what := "started"
		if !s.Started {
			what = "already running or done"
		}
		fmt.Printf("%s: %s\n", s.Fingerprint, what)
	}
	return err
}
