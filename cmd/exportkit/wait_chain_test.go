package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// A wait on a host where nothing listens fails once the first read's
// retries are spent, with the cause, instead of running forever.
func TestWaitOnADeadHost(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	l.Close()
	for _, cmd := range []string{"wait", "download"} {
		start := time.Now()
		args := []string{cmd, "brainbase", "x", "--base-url", base}
		if cmd == "download" {
			args = append(args, "-o", t.TempDir()+"/out")
		}
		r := runWith(t, fakeEnv, args...)
		if r.code == exitOK || !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("%s on a dead host: exit %d\n%s", cmd, r.code, r.stderr)
		}
		// The line says what happened, not "stopped"; the retries show.
		if strings.Contains(r.stderr, "stopped") || !strings.Contains(r.stderr, "could not read the status") ||
			!strings.Contains(r.stderr, "attempts)") {
			t.Errorf("%s on a dead host: the task line does not say what happened:\n%s", cmd, r.stderr)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("%s on a dead host took %s", cmd, d)
		}
	}
}

// While a wait rides out an outage, its task line says so.
func TestWaitPrintsRetrying(t *testing.T) {
	srv := exporttest.NewServer(exporttest.ReadyAfter(2))
	defer srv.Close()
	c := srv.Client(exportkit.WithRetry(-1, 0, 0))
	e, err := c.Exports.Create(context.Background(), &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	b := &lineBoard{w: &out}
	r := &runner{c: c, o: &cmdOpts{}, b: b, stdout: &out, stderr: &out}
	r.o.poll.min, r.o.poll.max = 10*time.Millisecond, 10*time.Millisecond
	if err := srv.Inject(exporttest.On(exportkit.Brainbase).Method("GET").Status(503).Times(2)); err != nil {
		t.Fatal(err)
	}
	tk := b.task("brainbase " + e.ID)
	if _, err := r.waitFor(context.Background(), target{vendor: exportkit.Brainbase, id: e.ID}, tk, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "retrying: exportkit: brainbase: get export") || !strings.Contains(out.String(), "503 Service Unavailable") {
		t.Errorf("no retrying line:\n%s", out.String())
	}
	if strings.Contains(out.String(), "next read in 0s") {
		t.Errorf("an outage line says \"next read in 0s\":\n%s", out.String())
	}
}
