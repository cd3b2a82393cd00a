// Command allvendors starts one export at each of the four vendors, then
// treats them alike through the exportkit.Export interface: one WaitAll
// for all of them, one Client.Download for each.
//
//	go run ./examples/allvendors [DIR]
//
// The files are saved in DIR when given, else in a temporary directory
// removed at the end.
//
// With every vendor's credential set (BRAINBASE_LABS_API_KEY,
// MEMSOLUS_API_KEY, LEADPIPE_API_KEY with LEADPIPE_AUDIENCE_ID, and
// KORE_CLIENT_ID, KORE_CLIENT_SECRET with KORE_BOT_ID) it talks to the
// real APIs; otherwise to an embedded exporttest server, and says so.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	var opts []exportkit.Option
	audience, bot := os.Getenv("LEADPIPE_AUDIENCE_ID"), os.Getenv("KORE_BOT_ID")
	if !allCredentials() || audience == "" || bot == "" {
		srv := exporttest.NewServer(exporttest.ReadyAfter(2))
		defer srv.Close()
		fmt.Println("not every vendor's credential is set: using an embedded exporttest server")
		// The fake is fast: poll it often. Keep the defaults for the real APIs.
		// Kore's pacing (60 requests a minute per bot) is lifted too: the
		// fake has no limit.
		opts = append(srv.ClientOptions(),
			exportkit.WithDefaultWait(exportkit.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)),
			exportkit.WithRateLimit(exportkit.Kore, 100, 10))
		audience, bot = "aud-example", "st-example-bot"
	} else {
		fmt.Println("using the four vendors' real APIs")
	}
	c, err := exportkit.NewClient(opts...)
	if err != nil {
		return err
	}

	// Starting an export is the one step that differs by vendor.
	logs, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		return err
	}
	memories, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "json"})
	if err != nil {
		return err
	}
	run, err := c.Audiences.CreateRun(ctx, audience, nil)
	if err != nil {
		return err
	}
	botExport, err := c.Bots.StartExport(ctx, bot, &exportkit.BotExportRequest{ExportType: "latest"})
	if err != nil {
		return err
	}
	exports := []exportkit.Export{logs, memories, run, botExport}

	dir, keep, cleanup, err := outputDir()
	if err != nil {
		return err
	}
	defer cleanup()

	// From here on, an export is an export.
	failed := 0
	waitOpts := []exportkit.WaitOption{exportkit.WithMaxWait(30 * time.Minute)}
	for _, r := range c.WaitAll(ctx, exports, waitOpts...) {
		e, err := r.Export, r.Err
		if err != nil {
			fmt.Printf("%-9s %s: %v\n", e.Vendor(), e.ExportID(), err)
			failed++
			continue
		}
		// An Orbit run downloads its stored CSV export (created or reused).
		// WithSHA1 computes the SHA-1 of every file, Memsolus's too, which
		// sends nothing to verify against.
		path := filepath.Join(dir, string(e.Vendor())+"-"+e.ExportID())
		res, err := c.DownloadFile(ctx, e, path, exportkit.WithSHA1()) // atomic: nothing at path unless complete
		if err != nil {
			fmt.Printf("%-9s %s: %v\n", e.Vendor(), e.ExportID(), err)
			failed++
			continue
		}
		fmt.Printf("%-9s %s: %s, %d bytes, sha1 %.12s…, verified %v\n",
			e.Vendor(), e.ExportID(), filepath.Base(path), res.Bytes, res.SHA1, res.Verified)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d exports did not download", failed, len(exports))
	}
	fmt.Println("saved in", dir)
	sayKept(keep)
	return nil
}

// allCredentials reports whether every vendor's credential is in the
// environment.
func allCredentials() bool {
	for _, env := range []string{exportkit.EnvBrainbaseAPIKey, exportkit.EnvMemsolusAPIKey,
		exportkit.EnvLeadpipeAPIKey, exportkit.EnvKoreClientID, exportkit.EnvKoreClientSecret} {
		if os.Getenv(env) == "" {
			return false
		}
	}
	return true
}

// outputDir is where the example saves its file: the directory given as
// its first argument, kept, or else a temporary directory of its own,
// removed when the example ends (call the returned cleanup).
func outputDir() (dir string, keep bool, cleanup func(), err error) {
	if len(os.Args) > 1 {
		return os.Args[1], true, func() {}, os.MkdirAll(os.Args[1], 0o755)
	}
	dir, err = os.MkdirTemp("", "exportkit-example-")
	if err != nil {
		return "", false, func() {}, err
	}
	return dir, false, func() { os.RemoveAll(dir) }, nil
}

// sayKept says whether the saved files stay.
func sayKept(keep bool) {
	if !keep {
		fmt.Println("(a temporary directory, removed at exit: give a directory as argument to keep the files)")
	}
}
