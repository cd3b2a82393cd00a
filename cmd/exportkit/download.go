package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/download"
	"github.com/exportkit/exportkit/s3dest"
)

var downloadCmd = vendorCommand(vendorSpec{
	name: "download", short: "wait, then download and verify (-o - for stdout)",
	doc: commandDoc{
		args: "<vendor> <ID> -o FILE|-|s3://BUCKET/KEY [flags]",
		summary: "Waits for the export, then downloads its file and verifies it against what the vendor\n" +
			"says (size, SHA-1). The file appears at FILE only once complete and verified; a failure\n" +
			"or Ctrl-C leaves nothing there. An interrupted download keeps FILE.partial and its\n" +
			"state, and the next download to FILE goes on from there (--no-resume starts over).\n" +
			"Large files come in parallel ranged parts where the storage allows (--connections,\n" +
			"--part-size). -o - writes the bytes to stdout (not to a terminal, unless --force)\n" +
			"and the summary to stderr. --timeout covers the whole command: the wait, Orbit's\n" +
			"run and export, and the transfer; a transfer it cuts keeps FILE.partial.\n" +
			"-o s3://BUCKET/KEY?endpoint=…&region=…&use_path_style=true&disable_https=true delivers\n" +
			"the file into a bucket (AWS credentials from the default chain): each range becomes a\n" +
			"part, verified (size, SHA-1, CRC-64/NVME) before the object appears; an existing object\n" +
			"is refused without --force; a killed run goes on from the parts already stored.",
		ids: idsText,
		examples: []string{
			"download brainbase exp_123 -o logs.csv",
			"download orbit aud_1/run_2 -o audience.csv --timeout 1h",
			"download kore st-1234 -o - > bot.zip",
			"download brainbase exp_123 -o big.csv --connections 16 --part-size 16MiB",
			"download orbit aud_1/run_2 -o s3://my-bucket/exports/audience.csv",
		},
	},
	flags: func(fs *flag.FlagSet, o *cmdOpts) {
		o.registerPoll(fs)
		fs.StringVar(&o.output, "output", "", "write the file to `FILE`; - for stdout; s3://BUCKET/KEY?… for an S3 object")
		fs.StringVar(&o.output, "o", "", "write the file to `FILE`; - for stdout; s3://BUCKET/KEY?… for an S3 object")
		fs.BoolVar(&o.force, "force", false, "overwrite the output file or object (with -o -: write to a terminal)")
		fs.BoolVar(&o.sha1, "sha1", false, "compute the file's SHA-1 even when the vendor gives none to verify")
		fs.BoolVar(&o.noResume, "no-resume", false, "start over instead of going on from an interrupted download's partial file")
		fs.Var(&o.connections, "connections", "at most `N` parallel range requests, 1 or more (default 32 to a file, 16 to -o - or s3://; 1 = one stream)")
		fs.Var(&o.partSize, "part-size", "`SIZE` of a ranged part, at least 64KiB: 8MiB, 512KiB, 1.5MiB, 1GiB or plain bytes (default 8MiB to a file, 2MiB with -o -)")
	},
	check: func(f *factory, _ *flag.FlagSet, o *cmdOpts, _ target) error {
		if o.output == "-" && f.stdoutIsTerminal() && !o.force {
			return usageErrorf("download: -o - would write the file's bytes to the terminal: " +
				"redirect stdout (> FILE, | COMMAND), give -o FILE, or add --force")
		}
		o.output = localOutput(o.output)
		return checkOutput(o)
	},
	run: func(ctx context.Context, r *runner, t target) error { return r.download(ctx, t) },
})

