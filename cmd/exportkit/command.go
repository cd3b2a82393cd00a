package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// A cliCommand is one word of exportkit's command line: "exportkit NAME …".
// Every command is one file that defines its *cliCommand, listed once in the
// commands table of main.go; dispatch, help and the usage text all read
// that table.
type cliCommand struct {
	name  string
	short string // its line in "exportkit help": what it does, in a few words
	doc   commandDoc
	// hidden commands (version) are not listed in the usage.
	hidden bool
	// flags registers the command's flags on fs and returns what runs the
	// command once fs has parsed the command line: args are the positional
	// arguments. help calls it too, to list the flags, and never runs the
	// result.
	flags func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command with its positional arguments. f gives it its
// output streams and clients.
type runFunc func(ctx context.Context, f *factory, args []string) error

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

// usageArgs is what follows the command's name in a usage line.
func (c *cliCommand) usageArgs() string { return c.doc.args }

// flagSet is c's flag set, with its flags registered, and the function
// that runs c once the set has parsed the command line.
func (c *cliCommand) flagSet() (*flag.FlagSet, runFunc) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs, c.flags(fs)
}

// commandFlagSet is the flag set of command name, as the command parses
// its arguments with it.
func commandFlagSet(name string) (*flag.FlagSet, bool) {
	c := lookup(name)
	if c == nil {
		return nil, false
	}
	fs, _ := c.flagSet()
	return fs, true
}

// dispatch runs the command args name, with the factory that gives it
// stdout, stderr and clients.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFactory(stdout, stderr)
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText())
		return errReported
	}
	args, err := hoistGlobalFlags(args)
	if err != nil {
		return err
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	case "--version", "-version":
		name = "version"
	}
	c := lookup(name)
	if c == nil {
		return usageErrorf("unknown command %q (want %s)", name, commandNames())
	}
	fs, runCmd := c.flagSet()
	pos, err := parseFlags(fs, rest, stdout)
	if err != nil {
		return err
	}
	return runCmd(ctx, f, pos)
}

// globalFlags are the shared flags that may come before the command
// ("exportkit --json get …"), and whether each takes a value.
var globalFlags = map[string]bool{
	"json": false, "quiet": false, "q": false,
	"base-url": true, "timeout": true, "poll-interval": true,
}

// hoistGlobalFlags moves shared flags given before the command name to
// after it, where the command parses them: "exportkit --json get x" is
// "exportkit get x --json". Help and version flags stay where they are.
func hoistGlobalFlags(args []string) ([]string, error) {
	var lead []string
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "-" {
		a := args[i]
		switch a {
		case "-h", "-help", "--help", "--version", "-version":
			if len(lead) == 0 {
				return args, nil
			}
			return append(append([]string{a}, lead...), args[i+1:]...), nil
		case "--":
			return nil, usageErrorf("missing command before --")
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		takesValue, ok := globalFlags[name]
		if !ok {
			return nil, usageErrorf("unknown flag %s before the command (want a command first: %s)", dashed(name), commandNames())
		}
		lead = append(lead, a)
		i++
		if takesValue && !hasValue {
			if i == len(args) {
				return nil, usageErrorf("flag %s needs a value", dashed(name))
			}
			lead = append(lead, args[i])
			i++
		}
	}
	if len(lead) == 0 {
		return args, nil
	}
	if i == len(args) {
		return nil, usageErrorf("missing command after %s (want %s)", strings.Join(lead, " "), commandNames())
	}
	return append(append([]string{args[i]}, lead...), args[i+1:]...), nil
}
