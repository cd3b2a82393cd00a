// Command brainbase exports a Brainbase Labs team log: create the export,
// wait until it is ready, download the file and verify it.
//
//	go run ./examples/brainbase [DIR]
//
// The file is saved in DIR when given, else in a temporary directory
// removed at the end.
//
// With BRAINBASE_LABS_API_KEY set it talks to the real Brainbase API;
// without it, to an embedded exporttest server, and says so.
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
	if os.Getenv(exportkit.EnvBrainbaseAPIKey) == "" {
		srv := exporttest.NewServer(exporttest.ReadyAfter(2))
		defer srv.Close()
		fmt.Println("BRAINBASE_LABS_API_KEY is not set: using an embedded exporttest server")
		// The fake is fast: poll it often. Keep the defaults for the real API.
		opts = append(srv.ClientOptions(), exportkit.WithDefaultWait(exportkit.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)))
	} else {
		fmt.Println("using the Brainbase API (BRAINBASE_LABS_API_KEY is set)")
	}
	c, err := exportkit.NewClient(opts...)
	if err != nil {
		return err
	}

	e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV", LogType: "VoiceDeploymentLog"})
	if err != nil {
		return err
	}
	fmt.Println("created export", e.ID)

	e, err = c.Exports.Wait(ctx, e.ID,
		exportkit.WithMaxWait(30*time.Minute),
		exportkit.WithOnPoll(func(x exportkit.Export) { fmt.Println("  status:", x.RawStatus()) }))
	if errors.Is(err, exportkit.ErrExportFailed) {
		return fmt.Errorf("brainbase could not build the export: %w", err)
	} else if err != nil {
		return err
	}

	dir, keep, cleanup, err := outputDir()
	if err != nil {
		return err
	}
	defer cleanup()
	path := filepath.Join(dir, "brainbase-"+e.ID+".csv")
	res, err := c.Exports.DownloadFile(ctx, e.ID, path, exportkit.WithSHA1()) // atomic: nothing at path unless complete
	if err != nil {
		return err
	}
	fmt.Printf("saved %s: %d bytes, sha1 %s, verified %v\n", path, res.Bytes, res.SHA1, res.Verified)
	sayKept(keep)
	return nil
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
