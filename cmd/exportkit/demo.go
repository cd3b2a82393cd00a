package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// The demo's script. Exports take a few seconds, as real ones do (minutes,
// really); polling is faster than the SDK's default so that the whole demo
// takes seconds, and the demo says so.
const (
	demoReadyAfter = 2 * time.Second
	demoFailAfter  = time.Second
	demoFileSize   = 24 << 20
	demoPollMin    = 250 * time.Millisecond
	demoPollMax    = time.Second
	demoRetryAfter = "1"
	demoFailCode   = "AUDIENCE_QUERY_TIMEOUT"
	demoFailMsg    = "the audience query ran longer than 300 s"
)

// demo runs every vendor's flow at once against an embedded fake server.
type demo struct {
	srv   *exporttest.Server
	c     *exportkit.Client
	board board
	dir   string
	seen  *seen429
}

// flow is one scripted export: created, waited for, downloaded, verified.
type flow struct {
	label  string
	vendor exportkit.Vendor
	// create starts the export.
	create func(ctx context.Context) (exportkit.Export, error)
	// arm injects the flow's faults once its export exists.
	arm func(e exportkit.Export) (stop func())
	// next turns a ready export into the one that holds the file (an
	// Orbit run into its CSV export); nil when they are the same.
	next func(ctx context.Context, e exportkit.Export) (exportkit.Export, error)
	// wantCode is the vendor error code the flow is scripted to fail
	// with; "" means it is scripted to end ready, downloaded and verified.
	wantCode string
	// audience is the Orbit audience of the flow: it tells the flow's
	// requests from the other Orbit flow's.
	audience string
	// check says whether the rest of the script happened, and notes it.
	check func(f *flow) (note string, ok bool)

	tk task // its line on the board

	// The result.
	id       string
	state    exportkit.State
	polls    int
	requests int // API requests the fake server received for the flow
	ready    time.Duration
	res      *exportkit.DownloadResult
	serverOK bool // the SHA-1 matches the bytes the fake server holds
	note     string
	err      error
	ok       bool // ended as scripted
}

// demoOpts are the demo's flags.
type demoOpts struct {
	dir         string
	json, quiet bool
}

func (o *demoOpts) register(fs *flag.FlagSet) {
	fs.StringVar(&o.dir, "dir", "", "keep the downloaded files in `DIR` (default: a temporary directory, removed at the end)")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	fs.BoolVar(&o.quiet, "quiet", false, "no live status lines")
	fs.BoolVar(&o.quiet, "q", false, "no live status lines")
}

var demoCmd = &cliCommand{
	name: "demo", short: "all four vendors against a built-in fake server",
	doc: commandDoc{
		args: "[flags]",
		summary: "Runs five flows of the four vendors at once (Orbit twice) against an embedded exporttest server (no account,\n" +
			"no network): one export fails with the vendor's code, one status read gets 429 with\n" +
			"Retry-After, one download is cut 3% of the way in and resumes. Ends with a table of what happened.",
		examples: []string{"demo", "demo --dir exports --json"},
	},
	flags: func(fs *flag.FlagSet) runFunc {
		o := &demoOpts{}
		o.register(fs)
		return func(ctx context.Context, f *factory, args []string) error {
			return runDemo(ctx, o, args, f.stdout, f.stderr)
		}
	},
}

