package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// fakeOpts are the flags of "exportkit fake".
type fakeOpts struct {
	addr       string
	envFile    string
	readyAfter int
	fileSize   sizeFlag
	lose       rateFlag
}

func (o *fakeOpts) register(fs *flag.FlagSet) {
	fs.StringVar(&o.addr, "addr", "127.0.0.1:0", "serve the vendor APIs on `HOST:PORT`, a loopback address (port 0: any free port); "+
		"the storage host gets another port")
	fs.StringVar(&o.envFile, "env-file", "", "also write the environment lines to `PATH`, atomically")
	fs.IntVar(&o.readyAfter, "ready-after", 2, "an export is ready after `N` status reads (0: at once)")
	fs.Var(&o.fileSize, "file-size", "`SIZE` of each export's file: 64KiB, 10MiB or plain bytes (default 64KiB)")
	fs.Var(&o.lose, "lose-create-replies", "lose this share (`RATE`, 0 to 1) of create replies: the create is carried out, "+
		"then the connection is cut before the reply")
}

// rateFlag is a share from 0 to 1.
type rateFlag struct{ v float64 }

func (f *rateFlag) String() string { return strconv.FormatFloat(f.v, 'g', -1, 64) }

func (f *rateFlag) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1 {
		return fmt.Errorf("%q is not a rate from 0 to 1, such as 0.3", s)
	}
	f.v = v
	return nil
}

var fakeCmd = &cliCommand{
	name: "fake", short: "serve the fake of the four vendor APIs until stopped",
	doc: commandDoc{
		args: "[flags]",
		summary: "Serves the exporttest fake (all four vendor APIs and their storage host) on loopback\n" +
			"until Ctrl-C or SIGTERM, keeping state: no account, no network. Once it listens it prints\n" +
			"the environment a client needs as NAME=VALUE lines on stdout (and to --env-file): after\n" +
			"`set -a; . ./fake.env; set +a` every command and exportkit sync talk to the fake. What it\n" +
			"received and holds is JSON at $EXPORTTEST_URL/_exporttest/requests and\n" +
			"$EXPORTTEST_URL/_exporttest/exports.",
		notes: "Variables printed: BRAINBASE_LABS_BASE_URL, MEMSOLUS_BASE_URL, LEADPIPE_BASE_URL,\n" +
			"KORE_HOST, the credentials (BRAINBASE_LABS_API_KEY, MEMSOLUS_API_KEY, LEADPIPE_API_KEY,\n" +
			"KORE_CLIENT_ID, KORE_CLIENT_SECRET), LEADPIPE_AUDIENCE_ID and KORE_BOT_ID (an audience\n" +
			"and a bot that exist in the fake) and EXPORTTEST_URL (the admin base URL).\n",
		examples: []string{
			"fake --env-file fake.env",
			"fake --addr 127.0.0.1:8080 --ready-after 0 --file-size 10MiB",
			"fake --lose-create-replies 0.3",
		},
	},
	flags: func(fs *flag.FlagSet) runFunc {
		o := &fakeOpts{}
		o.register(fs)
		return func(ctx context.Context, f *factory, args []string) error {
			return runFake(ctx, o, args, f.stdout, f.stderr)
		}
	},
}

// runFake serves until ctx ends (Ctrl-C, SIGTERM), then stops the fake and
// returns nil: stopping is how a fake ends.
func runFake(ctx context.Context, o *fakeOpts, pos []string, stdout, stderr io.Writer) error {
	if len(pos) > 0 {
		return usageErrorf("fake: unexpected argument %q", pos[0])
	}
	if err := checkLoopback(o.addr); err != nil {
		return err
	}
	if o.readyAfter < 0 {
		return usageErrorf("fake: --ready-after %d: want 0 or more status reads", o.readyAfter)
	}
	opts := []exporttest.Option{exporttest.ReadyAfter(o.readyAfter), exporttest.LoseCreateReplies(o.lose.v)}
	if o.fileSize.set {
		opts = append(opts, exporttest.FileSize(o.fileSize.n))
	}
	srv, err := exporttest.NewServerAt(o.addr, opts...)
	if err != nil {
		return fmt.Errorf("exportkit: fake: %w", err)
	}
	defer srv.Close()

	env := fakeDotenv(srv)
	if o.envFile != "" {
		if err := writeFileAtomic(o.envFile, []byte(env)); err != nil {
			return fmt.Errorf("exportkit: fake: --env-file: %w", err)
		}
	}
	if _, err := io.WriteString(stdout, env); err != nil {
		return fmt.Errorf("exportkit: fake: %w", err)
	}
	if fl, ok := stdout.(interface{ Sync() error }); ok {
		_ = fl.Sync()
	}
	fmt.Fprintf(stderr, "exportkit fake: serving the vendor APIs on %s and storage on %s; Ctrl-C to stop\n", srv.URL(), srv.StorageURL())
	<-ctx.Done()
	fmt.Fprintln(stderr, "exportkit fake: stopped")
	return nil
}

// checkLoopback refuses an --addr that is not HOST:PORT on a loopback
// host: the fake's credentials are public.
func checkLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("fake: --addr %q: want HOST:PORT, such as 127.0.0.1:0", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usageErrorf("fake: --addr %q: %q is not a port", addr, port)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageErrorf("fake: --addr %q: serve on a loopback host (127.0.0.1, ::1 or localhost): the fake's keys are public", addr)
	}
	return nil
}

// fakeDotenv is the dotenv a client of srv needs, one NAME=VALUE a line.
func fakeDotenv(srv *exporttest.Server) string {
	url := srv.URL()
	lines := [][2]string{
		{exportkit.EnvBrainbaseBaseURL, url},
		{exportkit.EnvMemsolusBaseURL, url},
		{exportkit.EnvLeadpipeBaseURL, url},
		{exportkit.EnvKoreHost, url},
		{exportkit.EnvBrainbaseAPIKey, exporttest.BrainbaseAPIKey},
		{exportkit.EnvMemsolusAPIKey, exporttest.MemsolusAPIKey},
		{exportkit.EnvLeadpipeAPIKey, exporttest.OrbitAPIKey},
		{exportkit.EnvKoreClientID, exporttest.KoreClientID},
		{exportkit.EnvKoreClientSecret, exporttest.KoreClientSecret},
		// The fake takes any audience and bot id; these are the ones it
		// offers.
		{"LEADPIPE_AUDIENCE_ID", "aud-" + strings.ToLower(rand.Text()[:12])},
		{"KORE_BOT_ID", "st-" + strings.ToLower(rand.Text()[:12])},
		{"EXPORTTEST_URL", srv.AdminURL()},
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l[0] + "=" + l[1] + "\n")
	}
	return b.String()
}

// writeFileAtomic writes b to path through a temporary file in the same
// directory, renamed over path, so that a reader sees the old file or the
// whole new one. The file is private to the user: it holds credentials.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
