// Command orbit materializes a Leadpipe Orbit audience and downloads it as
// CSV: start a run, wait for it and for its stored export in one call,
// then download the file, checked against Orbit's SHA-1.
//
//	go run ./examples/orbit [DIR]
//
// The file is saved in DIR when given, else in a temporary directory
// removed at the end.
//
// With LEADPIPE_API_KEY and LEADPIPE_AUDIENCE_ID set it talks to the real
// Orbit API; without the key, to an embedded exporttest server, and says so.
package main

import (
	"context"
	"errors"
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
	audience := os.Getenv("LEADPIPE_AUDIENCE_ID")
	if os.Getenv(exportkit.EnvLeadpipeAPIKey) == "" {
		srv := exporttest.NewServer(exporttest.ReadyAfter(2))
		defer srv.Close()
		fmt.Println("LEADPIPE_API_KEY is not set: using an embedded exporttest server")
		// The fake is fast: poll it often. Keep the defaults for the real API.
		opts = append(srv.ClientOptions(), exportkit.WithDefaultWait(exportkit.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)))
		audience = "aud-example"
	} else {
		fmt.Println("using the Leadpipe Orbit API (LEADPIPE_API_KEY is set)")
		if audience == "" {
			return errors.New("set LEADPIPE_AUDIENCE_ID to the audience to export")
		}
	}
	c, err := exportkit.NewClient(opts...)
	if err != nil {
		return err
	}

	// The run is safe to retry: it carries an idempotency key.
	run, err := c.Audiences.CreateRun(ctx, audience, nil)
	if err != nil {
		return err
	}
	fmt.Println("started run", run.ID)

	// Two waits in one: the run, then its stored CSV export.
	e, err := c.Audiences.Export(ctx, audience, run.ID,
		exportkit.WithMaxWait(time.Hour),
		exportkit.WithOnPoll(func(x exportkit.Export) { fmt.Printf("  %s: %s\n", stage(x), x.RawStatus()) }))
	if err != nil {
		return err // an *exportkit.ExportError carries Orbit's errorCode and errorMessage
	}

	dir, keep, cleanup, err := outputDir()
	if err != nil {
		return err
	}
	defer cleanup()
	path := filepath.Join(dir, "orbit-"+e.Export.ID+".csv")
	res, err := c.Audiences.DownloadFile(ctx, e.Ref(), path)
	if err != nil {
		return err
	}
	fmt.Printf("saved %s: %d bytes, sha1 %s, verified %v\n", path, res.Bytes, res.SHA1, res.Verified)
	sayKept(keep)
	return nil
}

// stage names what a status read was about: the run, or its CSV export.
func stage(e exportkit.Export) string {
	switch e := e.(type) {
	case *exportkit.AudienceRun:
		return "run " + e.ID
	case *exportkit.AudienceExport:
		return "CSV export " + e.Export.ID
	}
	return e.ExportID()
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
