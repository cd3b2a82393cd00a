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
