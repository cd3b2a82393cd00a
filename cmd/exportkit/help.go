package main

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/exportkit/exportkit"
)

// commandDoc is what a command's usage says besides its flags, which come
// from the command's own flag.FlagSet: a flag added to a command shows in
// its help without a word here.
type commandDoc struct {
	args     string   // after "exportkit NAME"
	summary  string   // one paragraph
	ids      string   // what ID means per vendor; "" when no ID is taken
	notes    string   // valid values and other details
	examples []string // command lines, without "exportkit "
}

var commandDocs = map[string]commandDoc{
	"demo": {
		args: "[flags]",
		summary: "Runs all four vendor flows at once against an embedded exporttest server (no account,\n" +
			"no network): one export fails with the vendor's code, one status read gets 429 with\n" +
			"Retry-After, one download is cut a quarter of the way in and resumes. Ends with a table of what happened.",
		examples: []string{"demo", "demo --dir exports --json"},
	},
	"create": {
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
	"get": {
		args: "<vendor> <ID> [flags]",
		summary: "Reads an export's status once and prints it. A download URL is shown with its query\n" +
			"values (the signature) REDACTED, in text and JSON alike, unless --show-url is given.",
		ids: idsText,
		examples: []string{
			"get brainbase exp_123",
			"get orbit aud_1/run_2 --json",
		},
	},
	"wait": {
		args: "<vendor> <ID> [flags]",
		summary: "Polls the export until it is ready, failed or expired, and prints it as get does.\n" +
			"--timeout covers the whole wait (exit 5 when it runs out).",
		ids: idsText,
		examples: []string{
			"wait brainbase exp_123 --timeout 30m",
			"wait orbit aud_1/run_2 --json --poll-interval 5s,30s",
		},
	},
	"download": {
		args: "<vendor> <ID> -o FILE|- [flags]",
		summary: "Waits for the export, then downloads its file and verifies it against what the vendor\n" +
			"says (size, SHA-1). The file appears at FILE only once complete and verified; a failure\n" +
			"or Ctrl-C leaves nothing there. An interrupted download keeps FILE.partial and its\n" +
			"state, and the next download to FILE goes on from there (--no-resume starts over).\n" +
			"Large files come in parallel ranged parts where the storage allows (--connections,\n" +
			"--part-size). -o - writes the bytes to stdout and the summary to stderr. --timeout\n" +
			"covers the wait, Orbit's run and export together, not the transfer.",
		ids: idsText,
		examples: []string{
			"download brainbase exp_123 -o logs.csv",
			"download orbit aud_1/run_2 -o audience.csv --timeout 1h",
			"download kore st-1234 -o - > bot.zip",
			"download brainbase exp_123 -o big.csv --connections 16 --part-size 16MiB",
		},
	},
	"list": {
		args: "<vendor> [ID] [flags]",
		summary: "Lists exports: the Memsolus workspace's exports, page after page, or an Orbit\n" +
			"audience's latest runs. Brainbase and Kore have no endpoint that lists exports.",
		ids: "  memsolus  no ID\n" +
			"  orbit     AUDIENCE\n",
		examples: []string{"list memsolus --limit 20", "list orbit aud_1 --json"},
	},
}

// idsText is what ID means for get, wait and download.
const idsText = "  brainbase, memsolus  the export id\n" +
	"  orbit                AUDIENCE/RUN (the run; download creates or reuses its CSV export)\n" +
	"                       or AUDIENCE/RUN/EXPORT (the export)\n" +
	"  kore                 the bot id (Kore keeps one export per bot: the latest)\n"

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

// commandFlagSet is the flag set of command name, as the command parses
// its arguments with it.
func commandFlagSet(name string) (*flag.FlagSet, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	switch name {
	case "demo":
		(&demoOpts{}).register(fs)
	case "create", "get", "wait", "download", "list":
		(&cmdOpts{}).register(fs, name)
	default:
		return nil, false
	}
	return fs, true
}

// commandHelp prints the usage of command name: "exportkit help NAME".
func commandHelp(name string, w io.Writer) error {
	fs, ok := commandFlagSet(name)
	if !ok {
		return usageErrorf("help: unknown command %q (want demo, create, get, wait, download or list)", name)
	}
	writeCommandUsage(w, fs)
	return nil
}

// writeCommandUsage writes the usage of the command whose flags fs holds.
func writeCommandUsage(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	doc := commandDocs[name]
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: exportkit %s %s\n\n%s\n", name, doc.args, doc.summary)
	if doc.ids != "" {
		fmt.Fprintf(&b, "\nIDs:\n%s", doc.ids)
	}
	fmt.Fprintf(&b, "\nFlags:\n%s", flagsText(fs))
	if doc.notes != "" {
		fmt.Fprintf(&b, "\n%s", doc.notes)
	}
	b.WriteString("\nExamples:\n")
	for _, ex := range doc.examples {
		fmt.Fprintf(&b, "  exportkit %s\n", ex)
	}
	fmt.Fprintf(&b, "\nExit codes:\n%s", exitCodesText)
	if name != "demo" {
		b.WriteString("\nCredentials come from BRAINBASE_LABS_API_KEY, MEMSOLUS_API_KEY, LEADPIPE_API_KEY,\n" +
			"KORE_CLIENT_ID and KORE_CLIENT_SECRET. \"exportkit help\" shows every command.\n")
	}
	io.WriteString(w, b.String())
}

// flagsText lists the flags of fs, one entry per flag, its aliases (flags
// that set the same variable, as -o and --output) on the same line.
func flagsText(fs *flag.FlagSet) string {
	type entry struct {
		names []string
		f     *flag.Flag
	}
	var entries []*entry
	byTarget := map[uintptr]*entry{}
	fs.VisitAll(func(f *flag.Flag) {
		p := flagTarget(f.Value)
		if e := byTarget[p]; p != 0 && e != nil {
			e.names = append(e.names, f.Name)
			return
		}
		e := &entry{names: []string{f.Name}, f: f}
		entries = append(entries, e)
		if p != 0 {
			byTarget[p] = e
		}
	})
	var b strings.Builder
	for _, e := range entries {
		// Long names first, then single letters: "--output, -o".
		sort.SliceStable(e.names, func(i, j int) bool { return len(e.names[i]) > len(e.names[j]) })
		parts := make([]string, len(e.names))
		for i, n := range e.names {
			parts[i] = "-" + n
			if len(n) > 1 {
				parts[i] = "--" + n
			}
		}
		arg, text := flag.UnquoteUsage(e.f)
		if arg == "value" {
			arg = "VALUE"
		}
		head := strings.Join(parts, ", ")
		if arg != "" {
			head += " " + arg
		}
		if d := e.f.DefValue; d != "" && d != "0" && d != "false" && d != "0s" {
			text += fmt.Sprintf(" (default %s)", d)
		}
		const col = 26
		if len(head) >= col-2 {
			fmt.Fprintf(&b, "  %s\n%s", head, wrap(text, col, 80))
		} else {
			fmt.Fprintf(&b, "  %-*s%s", col-2, head, strings.TrimLeft(wrap(text, col, 80), " "))
		}
	}
	return b.String()
}

// flagTarget is the address of the variable a flag sets, or 0 when its Value
// is not a pointer (a flag.Func).
func flagTarget(v flag.Value) uintptr {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer {
		return 0
	}
	return rv.Pointer()
}

// wrap breaks text into lines of at most width columns, each indented by
// indent spaces.
func wrap(text string, indent, width int) string {
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(text) {
		if line > 0 && line+1+len(word) > width-indent {
			b.WriteString("\n")
			line = 0
		}
		if line == 0 {
			b.WriteString(strings.Repeat(" ", indent))
		} else {
			b.WriteString(" ")
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	b.WriteString("\n")
	return b.String()
}
