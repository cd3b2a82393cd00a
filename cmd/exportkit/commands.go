package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/download"
	"github.com/exportkit/exportkit/s3dest"
)

// cmdOpts are the flags of the vendor commands. Each command registers the
// ones it takes.
type cmdOpts struct {
	json, quiet, force bool
	sha1               bool
	showURL            bool
	noResume           bool
	connections        int
	partSize           sizeFlag
	baseURL            string
	timeout            timeoutFlag
	poll               pollFlag
	output             string
	limit              int

	// create
	format, logType, worker, deployment string
	user, agent, session, priority      string
	since, until                        timeFlag
	categories                          listFlag
	koreType, idempotencyKey            string
}

// register adds the flags of command cmd to fs. The usage strings are
// what "exportkit help CMD" prints: a word in backquotes names the
// flag's argument.
func (o *cmdOpts) register(fs *flag.FlagSet, cmd string) {
	fs.BoolVar(&o.json, "json", false, "machine-readable output on stdout, and errors as JSON on stderr")
	fs.BoolVar(&o.quiet, "quiet", false, "no status or progress lines on stderr")
	fs.BoolVar(&o.quiet, "q", false, "no status or progress lines on stderr")
	fs.StringVar(&o.baseURL, "base-url", "", "the vendor API's base `URL` (default: the SDK's, or the vendor's "+
		"*_BASE_URL or KORE_HOST variable); without a scheme, http for localhost and https otherwise")
	fs.Var(&o.timeout, "timeout", "give up after this long (exit 5): a positive `DURATION` "+
		"such as 90s or 30m; no limit without it")
	fs.Var(&o.poll, "poll-interval", "delay between status reads: `MIN[,MAX]` such as 5s,30s, "+
		"the delay growing from MIN to MAX (default 2s,15s)")
	switch cmd {
	case "get", "wait", "list":
		fs.BoolVar(&o.showURL, "show-url", false, "print download URLs whole, signature included (default: query values REDACTED)")
	}
	switch cmd {
	case "download":
		fs.StringVar(&o.output, "output", "", "write the file to `FILE`; - for stdout; s3://BUCKET/KEY?… for an S3 object")
		fs.StringVar(&o.output, "o", "", "write the file to `FILE`; - for stdout; s3://BUCKET/KEY?… for an S3 object")
		fs.BoolVar(&o.force, "force", false, "overwrite the output file or object")
		fs.BoolVar(&o.sha1, "sha1", false, "compute the file's SHA-1 even when the vendor gives none to verify")
		fs.BoolVar(&o.noResume, "no-resume", false, "start over instead of going on from an interrupted download's partial file")
		fs.IntVar(&o.connections, "connections", 0, "at most `N` parallel range requests (default 16; 1 = one stream)")
		fs.Var(&o.partSize, "part-size", "`SIZE` of a ranged part: 8MiB, 512KiB, 1GiB or plain bytes (default 8MiB to a file, 2MiB with -o -)")
	case "list":
		fs.IntVar(&o.limit, "limit", 0, "list at most `N` (default: memsolus 100, orbit 25)")
	case "create":
		fs.StringVar(&o.format, "format", "", "file `FORMAT` (brainbase, memsolus; values below)")
		fs.StringVar(&o.logType, "log-type", "", "brainbase log `TYPE`, such as VoiceDeploymentLog")
		fs.StringVar(&o.worker, "worker", "", "brainbase worker `ID`")
		fs.StringVar(&o.deployment, "deployment", "", "brainbase deployment `ID`")
		fs.StringVar(&o.user, "user", "", "memsolus user `ID`")
		fs.StringVar(&o.agent, "agent", "", "memsolus agent `ID`")
		fs.StringVar(&o.session, "session", "", "memsolus session `ID`")
		fs.StringVar(&o.priority, "priority", "", "memsolus `PRIORITY`: LOW, MEDIUM or HIGH")
		fs.Var(&o.categories, "category", "memsolus `CATEGORY` (repeatable, at most 20)")
		fs.Var(&o.since, "since", "start of the time range: a `DATE` (2025-01-31) or an RFC 3339 time")
		fs.Var(&o.until, "until", "end of the time range: a `DATE` (2025-01-31) or an RFC 3339 time")
		fs.StringVar(&o.koreType, "type", "", "kore export `TYPE`: latest (default) or published")
		fs.StringVar(&o.idempotencyKey, "idempotency-key", "", "orbit run idempotency `KEY` (default: a fresh one)")
	}
}

