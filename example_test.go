package exportkit_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// fast is the polling of the examples: the fake server is quick, so there
// is no reason to wait seconds between reads. Keep the defaults (2 s
// growing to 15 s) for real APIs.
var fast = exportkit.WithPollInterval(5*time.Millisecond, 20*time.Millisecond)

// A client for the real APIs: options override the environment variables
// (BRAINBASE_LABS_API_KEY, …), and a bad option is an error, never a panic.
func ExampleNewClient() {
	c, err := exportkit.NewClient(
		exportkit.WithBrainbaseAPIKey("bb_live_…"),
		exportkit.WithOrbitAPIKey("sk_live_…"),
		exportkit.WithRetry(6, time.Second, time.Minute),
		exportkit.WithRateLimit(exportkit.Brainbase, 5, 10),
		exportkit.WithUserAgent("acme-sync/2.3"),
	)
	fmt.Println(c != nil, err)

	_, err = exportkit.NewClient(exportkit.WithBaseURL(exportkit.Brainbase, "http://api.example.com"))
	fmt.Println(errors.Is(err, exportkit.ErrUnsafeURL))
	// Output:
	// true <nil>
	// true
}

// Create a Brainbase log export and wait until it is ready, with a line per
// status read.
func ExampleExportsService_Wait() {
	srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
	defer srv.Close()
	c := srv.Client() // in real code: exportkit.NewClient(), with BRAINBASE_LABS_API_KEY set

	ctx := context.Background()
	e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err = c.Exports.Wait(ctx, e.ID, fast,
		exportkit.WithMaxWait(30*time.Minute),
		exportkit.WithOnPoll(func(x exportkit.Export) { fmt.Println("status:", x.RawStatus()) }))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.State(), e.Size())
	// Output:
	// status: PENDING
	// status: PROCESSING
	// status: COMPLETED
	// ready 65536
}

// Download any vendor's export to any io.Writer. The connection is cut
// halfway here; the download resumes where it stopped and is verified
// against the size (and, for Orbit, the SHA-1) the vendor gave.
func ExampleClient_Download() {
	srv := exporttest.NewServer(exporttest.InMemory())
	defer srv.Close()
	c := srv.Client()
	ref, _ := srv.AddExport(exportkit.Orbit) // a completed run with its CSV export
	srv.Inject(exporttest.OnStorage().ResetAfter(32 << 10))

	ctx := context.Background()
	e, err := c.Audiences.GetExport(ctx, exportkit.ExportRef{AudienceID: ref.AudienceID, RunID: ref.RunID, ExportID: ref.ID})
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf bytes.Buffer
	res, err := c.Download(ctx, e, &buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	sum := sha1.Sum(srv.File(exportkit.Orbit, ref.ID))
	fmt.Println(res.Bytes, res.Verified, res.Resumes, res.SHA1 == hex.EncodeToString(sum[:]), res.ContentType)
	// Output: 65536 true 1 true text/csv
}

// Every export of a Memsolus workspace, page after page, in one loop.
func ExampleMemoriesService_All() {
	srv := exporttest.NewServer(exporttest.InMemory())
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	for _, format := range []string{"json", "csv", "markdown"} {
		if _, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: format}); err != nil {
			fmt.Println(err)
			return
		}
	}

	n := 0
	for e, err := range c.Memories.All(ctx, &exportkit.ListOptions{PageSize: 2}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		n++
		fmt.Println(e.Format, e.Status)
	}
	fmt.Println(n, "exports")
	// Unordered output:
	// json PENDING
	// csv PENDING
	// markdown PENDING
	// 3 exports
}

// Export a Kore.ai bot: start, wait, download the zip.
func ExampleBotsService_StartExport() {
	srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(1))
	defer srv.Close()
	// Kore allows 60 requests a minute per bot, and the client keeps to it;
	// the fake has no such limit.
	c := srv.Client(exportkit.WithRateLimit(exportkit.Kore, 100, 10))

	ctx := context.Background()
	e, err := c.Bots.StartExport(ctx, "st-1234", &exportkit.BotExportRequest{ExportType: "published"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("started:", e.RawStatus())
	if e, err = c.Bots.WaitExport(ctx, "st-1234", fast); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("status:", e.RawStatus())
	res, err := c.Bots.Download(ctx, "st-1234", io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Bytes, res.Verified, res.ContentType)
	// Output:
	// started: pending
	// status: success
	// 65536 true application/zip
}

// Wait on exports of any vendor through the Export interface, and tell
// how one ended with errors.Is and errors.As.
func ExampleClient_Wait() {
	srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2))
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()

	logs, _ := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "JSON"})
	run, _ := c.Audiences.CreateRun(ctx, "aud-1", nil)
	srv.FailExport(exportkit.Orbit, run.ID, "QUERY_TIMEOUT", "audience query timed out")

	for _, e := range []exportkit.Export{logs, run} {
		got, err := c.Wait(ctx, e, fast, exportkit.WithMaxWait(time.Hour))
		var ee *exportkit.ExportError
		switch {
		case errors.Is(err, exportkit.ErrExportFailed) && errors.As(err, &ee):
			fmt.Println(got.Vendor(), "failed:", ee.Code, ee.Message)
		case errors.Is(err, exportkit.ErrWaitTimeout):
			fmt.Println(got.Vendor(), "still running after an hour")
		case err != nil:
			fmt.Println(err)
		default:
			fmt.Println(got.Vendor(), got.State())
		}
	}
	// Output:
	// brainbase ready
	// orbit failed: QUERY_TIMEOUT audience query timed out
}