func runDemo(ctx context.Context, o *demoOpts, pos []string, stdout, stderr io.Writer) error {
	if len(pos) > 0 {
		return usageErrorf("demo: unexpected argument %q", pos[0])
	}
	dir, asJSON, quiet := &o.dir, &o.json, &o.quiet
	d := &demo{dir: *dir, seen: &seen429{}}
	if d.dir == "" {
		tmp, err := os.MkdirTemp("", "exportkit-demo-")
		if err != nil {
			return fmt.Errorf("exportkit: demo: %w", err)
		}
		defer os.RemoveAll(tmp)
		d.dir = tmp
	} else if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return fmt.Errorf("exportkit: demo: %w", err)
	}

	var err error
	d.srv = exporttest.NewServer(
		exporttest.ReadyAfterDuration(demoReadyAfter),
		exporttest.FileSize(demoFileSize),
		exporttest.MemsolusDownloadRedirect(0),
	)
	defer d.srv.Close()
	d.c, err = d.srv.ClientE(
		// The fake's transport, watched for the scripted 429 so that the
		// line of the flow it holds up can say so while it waits.
		exportkit.WithHTTPClient(&http.Client{Transport: &watch429{next: d.srv.Transport(), seen: d.seen}}),
		exportkit.WithDefaultWait(exportkit.WithPollInterval(demoPollMin, demoPollMax)),
	)
	if err != nil {
		return fmt.Errorf("exportkit: demo: %w", err)
	}

	if !*asJSON {
		fmt.Fprintf(stdout, "exportkit demo: the four vendor APIs, faked on %s (no account, no network needed).\n", d.srv.URL())
		fmt.Fprintf(stdout, "Script: exports get ready after %s; one Orbit run fails with %s;\n", demoReadyAfter, demoFailCode)
		fmt.Fprintf(stdout, "Kore's first status read gets 429 Retry-After %ss; Brainbase's download is cut 3%% of the way in.\n", demoRetryAfter)
		fmt.Fprintf(stdout, "Polling every %s to %s (the SDK's default is %s to %s) to keep the demo short.\n\n",
			demoPollMin, demoPollMax, exportkit.DefaultPollMin, exportkit.DefaultPollMax)
	}

	flows := d.flows()
	d.board = newBoard(stderr, *quiet)
	for _, f := range flows {
		f.tk = d.board.task(f.label)
	}
	// Show a 429 on the line of the flow it held up: the SDK retries it
	// inside the status read, after the time the server asked for.
	d.seen.on429 = func(v exportkit.Vendor) {
		for _, f := range flows {
			if f.vendor == v {
				f.tk.status(fmt.Sprintf("status read got 429 Retry-After %ss: waiting as asked", demoRetryAfter))
			}
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, f := range flows {
		wg.Go(func() { d.run(ctx, f) })
	}
	wg.Wait()
	d.board.close()
	took := time.Since(start)
	d.countRequests(flows)

	if ctx.Err() != nil {
		return ctx.Err()
	}
	failed := 0
	for _, f := range flows {
		if !f.ok {
			failed++
		}
	}
	if *asJSON {
		if err := writeJSON(stdout, demoJSON(flows)); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(stdout)
		printDemoTable(stdout, flows)
		fmt.Fprintln(stdout)
		if failed == 0 {
			fmt.Fprintf(stdout, "All %d flows ended as scripted in %s.\n", len(flows), took.Round(100*time.Millisecond))
		}
	}
	if failed > 0 {
		return fmt.Errorf("exportkit: demo: %d of %d flows did not end as scripted", failed, len(flows))
	}
	return nil
}

// flows is the demo's script: one flow per vendor, and an Orbit run that
// fails.
func (d *demo) flows() []*flow {
	c, srv := d.c, d.srv
	orbitNext := func(ctx context.Context, e exportkit.Export) (exportkit.Export, error) {
		run := e.(*exportkit.AudienceRun)
		return anyExport(c.Audiences.CreateExport(ctx, run.AudienceID, run.ID))
	}
	return []*flow{
		{
			label: "brainbase", vendor: exportkit.Brainbase,
			create: func(ctx context.Context) (exportkit.Export, error) {
				return anyExport(c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV", LogType: "VoiceDeploymentLog"}))
			},
			arm: func(e exportkit.Export) func() {
				// The storage path holds the export id: only this download is cut.
				srv.Inject(exporttest.OnStorage().Path(e.ExportID()).ResetAfter(demoFileSize / 32)) // within the first part (1.5 MiB)
				return func() {}
			},
			check: func(f *flow) (string, bool) {
				if f.res.Resumes == 0 {
					return "the cut download did not resume", false
				}
				return fmt.Sprintf("cut at 3%%, resumed %d×", f.res.Resumes), true
			},
		},
		{
			label: "memsolus", vendor: exportkit.Memsolus,
			create: func(ctx context.Context) (exportkit.Export, error) {
				return anyExport(c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "json"}))
			},
			check: func(*flow) (string, bool) { return "302 to storage, key not sent there", true },
		},
		{
			label: "orbit leads", vendor: exportkit.Orbit, audience: "aud-demo-leads",
			create: func(ctx context.Context) (exportkit.Export, error) {
				return anyExport(c.Audiences.CreateRun(ctx, "aud-demo-leads", nil))
			},
			next:  orbitNext,
			check: func(*flow) (string, bool) { return "run, then its CSV export", true },
		},
		{
			label: "orbit churn", vendor: exportkit.Orbit, audience: "aud-demo-churn", wantCode: demoFailCode,
			create: func(ctx context.Context) (exportkit.Export, error) {
				return anyExport(c.Audiences.CreateRun(ctx, "aud-demo-churn", nil))
			},
			arm: func(e exportkit.Export) func() {
				t := time.AfterFunc(demoFailAfter, func() {
					srv.FailExport(exportkit.Orbit, e.ExportID(), demoFailCode, demoFailMsg)
				})
				return func() { t.Stop() }
			},
			next: orbitNext,
		},
		{
			label: "kore", vendor: exportkit.Kore,
			create: func(ctx context.Context) (exportkit.Export, error) {
				srv.Inject(exporttest.On(exportkit.Kore).Path("/export/status").Status(429).RetryAfter(demoRetryAfter))
				return anyExport(c.Bots.StartExport(ctx, "st-demo-bot", &exportkit.BotExportRequest{ExportType: "latest"}))
			},
			check: func(*flow) (string, bool) {
				gap, ok := d.after429(exportkit.Kore)
				if !ok {
					return "the scripted 429 never came", false
				}
				return fmt.Sprintf("429 Retry-After %ss, next try %s later", demoRetryAfter, gap.Round(10*time.Millisecond)), true
			},
		},
	}
}