// timeoutFlag is --timeout: a positive duration, and the text it was given
// as, which messages repeat ("timed out after 30m", not "30m0s"). Zero or a
// negative duration is refused rather than read as "no limit", which
// leaving the flag out says.
type timeoutFlag struct {
	d    time.Duration
	text string
}

func (t *timeoutFlag) String() string { return t.text }

func (t *timeoutFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return errors.New("want a duration such as 90s or 30m")
	case d <= 0:
		return errors.New("want a positive duration such as 90s or 30m; leave --timeout out to wait without limit")
	}
	t.d, t.text = d, s
	return nil
}

// createFlags are the create flags each vendor takes.
var createFlags = map[exportkit.Vendor][]string{
	exportkit.Brainbase: {"format", "log-type", "worker", "deployment", "since", "until"},
	exportkit.Memsolus:  {"format", "user", "agent", "session", "priority", "category", "since", "until"},
	exportkit.Orbit:     {"idempotency-key"},
	exportkit.Kore:      {"type"},
}

var commonFlags = []string{"json", "quiet", "q", "base-url", "timeout", "poll-interval"}

// pollFlag is --poll-interval MIN[,MAX].
type pollFlag struct{ min, max time.Duration }

func (p *pollFlag) String() string {
	if p.min == 0 {
		return ""
	}
	return p.min.String() + "," + p.max.String()
}

func (p *pollFlag) Set(s string) error {
	lo, hi, found := strings.Cut(s, ",")
	min, err := time.ParseDuration(strings.TrimSpace(lo))
	if err != nil || min <= 0 {
		return fmt.Errorf("want a positive duration such as 2s, or MIN,MAX")
	}
	max := min
	if found {
		if max, err = time.ParseDuration(strings.TrimSpace(hi)); err != nil || max < min {
			return fmt.Errorf("want MAX at least MIN, such as 2s,15s")
		}
	} else {
		max = exportkit.DefaultPollMax
	}
	p.min, p.max = min, max
	return nil
}

// timeFlag is a time given as RFC 3339 or as a date (2006-01-02, UTC).
type timeFlag struct{ t *time.Time }

func (f *timeFlag) String() string {
	if f.t == nil {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			f.t = &t
			return nil
		}
	}
	return fmt.Errorf("want a date (2025-01-31) or an RFC 3339 time")
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// target is what a command acts on, as the command line named it.
type target struct {
	vendor exportkit.Vendor
	id     string   // as typed: an export id, AUDIENCE/RUN[/EXPORT], a bot id
	parts  []string // Orbit: audience, run, export
}

func (t target) String() string { return string(t.vendor) + " " + t.id }

func (t target) ref() exportkit.ExportRef {
	return exportkit.ExportRef{AudienceID: t.parts[0], RunID: t.parts[1], ExportID: t.parts[2]}
}

func parseVendor(s string) (exportkit.Vendor, error) {
	switch strings.ToLower(s) {
	case "brainbase":
		return exportkit.Brainbase, nil
	case "memsolus":
		return exportkit.Memsolus, nil
	case "orbit", "leadpipe":
		return exportkit.Orbit, nil
	case "kore", "kore.ai":
		return exportkit.Kore, nil
	}
	return "", usageErrorf("unknown vendor %q (want brainbase, memsolus, orbit or kore)", s)
}

// parseTarget checks the ids a command got for vendor v.
func parseTarget(cmd string, v exportkit.Vendor, ids []string) (target, error) {
	t := target{vendor: v}
	// want is how many ids the command takes (0 or 1), and what it is called.
	want, name := 1, "an export id"
	switch {
	case v == exportkit.Kore:
		name = "a bot id"
	case v == exportkit.Orbit && cmd == "create", v == exportkit.Orbit && cmd == "list":
		name = "an audience id"
	case cmd == "create", cmd == "list":
		want = 0
	}
	if cmd == "list" && (v == exportkit.Brainbase || v == exportkit.Kore) {
		return t, usageErrorf("list: %s has no endpoint that lists exports", v)
	}
	switch {
	case len(ids) > want:
		return t, usageErrorf("%s %s: unexpected argument %q", cmd, v, ids[want])
	case want == 0:
		return t, nil
	case len(ids) == 0:
		return t, usageErrorf("%s %s: missing %s", cmd, v, name)
	}
	t.id = ids[0]
	if strings.TrimSpace(t.id) == "" {
		return t, usageErrorf("%s %s: empty id", cmd, v)
	}
	if v != exportkit.Orbit {
		return t, nil
	}
	// Orbit: how many parts the command takes.
	minParts, maxParts, shape := 2, 3, "AUDIENCE/RUN or AUDIENCE/RUN/EXPORT"
	switch cmd {
	case "create":
		minParts, maxParts, shape = 1, 2, "AUDIENCE or AUDIENCE/RUN"
	case "list":
		minParts, maxParts, shape = 1, 1, "AUDIENCE"
	}
	t.parts = strings.Split(t.id, "/")
	n := len(t.parts)
	bad := n < minParts || n > maxParts
	for _, p := range t.parts {
		bad = bad || strings.TrimSpace(p) == ""
	}
	if bad {
		return t, usageErrorf("%s orbit: malformed Orbit id %q: want %s", cmd, t.id, shape)
	}
	return t, nil
}

