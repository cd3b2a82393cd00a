package main

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its terminal side.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
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
	t.Cleanup(func() { tty.Close() })
	return tty
}

// TestBoardForZeroColumns: bars on a terminal that says how wide it is,
// plain lines on one that reports 0 columns, where bars would show nothing.
func TestBoardForZeroColumns(t *testing.T) {
	tty := openPTY(t)
	for _, tc := range []struct {
		cols  uint16
		term  string
		quiet bool
		want  string
	}{
		{80, "xterm", false, "bars"},
		{0, "xterm", false, "lines"},
		{80, "dumb", false, "lines"},
		{80, "xterm", true, "none"},
	} {
		if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: tc.cols, Row: 24}); err != nil {
			t.Fatal(err)
		}
		if got := boardFor(tty, tc.quiet, tc.term); got != tc.want {
			t.Errorf("%d columns, TERM=%s, quiet %v: %s board, want %s", tc.cols, tc.term, tc.quiet, got, tc.want)
		}
	}
}
