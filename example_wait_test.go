package exportkit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// The whole Orbit chain in one call: wait for the run, create (or reuse)
// its stored CSV export, wait for that.
func ExampleAudiencesService_Export() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(1))
	defer srv.Close()
	c := srv.Client() // in real code: exportkit.NewClient(exportkit.WithOrbitAPIKey(key))

	ctx := context.Background()
	run, err := c.Audiences.CreateRun(ctx, "aud-1", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := c.Audiences.Export(ctx, "aud-1", run.ID,
		exportkit.WithMaxWait(30*time.Minute),                                // one budget for run and export together
		exportkit.WithPollInterval(10*time.Millisecond, 50*time.Millisecond), // the fake is fast; keep the defaults for Orbit
		exportkit.WithOnPoll(func(e exportkit.Export) {
			fmt.Printf("%T %s\n", e, e.State())
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ready:", e.State() == exportkit.StateReady, "size known:", e.Size() > 0)
	// Output:
	// *exportkit.AudienceRun pending
	// *exportkit.AudienceExport running
	// *exportkit.AudienceExport running
	// *exportkit.AudienceExport ready
	// ready: true size known: true
}

// A wait that survives a restart: save the token, take it up later.
func ExampleClient_ResumeWait() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(1))
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()

	e, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "csv"})
	if err != nil {
		fmt.Println(err)
		return
	}
	w, err := c.NewWaiter(e)
	if err != nil {
		fmt.Println(err)
		return
	}
	token, err := w.ResumeToken() // store it with the job's state: no secret in it
	if err != nil {
		fmt.Println(err)
		return
	}

	// After a restart, with a new client:
	got, err := srv.Client().ResumeWait(ctx, token, exportkit.WithPollInterval(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.ExportID() == e.ID, got.State())
	// Output: true ready
}

// Riding out an outage: the API answers 503 for a while (after the
// request's own retries); the wait goes on, saying so, for up to the
// maximum outage. Only a host never reached at all fails at once.
func ExampleWithMaxOutage() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(1))
	defer srv.Close()
	c := srv.Client(exportkit.WithRetry(-1, 0, 0)) // no request retries: show each failed read

	ctx := context.Background()
	e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The next two status reads fail: a vendor deploy, say.
	_ = srv.Inject(exporttest.On(exportkit.Brainbase).Method("GET").Status(503).Times(2))
	got, err := c.Exports.Wait(ctx, e.ID,
		exportkit.WithMaxOutage(10*time.Minute), // how long failures are ridden out (default 5 min)
		exportkit.WithPollInterval(10*time.Millisecond, 10*time.Millisecond),
		exportkit.WithOnRetry(func(err error, next time.Duration) {
			var ae *exportkit.APIError
			if errors.As(err, &ae) {
				fmt.Println("retrying:", ae.StatusCode)
			}
		}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got.State())
	// Output:
	// retrying: 503
	// retrying: 503
	// ready
}
