package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// runOnPTY runs the command with stdout and stderr on a pseudo-terminal
// of 100 columns, as a person at a terminal does, and returns its exit
// code and everything the terminal received, escape sequences included.
func runOnPTY(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer ptmx.Close()
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the terminal side: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: 100, Row: 24}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := command(ctx, append(fakeEnv[:len(fakeEnv):len(fakeEnv)], "TERM=xterm"), args...)
	cmd.Stdout, cmd.Stderr = tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now: the terminal reads EOF (EIO) once the child exits
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		io.Copy(&out, ptmx) // ends with EIO when the last holder of the terminal side exits
		close(read)
	}()
	cmd.Wait()
	<-read
	return cmd.ProcessState.ExitCode(), out.String()
}

// redraws are the escape sequences with which the progress bar redraws
// itself over what was on the screen: cursor up, erase down.
var redraws = []string{"\x1b[1A", "\x1b[J", "\x1b[A"}

// afterLast is what s holds after the last occurrence of marker, or false.
func afterLast(s, marker string) (string, bool) {
	i := strings.LastIndex(s, marker)
	if i < 0 {
		return "", false
	}
	return s[i+len(marker):], true
}

// TestResultsStayOnATerminal: with stdout and stderr on one terminal, the
// progress bar is closed before results are printed, so that no redraw of
// the bar erases them: the download's summary, wait's url line and a
// timed-out wait's state line are the last things on the screen.
func TestResultsStayOnATerminal(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ref, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "t.csv")
	slow := exporttest.NewServer(exporttest.ReadyAfter(1_000_000))
	t.Cleanup(slow.Close)
	pending := strings.TrimSpace(cli(t, slow, "create", "brainbase", "-q").must(t, exitOK).stdout)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		marker string // printed on stdout, after which nothing redraws
	}{
		{"download", []string{"download", "brainbase", ref.ID, "-o", out, "--base-url", srv.URL(), "--poll-interval", "10ms,50ms"}, exitOK, out + ": 256.0 KiB"},
		{"wait --show-url", []string{"wait", "brainbase", ref.ID, "--show-url", "--base-url", srv.URL(), "--poll-interval", "10ms,50ms"}, exitOK, "url "},
		{"timed-out wait", []string{"wait", "brainbase", pending, "--timeout", "300ms", "--base-url", slow.URL(), "--poll-interval", "10ms,50ms"}, exitTimeout, "state "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, screen := runOnPTY(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%q", code, tc.code, screen)
			}
			if !strings.Contains(screen, "\x1b[") {
				t.Skip("no progress bar was drawn: nothing to check")
			}
			rest, ok := afterLast(screen, tc.marker)
			if !ok {
				t.Fatalf("%q never reached the terminal:\n%q", tc.marker, screen)
			}
			for _, r := range redraws {
				if strings.Contains(rest, r) {
					t.Errorf("the bar redrew over %q after it was printed:\n%q", tc.marker, rest)
				}
			}
		})
	}
}

// TestStdoutTerminalRefused: -o - does not write a file's bytes to a
// terminal unless --force says so, as curl does.
func TestStdoutTerminalRefused(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ref, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	code, screen := runOnPTY(t, "download", "brainbase", ref.ID, "-o", "-", "--base-url", srv.URL())
	if code != exitUsage || !strings.Contains(screen, "would write the file's bytes to the terminal") {
		t.Errorf("-o - on a terminal: exit %d\n%q", code, screen)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("sent %d requests", n)
	}
	if code, _ := runOnPTY(t, "download", "brainbase", ref.ID, "-o", "-", "--force", "-q", "--base-url", srv.URL()); code != exitOK {
		t.Errorf("-o - --force on a terminal: exit %d", code)
	}
}