// run runs one flow to its end and records how it ended.
func (d *demo) run(ctx context.Context, f *flow) {
	tk := f.tk
	start := time.Now()
	end := func(err error) {
		f.err = err
		f.ok = f.judge()
		switch {
		case f.ok && f.wantCode != "":
			tk.finish(fmt.Sprintf("%s as scripted: %s", f.state, f.note), true)
		case f.ok:
			tk.finish(fmt.Sprintf("%s in %s, %s, %s", f.state, f.ready.Round(100*time.Millisecond), formatBytes(f.res.Bytes), verifiedWords[verifiedText(f)]), false)
		default:
			tk.finish("NOT AS SCRIPTED: "+f.note, true)
		}
	}
	tk.status("creating")
	e, err := f.create(ctx)
	if err != nil {
		end(err)
		return
	}
	f.id, f.state = e.ExportID(), e.State()
	if f.arm != nil {
		defer f.arm(e)()
	}
	poll := exportkit.WithOnPoll(func(x exportkit.Export) {
		f.polls++
		f.state = x.State()
		tk.status(kindOf(x) + stateLine(x, f.polls))
	})
	if e, err = d.c.Wait(ctx, e, poll); err == nil && f.next != nil {
		tk.status("run completed; creating its CSV export")
		if e, err = f.next(ctx, e); err == nil {
			f.id = e.ExportID()
			e, err = d.c.Wait(ctx, e, poll)
		}
	}
	if e != nil {
		f.state = e.State()
	}
	if err != nil {
		end(err)
		return
	}
	f.ready = time.Since(start)
	tk.status("ready; downloading")
	path := filepath.Join(d.dir, string(f.vendor)+"-"+e.ExportID())
	f.res, err = d.c.DownloadFile(ctx, e, path, exportkit.WithSHA1(),
		exportkit.WithProgress(func(p exportkit.Progress) { tk.progress(progressInfo{p.Done, p.Total}) }))
	if err != nil {
		end(err)
		return
	}
	if f.res.FileName != "" {
		os.Rename(path, filepath.Join(d.dir, f.res.FileName))
	}
	f.serverOK = d.serverSHA1(e) == f.res.SHA1
	end(nil)
}