// credentialEnv lists the environment variables each vendor's credential
// is read from.
var credentialEnv = map[exportkit.Vendor][]string{
	exportkit.Brainbase: {exportkit.EnvBrainbaseAPIKey},
	exportkit.Memsolus:  {exportkit.EnvMemsolusAPIKey},
	exportkit.Orbit:     {exportkit.EnvLeadpipeAPIKey},
	exportkit.Kore:      {exportkit.EnvKoreClientID, exportkit.EnvKoreClientSecret},
}

// newClient checks that v's credential is there before anything is sent,
// and builds a client for v.
func newClient(v exportkit.Vendor, o *cmdOpts) (*exportkit.Client, error) {
	var missing []string
	for _, env := range credentialEnv[v] {
		if strings.TrimSpace(os.Getenv(env)) == "" {
			missing = append(missing, env)
		}
	}
	if len(missing) > 0 {
		return nil, usageErrorf("%s: no credentials: set %s", v, strings.Join(missing, " and "))
	}
	opts := []exportkit.Option{exportkit.WithUserAgent("exportkit-cli")}
	if o.baseURL != "" {
		opts = append(opts, exportkit.WithBaseURL(v, o.baseURL))
	}
	c, err := exportkit.NewClient(opts...)
	if err != nil {
		return nil, &usageError{strings.TrimPrefix(err.Error(), "exportkit: ")}
	}
	return c, nil
}

// runner runs one vendor command.
type runner struct {
	c              *exportkit.Client
	o              *cmdOpts
	b              board
	stdout, stderr io.Writer
	// deadline is when --timeout runs out, fixed once when the command
	// starts: every stage of the command (Orbit's run, then its export)
	// shares it. Zero without --timeout.
	deadline time.Time
}

func vendorCommand(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	o := &cmdOpts{}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	o.register(fs, cmd)
	pos, err := parseFlags(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageErrorf("%s: missing vendor (brainbase, memsolus, orbit or kore)", cmd)
	}
	v, err := parseVendor(pos[0])
	if err != nil {
		return err
	}
	t, err := parseTarget(cmd, v, pos[1:])
	if err != nil {
		return err
	}
	if cmd == "create" {
		if err := checkCreateFlags(fs, v); err != nil {
			return err
		}
	}
	if cmd == "download" {
		o.output = localOutput(o.output)
		if err := checkOutput(o.output, o.force); err != nil {
			return err
		}
	}
	c, err := newClient(v, o)
	if err != nil {
		return err
	}
	b := newBoard(stderr, o.quiet)
	defer b.close()
	r := &runner{c: c, o: o, b: b, stdout: stdout, stderr: stderr}
	if o.timeout.d > 0 {
		r.deadline = time.Now().Add(o.timeout.d)
	}
	switch cmd {
	case "create":
		err = r.withDeadline(ctx, func(ctx context.Context) error { return r.create(ctx, t) })
	case "get":
		err = r.withDeadline(ctx, func(ctx context.Context) error { return r.get(ctx, t) })
	case "wait":
		err = r.wait(ctx, t)
	case "download":
		err = r.download(ctx, t)
	default:
		err = r.list(ctx, t)
	}
	return r.timedOut(ctx, err)
}

// withDeadline runs f with a context that ends at the command's deadline.
// Waits do not run under it: they get the time left as WithMaxWait (see
// waitOpts), so that an export already ready is returned even when little
// time is left.
func (r *runner) withDeadline(ctx context.Context, f func(context.Context) error) error {
	if r.deadline.IsZero() {
		return f(ctx)
	}
	ctx, cancel := context.WithDeadline(ctx, r.deadline)
	defer cancel()
	return f(ctx)
}

