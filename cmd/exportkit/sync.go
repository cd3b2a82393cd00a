package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/exportkit/exportkit/internal/manifest"
	"github.com/exportkit/exportkit/s3dest"
)

// syncOpts are the flags of sync and sync status.
type syncOpts struct {
	file        string
	watch       bool
	json, quiet bool
	timeout     timeoutFlag
}

var syncCmd = &cliCommand{
	name: "sync", short: "run a manifest's recurring exports; sync status shows them",
	doc: commandDoc{
		args: "[status] [-f FILE] [flags]",
		summary: "Runs the jobs of a manifest (exportkit.yaml): each job's due runs, one per period, are\n" +
			"created, waited for, downloaded and published into the job's directory (or,\n" +
			"with dir: s3://BUCKET/PREFIX?..., uploaded as the object PREFIX/JOB/FILE), and\n" +
			"recorded in a SQLite store beside the manifest. A sync killed at any moment is\n" +
			"taken up by the next: an export whose create reply was lost is found again at\n" +
			"the vendor, never created twice. Progress lines go to stderr, one result line\n" +
			"per run to stdout. \"sync status\" prints every job, its runs, what is in flight\n" +
			"and what is parked.",
		notes: "A small manifest (the README's \"exportkit sync\" section has every key):\n\n" +
			"  jobs:\n" +
			"    - name: logs\n" +
			"      vendor: brainbase\n" +
			"      every: 24h\n" +
			"      format: csv\n\n" +
			"Exit codes: 0 every due run done, 1 a run parked (the reason is printed; see\n" +
			"sync status for its candidates) or another error, 2 a bad manifest (the line is\n" +
			"named), 3 a run failed (the next sync takes it up again where the vendor allows),\n" +
			"4 an export expired, 5 --timeout, 130 interrupted.",
		examples: []string{"sync", "sync -f /etc/exportkit/exportkit.yaml --quiet", "sync --watch", "sync status --json"},
	},
	flags: func(fs *flag.FlagSet) runFunc {
		o := &syncOpts{}
		fs.StringVar(&o.file, "f", "exportkit.yaml", "the manifest `FILE`")
		fs.BoolVar(&o.watch, "watch", false, "stay up and start each period's runs when they fall due")
		fs.BoolVar(&o.json, "json", false, "one JSON object per result line on stdout, and errors as JSON on stderr")
		fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr")
		fs.BoolVar(&o.quiet, "q", false, "no progress lines on stderr")
		fs.Var(&o.timeout, "timeout", "give up after this long (exit 5): a positive `DURATION` such as 30m")
		return func(ctx context.Context, f *factory, args []string) error {
			switch {
			case len(args) == 0:
				return runSync(ctx, f, o)
			case args[0] == "status" && len(args) == 1:
				if o.watch {
					return usageErrorf("sync status: --watch is for sync")
				}
				return syncStatus(ctx, f, o)
			}
			return usageErrorf("sync: unexpected %q (want sync or sync status)", strings.Join(args, " "))
		}
	},
}

// loadManifest loads the manifest at path. A missing one, or one that is
// refused (the line named), is a usage error (exit 2).
func loadManifest(path string) (*manifest.Manifest, error) {
	m, err := manifest.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("sync: no manifest at %s: give -f FILE, or write one (\"exportkit help sync\" shows a small one)", path)
	case errors.Is(err, exportkit.ErrInvalidInput):
		return nil, &usageError{strings.TrimPrefix(err.Error(), "exportkit: ")}
	}
	return m, err
}

// loadSync loads the manifest and opens its store.
func loadSync(ctx context.Context, o *syncOpts) (*manifest.Manifest, *exportjob.Store, error) {
	m, err := loadManifest(o.file)
	if err != nil {
		return nil, nil, err
	}
	m.Dir = localOutput(m.Dir) // file://PATH is PATH
	if s3dest.IsURL(m.Dir) {
		if _, err := s3dest.Parse(m.Dir, true); err != nil {
			return nil, nil, &usageError{"sync: " + strings.TrimPrefix(err.Error(), "exportkit: ")}
		}
	}
	st, err := exportjob.Open(ctx, m.Store)
	if err != nil {
		return nil, nil, err
	}
	return m, st, nil
}

// syncClient is one client for every vendor of the manifest, so that each
// vendor's pacing holds across all the runs; a vendor without credentials
// is refused before anything is sent.
func syncClient(f *factory, m *manifest.Manifest) (*exportkit.Client, error) {
	seen := map[string]bool{}
	for _, j := range m.Jobs {
		if seen[j.Vendor] {
			continue
		}
		seen[j.Vendor] = true
		for _, env := range credentialEnv[exportkit.Vendor(j.Vendor)] {
			if strings.TrimSpace(f.getenv(env)) == "" {
				return nil, usageErrorf("sync: job %q (%s): no credentials: set %s", j.Name, j.Vendor, env)
			}
		}
	}
	c, err := exportkit.NewClient(exportkit.WithUserAgent("exportkit-cli"))
	if err != nil {
		return nil, &usageError{strings.TrimPrefix(err.Error(), "exportkit: ")}
	}
	return c, nil
}