// judge compares how the flow ended with its script and writes its note.
func (f *flow) judge() bool {
	if f.wantCode != "" {
		var ee *exportkit.ExportError
		if errors.As(f.err, &ee) && ee.Code == f.wantCode {
			f.note = joinNonEmpty(": ", ee.Code, ee.Message)
			return true
		}
		f.note = fmt.Sprintf("want failure %s, got %v", f.wantCode, orState(f.err, f.state))
		return false
	}
	if f.err != nil {
		f.note = oneLine(f.err)
		return false
	}
	if !f.serverOK {
		f.note = "SHA-1 differs from the server's bytes"
		return false
	}
	if f.check == nil {
		return true
	}
	var ok bool
	f.note, ok = f.check(f)
	return ok
}

func orState(err error, s exportkit.State) any {
	if err != nil {
		return err
	}
	return s
}

// kindOf names what is being waited for, for the status line.
func kindOf(e exportkit.Export) string {
	switch e.(type) {
	case *exportkit.AudienceRun:
		return "run "
	case *exportkit.AudienceExport:
		return "export "
	}
	return ""
}

// serverSHA1 is the SHA-1 of the bytes the fake server holds for e: the
// demo's own check that what arrived is what was sent.
func (d *demo) serverSHA1(e exportkit.Export) string {
	r, _, err := d.srv.FileReader(e.Vendor(), e.ExportID())
	if err != nil {
		return ""
	}
	h := sha1.New()
	if _, err := io.Copy(h, r); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

func printDemoTable(w io.Writer, flows []*flow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VENDOR\tEXPORT ID\tSTATE\tPOLLS\tREQUESTS\tREADY AFTER\tBYTES\tSHA-1\tVERIFIED\tNOTES")
	for _, f := range flows {
		ready, bytes, sum, verified := "-", "-", "-", "-"
		if f.res != nil {
			ready = f.ready.Round(100 * time.Millisecond).String()
			bytes = fmt.Sprint(f.res.Bytes)
			sum = short(f.res.SHA1, 12)
			verified = verifiedText(f)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n",
			f.vendor, f.id, f.state, f.polls, f.requests, ready, bytes, sum, verified, f.note)
	}
	tw.Flush()
}

// verifiedText says who checked the bytes of a download: "yes" when the
// SDK checked them against the vendor's size or checksum and the demo
// against the server's own bytes, "by demo" when the vendor sent nothing
// to check against (Memsolus) and only the demo could, "no" otherwise. The
// live line, the table and --json all say this one word.
func verifiedText(f *flow) string {
	switch {
	case f.res == nil:
		return "-"
	case f.res.Verified && f.serverOK:
		return "yes"
	case f.serverOK:
		return "by demo"
	}
	return "no"
}

// verifiedWords are the words of verifiedText on a live line.
var verifiedWords = map[string]string{
	"yes":     "verified",
	"by demo": "verified by demo (the vendor sends no size or checksum)",
	"no":      "NOT verified",
	"-":       "",
}

// short cuts s to n characters, marking the cut.
func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

type flowJSON struct {
	Vendor       exportkit.Vendor `json:"vendor"`
	ID           string           `json:"id"`
	State        exportkit.State  `json:"state"`
	Polls        int              `json:"polls"`
	ReadySeconds float64          `json:"ready_seconds,omitempty"` // to a tenth of a second
	Bytes        int64            `json:"bytes,omitempty"`
	SHA1         string           `json:"sha1,omitempty"`
	// Verified is the SDK's word, as download --json gives it: the bytes
	// matched the vendor's size or checksum.
	Verified bool `json:"verified"`
	// VerifiedBy says who checked the bytes: "exportkit" (the SDK, and the
	// demo against the server's own bytes), "demo" (only the demo: the
	// vendor sent nothing to check against) or "" (nobody).
	VerifiedBy string `json:"verified_by,omitempty"`
	Requests   int    `json:"requests"`
	Resumes    int    `json:"resumes,omitempty"`
	AsScripted bool   `json:"as_scripted"`
	Note       string `json:"note,omitempty"`
}

func demoJSON(flows []*flow) []flowJSON {
	out := make([]flowJSON, 0, len(flows))
	for _, f := range flows {
		j := flowJSON{Vendor: f.vendor, ID: f.id, State: f.state, Polls: f.polls, Requests: f.requests, AsScripted: f.ok, Note: f.note}
		if f.res != nil {
			j.ReadySeconds = f.ready.Round(100 * time.Millisecond).Seconds()
			j.Bytes, j.SHA1, j.Resumes = f.res.Bytes, f.res.SHA1, f.res.Resumes
			j.Verified = f.res.Verified
			j.VerifiedBy = map[string]string{"yes": "exportkit", "by demo": "demo"}[verifiedText(f)]
		}
		out = append(out, j)
	}
	return out
}

// seen429 notes the 429 answers the SDK gets, as the demo's client sees
// them, to show them live; what the server received is read from its
// request log afterwards.
type seen429 struct {
	on429 func(exportkit.Vendor) // set before the first request

	mu sync.Mutex
	n  map[exportkit.Vendor]int
}

// saw records a 429 answer to vendor v and shows it.
func (s *seen429) saw(v exportkit.Vendor) {
	s.mu.Lock()
	if s.n == nil {
		s.n = map[exportkit.Vendor]int{}
	}
	s.n[v]++
	s.mu.Unlock()
	if s.on429 != nil {
		s.on429(v)
	}
}

// count is how many 429 answers vendor v gave.
func (s *seen429) count(v exportkit.Vendor) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[v]
}

