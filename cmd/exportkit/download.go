package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

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
			"--part-size). -o - writes the bytes to stdout and the summary to stderr. --timeout\n" +
			"covers the wait, Orbit's run and export together, not the transfer.\n" +
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
		fs.BoolVar(&o.force, "force", false, "overwrite the output file or object")
		fs.BoolVar(&o.sha1, "sha1", false, "compute the file's SHA-1 even when the vendor gives none to verify")
		fs.BoolVar(&o.noResume, "no-resume", false, "start over instead of going on from an interrupted download's partial file")
		fs.IntVar(&o.connections, "connections", 0, "at most `N` parallel range requests (default 16; 1 = one stream)")
		fs.Var(&o.partSize, "part-size", "`SIZE` of a ranged part: 8MiB, 512KiB, 1GiB or plain bytes (default 8MiB to a file, 2MiB with -o -)")
	},
	check: func(_ *flag.FlagSet, o *cmdOpts, _ target) error {
		o.output = localOutput(o.output)
		return checkOutput(o.output, o.force)
	},
	run: func(ctx context.Context, r *runner, t target) error { return r.download(ctx, t) },
})

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
