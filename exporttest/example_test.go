package exporttest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// A test of code that uses exportkit: a fake of all four vendors, a client
// pointed at it with valid credentials, and assertions on what it received.
func ExampleNewServer() {
	srv := exporttest.NewServer(
		exporttest.ReadyAfter(2),           // pending, running, then ready on the third read
		exporttest.FileSize(1<<20),         // 1 MiB of pseudo-random bytes per export
		exporttest.SignedURLTTL(time.Hour), // instead of each vendor's own
	)
	defer srv.Close()
	c := srv.Client()

	ctx := context.Background()
	e, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "csv"})
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err = c.Memories.Wait(ctx, e.ID, exportkit.WithPollInterval(time.Millisecond, 5*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := c.Memories.Download(ctx, e.ID, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Status, res.Bytes)

	// What the fake received: no credential ever went to the storage host.
	for _, r := range srv.Requests() {
		if r.Storage && r.Header.Get("X-Api-Key") != "" {
			fmt.Println("key sent to storage!")
		}
	}
	// Output: READY 1048576
}

// Faults read like the scenario they set up. Here Kore rate-limits the first
// status read, and the download's connection is cut after 1 KiB: the
// client waits as asked, resumes, and the caller sees neither.
func ExampleServer_Inject() {
	srv := exporttest.NewServer(exporttest.InMemory())
	defer srv.Close()
	c := srv.Client(exportkit.WithRateLimit(exportkit.Kore, 100, 10)) // lift Kore's 60 a minute: the fake has no limit
	ref, _ := srv.AddExport(exportkit.Kore)

	srv.Inject(
		exporttest.On(exportkit.Kore).Path("/export/status").Status(429).RetryAfter("1"),
		exporttest.OnStorage().ResetAfter(1<<10),
	)

	ctx := context.Background()
	start := time.Now()
	e, err := c.Bots.ExportStatus(ctx, ref.BotID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.RawStatus(), "after at least 1s:", time.Since(start) >= time.Second)
	res, err := c.Bots.Download(ctx, ref.BotID, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Bytes, "bytes, resumed", res.Resumes, "time, verified", res.Verified)
	fmt.Println("faults left:", srv.FaultsPending())

	// A fault that answers instead of the server: a proxy's HTML error page.
	srv.Inject(exporttest.On(exportkit.Brainbase).ProxyErrorPage().Always())
	_, err = srv.Client(exportkit.WithRetry(-1, 0, 0)).Exports.Get(ctx, "exp_1") // no retries: see it at once
	var ae *exportkit.APIError
	if errors.As(err, &ae) {
		fmt.Println(ae.StatusCode, ae.Message)
	}
	// Output:
	// success after at least 1s: true
	// 65536 bytes, resumed 1 time, verified true
	// faults left: 0
	// 502 unexpected non-JSON error body (text/html)
}