// watch429 is the demo client's transport: the fake's, calling on429 for
// each 429 answer.
type watch429 struct {
	next http.RoundTripper
	seen *seen429
}

func (t *watch429) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		t.seen.saw(vendorOfPath(req.URL.Path))
	}
	return resp, err
}

// vendorOfPath tells the vendor of a request to the fake by its path
// prefix (the fake serves the four APIs on one host, by path).
func vendorOfPath(p string) exportkit.Vendor {
	switch {
	case strings.HasPrefix(p, "/api/public/"):
		return exportkit.Kore
	case strings.HasPrefix(p, "/api/team/"):
		return exportkit.Brainbase
	case strings.HasPrefix(p, "/v1/exports"):
		return exportkit.Memsolus
	}
	return exportkit.Orbit
}

// requestsOf is the API requests the server received for flow f, from
// its request log.
func (d *demo) requestsOf(f *flow) []exporttest.Request {
	var out []exporttest.Request
	for _, r := range d.srv.Requests() {
		if !r.Storage && r.Vendor == f.vendor && (f.audience == "" || strings.Contains(r.Path, f.audience)) {
			out = append(out, r)
		}
	}
	return out
}

// countRequests sets each flow's request count from the server's log.
func (d *demo) countRequests(flows []*flow) {
	for _, f := range flows {
		f.requests = len(d.requestsOf(f))
	}
}

// after429 returns the time, as the server saw it, from the status read
// that got the scripted 429 to the next one of vendor v: the first two
// status reads in the server's request log (the 429 is scripted for the
// first one).
func (d *demo) after429(v exportkit.Vendor) (time.Duration, bool) {
	var at []time.Time
	for _, r := range d.srv.Requests() {
		if r.Vendor == v && !r.Storage && strings.HasSuffix(r.Path, "/export/status") {
			at = append(at, r.Time)
		}
	}
	if len(at) < 2 || d.seen.count(v) == 0 {
		return 0, false
	}
	return at[1].Sub(at[0]), true
}
