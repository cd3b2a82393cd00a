// Command memsolus exports a Memsolus workspace's memories as CSV, waits
// for the file, downloads it, and lists the workspace's exports.
//
//	go run ./examples/memsolus [DIR]
//
// The file is saved in DIR when given, else in a temporary directory
// removed at the end.
//
// With MEMSOLUS_API_KEY set it talks to the real Memsolus API; without it,
// to an embedded exporttest server, and says so.
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
	if os.Getenv(exportkit.EnvMemsolusAPIKey) == "" {
		srv := exporttest.NewServer(exporttest.ReadyAfter(2))
		defer srv.Close()
		fmt.Println("MEMSOLUS_API_KEY is not set: using an embedded exporttest server")
		// The fake is fast: poll it often. Keep the defaults for the real API.
		opts = append(srv.ClientOptions(), exportkit.WithDefaultWait(exportkit.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)))
	} else {
		fmt.Println("using the Memsolus API (MEMSOLUS_API_KEY is set)")
	}
	c, err := exportkit.NewClient(opts...)
	if err != nil {
		return err
	}

	e, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "csv", Priority: "HIGH"})
	if err != nil {
		return err
	}
	fmt.Println("created export", e.ID)
	if e, err = c.Memories.Wait(ctx, e.ID, exportkit.WithMaxWait(30*time.Minute)); err != nil {
		return err
	}
	if until, ok := e.ExpiresAt(); ok {
		fmt.Println("ready; the file is kept until about", until.Format(time.RFC3339))
	}

	dir, keep, cleanup, err := outputDir()
	if err != nil {
		return err
	}
	defer cleanup()
	path := filepath.Join(dir, "memsolus-"+e.ID+".csv")
	// The download endpoint redirects to storage: the API key stays behind.
	// Memsolus sends no size or checksum to verify against: WithSHA1 gives
	// you the file's SHA-1 to keep.
	res, err := c.Memories.DownloadFile(ctx, e.ID, path, exportkit.WithSHA1())
	if err != nil {
		return err
	}
	fmt.Printf("saved %s: %d bytes, sha1 %s\n", path, res.Bytes, res.SHA1)
	sayKept(keep)

	// All pages of the workspace's exports, as one loop.
	for x, err := range c.Memories.All(ctx, &exportkit.ListOptions{PageSize: 50}) {
		if err != nil {
			return err
		}
		fmt.Printf("  %s  %-10s %s\n", x.ID, x.Status, x.Format)
	}
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