// checkOutput checks the output path before any waiting, so that a wrong
// path fails in a second, not after the export is ready. Every problem
// with the path is a usage error (exit 2): the path is what the command
// line got wrong, whether it is a directory, in a directory that does not
// exist or one that cannot be written.
func checkOutput(o *cmdOpts) error {
	path, force := o.output, o.force
	if handled, err := checkURLOutput(o); handled {
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
		return usageErrorf("download: cannot write %q: %v", path, errors.Unwrap(err))
	}
	// The file is written next to path, then renamed: the directory must
	// take a new file.
	f, err := os.CreateTemp(filepath.Dir(path), ".exportkit-check-*")
	if err != nil {
		return usageErrorf("download: cannot write %q: %v", path, errors.Unwrap(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

func (r *runner) download(ctx context.Context, t target) error {
	tk := r.task(t.String())
	e, err := r.waitFor(ctx, t, tk, true)
	if err != nil {
		finishTask(ctx, tk, e, err)
		return err
	}
	tk.status("ready; downloading")
	toFile := r.o.output != "-"
	// A state file beside the partial file means an earlier run can be gone
	// on from: the result says whether it was (DownloadResult.Reused).
	hadPartial := toFile && fileExists(download.StatePath(r.o.output))
	var done, total atomic.Int64
	total.Store(-1)
	opts := []exportkit.DownloadOption{
		exportkit.WithProgress(func(p exportkit.Progress) {
			done.Store(p.Done)
			total.Store(p.Total)
			tk.progress(progressInfo{p.Done, p.Total})
		}),
	}
	if r.o.sha1 {
		opts = append(opts, exportkit.WithSHA1())
	}
	if r.o.noResume {
		opts = append(opts, exportkit.WithoutResume())
	}
	if r.o.connections.set {
		opts = append(opts, exportkit.WithConnections(r.o.connections.n))
	}
	if r.o.partSize.set {
		opts = append(opts, exportkit.WithPartSize(r.o.partSize.n))
	}
	if s3dest.IsURL(r.o.output) {
		return r.downloadTo(ctx, t, e, tk, opts)
	}
	var res *exportkit.DownloadResult
	start := time.Now()
	// --timeout covers the transfer too: one deadline for the command.
	err = r.withDeadline(ctx, func(ctx context.Context) error {
		var err error
		if toFile {
			// The export in hand carries its URL: no status read before the bytes.
			res, err = r.c.DownloadFile(ctx, e, r.o.output, opts...)
		} else {
			res, err = r.c.Download(ctx, e, r.stdout, opts...)
		}
		return err
	})
	took := time.Since(start)
	if err != nil {
		tk.finish(r.downloadStopped(ctx, err, done.Load(), total.Load()), true)
		return err
	}
	tk.finish(downloadedLine(res, took, r.resumeWords(hadPartial, res)), false)
	r.b.close() // the bar's last frame is drawn: what follows stays on screen
	summary := r.stdout
	if !toFile {
		summary = r.stderr
		if r.o.quiet && !r.o.json {
			return nil
		}
	}
	return printDownload(summary, downloadView{
		Vendor: t.vendor, ID: cliID(e), Path: r.o.output, Bytes: res.Bytes, SHA1: res.SHA1,
		Verified: res.Verified, Resumes: res.Resumes, Reused: res.Reused, Parts: max(res.Parts, 1),
		ContentType: res.ContentType, FileName: res.FileName,
	}, r.o.json)
}

// downloadedLine is the task's last line after a download: size, time,
// throughput, parts and connections, "downloaded 64.0 MiB in 2.1s
// (31.9 MB/s, 8 parts over 8 connections), verified", and what became of an earlier run's partial file.
func downloadedLine(res *exportkit.DownloadResult, took time.Duration, resumed string) string {
	parts := max(res.Parts, 1)
	conns := max(res.Connections, 1)
	s := fmt.Sprintf("downloaded %s in %s (%s, %d %s over %d %s)", formatBytes(res.Bytes), roundDuration(took),
		formatRate(res.Bytes-res.Reused, took), parts, pluralWord(parts, "part", "parts"),
		conns, pluralWord(conns, "connection", "connections"))
	if res.Verified {
		s += ", verified"
	}
	if resumed != "" {
		s += "; " + resumed
	}
	return s
}

// resumeWords says what became of the partial file an earlier run left,
// from what the SDK did with it: "" when there was none.
func (r *runner) resumeWords(hadPartial bool, res *exportkit.DownloadResult) string {
	switch {
	case !hadPartial:
		return ""
	case res.Reused > 0:
		return fmt.Sprintf("went on from %s: kept %s of %s", download.PartialPath(r.o.output), formatBytes(res.Reused), formatBytes(res.Bytes))
	case r.o.noResume:
		return fmt.Sprintf("started over (--no-resume): %s discarded", download.PartialPath(r.o.output))
	}
	return fmt.Sprintf("started over: %s was from another export or an older version of the file", download.PartialPath(r.o.output))
}

// downloadStopped is the task's last line after a download that did not
// finish: how far it got, and what was kept for the next run.
func (r *runner) downloadStopped(ctx context.Context, err error, done, total int64) string {
	what := "download failed"
	switch {
	case ctx.Err() != nil:
		what = "interrupted"
	case errors.Is(err, context.DeadlineExceeded):
		what = "timed out after " + r.o.timeout.text
	}
	if done > 0 {
		at := formatBytes(done)
		if total > 0 {
			at += " of " + formatBytes(total)
		}
		what += " at " + at
	}
	if r.o.output != "-" && fileExists(download.StatePath(r.o.output)) {
		what += fmt.Sprintf("; kept %s: run the same command to go on", download.PartialPath(r.o.output))
	}
	return what
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// roundDuration rounds d for a person: 850ms, 2.1s, 1m5s.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// formatRate is n bytes over d in decimal megabytes a second, as download
// tools print it: "31.9 MB/s".
func formatRate(n int64, d time.Duration) string {
	if d <= 0 {
		return "- MB/s"
	}
	return fmt.Sprintf("%.1f MB/s", float64(n)/d.Seconds()/1e6)
}

// pluralWord is one when n is 1, many otherwise.
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
