package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// vendorSpec is a command that acts on one vendor's exports: "exportkit
// NAME <vendor> [ID] [flags]".
type vendorSpec struct {
	name, short string
	doc         commandDoc
	// flags registers the command's own flags; the shared ones (--json,
	// --quiet, --base-url, --timeout) are registered for it.
	flags func(fs *flag.FlagSet, o *cmdOpts)
	// check refuses what the command line got wrong before any client is
	// built or request sent; nil when there is nothing to check.
	check func(fs *flag.FlagSet, o *cmdOpts, t target) error
	// run runs the command on t.
	run func(ctx context.Context, r *runner, t target) error
}

// vendorCommand makes the command of s: the shared flags, the vendor and
// id checked, a client built from the environment, a board on stderr,
// --timeout's one deadline.
func vendorCommand(s vendorSpec) *cliCommand {
	return &cliCommand{
		name: s.name, short: s.short, doc: s.doc,
		flags: func(fs *flag.FlagSet) runFunc {
			o := &cmdOpts{}
			o.registerCommon(fs)
			if s.flags != nil {
				s.flags(fs, o)
			}
			return func(ctx context.Context, f *factory, pos []string) error {
				if len(pos) == 0 {
					return usageErrorf("%s: missing vendor (brainbase, memsolus, orbit or kore)", s.name)
				}
				v, err := parseVendor(pos[0])
				if err != nil {
					return err
				}
				t, err := parseTarget(s.name, v, pos[1:])
				if err != nil {
					return err
				}
				if s.check != nil {
					if err := s.check(fs, o, t); err != nil {
						return err
					}
				}
				c, err := f.client(v, o.baseURL)
				if err != nil {
					return err
				}
				b := f.board(o.quiet)
				defer b.close()
				r := &runner{c: c, o: o, b: b, stdout: f.stdout, stderr: f.stderr}
				if o.timeout.d > 0 {
					r.deadline = time.Now().Add(o.timeout.d)
				}
				return r.timedOut(ctx, s.run(ctx, r, t))
			}
		},
	}
}

// runner runs one vendor command.
type runner struct {
	c              *exportkit.Client
	o              *cmdOpts
	b              board
	stdout, stderr io.Writer
	// deadline is when --timeout runs out, fixed once when the command
	// starts: every stage of the command (Orbit's run, then its export)
	// shares it. Zero without --timeout.
	deadline time.Time
}

// withDeadline runs f with a context that ends at the command's deadline.
// Waits do not run under it: they get the time left as WithMaxWait (see
// waitOpts), so that an export already ready is returned even when little
// time is left.
func (r *runner) withDeadline(ctx context.Context, f func(context.Context) error) error {
	if r.deadline.IsZero() {
		return f(ctx)
	}
	ctx, cancel := context.WithDeadline(ctx, r.deadline)
	defer cancel()
	return f(ctx)
}

// timedOut words an error of a command whose --timeout ran out the same
// way whichever stage it hit: "…: timed out after 30s", with the duration
// the user gave, for a status read as for a wait.
func (r *runner) timedOut(ctx context.Context, err error) error {
	if err == nil || r.deadline.IsZero() || ctx.Err() != nil || time.Now().Before(r.deadline) ||
		!errors.Is(err, exportkit.ErrWaitTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		return err // not the --timeout: Ctrl-C, or a timeout of something else
	}
	d := "timed out after " + r.o.timeout.text
	msg := timeoutWords.ReplaceAllLiteralString(oneLine(err), d)
	if !strings.Contains(msg, d) {
		msg += ": " + d
	}
	return &wordedError{msg: msg, err: err}
}

// timeoutWords are how the SDK and net/http say that time ran out.
var timeoutWords = regexp.MustCompile(`(exportkit: )?(wait )?timed out(?: after (?:[0-9.]+[a-zµ]+)+)?|context deadline exceeded`)

// wordedError is err with its message reworded.
type wordedError struct {
	msg string
	err error
}

func (e *wordedError) Error() string { return e.msg }
func (e *wordedError) Unwrap() error { return e.err }

// anyExport returns a service's typed result as an Export with its
// error: nil, not a typed nil, when there is no export. A wait that fails
// returns the last export it saw, and that is kept.
func anyExport[P interface {
	*T
	exportkit.Export
}, T any](p P, err error) (exportkit.Export, error) {
	if p == nil {
		return nil, err
	}
	return p, err
}

// target is what a command acts on, as the command line named it.
type target struct {
	vendor exportkit.Vendor
	id     string   // as typed: an export id, AUDIENCE/RUN[/EXPORT], a bot id
	parts  []string // Orbit: audience, run, export
}

func (t target) String() string { return string(t.vendor) + " " + t.id }

func (t target) ref() exportkit.ExportRef {
	return exportkit.ExportRef{AudienceID: t.parts[0], RunID: t.parts[1], ExportID: t.parts[2]}
}

func parseVendor(s string) (exportkit.Vendor, error) {
	switch strings.ToLower(s) {
	case "brainbase":
		return exportkit.Brainbase, nil
	case "memsolus":
		return exportkit.Memsolus, nil
	case "orbit", "leadpipe":
		return exportkit.Orbit, nil
	case "kore", "kore.ai":
		return exportkit.Kore, nil
	}
	return "", usageErrorf("unknown vendor %q (want brainbase, memsolus, orbit or kore)", s)
}

// parseTarget checks the ids a command got for vendor v.
func parseTarget(cmd string, v exportkit.Vendor, ids []string) (target, error) {
	t := target{vendor: v}
	// want is how many ids the command takes (0 or 1), and what it is called.
	want, name := 1, "an export id"
	switch {
	case v == exportkit.Kore:
		name = "a bot id"
	case v == exportkit.Orbit && cmd == "create", v == exportkit.Orbit && cmd == "list":
		name = "an audience id"
	case cmd == "create", cmd == "list":
		want = 0
	}
	if cmd == "list" && (v == exportkit.Brainbase || v == exportkit.Kore) {
		return t, usageErrorf("list: %s has no endpoint that lists exports", v)
	}
	switch {
	case len(ids) > want:
		return t, usageErrorf("%s %s: unexpected argument %q", cmd, v, ids[want])
	case want == 0:
		return t, nil
	case len(ids) == 0:
		return t, usageErrorf("%s %s: missing %s", cmd, v, name)
	}
	t.id = ids[0]
	if strings.TrimSpace(t.id) == "" {
		return t, usageErrorf("%s %s: empty id", cmd, v)
	}
	if v != exportkit.Orbit {
		return t, nil
	}
	// Orbit: how many parts the command takes.
	minParts, maxParts, shape := 2, 3, "AUDIENCE/RUN or AUDIENCE/RUN/EXPORT"
	switch cmd {
	case "create":
		minParts, maxParts, shape = 1, 2, "AUDIENCE or AUDIENCE/RUN"
	case "list":
		minParts, maxParts, shape = 1, 1, "AUDIENCE"
	}
	t.parts = strings.Split(t.id, "/")
	n := len(t.parts)
	bad := n < minParts || n > maxParts
	for _, p := range t.parts {
		bad = bad || strings.TrimSpace(p) == ""
	}
	if bad {
		return t, usageErrorf("%s orbit: malformed Orbit id %q: want %s", cmd, t.id, shape)
	}
	return t, nil
}
