package exportjob_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exportjob"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/exportkit/exportkit/s3dest"
)

// A nightly Brainbase log export and a daily Kore bot snapshot, run by one
// sync against the fake. Run the same program again, or after it was
// killed at any moment, and it takes up what is unfinished and creates
// nothing twice.
func Example() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(0))
	defer srv.Close()
	c := srv.Client() // in production: exportkit.NewClient(), keys from the environment

	dir, _ := os.MkdirTemp("", "exportjob-example-")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := exportjob.Open(ctx, filepath.Join(dir, "exportkit.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	jobs := []exportjob.Job{
		{Name: "logs", Vendor: exportkit.Brainbase, Params: map[string]string{"format": "CSV"}},
		{Name: "bot", Vendor: exportkit.Kore, Params: map[string]string{"bot": "st-example"}},
	}
	e, err := exportjob.New(c, st, filepath.Join(dir, "exports"), jobs)
	if err != nil {
		log.Fatal(err) // a bad job: errors.Is(err, exportkit.ErrInvalidInput)
	}
	results, err := e.Sync(ctx)
	if err != nil {
		log.Fatal(err) // the store: errors.Is(err, exportjob.ErrStoreLocked), …
	}
	for _, r := range results {
		fmt.Println(r.Run.Job, r.Run.State, filepath.Ext(r.Run.File), len(r.Run.SHA1), r.Err)
	}
	results, _ = e.Sync(ctx) // the same period again: nothing is due
	fmt.Println(len(results), "runs")
	// Output:
	// logs done .csv 40 <nil>
	// bot done .zip 40 <nil>
	// 0 runs
}

// Runs delivered into a bucket instead of a directory: each run's file
// goes to the object exports/JOB/PERIOD.EXT through package s3dest, the
// upload's resume state kept in the job store beside the run, so that a
// sync killed mid-upload is gone on with by the next, which uploads only
// the missing parts. (Not run here: it needs a bucket.)
func ExampleWithDestination() {
	ctx := context.Background()
	c, err := exportkit.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	st, err := exportjob.Open(ctx, "exportkit.db")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	toBucket := exportjob.WithDestination(func(ctx context.Context, t exportjob.Target) (exportkit.Destination, string, error) {
		d, err := s3dest.New(ctx, "s3://my-bucket/exports/"+t.Name+"?region=eu-west-1",
			s3dest.WithStateStore(t.State, "s3")) // credentials: the AWS default chain
		if err != nil {
			return nil, "", err
		}
		return d, d.URL(), nil
	})
	jobs := []exportjob.Job{{Name: "logs", Vendor: exportkit.Brainbase, Params: map[string]string{"format": "CSV"}}}
	e, err := exportjob.New(c, st, "", jobs, toBucket)
	if err != nil {
		log.Fatal(err)
	}
	results, err := e.Sync(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range results {
		fmt.Println(r.Run.Job, r.Run.State, r.Run.File, r.Run.SHA1, r.Err) // File: s3://my-bucket/exports/logs/….csv
	}
}