func runSync(ctx context.Context, f *factory, o *syncOpts) error {
	m, st, err := loadSync(ctx, o)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := syncClient(f, m)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	progress := func(ev exportjob.Event) {
		if o.quiet || ev.Message == "polled" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f.stderr, "sync: %s %s: %s\n", ev.Run.Job, ev.Run.Period.Start.Format(time.RFC3339), ev.Message)
	}
	dir, opts := m.Dir, []exportjob.Option{exportjob.WithOnEvent(progress)}
	if s3dest.IsURL(m.Dir) {
		dir, opts = "", append(opts, exportjob.WithDestination(s3Target(m.Dir)))
	}
	e, err := exportjob.New(c, st, dir, exportjob.ManifestJobs(m), opts...)
	if err != nil {
		return &usageError{strings.TrimPrefix(err.Error(), "exportkit: ")}
	}
	if o.timeout.d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout.d)
		defer cancel()
	}
	var tally syncTally
	print := func(r exportjob.Result) {
		mu.Lock()
		defer mu.Unlock()
		tally.add(r)
		printSyncResult(f.stdout, m, r, o.json)
	}
	if o.watch {
		err = e.Watch(ctx, print)
	} else {
		var res []exportjob.Result
		res, err = e.Sync(ctx)
		for _, r := range res {
			print(r)
		}
	}
	return tally.err(ctx, err, o)
}

// syncS3Memory caps the bytes of parts one run's upload holds in memory:
// a sync drives several runs at once, so each gets less than a lone
// download -o s3:// (connections × part size).
const syncS3Memory = 64 << 20

// s3Target is the destination of each run when the manifest's dir is
// s3://BUCKET/PREFIX?…: the object PREFIX/JOB/FILE (FILE named as a local
// directory would name it), with the URL's query, its resume state in
// the sync store beside the run, its credentials from the AWS default
// chain. An existing object is not overwritten.
func s3Target(dir string) exportjob.DestinationFunc {
	return func(ctx context.Context, tg exportjob.Target) (exportkit.Destination, string, error) {
		u, err := url.Parse(dir)
		if err != nil {
			return nil, "", fmt.Errorf("exportkit: sync: dir %s: %w", redactOutput(dir), err)
		}
		u.Path = "/" + path.Join(strings.Trim(u.Path, "/"), tg.Name)
		u.RawPath = ""
		d, err := s3Dest(ctx, u.String(), s3dest.WithStateStore(tg.State, "s3:"+tg.Name), false, false,
			s3dest.WithMemoryLimit(syncS3Memory))
		if err != nil {
			return nil, "", err
		}
		return d, d.URL(), nil
	}
}

// syncTally counts how a sync's runs ended, for the exit code.
type syncTally struct {
	failed, expired, parked []exportjob.Result
	stopped                 bool
}

func (t *syncTally) add(r exportjob.Result) {
	switch {
	case r.Err == nil:
	case errors.Is(r.Err, context.Canceled), errors.Is(r.Err, context.DeadlineExceeded):
		t.stopped = true
	case r.Run.State == exportjob.StateParked:
		t.parked = append(t.parked, r)
	case r.Run.State == exportjob.StateExpired:
		t.expired = append(t.expired, r)
	default:
		t.failed = append(t.failed, r)
	}
}

// err is the sync's error: the store's, the timeout, an interruption, or
// the worst way a run ended (failed, expired, then parked).
func (t *syncTally) err(ctx context.Context, err error, o *syncOpts) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || err == nil && t.stopped && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("exportkit: sync: timed out after %s: %w", o.timeout.text, context.DeadlineExceeded)
	case err != nil && !errors.Is(err, context.Canceled):
		return err
	case ctx.Err() != nil || t.stopped || err != nil:
		return fmt.Errorf("exportkit: sync: interrupted: %w", context.Canceled)
	case len(t.failed) > 0:
		return fmt.Errorf("exportkit: sync: %s failed: %w", runsText(t.failed), exportkit.ErrExportFailed)
	case len(t.expired) > 0:
		return fmt.Errorf("exportkit: sync: %s expired: %w", runsText(t.expired), exportkit.ErrExportExpired)
	case len(t.parked) > 0:
		return fmt.Errorf("exportkit: sync: %s parked: %s (see exportkit sync status)", runsText(t.parked), t.parked[0].Run.Error)
	}
	return nil
}

func runsText(rs []exportjob.Result) string {
	if len(rs) == 1 {
		return "run " + rs[0].Run.Fingerprint()
	}
	return fmt.Sprintf("%d runs (first %s)", len(rs), rs[0].Run.Fingerprint())
}

