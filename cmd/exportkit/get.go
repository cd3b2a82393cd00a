package main

import (
	"context"
	"flag"

	"github.com/exportkit/exportkit"
)

var getCmd = vendorCommand(vendorSpec{
	name: "get", short: "read an export's status once",
	doc: commandDoc{
		args: "<vendor> <ID> [flags]",
		summary: "Reads an export's status once and prints it. A download URL is shown with its query\n" +
			"values (the signature) REDACTED, in text and JSON alike, unless --show-url is given.",
		ids: idsText,
		examples: []string{
			"get brainbase exp_123",
			"get orbit aud_1/run_2 --json",
		},
	},
	flags: func(fs *flag.FlagSet, o *cmdOpts) {
		o.registerPoll(fs)
		o.registerShowURL(fs)
	},
	run: func(ctx context.Context, r *runner, t target) error {
		return r.withDeadline(ctx, func(ctx context.Context) error { return r.get(ctx, t) })
	},
})

func (r *runner) get(ctx context.Context, t target) error {
	var (
		e   exportkit.Export
		err error
	)
	switch t.vendor {
	case exportkit.Brainbase:
		e, err = anyExport(r.c.Exports.Get(ctx, t.id))
	case exportkit.Memsolus:
		e, err = anyExport(r.c.Memories.Get(ctx, t.id))
	case exportkit.Orbit:
		if len(t.parts) == 2 {
			e, err = anyExport(r.c.Audiences.GetRun(ctx, t.parts[0], t.parts[1]))
		} else {
			e, err = anyExport(r.c.Audiences.GetExport(ctx, t.ref()))
		}
	case exportkit.Kore:
		e, err = anyExport(r.c.Bots.ExportStatus(ctx, t.id))
	}
	if err != nil {
		return err
	}
	return printExport(r.stdout, e, r.o.json, r.o.showURL)
}
