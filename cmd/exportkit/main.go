// Command exportkit creates, waits for and downloads vendor exports from the
// command line, and shows the whole SDK at work against a built-in fake of
// the four vendor APIs with "exportkit demo".
//
// Usage:
//
//	exportkit demo [--dir DIR] [--json] [--quiet]
//	exportkit create   <vendor> [ID] [flags]
//	exportkit get      <vendor> <ID> [flags]
//	exportkit wait     <vendor> <ID> [flags]
//	exportkit download <vendor> <ID> -o FILE|- [flags]
//	exportkit list     <vendor> [ID] [flags]
//	exportkit fake     [flags]
//	exportkit help     [command]
//
// Vendors are brainbase, memsolus, orbit and kore. Credentials come from the
// same environment variables as the SDK's: BRAINBASE_LABS_API_KEY,
// MEMSOLUS_API_KEY, LEADPIPE_API_KEY, KORE_CLIENT_ID and KORE_CLIENT_SECRET
// (and the *_BASE_URL / KORE_HOST variables, or --base-url, for where the
// API is). Run "exportkit help" for the ids each vendor takes, and
// "exportkit help COMMAND" (or "exportkit COMMAND --help") for a command's
// flags, valid values and examples.
//
// Each command is one file of this package, listed in the commands table
// of main.go (see cliCommand): adding one is a file and a line.
//
// Exit codes: 0 ok, 1 error, 2 usage (bad arguments, unknown vendor,
// malformed id or any other input the SDK or the vendor refuses as such,
// missing credentials, an output path that is a directory, exists without
// --force or cannot be written), 3 export failed or canceled, 4 export
// expired, 5 timed out, 130 interrupted (Ctrl-C).
//
// Under --json, an error is one JSON object on stderr:
// {"error": "exportkit: …", "code": "…", "kind": "…", "exit": N}, where kind
// names what went wrong (usage, invalid_input, not_found, unauthorized,
// forbidden, rate_limited, not_ready, timeout, export_failed, export_expired,
// export_canceled, export_superseded, checksum_mismatch, size_mismatch,
// unsafe_url, file_changed, interrupted or error) and code is the vendor's
// own error code when it sent one (QUERY_TIMEOUT, 4002, …), else the kind.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes, documented in the package comment and in usage.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitFailed      = 3
	exitExpired     = 4
	exitTimeout     = 5
	exitInterrupted = 130
)

// commands is every command of exportkit, in the order "exportkit help"
// lists them.
//
// Adding a command is one new file that defines its *cliCommand (see
// command.go: its name, usage line, help text, flags and what it runs) and
// one line here. A command that acts on a vendor's export builds itself
// with vendorCommand, which gives it the shared flags (--json, --quiet,
// --base-url, --timeout) and a client; any other command gets its output
// streams and clients from the *factory it is run with.
//
// The table is filled in init, not in its declaration, because help reads
// it: a declaration would be an initialization cycle.
var commands []*cliCommand

func init() {
	commands = []*cliCommand{
		demoCmd,
		createCmd,
		getCmd,
		waitCmd,
		downloadCmd,
		listCmd,
		syncCmd,
		fakeCmd,
		cleanCmd,
		helpCmd,
		versionCmd,
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// lookup returns the command called name, or nil.
func lookup(name string) *cliCommand {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// commandNames lists the commands for a message: "demo, create, … or list".
func commandNames() string {
	var names []string
	for _, c := range commands {
		if !c.hidden {
			names = append(names, c.name)
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// usageText is the usage "exportkit help" prints: every command of the
// table, then what they share.
func usageText() string {
	var b strings.Builder
	b.WriteString("exportkit: create, wait for and download vendor exports.\n\nUsage:\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		if c.hidden {
			continue
		}
		head := fmt.Sprintf("exportkit %-*s %s", width, c.name, c.usageArgs())
		if len(head) > 42 {
			fmt.Fprintf(&b, "  %s\n  %44s%s\n", head, "", c.short)
			continue
		}
		fmt.Fprintf(&b, "  %-43s %s\n", head, c.short)
	}
	b.WriteString(usageShared)
	return b.String()
}

// usageShared is the part of the usage that is not per command.
const usageShared = `
Vendors and ids:
  brainbase  ID is the export id
  memsolus   ID is the export id
  orbit      ID is AUDIENCE/RUN/EXPORT. create AUDIENCE starts a run;
             create AUDIENCE/RUN creates the run's CSV export; wait and get
             take AUDIENCE/RUN too; download AUDIENCE/RUN waits for the run,
             creates its export and downloads it; list AUDIENCE lists runs
  kore       ID is the bot id (Kore keeps one export per bot: the latest)

Flags (create, get, wait, download, list; also before the command):
  --json                 machine-readable output on stdout, and errors as
                         JSON on stderr
  --quiet, -q            no status or progress lines on stderr
  --base-url URL         the vendor's API base URL (default: the SDK's, or
                         $BRAINBASE_LABS_BASE_URL, $MEMSOLUS_BASE_URL,
                         $LEADPIPE_BASE_URL, $KORE_HOST); without a scheme,
                         http for localhost, https otherwise
  --timeout DURATION     give up after this long (exit 5): one deadline
                         for the whole command, the transfer included
  --poll-interval MIN[,MAX]
                         delay between status reads (wait, download;
                         default 2s,15s)
Each command takes more: "exportkit help <command>" lists them.

Credentials (environment):
  BRAINBASE_LABS_API_KEY, MEMSOLUS_API_KEY, LEADPIPE_API_KEY,
  KORE_CLIENT_ID and KORE_CLIENT_SECRET

Exit codes:
` + exitCodesText + `
Errors under --json: {"error": "…", "code": "…", "kind": "…", "exit": N} on
stderr; kind is one of
` + kindsText + `;
code is the vendor's own error code when it sent one, else the kind.
`

// exitCodesText is the exit codes, as every usage text lists them.
const exitCodesText = `  0 ok, 1 error, 2 usage (bad arguments, unknown vendor, malformed id or
  other input the SDK or the vendor refuses as such, missing credentials,
  an output path that is a directory, exists without --force or cannot
  be written), 3 export failed or canceled, 4 export expired, 5 timed out,
  130 interrupted
`
