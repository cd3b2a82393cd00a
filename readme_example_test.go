package exportkit_test

// The Go snippets of README.md, each inside an Example, so that they
// compile as written; TestREADMESnippets fails when a snippet of the
// README is not found, word for word, in one of these (or another example
// file). Edit the README and these together.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The README's quick start, then its second snippet, in the same scope:
// the second must compile after the first. Against the real API (it needs
// BRAINBASE_LABS_API_KEY), so it is compiled, not run.
func Example_readmeQuickStart() {
	ctx := context.Background()

	c, err := exportkit.NewClient() // keys from BRAINBASE_LABS_API_KEY, MEMSOLUS_API_KEY, …
	if err != nil {
		log.Fatal(err)
	}
	e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		log.Fatal(err)
	}
	e, err = c.Exports.Wait(ctx, e.ID, exportkit.WithMaxWait(30*time.Minute))
	if err != nil {
		log.Fatal(err) // errors.Is(err, exportkit.ErrExportFailed), …
	}
	res, err := c.Exports.DownloadFile(ctx, e.ID, "logs.csv") // atomic: all or nothing at the path
	if err != nil {
		log.Fatal(err) // errors.Is(err, exportkit.ErrSizeMismatch), …
	}
	fmt.Println(res.Bytes, res.Verified) // res.SHA1 is set with WithSHA1(), or when the vendor sends one to verify

	var x exportkit.Export = e // a *LogExport here; any vendor's export type will do
	x, err = c.Wait(ctx, x)    // any Export a service returned
	if err != nil {
		log.Fatal(err)
	}
	res, err = c.Download(ctx, x, os.Stdout) // to any io.Writer
	if err != nil {
		log.Fatal(err)
	}
}

// The README's errors snippet: telling how a wait ended. Compiled, not
// run: it logs.
func Example_readmeErrors() {
	ctx := context.Background()
	c, err := exportkit.NewClient()
	if err != nil {
		log.Fatal(err)
	}
	var x exportkit.Export
	if x, err = c.Exports.Get(ctx, "exp_123"); err != nil {
		log.Fatal(err)
	}

	_, err = c.Wait(ctx, x, exportkit.WithMaxWait(time.Hour))
	var ee *exportkit.ExportError
	var ae *exportkit.APIError
	switch {
	case errors.As(err, &ee): // also errors.Is(err, exportkit.ErrExportFailed)
		log.Printf("%s export %s %s: %s %s", ee.Vendor, ee.ID, ee.State, ee.Code, ee.Message)
	case errors.Is(err, exportkit.ErrWaitTimeout):
		log.Print("still running; try later (see Client.NewWaiter and ResumeWait)")
	case errors.Is(err, exportkit.ErrUnauthorized):
		log.Print("check the API key")
	case errors.Is(err, exportkit.ErrInvalidInput):
		log.Print("a malformed id or a bad option: nothing was sent")
	case errors.As(err, &ae):
		log.Printf("%s answered %d %s (request %s)", ae.Vendor, ae.StatusCode, ae.Code, ae.RequestID)
	}
}

// backupMemories is "your code" of the README's exporttest snippet: it
// exports a Memsolus workspace and returns the file's size.
func backupMemories(ctx context.Context, c *exportkit.Client) (int64, error) {
	e, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "json"})
	if err != nil {
		return 0, err
	}
	if e, err = c.Memories.Wait(ctx, e.ID); err != nil {
		return 0, err
	}
	res, err := c.Memories.Download(ctx, e.ID, io.Discard)
	if err != nil {
		return 0, err
	}
	return res.Bytes, nil
}

// The README's exporttest snippet, run.
func Example_readmeExporttest() {
	ctx := context.Background()

	srv := exporttest.NewServer(exporttest.ReadyAfter(2), exporttest.FileSize(1<<20),
		exporttest.MemsolusDownloadRedirect(0)) // Memsolus's download answers 302 to the storage host
	defer srv.Close()
	// An *exportkit.Client pointed at srv, with valid keys, polling every
	// 1 ms to 20 ms (the fake is quick). A bad option panics (ClientE returns it).
	c := srv.Client()

	srv.Inject(exporttest.On(exportkit.Memsolus).Method("GET").Status(503)) // a status read fails once
	srv.Inject(exporttest.OnStorage().ResetAfter(512 << 10))                // the download is cut halfway

	n, err := backupMemories(ctx, c) // your code, given srv's client
	fmt.Println(n, err)
	fmt.Println("faults not fired:", srv.FaultsPending()) // both fired: the test saw what it claims
	for _, r := range srv.Requests() {                    // what the fake received
		if r.Storage && r.Header.Get("X-Api-Key") != "" {
			fmt.Println("the API key went to the storage host")
		}
	}
	// Output:
	// 1048576 <nil>
	// faults not fired: 0
}

// The README's telemetry snippet, with the OpenTelemetry SDK's providers.
func Example_readmeTelemetry() {
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider()

	c, err := exportkit.NewClient(
		exportkit.WithTracerProvider(tp), // a trace.TracerProvider, e.g. *sdktrace.TracerProvider
		exportkit.WithMeterProvider(mp),  // a metric.MeterProvider
	)
	fmt.Println(c != nil, err)
	// Output: true <nil>
}
