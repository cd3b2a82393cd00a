//go:build unix

package main

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// Ctrl-C while a run waits: sync exits 130 at once, the run stays waiting
// in the store, and the next sync takes the wait up without creating
// anything.
func TestSyncInterrupt(t *testing.T) {
	t.Parallel()
	srv := exporttest.NewServer(exporttest.ReadyAfter(100000))
	defer srv.Close()
	mf := writeManifest(t, "jobs:\n  - name: memories\n    vendor: memsolus\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := command(ctx, syncEnv(srv), "sync", "-f", mf)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	id := ""
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if _, after, ok := strings.Cut(sc.Text(), ": created "); ok {
			id = after
		}
		if strings.HasSuffix(sc.Text(), ": waiting") {
			break
		}
	}
	if id == "" {
		t.Fatal("no created line on stderr")
	}
	sent := time.Now()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for sc.Scan() {
		rest.WriteString(sc.Text() + "\n")
	}
	_ = cmd.Wait()
	if took := time.Since(sent); took > 2*time.Second {
		t.Errorf("took %s to stop after SIGINT", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit code %d, want %d\n%s", code, exitInterrupted, rest.String())
	}
	r := runWith(t, syncEnv(srv), "sync", "status", "-f", mf).must(t, 0)
	if !strings.Contains(r.stdout, "waiting") {
		t.Errorf("status after Ctrl-C:\n%s", r.stdout)
	}
	if err := srv.SetState(exportkit.Memsolus, id, exportkit.StateReady); err != nil {
		t.Fatal(err)
	}
	r = runWith(t, syncEnv(srv), "sync", "-f", mf).must(t, 0)
	if !strings.Contains(r.stdout, "\tdone\t") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	creates := 0
	for _, q := range srv.Requests() {
		if q.Method == "POST" {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d creates, want 1", creates)
	}
}

// --watch stays up after the due runs are done, until its --timeout.
func TestSyncWatch(t *testing.T) {
	t.Parallel()
	srv := exporttest.NewServer(exporttest.ReadyAfter(0))
	defer srv.Close()
	mf := writeManifest(t, "jobs:\n  - name: memories\n    vendor: memsolus\n")
	start := time.Now()
	r := runWith(t, syncEnv(srv), "sync", "-f", mf, "--watch", "--timeout", "1500ms").must(t, exitTimeout)
	if !strings.Contains(r.stdout, "\tdone\t") || time.Since(start) < 1500*time.Millisecond {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}