// timedOut words an error of a command whose --timeout ran out the same
// way whichever stage it hit: "…: timed out after 30s", with the duration
// the user gave, for a status read as for a wait.
func (r *runner) timedOut(ctx context.Context, err error) error {
	if err == nil || r.deadline.IsZero() || ctx.Err() != nil || time.Now().Before(r.deadline) ||
		!errors.Is(err, exportkit.ErrWaitTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		return err // not the --timeout: Ctrl-C, or a timeout of something else
	}
	d := "timed out after " + r.o.timeout.text
	msg := timeoutWords.ReplaceAllLiteralString(oneLine(err), d)
	if !strings.Contains(msg, d) {
		msg += ": " + d
	}
	return &wordedError{msg: msg, err: err}
}

// timeoutWords are how the SDK and net/http say that time ran out.
var timeoutWords = regexp.MustCompile(`(exportkit: )?(wait )?timed out(?: after (?:[0-9.]+[a-zµ]+)+)?|context deadline exceeded`)

// wordedError is err with its message reworded.
type wordedError struct {
	msg string
	err error
}

func (e *wordedError) Error() string { return e.msg }
func (e *wordedError) Unwrap() error { return e.err }

// checkCreateFlags refuses a create flag the vendor does not take.
func checkCreateFlags(fs *flag.FlagSet, v exportkit.Vendor) error {
	allowed := map[string]bool{}
	for _, n := range append(commonFlags, createFlags[v]...) {
		allowed[n] = true
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if !allowed[f.Name] && err == nil {
			err = usageErrorf("create %s: flag --%s is not for %s", v, f.Name, v)
		}
	})
	return err
}

