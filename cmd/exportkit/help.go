package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/exportkit/exportkit"
)

var helpCmd = &cliCommand{
	name: "help", short: "a command's flags, valid values and examples",
	doc: commandDoc{
		args:     "[command]",
		summary:  "Prints the usage of exportkit, or of one command: its flags, valid values and examples.\n\"exportkit COMMAND --help\" prints the same.",
		examples: []string{"help", "help download"},
	},
	flags: func(*flag.FlagSet) runFunc {
		return func(_ context.Context, f *factory, args []string) error {
			switch len(args) {
			case 0:
				fmt.Fprint(f.stdout, usageText())
				return nil
			case 1:
				return commandHelp(args[0], f.stdout)
			}
			return usageErrorf("help: unexpected argument %q (help takes one command)", args[1])
		}
	},
}

var versionCmd = &cliCommand{
	name: "version", short: "the version of exportkit", hidden: true,
	doc: commandDoc{args: "", summary: "Prints the version of exportkit.", examples: []string{"version"}},
	flags: func(*flag.FlagSet) runFunc {
		return func(_ context.Context, f *factory, args []string) error {
			if len(args) > 0 {
				return usageErrorf("version: unexpected argument %q", args[0])
			}
			_, err := fmt.Fprintf(f.stdout, "exportkit %s\n", exportkit.Version)
			return err
		}
	},
}

// idsText is what ID means for get, wait and download.
const idsText = "  brainbase, memsolus  the export id\n" +
	"  orbit                AUDIENCE/RUN (the run; download creates or reuses its CSV export)\n" +
	"                       or AUDIENCE/RUN/EXPORT (the export)\n" +
	"  kore                 the bot id (Kore keeps one export per bot: the latest)\n"

// commandHelp prints the usage of command name: "exportkit help NAME".
func commandHelp(name string, w io.Writer) error {
	fs, ok := commandFlagSet(name)
	if !ok {
		return usageErrorf("help: unknown command %q (want %s)", name, commandNames())
	}
	writeCommandUsage(w, fs)
	return nil
}

// writeCommandUsage writes the usage of the command whose flags fs holds.
func writeCommandUsage(w io.Writer, fs *flag.FlagSet) {
	name := fs.Name()
	var doc commandDoc
	if c := lookup(name); c != nil {
		doc = c.doc
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: exportkit %s %s\n\n%s\n", name, doc.args, doc.summary)
	if doc.ids != "" {
		fmt.Fprintf(&b, "\nIDs:\n%s", doc.ids)
	}
	if ft := flagsText(fs); ft != "" {
		fmt.Fprintf(&b, "\nFlags:\n%s", ft)
	}
	if doc.notes != "" {
		fmt.Fprintf(&b, "\n%s", doc.notes)
	}
	b.WriteString("\nExamples:\n")
	for _, ex := range doc.examples {
		fmt.Fprintf(&b, "  exportkit %s\n", ex)
	}
	fmt.Fprintf(&b, "\nExit codes:\n%s", exitCodesText)
	if fs.Lookup("base-url") != nil { // a vendor command
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
