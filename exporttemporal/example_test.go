package exporttemporal_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttemporal"
	"github.com/exportkit/exportkit/exporttest"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
)

// A worker and a starter against a Temporal server (compiled, not run).
func Example_worker() {
	ctx := context.Background()
	c, err := exportkit.NewClient() // credentials from the environment
	if err != nil {
		return
	}
	tc, err := client.Dial(client.Options{HostPort: client.DefaultHostPort})
	if err != nil {
		return
	}
	defer tc.Close()
	w := worker.New(tc, "exports", worker.Options{})
	opts := client.StartWorkflowOptions{TaskQueue: "exports"}

	acts := exporttemporal.NewActivities(c) // c: your *exportkit.Client
	exporttemporal.Register(w, acts)        // w: a worker.Worker
	// then start exporttemporal.ExportWorkflow:
	tc.ExecuteWorkflow(ctx, opts, exporttemporal.ExportWorkflow, exporttemporal.ExportWorkflowInput{
		Create:      exporttemporal.CreateRequest{Brainbase: &exportkit.LogExportRequest{Format: "CSV"}},
		Destination: exporttemporal.Destination{Path: "/shared/exports/logs.csv"},
	})
	_ = w.Run(worker.InterruptCh())
}

// ExportWorkflow on Temporal's test environment, against the exporttest
// fake: create, wait on durable timers (skipped by the test clock),
// download. On a real worker, register the same way with
// exporttemporal.Register(w, acts).
func ExampleExportWorkflow() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(2), exporttest.FileSize(4096))
	defer srv.Close()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(exporttemporal.ExportWorkflow)
	env.RegisterActivity(exporttemporal.NewActivities(srv.Client()))

	env.ExecuteWorkflow(exporttemporal.ExportWorkflow, exporttemporal.ExportWorkflowInput{
		Create:      exporttemporal.CreateRequest{Brainbase: &exportkit.LogExportRequest{Format: "CSV"}},
		Destination: exporttemporal.Destination{Path: filepath.Join(dir, "logs.csv")},
	})
	var out exporttemporal.ExportWorkflowOutput
	if err := env.GetWorkflowResult(&out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Export.Vendor, out.Export.State, "after", out.Polls, "status reads")
	fmt.Println(out.Download.Bytes, "bytes, verified:", out.Download.Verified)
	// Output:
	// brainbase ready after 3 status reads
	// 4096 bytes, verified: true
}
