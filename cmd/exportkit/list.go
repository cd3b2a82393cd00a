package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/exportkit/exportkit"
)

var listCmd = vendorCommand(vendorSpec{
	name: "list", short: "list exports (memsolus) or an audience's runs (orbit)",
	doc: commandDoc{
		args: "<vendor> [ID] [flags]",
		summary: "Lists exports: the Memsolus workspace's exports, page after page, or an Orbit\n" +
			"audience's latest runs. Brainbase and Kore have no endpoint that lists exports.",
		ids: "  memsolus  no ID\n" +
			"  orbit     AUDIENCE\n",
		examples: []string{"list memsolus --limit 20", "list orbit aud_1 --json"},
	},
	flags: func(fs *flag.FlagSet, o *cmdOpts) {
		o.registerShowURL(fs)
		fs.Var(&o.limit, "limit", "list at most `N`, 1 or more (default: memsolus 100, orbit 25)")
	},
	run: func(ctx context.Context, r *runner, t target) error { return r.list(ctx, t) },
})

func (r *runner) list(ctx context.Context, t target) error {
	return r.withDeadline(ctx, func(ctx context.Context) error { return r.listAll(ctx, t) })
}

func (r *runner) listAll(ctx context.Context, t target) error {
	var es []exportkit.Export
	if t.vendor == exportkit.Orbit {
		limit := 25
		if r.o.limit.set {
			limit = r.o.limit.n
		}
		runs, err := r.c.Audiences.ListRuns(ctx, t.parts[0], &exportkit.RunListOptions{Limit: min(limit, 100)})
		if err != nil {
			return err
		}
		for _, run := range runs {
			es = append(es, run)
		}
		r.noneListed(es, "orbit "+t.parts[0]+": no runs")
		return printList(r.stdout, es, r.o.json, r.o.showURL)
	}
	limit := 100
	if r.o.limit.set {
		limit = r.o.limit.n
	}
	for e, err := range r.c.Memories.All(ctx, &exportkit.ListOptions{PageSize: min(limit, 100)}) {
		if err != nil {
			return err
		}
		es = append(es, e)
		if len(es) == limit {
			break
		}
	}
	r.noneListed(es, "memsolus: no exports")
	return printList(r.stdout, es, r.o.json, r.o.showURL)
}

// noneListed says so on stderr when a list is empty, so that a table of
// its header alone is not taken for a failure; stdout stays the table
// (or the JSON []) for scripts.
func (r *runner) noneListed(es []exportkit.Export, what string) {
	if len(es) == 0 && !r.o.json && !r.o.quiet {
		fmt.Fprintln(r.stderr, what)
	}
}
