package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/exportkit/exportkit/s3dest"
)

// cleanUsage is "exportkit clean"'s usage text.
const cleanUsage = `Usage: exportkit clean s3://BUCKET/PREFIX?… --older-than DURATION [--json] [--quiet]

Aborts the multipart uploads that exportkit deliveries left under PREFIX
(a delivery killed before it could abort its own) and that were started
more than DURATION ago (such as 24h: a running delivery is younger than
that). The URL takes the query parameters of download -o s3://…: endpoint,
region, use_path_style, disable_https. Credentials come from the AWS
default chain. A bucket lifecycle rule (AbortIncompleteMultipartUpload)
does the same on the store's side.
`

// cleanView is one upload clean found, for --json.
type cleanView struct {
	Key       string    `json:"key"`
	UploadID  string    `json:"upload_id"`
	Initiated time.Time `json:"initiated"`
	Aborted   bool      `json:"aborted"`
	Error     string    `json:"error,omitempty"`
}

// cleanCommand runs "exportkit clean".
func cleanCommand(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("clean", flag.ContinueOnError)
	var asJSON, quiet bool
	var older time.Duration
	fs.BoolVar(&asJSON, "json", false, "machine-readable output on stdout")
	fs.BoolVar(&quiet, "quiet", false, "print nothing when nothing was found")
	fs.BoolVar(&quiet, "q", false, "print nothing when nothing was found")
	fs.DurationVar(&older, "older-than", -1, "abort only uploads started more than `DURATION` ago, such as 24h")
	fs.Usage = func() {}
	pos, err := parseFlags(fs, args, io.Discard)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, cleanUsage)
		return nil
	}
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("clean: want one s3://BUCKET/PREFIX")
	}
	if older < 0 {
		return usageErrorf("clean: missing --older-than DURATION (such as 24h)")
	}
	found, err := s3dest.Clean(ctx, pos[0], older)
	views := make([]cleanView, 0, len(found))
	failed := 0
	for _, u := range found {
		v := cleanView{Key: u.Key, UploadID: u.UploadID, Initiated: u.Initiated.UTC(), Aborted: u.Aborted}
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
			if !v.Aborted {
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