// syncRun is a run as sync and sync status print it.
type syncRun struct {
	Job        string   `json:"job,omitempty"`
	Vendor     string   `json:"vendor,omitempty"`
	Period     string   `json:"period"`
	State      string   `json:"state"`
	ExportID   string   `json:"export_id"`
	File       string   `json:"file"`
	Size       *int64   `json:"size"`
	SHA1       string   `json:"sha1"`
	Rows       *int64   `json:"rows"`
	Candidates []string `json:"candidates"`
	Error      string   `json:"error"`
}

func newSyncRun(m *manifest.Manifest, r *exportjob.Run, err error) syncRun {
	out := syncRun{Period: r.Period.Start.UTC().Format(time.RFC3339), State: string(r.State), ExportID: r.ExportID,
		SHA1: r.SHA1, Candidates: r.Candidates, Error: r.Error}
	if out.Candidates == nil {
		out.Candidates = []string{}
	}
	if strings.Contains(r.File, "://") {
		out.File = r.File // where a destination put it: an s3:// URL
	} else if r.File != "" {
		abs := filepath.Join(localOutput(m.Dir), r.File)
		if rel, err := filepath.Rel(filepath.Dir(m.Path), abs); err == nil {
			abs = rel
		}
		out.File = filepath.ToSlash(abs)
	}
	if r.Size >= 0 && r.SHA1 != "" {
		out.Size = &r.Size
	}
	if r.Rows >= 0 {
		out.Rows = &r.Rows
	}
	if out.Error == "" && err != nil && !r.State.Terminal() {
		out.Error = oneLine(err)
	}
	return out
}

func printSyncResult(w io.Writer, m *manifest.Manifest, r exportjob.Result, asJSON bool) {
	sr := newSyncRun(m, &r.Run, r.Err)
	sr.Job, sr.Vendor = r.Run.Job, string(r.Run.Vendor)
	if asJSON {
		b, _ := json.Marshal(sr)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	fmt.Fprintf(w, "%s\t%s\t%s", sr.Job, sr.Period, sr.State)
	switch {
	case r.Run.State == exportjob.StateDone:
		fmt.Fprintf(w, "\t%s\t%d bytes\tsha1 %s", sr.File, r.Run.Size, sr.SHA1)
	case len(sr.Candidates) > 0:
		fmt.Fprintf(w, "\tcandidates %s\t%s", strings.Join(sr.Candidates, ","), sr.Error)
	case sr.Error != "":
		fmt.Fprintf(w, "\t%s", sr.Error)
	}
	fmt.Fprintln(w)
}

// statusRuns is how many of a job's finished runs sync status shows,
// besides every unfinished one.
const statusRuns = 10

func syncStatus(ctx context.Context, f *factory, o *syncOpts) error {
	m, err := loadManifest(o.file)
	if err != nil {
		return err
	}
	type jobStatus struct {
		Name   string    `json:"name"`
		Vendor string    `json:"vendor"`
		Runs   []syncRun `json:"runs"`
	}
	out := struct {
		Jobs []jobStatus `json:"jobs"`
	}{Jobs: []jobStatus{}}
	var st *exportjob.Store
	if _, err := os.Stat(m.Store); err == nil {
		if st, err = exportjob.Open(ctx, m.Store); err != nil {
			return err
		}
		defer st.Close()
	}
	for _, j := range m.Jobs {
		js := jobStatus{Name: j.Name, Vendor: j.Vendor, Runs: []syncRun{}}
		if st != nil {
			runs, err := st.Runs(ctx, j.Name)
			if err != nil {
				return err
			}
			done := 0
			for _, r := range runs {
				if r.State == exportjob.StateDone {
					if done++; done > statusRuns {
						continue
					}
				}
				js.Runs = append(js.Runs, newSyncRun(m, r, nil))
			}
		}
		out.Jobs = append(out.Jobs, js)
	}
	if o.json {
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		fmt.Fprintf(f.stdout, "%s\n", b)
		return nil
	}
	for _, j := range out.Jobs {
		fmt.Fprintf(f.stdout, "%s (%s)\n", j.Name, j.Vendor)
		if len(j.Runs) == 0 {
			fmt.Fprintln(f.stdout, "  no runs yet")
		}
		for _, r := range j.Runs {
			fmt.Fprintf(f.stdout, "  %s  %-11s", r.Period, r.State)
			if r.ExportID != "" {
				fmt.Fprintf(f.stdout, "  %s", r.ExportID)
			}
			if r.File != "" {
				fmt.Fprintf(f.stdout, "  %s", r.File)
			}
			if len(r.Candidates) > 0 {
				fmt.Fprintf(f.stdout, "  candidates: %s", strings.Join(r.Candidates, ", "))
			}
			if r.Error != "" {
				fmt.Fprintf(f.stdout, "  %s", r.Error)
			}
			fmt.Fprintln(f.stdout)
		}
	}
	return nil
}
