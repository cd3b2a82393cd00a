//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	benchpkg "github.com/exportkit/exportkit/internal/bench"
)

// killRow is one kill-and-rerun measurement.
type killRow struct {
	tool      string
	size      int64
	killedAt  time.Duration // after the start
	rerun     time.Duration
	refetched int64 // bytes nginx sent to the rerun
	sha1OK    bool
	failed    string
}

// killRows runs exportkit and aria2c -x16 at size, SIGKILLs each at half
// its median time (from runs, or one timed run), runs it again on what it
// left, and counts what nginx sent to the rerun. Both keep what they
// saved: exportkit its state file (saved every second while the parts
// run), aria2c its control file (every 60 s by default).
func (b *bench) killRows(ctx context.Context, size int64, runs []sizeRun) ([]killRow, error) {
	apiURL, want, stop, err := b.serve(size)
	if err != nil {
		return nil, err
	}
	defer stop()
	out := filepath.Join(b.outDir, "export.csv")
	cmds := commands(b.o, b.flags, b.bin, apiURL, b.fileURL, out, b.tools)
	// The reruns go through a proxy that counts the bytes it hands them:
	// nginx's log counts what it sent into Toxiproxy's buffers, also for
	// responses the client closed early.
	counter, err := startCounter(strings.TrimPrefix(strings.TrimSuffix(b.fileURL, "/export.csv"), "http://"))
	if err != nil {
		return nil, err
	}
	defer counter.close()
	rerunURL := "http://" + counter.addr + "/export.csv"
	rerunAPI, stop2, err := b.api(rerunURL, size, want)
	if err != nil {
		return nil, err
	}
	defer stop2()
	var rows []killRow
	for _, c := range cmds {
		if !(c.exportkit && c.conns == "default") && !c.baseline {
			continue
		}
		c.args = slices.DeleteFunc(slices.Clone(c.args), func(a string) bool { return a == "--no-resume" })
		took := medianOf(runs, size, c.tool, c.conns)
		if took == 0 {
			d, _, _, err := runOnce(ctx, c, b.outDir, size, b.link.BytesPerSec)
			if err != nil {
				return nil, fmt.Errorf("kill rows: timing %s: %w", c.tool, err)
			}
			took = d
		}
		rerun := c
		rerun.args = slices.Clone(c.args)
		for i, a := range rerun.args {
			rerun.args[i] = strings.NewReplacer(apiURL, rerunAPI, b.fileURL, rerunURL).Replace(a)
		}
		rows = append(rows, b.killOnce(ctx, c, rerun, counter, size, took/2, out, want))
	}
	return rows, nil
}

func medianOf(runs []sizeRun, size int64, tool, conns string) time.Duration {
	for _, sr := range runs {
		if sr.size != size {
			continue
		}
		for i, c := range sr.cmds {
			if c.tool == tool && c.conns == conns && len(sr.results[i].wall) > 0 {
				return median(sr.results[i].wall)
			}
		}
	}
	return 0
}

func (b *bench) killOnce(ctx context.Context, c, rerun command, counter *counter, size int64, after time.Duration, out, want string) killRow {
	row := killRow{tool: c.tool, size: size, killedAt: after}
	fmt.Fprintf(os.Stderr, "kill and rerun: %s, killed after %.2f s... ", c.tool, after.Seconds())
	clean(b.outDir)
	cmd := exec.CommandContext(ctx, c.args[0], c.args[1:]...)
	cmd.Env = append(os.Environ(), c.env...)
	if err := cmd.Start(); err != nil {
		row.failed = err.Error()
		return row
	}
	select {
	case <-time.After(after):
	case <-ctx.Done():
	}
	cmd.Process.Kill()
	cmd.Wait()
	counter.n.Store(0)
	took, _, _, err := runIn(ctx, rerun, size, b.link.BytesPerSec)
	if err != nil {
		row.failed = err.Error()
		fmt.Fprintln(os.Stderr, "FAILED:", err)
		return row
	}
	row.rerun = took
	row.refetched = counter.n.Load()
	got, err := benchpkg.FileSHA1(out)
	row.sha1OK = err == nil && got == want
	fmt.Fprintf(os.Stderr, "rerun fetched %.0f%%\n", 100*float64(row.refetched)/float64(size))
	return row
}

// counter is a TCP proxy that counts the bytes it forwards to its clients
// (response headers included).
type counter struct {
	ln   net.Listener
	addr string
	n    atomic.Int64
}

func startCounter(upstream string) (*counter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &counter{ln: ln, addr: ln.Addr().String()}
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			go c.pipe(down, upstream)
		}
	}()
	return c, nil
}

func (c *counter) pipe(down net.Conn, upstream string) {
	defer down.Close()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	go func() {
		io.Copy(up, down)
		up.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(countingWriter{down, &c.n}, up)
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (cw countingWriter) Write(b []byte) (int, error) {
	n, err := cw.w.Write(b)
	cw.n.Add(int64(n))
	return n, err
}

func (c *counter) close() { c.ln.Close() }

func printKills(w *os.File, rows []killRow) {
	fmt.Fprintf(w, "\nKilled with SIGKILL at half its median time, then run again (bytes the rerun received):\n\n")
	fmt.Fprintln(w, "| size | tool | killed after s | rerun s | rerun fetched | share of the file | output SHA-1 |")
	fmt.Fprintln(w, "|--:|---|--:|--:|--:|--:|---|")
	for _, r := range rows {
		if r.failed != "" {
			fmt.Fprintf(w, "| %s | %s | %.2f | failed | | | %s |\n", benchpkg.FormatSize(r.size), r.tool, r.killedAt.Seconds(), r.failed)
			continue
		}
		sum := "ok"
		if !r.sha1OK {
			sum = "**WRONG**"
		}
		fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %.1f MiB | %.0f%% | %s |\n", benchpkg.FormatSize(r.size), r.tool,
			r.killedAt.Seconds(), r.rerun.Seconds(), float64(r.refetched)/(1<<20), 100*float64(r.refetched)/float64(r.size), sum)
	}
}
