package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/exportkit/exportkit"
)

var waitCmd = vendorCommand(vendorSpec{
	name: "wait", short: "poll until the export is ready, failed or expired",
	doc: commandDoc{
		args: "<vendor> <ID> [flags]",
		summary: "Polls the export until it is ready, failed or expired, and prints it as get does.\n" +
			"--timeout covers the whole wait (exit 5 when it runs out).",
		ids: idsText,
		examples: []string{
			"wait brainbase exp_123 --timeout 30m",
			"wait orbit aud_1/run_2 --json --poll-interval 5s,30s",
		},
	},
	flags: func(fs *flag.FlagSet, o *cmdOpts) {
		o.registerPoll(fs)
		o.registerShowURL(fs)
	},
	run: func(ctx context.Context, r *runner, t target) error { return r.wait(ctx, t) },
})

// waitOpts are the wait options of the command line, with each status
// read shown on the task's line.
func (r *runner) waitOpts(t task) []exportkit.WaitOption {
	polls := 0
	opts := []exportkit.WaitOption{exportkit.WithOnPoll(func(e exportkit.Export) {
		polls++
		t.status(stateLine(e, polls))
	}), exportkit.WithOnRetry(func(err error, next time.Duration) {
		t.status(fmt.Sprintf("retrying: %v (next read in %s)", err, next.Round(time.Second)))
	})}
	if r.o.poll.min > 0 {
		opts = append(opts, exportkit.WithPollInterval(r.o.poll.min, r.o.poll.max))
	}
	if !r.deadline.IsZero() {
		// The time left of the command's one deadline, so that a chain of
		// waits shares it; a wait with none left still reads the status once.
		opts = append(opts, exportkit.WithMaxWait(max(time.Until(r.deadline), time.Nanosecond)))
	}
	return opts
}

func (r *runner) wait(ctx context.Context, t target) error {
	tk := r.b.task(t.String())
	e, err := r.waitFor(ctx, t, tk, false)
	finishTask(tk, e, err)
	if e != nil && ctx.Err() == nil {
		if perr := printExport(r.stdout, e, r.o.json, r.o.showURL); err == nil {
			err = perr
		}
	}
	return err
}

// waitFor waits for t. With forFile, an Orbit AUDIENCE/RUN goes on to
// the run's CSV export (created or reused) and waits for that too.
func (r *runner) waitFor(ctx context.Context, t target, tk task, forFile bool) (exportkit.Export, error) {
	opts := r.waitOpts(tk)
	switch t.vendor {
	case exportkit.Brainbase:
		return anyExport(r.c.Exports.Wait(ctx, t.id, opts...))
	case exportkit.Memsolus:
		return anyExport(r.c.Memories.Wait(ctx, t.id, opts...))
	case exportkit.Kore:
		return anyExport(r.c.Bots.WaitExport(ctx, t.id, opts...))
	}
	if len(t.parts) == 3 {
		return anyExport(r.c.Audiences.WaitExport(ctx, t.ref(), opts...))
	}
	if !forFile {
		return anyExport(r.c.Audiences.WaitRun(ctx, t.parts[0], t.parts[1], opts...))
	}
	// The SDK's chain: run, then its export, under one --timeout.
	return anyExport(r.c.Audiences.Export(ctx, t.parts[0], t.parts[1], opts...))
}

// finishTask ends a task's line with how its wait ended. The error itself
// is printed once, by run.
func finishTask(tk task, e exportkit.Export, err error) {
	last := ""
	if e != nil {
		last = fmt.Sprintf(", last seen %s (%s)", e.State(), e.RawStatus())
	}
	switch {
	case err == nil && e != nil:
		tk.finish(fmt.Sprintf("%s (%s)", e.State(), e.RawStatus()), false)
	case e != nil && e.Err() != nil:
		tk.finish(fmt.Sprintf("%s (%s): %s", e.State(), e.RawStatus(), exportMessage(e)), true)
	case errors.Is(err, exportkit.ErrWaitTimeout):
		tk.finish("timed out"+last, true)
	default:
		tk.finish("stopped"+last, true)
	}
}

// exportMessage is the vendor's code and message of a failed export.
func exportMessage(e exportkit.Export) string {
	var ee *exportkit.ExportError
	if errors.As(e.Err(), &ee) {
		if s := joinNonEmpty(": ", ee.Code, ee.Message); s != "" {
			return s
		}
	}
	return "no message from the vendor"
}
