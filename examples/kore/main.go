// Command kore exports a Kore.ai XO bot: start the export, wait for it,
// download the zip.
//
//	go run ./examples/kore [DIR]
//
// The file is saved in DIR when given, else in a temporary directory
// removed at the end.
//
// With KORE_CLIENT_ID, KORE_CLIENT_SECRET and KORE_BOT_ID set it talks to
// the real Kore.ai platform (KORE_HOST for another region); without the
// app credentials, to an embedded exporttest server, and says so.
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
	bot := os.Getenv("KORE_BOT_ID")
	if os.Getenv(exportkit.EnvKoreClientID) == "" {
		srv := exporttest.NewServer(exporttest.ReadyAfter(2))
		defer srv.Close()
		fmt.Println("KORE_CLIENT_ID is not set: using an embedded exporttest server")
		// The fake is fast: poll it often, and lift Kore's pacing (the fake
		// has no limit). Keep the defaults for the real API.
		opts = append(srv.ClientOptions(),
			exportkit.WithDefaultWait(exportkit.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)),
			exportkit.WithRateLimit(exportkit.Kore, 100, 10))
		fmt.Println("Kore allows 60 requests a minute per bot; against the fake that pacing is lifted")
		bot = "st-example-bot"
	} else {
		fmt.Println("using the Kore.ai API (KORE_CLIENT_ID is set)")
		fmt.Println("Kore allows 60 requests a minute per bot: requests are paced, so a status read may wait up to a second")
		if bot == "" {
			return errors.New("set KORE_BOT_ID to the bot to export")
		}
	}
	// Every request carries a freshly minted JWT and is paced under Kore's
	// 60 requests a minute.
	c, err := exportkit.NewClient(opts...)
	if err != nil {
		return err
	}

	e, err := c.Bots.StartExport(ctx, bot, &exportkit.BotExportRequest{ExportType: "published"})
	if err != nil {
		return err
	}
	fmt.Println("started export", e.ID)

	// Kore keeps one status per bot. Waiting on the export StartExport
	// returned notices when someone else's export replaces it.
	got, err := c.Wait(ctx, e, exportkit.WithMaxWait(15*time.Minute))
	if errors.Is(err, exportkit.ErrExportSuperseded) {
		return fmt.Errorf("another export of the bot started meanwhile: %w", err)
	} else if err != nil {
		return err
	}
	fmt.Println("status:", got.RawStatus())

	dir, keep, cleanup, err := outputDir()
	if err != nil {
		return err
	}
	defer cleanup()
	path := filepath.Join(dir, "kore-"+bot+".zip")
	res, err := c.Bots.DownloadFile(ctx, bot, path, exportkit.WithSHA1())
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