// checkOutput checks the output path before any waiting, so that a wrong
// path fails in a second, not after the export is ready.
func checkOutput(path string, force bool) error {
	if handled, err := checkURLOutput(path, force); handled {
		return err
	}
	switch {
	case path == "":
		return usageErrorf("download: missing -o FILE (or -o - for stdout)")
	case path == "-":
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return usageErrorf("download: output %q is a directory", path)
	case err == nil && !force:
		return usageErrorf("download: output file %q exists (use --force to overwrite it)", path)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("exportkit: download: cannot write %q: %w", path, errors.Unwrap(err))
	}
	// The file is written next to path, then renamed: the directory must
	// take a new file.
	f, err := os.CreateTemp(filepath.Dir(path), ".exportkit-check-*")
	if err != nil {
		return fmt.Errorf("exportkit: download: cannot write %q: %w", path, errors.Unwrap(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// waitOpts are the wait options of the command line, with each status
// read shown on the task's line.
func (r *runner) waitOpts(t task) []exportkit.WaitOption {
	polls := 0
	opts := []exportkit.WaitOption{exportkit.WithOnPoll(func(e exportkit.Export) {
		polls++
		t.status(stateLine(e, polls))
	}), exportkit.WithOnRetry(func(err error, next time.Duration) {
		t.status(fmt.Sprintf("retrying: %v (next read in %s)", err, next.Round(time.Second)))
	})}
	if r.o.poll.min > 0 {
		opts = append(opts, exportkit.WithPollInterval(r.o.poll.min, r.o.poll.max))
	}
	if !r.deadline.IsZero() {
		// The time left of the command's one deadline, so that a chain of
		// waits shares it; a wait with none left still reads the status once.
		opts = append(opts, exportkit.WithMaxWait(max(time.Until(r.deadline), time.Nanosecond)))
	}
	return opts
}

// anyExport returns a service's typed result as an Export with its
// error: nil, not a typed nil, when there is no export. A wait that fails
// returns the last export it saw, and that is kept.
func anyExport[P interface {
	*T
	exportkit.Export
}, T any](p P, err error) (exportkit.Export, error) {
	if p == nil {
		return nil, err
	}
	return p, err
}

func (r *runner) create(ctx context.Context, t target) error {
	var (
		e   exportkit.Export
		err error
	)
	switch t.vendor {
	case exportkit.Brainbase:
		e, err = anyExport(r.c.Exports.Create(ctx, &exportkit.LogExportRequest{
			Format: r.o.format, LogType: r.o.logType, WorkerID: r.o.worker, DeploymentID: r.o.deployment,
			StartDate: r.o.since.t, EndDate: r.o.until.t,
		}))
	case exportkit.Memsolus:
		e, err = anyExport(r.c.Memories.Create(ctx, &exportkit.MemoryExportRequest{
			Format: r.o.format, UserID: r.o.user, AgentID: r.o.agent, SessionID: r.o.session,
			Priority: r.o.priority, Categories: r.o.categories, CreatedAfter: r.o.since.t, CreatedBefore: r.o.until.t,
		}))
	case exportkit.Orbit:
		if len(t.parts) == 1 {
			e, err = anyExport(r.c.Audiences.CreateRun(ctx, t.parts[0], &exportkit.RunRequest{IdempotencyKey: r.o.idempotencyKey}))
		} else {
			e, err = anyExport(r.c.Audiences.CreateExport(ctx, t.parts[0], t.parts[1]))
		}
	case exportkit.Kore:
		e, err = anyExport(r.c.Bots.StartExport(ctx, t.id, &exportkit.BotExportRequest{ExportType: r.o.koreType}))
	}
	if err != nil {
		return err
	}
	if !r.o.quiet {
		fmt.Fprintf(r.stderr, "%s: created %s (%s); next: exportkit wait %s %s\n",
			t.vendor, e.ExportID(), e.RawStatus(), t.vendor, cliID(e))
	}
	if r.o.json {
		return writeJSON(r.stdout, viewOf(e, false))
	}
	_, err = fmt.Fprintln(r.stdout, cliID(e))
	return err
}

func (r *runner) get(ctx context.Context, t target) error {
	var (
		e   exportkit.Export
		err error
	)
	switch t.vendor {
	case exportkit.Brainbase:
		e, err = anyExport(r.c.Exports.Get(ctx, t.id))
	case exportkit.Memsolus:
		e, err = anyExport(r.c.Memories.Get(ctx, t.id))
	case exportkit.Orbit:
		if len(t.parts) == 2 {
			e, err = anyExport(r.c.Audiences.GetRun(ctx, t.parts[0], t.parts[1]))
		} else {
			e, err = anyExport(r.c.Audiences.GetExport(ctx, t.ref()))
		}
	case exportkit.Kore:
		e, err = anyExport(r.c.Bots.ExportStatus(ctx, t.id))
	}
	if err != nil {
		return err
	}
	return printExport(r.stdout, e, r.o.json, r.o.showURL)
}

func (r *runner) wait(ctx context.Context, t target) error {
	tk := r.b.task(t.String())
	e, err := r.waitFor(ctx, t, tk, false)
	finishTask(tk, e, err)
	if e != nil && ctx.Err() == nil {
		if perr := printExport(r.stdout, e, r.o.json, r.o.showURL); err == nil {
			err = perr
		}
	}
	return err
}

// waitFor waits for t. With forFile, an Orbit AUDIENCE/RUN goes on to
// the run's CSV export (created or reused) and waits for that too.
func (r *runner) waitFor(ctx context.Context, t target, tk task, forFile bool) (exportkit.Export, error) {
	opts := r.waitOpts(tk)
	switch t.vendor {
	case exportkit.Brainbase:
		return anyExport(r.c.Exports.Wait(ctx, t.id, opts...))
	case exportkit.Memsolus:
		return anyExport(r.c.Memories.Wait(ctx, t.id, opts...))
	case exportkit.Kore:
		return anyExport(r.c.Bots.WaitExport(ctx, t.id, opts...))
	}
	if len(t.parts) == 3 {
		return anyExport(r.c.Audiences.WaitExport(ctx, t.ref(), opts...))
	}
	if !forFile {
		return anyExport(r.c.Audiences.WaitRun(ctx, t.parts[0], t.parts[1], opts...))
	}
	// The SDK's chain: run, then its export, under one --timeout.
	return anyExport(r.c.Audiences.Export(ctx, t.parts[0], t.parts[1], opts...))
}

// finishTask ends a task's line with how its wait ended. The error itself
// is printed once, by run.
func finishTask(tk task, e exportkit.Export, err error) {
	last := ""
	if e != nil {
		last = fmt.Sprintf(", last seen %s (%s)", e.State(), e.RawStatus())
	}
	switch {
	case err == nil && e != nil:
		tk.finish(fmt.Sprintf("%s (%s)", e.State(), e.RawStatus()), false)
	case e != nil && e.Err() != nil:
		tk.finish(fmt.Sprintf("%s (%s): %s", e.State(), e.RawStatus(), exportMessage(e)), true)
	case errors.Is(err, exportkit.ErrWaitTimeout):
		tk.finish("timed out"+last, true)
	default:
		tk.finish("stopped"+last, true)
	}
}

// exportMessage is the vendor's code and message of a failed export.
func exportMessage(e exportkit.Export) string {
	var ee *exportkit.ExportError
	if errors.As(e.Err(), &ee) {
		if s := joinNonEmpty(": ", ee.Code, ee.Message); s != "" {
			return s
		}
	}
	return "no message from the vendor"
}

func (r *runner) download(ctx context.Context, t target) error {
	tk := r.b.task(t.String())
	e, err := r.waitFor(ctx, t, tk, true)
	if err != nil {
		finishTask(tk, e, err)
		return err
	}
	tk.status("ready; downloading")
	// A state file beside the partial file means an earlier run can be
	// gone on from: say so at the first progress report.
	resuming := r.o.output != "-" && !r.o.noResume && fileExists(download.StatePath(r.o.output))
	opts := []exportkit.DownloadOption{
		exportkit.WithProgress(func(p exportkit.Progress) {
			if resuming {
				resuming = false
				if p.Done > 0 && !r.o.quiet {
					fmt.Fprintf(r.stderr, "%s: resuming at %s of %s\n", t, formatBytes(p.Done), formatBytes(p.Total))
				}
			}
			tk.progress(progressInfo{p.Done, p.Total})
		}),
	}
	if r.o.sha1 {
		opts = append(opts, exportkit.WithSHA1())
	}
	if r.o.noResume {
		opts = append(opts, exportkit.WithoutResume())
	}
	if r.o.connections != 0 {
		opts = append(opts, exportkit.WithConnections(r.o.connections))
	}
	if r.o.partSize.set {
		opts = append(opts, exportkit.WithPartSize(r.o.partSize.n))
	}
	if s3dest.IsURL(r.o.output) {
		return r.downloadTo(ctx, t, e, tk, opts)
	}
	var res *exportkit.DownloadResult
	if r.o.output == "-" {
		res, err = r.c.Download(ctx, e, r.stdout, opts...)
	} else {
		// The export in hand carries its URL: no status read before the bytes.
		res, err = r.c.DownloadFile(ctx, e, r.o.output, opts...)
	}
	if err != nil {
		tk.finish("download failed", true)
		return err
	}
	done := "downloaded " + formatBytes(res.Bytes)
	if res.Verified {
		done += ", verified"
	}
	tk.finish(done, false)
	summary := r.stdout
	if r.o.output == "-" {
		summary = r.stderr
		if r.o.quiet && !r.o.json {
			return nil
		}
	}
	return printDownload(summary, downloadView{
		Vendor: t.vendor, ID: cliID(e), Path: r.o.output, Bytes: res.Bytes, SHA1: res.SHA1,
		Verified: res.Verified, Resumes: res.Resumes, ContentType: res.ContentType, FileName: res.FileName,
	}, r.o.json)
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// sizeFlag is a byte count: plain bytes or with a KiB, MiB or GiB suffix.
type sizeFlag struct {
	n   int64
	set bool
}

func (f *sizeFlag) String() string { return strconv.FormatInt(f.n, 10) }

func (f *sizeFlag) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if v, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return fmt.Errorf("%q is not a size (plain bytes, or a number with KiB, MiB or GiB)", s)
	}
	f.n, f.set = n*mult, true
	return nil
}

func (r *runner) list(ctx context.Context, t target) error {
	return r.withDeadline(ctx, func(ctx context.Context) error { return r.listAll(ctx, t) })
}

func (r *runner) listAll(ctx context.Context, t target) error {
	var es []exportkit.Export
	if t.vendor == exportkit.Orbit {
		limit := r.o.limit
		if limit <= 0 {
			limit = 25
		}
		runs, err := r.c.Audiences.ListRuns(ctx, t.parts[0], &exportkit.RunListOptions{Limit: min(limit, 100)})
		if err != nil {
			return err
		}
		for _, run := range runs {
			es = append(es, run)
		}
		return printList(r.stdout, es, r.o.json, r.o.showURL)
	}
	limit := r.o.limit
	if limit <= 0 {
		limit = 100
	}
	for e, err := range r.c.Memories.All(ctx, &exportkit.ListOptions{PageSize: min(limit, 100)}) {
		if err != nil {
			return err
		}
		es = append(es, e)
		if len(es) == limit {
			break
		}
	}
	return printList(r.stdout, es, r.o.json, r.o.showURL)
}
