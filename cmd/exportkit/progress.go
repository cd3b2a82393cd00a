package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/cwriter"
	"github.com/vbauerster/mpb/v8/decor"
)

// A board shows what each running export is doing, one line per task:
// live progress bars on a terminal, plain log lines otherwise, nothing
// with --quiet. It writes to stderr only, so that stdout stays data.
type board interface {
	// task adds a line named name (a vendor and an id).
	task(name string) task
	// close waits for every task's last line to be drawn; after it, the
	// board draws nothing more, and what is printed stays where it is.
	// close may be called more than once.
	close()
}

// A task is one line of a board. Its methods are safe for concurrent use.
type task interface {
	// status sets what the task is doing: "running (PROCESSING), poll 3".
	status(s string)
	// progress shows bytes done of total (-1: unknown).
	progress(p progressInfo)
	// finish ends the line with a last word; failed marks it as an error.
	finish(s string, failed bool)
}

// progressInfo mirrors exportkit.Progress, so that the board does not
// depend on the SDK.
type progressInfo struct{ done, total int64 }

// isTerminal reports whether f is a character device: a terminal, as
// opposed to a pipe, a file or /dev/null (a character device too, but
// nobody watches it, and a bar there costs nothing).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// newBoard picks the board for w: bars when w is a terminal that says how
// wide it is.
func newBoard(w io.Writer, quiet bool) board {
	switch boardFor(w, quiet, os.Getenv("TERM")) {
	case "none":
		return nopBoard{}
	case "bars":
		return newBarBoard(w)
	}
	return &lineBoard{w: w}
}

// boardFor names the board for w: "none" with --quiet, "bars" for a
// terminal of known width, "lines" otherwise. A terminal that reports 0
// columns (a serial console, some CI and container terminals) gets plain
// lines: bars drawn into no width show nothing at all.
func boardFor(w io.Writer, quiet bool, term string) string {
	f, ok := w.(*os.File)
	switch {
	case quiet:
		return "none"
	case !ok || !isTerminal(f) || term == "dumb":
		return "lines"
	}
	if cols, _, err := cwriter.GetSize(int(f.Fd())); err != nil || cols <= 0 {
		return "lines"
	}
	return "bars"
}

type nopBoard struct{}

func (nopBoard) task(string) task { return nopTask{} }
func (nopBoard) close()           {}

type nopTask struct{}

func (nopTask) status(string)         {}
func (nopTask) progress(progressInfo) {}
func (nopTask) finish(string, bool)   {}

// lineBoard writes a line when a task's status changes, and a progress
// line at most every lineEvery, so that a log of a long download stays
// short.
type lineBoard struct {
	mu sync.Mutex
	w  io.Writer
}

const lineEvery = 2 * time.Second

func (b *lineBoard) task(name string) task { return &lineTask{b: b, name: name} }
func (b *lineBoard) close()                {}

func (b *lineBoard) printf(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.w, format, args...)
}

type lineTask struct {
	b    *lineBoard
	name string

	mu       sync.Mutex
	last     string
	lastProg time.Time
}

func (t *lineTask) status(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s == t.last {
		return
	}
	t.last = s
	t.b.printf("%s: %s\n", t.name, s)
}

func (t *lineTask) progress(p progressInfo) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if !t.lastProg.IsZero() && now.Sub(t.lastProg) < lineEvery {
		return
	}
	t.lastProg = now
	t.last = ""
	t.b.printf("%s: downloading %s\n", t.name, formatProgress(p))
}

func (t *lineTask) finish(s string, failed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = s
	t.b.printf("%s: %s\n", t.name, s)
}

// barBoard draws one mpb bar per task: the name, a bar that fills while
// the file downloads, and the task's status after it.
type barBoard struct {
	p    *mpb.Progress
	once sync.Once
}

func newBarBoard(w io.Writer) *barBoard {
	return &barBoard{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(100), mpb.WithRefreshRate(100*time.Millisecond))}
}

func (b *barBoard) task(name string) task {
	t := &barTask{}
	t.text.Store("starting")
	t.bar = b.p.New(0,
		mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]"),
		mpb.BarWidth(24),
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return t.text.Load().(string) })),
	)
	return t
}

// close waits until every bar has drawn its last frame. Every task must
// have been finished.
func (b *barBoard) close() { b.once.Do(b.p.Wait) }

type barTask struct {
	bar  *mpb.Bar
	text atomic.Value // string
	done atomic.Bool
}

func (t *barTask) status(s string) {
	if !t.done.Load() {
		t.text.Store(s)
	}
}

func (t *barTask) progress(p progressInfo) {
	if t.done.Load() {
		return
	}
	if p.total > 0 {
		t.bar.SetTotal(p.total, false)
	}
	t.bar.SetCurrent(p.done)
	t.text.Store("downloading " + formatProgress(p))
}

func (t *barTask) finish(s string, failed bool) {
	if t.done.Swap(true) {
		return
	}
	t.text.Store(s)
	if failed {
		t.bar.Abort(false)
		return
	}
	t.bar.SetTotal(-1, true)
}

// formatProgress reads "12.0 MiB / 64.0 MiB (18%)".
func formatProgress(p progressInfo) string {
	if p.total <= 0 {
		return formatBytes(p.done)
	}
	return fmt.Sprintf("%s / %s (%d%%)", formatBytes(p.done), formatBytes(p.total), p.done*100/p.total)
}

// formatBytes writes n in binary units: "512 B", "64.0 KiB", "1.00 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	suffix := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}[exp]
	if v < 10 {
		return fmt.Sprintf("%.2f %s", v, suffix)
	}
	return fmt.Sprintf("%.1f %s", v, suffix)
}
