//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// TestInterrupt sends SIGINT (Ctrl-C) in the middle of a stalled download:
// the command ends at once with exit code 130 and leaves no file behind.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	srv := newServer(t, exporttest.FileSize(8<<20))
	ref, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Inject(exporttest.OnStorage().StallAfter(1<<20, time.Minute)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "big.csv")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := command(ctx, fakeEnv, "download", "brainbase", ref.ID, "-o", out, "--base-url", srv.URL())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// Wait until the first megabyte is on disk and the transfer stalls.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if fi, err := os.Stat(out + ".partial"); err == nil && fi.Size() > 0 {
			break
		}
		select {
		case <-exited:
			t.Fatalf("exited before the download started (code %d):\n%s", cmd.ProcessState.ExitCode(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no partial file after 15 s")
		}
	}
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGINT")
	}
	if took := time.Since(sent); took > 2*time.Second {
		t.Errorf("took %s to stop after SIGINT", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit code %d, want %d\n%s", code, exitInterrupted, stderr.String())
	}
	if got := strings.TrimSpace(stderr.String()); !strings.HasSuffix(got, "exportkit: interrupted") {
		t.Errorf("stderr does not end with the interrupt line:\n%s", got)
	}
	// The task's line says how far it got and what was kept, not "failed".
	if !regexp.MustCompile(`interrupted( at [0-9.]+ [KM]?i?B of 8.00 MiB)?; kept .*big.csv.partial: run the same command to go on`).MatchString(stderr.String()) ||
		strings.Contains(stderr.String(), "download failed") {
		t.Errorf("the interrupted line does not say what was kept:\n%s", stderr.String())
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left behind after Ctrl-C", out)
	}
	// The partial file and its state stay, for the next run to go on from.
	for _, p := range []string{out + ".partial", out + ".partial.state"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s not kept after Ctrl-C: %v", p, err)
		}
	}
	// The next run goes on from there and says so.
	r := cli(t, srv, "download", "brainbase", ref.ID, "-o", out).must(t, exitOK)
	if !regexp.MustCompile(`went on from .*big.csv.partial: kept [0-9.]+ [KM]iB of 8.00 MiB`).MatchString(r.stderr) {
		t.Errorf("no resume line on stderr:\n%s", r.stderr)
	}
	checkFile(t, out, srv.File(exportkit.Brainbase, ref.ID))
}
