package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/exportkit/exportkit"
)

var createCmd = vendorCommand(vendorSpec{
	name: "create", short: "start an export; prints its id",
	doc: commandDoc{
		args: "<vendor> [ID] [flags]",
		summary: "Starts an export and prints its id, the one the other commands take. Nothing is\n" +
			"retried: a create that may have reached the vendor is not sent twice.",
		ids: "  brainbase, memsolus  no ID\n" +
			"  orbit                AUDIENCE starts a run (prints AUDIENCE/RUN);\n" +
			"                       AUDIENCE/RUN creates the run's CSV export (or returns it)\n" +
			"  kore                 the bot id\n",
		notes: "Flags by vendor:\n" + createFlagsText() +
			"Values:\n" +
			"  --format    brainbase CSV or JSON; memsolus json (default), csv or markdown;\n" +
			"              any case (sent as the vendor spells it)\n" +
			"  --priority  LOW, MEDIUM or HIGH, any case\n" +
			"  --type      latest (default) or published\n" +
			"  --since, --until  a date, 2025-01-31 (midnight UTC), or an RFC 3339 time,\n" +
			"              2025-01-31T09:30:00Z or 2025-01-31T09:30:00+02:00\n",
		examples: []string{
			"create brainbase --format csv --since 2025-01-01 --until 2025-01-31",
			"create memsolus --format CSV --category billing --category support",
			"create orbit aud_1",
			"create kore st-1234 --type published",
		},
	},
	flags: func(fs *flag.FlagSet, o *cmdOpts) {
		o.registerPoll(fs)
		fs.StringVar(&o.format, "format", "", "file `FORMAT` (brainbase, memsolus; values below)")
		fs.StringVar(&o.logType, "log-type", "", "brainbase log `TYPE`, such as VoiceDeploymentLog")
		fs.StringVar(&o.worker, "worker", "", "brainbase worker `ID`")
		fs.StringVar(&o.deployment, "deployment", "", "brainbase deployment `ID`")
		fs.StringVar(&o.user, "user", "", "memsolus user `ID`")
		fs.StringVar(&o.agent, "agent", "", "memsolus agent `ID`")
		fs.StringVar(&o.session, "session", "", "memsolus session `ID`")
		fs.StringVar(&o.priority, "priority", "", "memsolus `PRIORITY`: LOW, MEDIUM or HIGH")
		fs.Var(&o.categories, "category", "memsolus `CATEGORY` (repeatable, at most 20)")
		fs.Var(&o.since, "since", "start of the time range: a `DATE` (2025-01-31) or an RFC 3339 time")
		fs.Var(&o.until, "until", "end of the time range: a `DATE` (2025-01-31) or an RFC 3339 time")
		fs.StringVar(&o.koreType, "type", "", "kore export `TYPE`: latest (default) or published")
		fs.StringVar(&o.idempotencyKey, "idempotency-key", "", "orbit run idempotency `KEY` (default: a fresh one)")
	},
	check: func(fs *flag.FlagSet, _ *cmdOpts, t target) error { return checkCreateFlags(fs, t.vendor) },
	run: func(ctx context.Context, r *runner, t target) error {
		return r.withDeadline(ctx, func(ctx context.Context) error { return r.create(ctx, t) })
	},
})

// createFlags are the create flags each vendor takes.
var createFlags = map[exportkit.Vendor][]string{
	exportkit.Brainbase: {"format", "log-type", "worker", "deployment", "since", "until"},
	exportkit.Memsolus:  {"format", "user", "agent", "session", "priority", "category", "since", "until"},
	exportkit.Orbit:     {"idempotency-key"},
	exportkit.Kore:      {"type"},
}

// checkCreateFlags refuses a create flag the vendor does not take.
func checkCreateFlags(fs *flag.FlagSet, v exportkit.Vendor) error {
	allowed := map[string]bool{}
	for _, n := range append(commonFlags, createFlags[v]...) {
		allowed[n] = true
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if !allowed[f.Name] && err == nil {
			err = usageErrorf("create %s: flag --%s is not for %s", v, f.Name, v)
		}
	})
	return err
}

// createFlagsText lists the create flags each vendor takes, from
// createFlags.
func createFlagsText() string {
	var b strings.Builder
	for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus, exportkit.Orbit, exportkit.Kore} {
		names := make([]string, len(createFlags[v]))
		for i, n := range createFlags[v] {
			names[i] = "--" + n
		}
		fmt.Fprintf(&b, "  %-10s %s\n", v, strings.Join(names, " "))
	}
	return b.String()
}

func (r *runner) create(ctx context.Context, t target) error {
	var (
		e   exportkit.Export
		err error
	)
	switch t.vendor {
	case exportkit.Brainbase:
		e, err = anyExport(r.c.Exports.Create(ctx, &exportkit.LogExportRequest{
			Format: r.o.format, LogType: r.o.logType, WorkerID: r.o.worker, DeploymentID: r.o.deployment,
			StartDate: r.o.since.t, EndDate: r.o.until.t,
		}))
	case exportkit.Memsolus:
		e, err = anyExport(r.c.Memories.Create(ctx, &exportkit.MemoryExportRequest{
			Format: r.o.format, UserID: r.o.user, AgentID: r.o.agent, SessionID: r.o.session,
			Priority: r.o.priority, Categories: r.o.categories, CreatedAfter: r.o.since.t, CreatedBefore: r.o.until.t,
		}))
	case exportkit.Orbit:
		if len(t.parts) == 1 {
			e, err = anyExport(r.c.Audiences.CreateRun(ctx, t.parts[0], &exportkit.RunRequest{IdempotencyKey: r.o.idempotencyKey}))
		} else {
			e, err = anyExport(r.c.Audiences.CreateExport(ctx, t.parts[0], t.parts[1]))
		}
	case exportkit.Kore:
		e, err = anyExport(r.c.Bots.StartExport(ctx, t.id, &exportkit.BotExportRequest{ExportType: r.o.koreType}))
	}
	if err != nil {
		return err
	}
	if !r.o.quiet {
		fmt.Fprintf(r.stderr, "%s: created %s (%s); next: exportkit wait %s %s\n",
			t.vendor, e.ExportID(), e.RawStatus(), t.vendor, cliID(e))
	}
	if r.o.json {
		return writeJSON(r.stdout, viewOf(e, false))
	}
	_, err = fmt.Fprintln(r.stdout, cliID(e))
	return err
}
