// Command kore exports a Kore.ai XO bot: start the export, wait for it,
// download the zip.
//
//	go run ./examples/kore
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
		// The fake is fast: poll it often. Keep the defaults for the real API.
		opts = append(srv.ClientOptions(), exportkit.WithDefaultWait(exportkit.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)))
		bot = "st-example-bot"
	} else {
		fmt.Println("using the Kore.ai API (KORE_CLIENT_ID is set)")
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

	path := filepath.Join(os.TempDir(), "kore-"+bot+".zip")
	res, err := c.Bots.DownloadFile(ctx, bot, path)
	if err != nil {
		return err
	}
	fmt.Printf("saved %s: %d bytes, sha1 %s, verified %v\n", path, res.Bytes, res.SHA1, res.Verified)
	return nil
}
