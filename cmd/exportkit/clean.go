package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/exportkit/exportkit/s3dest"
)

// cleanCmd is "exportkit clean".
var cleanCmd = &cliCommand{
	name: "clean", short: "abort the S3 uploads that killed deliveries left",
	doc: commandDoc{
		args: "s3://BUCKET/PREFIX?… --older-than DURATION [--all] [--json] [--quiet]",
		summary: "Aborts the multipart uploads that exportkit deliveries (download -o s3://…) left under\n" +
			"PREFIX, a delivery killed before it could abort its own, started more than DURATION ago\n" +
			"(24h leaves any running delivery alone). Only an upload that the delivery's state file\n" +
			"(in $EXPORTKIT_STATE_DIR or the user's cache directory, on this machine) records is\n" +
			"aborted: the store cannot tell exportkit's uploads from another tool's, so one that only\n" +
			"looks like exportkit's is listed and left alone. --all aborts those too (an upload a sync\n" +
			"into s3:// left, whose state is in the sync store, or one from another machine): use it\n" +
			"only on a prefix that exportkit alone writes to. The URL takes the query parameters of\n" +
			"download -o s3://…: endpoint, region, use_path_style, disable_https; credentials come\n" +
			"from the AWS default chain. A bucket lifecycle rule (AbortIncompleteMultipartUpload)\n" +
			"does the same on the store's side.",
		examples: []string{"clean s3://my-bucket/exports/ --older-than 24h",
			"clean 's3://b/x/?endpoint=127.0.0.1:9000&use_path_style=true&disable_https=true' --older-than 1h --json",
			"clean s3://my-bucket/exportkit-only/ --older-than 48h --all"},
	},
	flags: func(fs *flag.FlagSet) runFunc {
		o := &cleanOpts{}
		fs.BoolVar(&o.json, "json", false, "machine-readable output on stdout")
		fs.BoolVar(&o.quiet, "quiet", false, "print nothing when nothing was found")
		fs.BoolVar(&o.quiet, "q", false, "print nothing when nothing was found")
		fs.BoolVar(&o.all, "all", false, "also abort uploads that only look like exportkit's (no state file here records them)")
		fs.DurationVar(&o.older, "older-than", 0, "abort only uploads started more than `DURATION` ago, such as 24h (required)")
		return func(ctx context.Context, f *factory, args []string) error {
			fs.Visit(func(fl *flag.Flag) { o.olderSet = o.olderSet || fl.Name == "older-than" })
			return runClean(ctx, o, args, f.stdout)
		}
	},
}

type cleanOpts struct {
	json, quiet bool
	all         bool
	older       time.Duration
	olderSet    bool
}

// cleanView is one upload clean found, for --json.
type cleanView struct {
	Key       string    `json:"key"`
	UploadID  string    `json:"upload_id"`
	Initiated time.Time `json:"initiated"`
	Aborted   bool      `json:"aborted"`
	// Unrecorded: it looks like exportkit's, but no state file here
	// records it; left alone.
	Unrecorded bool   `json:"unrecorded,omitempty"`
	Error      string `json:"error,omitempty"`
}

// runClean lists and aborts the uploads.
func runClean(ctx context.Context, o *cleanOpts, pos []string, stdout io.Writer) error {
	asJSON, quiet, older := o.json, o.quiet, o.older
	if len(pos) != 1 {
		return usageErrorf("clean: want one s3://BUCKET/PREFIX")
	}
	if !o.olderSet {
		return usageErrorf("clean: missing --older-than DURATION (such as 24h)")
	}
	if older < 0 {
		return usageErrorf("clean: --older-than %s is negative", older)
	}
	t, err := s3dest.Parse(pos[0], true)
	if err != nil {
		return err
	}
	// Only the uploads a delivery's state file records, unless --all: the
	// store cannot tell exportkit's from another tool's.
	var opts []s3dest.Option
	if !o.all {
		statePath := func(key string) string { return s3StatePath("s3://" + t.Bucket + "/" + key) }
		opts = append(opts, s3dest.WithStateFiles(statePath))
	}
	found, err := s3dest.Clean(ctx, pos[0], older, opts...)
	views := make([]cleanView, 0, len(found))
	failed := 0
	for _, u := range found {
		v := cleanView{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated.UTC(), Aborted: u.Aborted, Unrecorded: u.Unrecorded}
		if u.Err != nil {
			v.Error = u.Err.Error()
			failed++
		}
		views = append(views, v)
	}
	if asJSON {
		if werr := writeJSON(stdout, map[string]any{"uploads": views}); werr != nil && err == nil {
			err = werr
		}
	} else {
		for _, v := range views {
			state := "aborted"
			switch {
			case v.Unrecorded:
				state = "left alone: no exportkit state file here records it (--all aborts it)"
			case !v.Aborted:
				state = "not aborted: " + v.Error
			}
			fmt.Fprintf(stdout, "%s  %s  started %s  %s\n", v.Key, v.UploadID, v.Initiated.Format(time.RFC3339), state)
		}
		if len(views) == 0 && !quiet && err == nil {
			fmt.Fprintln(stdout, "no uploads to clean")
		}
	}
	if err == nil && failed > 0 {
		err = fmt.Errorf("exportkit: clean: %d of %d uploads could not be aborted", failed, len(views))
	}
	return err
}
