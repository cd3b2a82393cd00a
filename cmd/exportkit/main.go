// Command exportkit creates, waits for and downloads vendor exports from the
// command line, and shows the whole SDK at work against a built-in fake of
// the four vendor APIs with "exportkit demo".
//
// Usage:
//
//	exportkit demo [--dir DIR]
//	exportkit create   <vendor> [ID] [flags]
//	exportkit get      <vendor> <ID> [flags]
//	exportkit wait     <vendor> <ID> [flags]
//	exportkit download <vendor> <ID> -o FILE|- [flags]
//	exportkit list     <vendor> [ID] [flags]
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
// Exit codes: 0 ok, 1 error, 2 usage (bad arguments, unknown vendor,
// malformed id or any other input the SDK refuses, missing credentials,
// output file exists without --force), 3 export failed or canceled,
// 4 export expired, 5 timed out, 130 interrupted (Ctrl-C).
//
// Under --json, an error is one JSON object on stderr:
// {"error": "exportkit: …", "code": "…", "kind": "…", "exit": N}, where kind
// names what went wrong (usage, invalid_input, not_found, unauthorized,
// forbidden, rate_limited, timeout, export_failed, export_expired,
// export_canceled, export_superseded, checksum_mismatch, size_mismatch,
// unsafe_url, file_changed, interrupted or error) and code is the vendor's
// own error code when it sent one (QUERY_TIMEOUT, 4002, …), else the kind.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/exportkit/exportkit"
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

const usage = `exportkit: create, wait for and download vendor exports.

Usage:
  exportkit demo [--dir DIR]                  all four vendors against a built-in fake server
  exportkit create   <vendor> [ID] [flags]    start an export; prints its id
  exportkit get      <vendor> <ID> [flags]    read an export's status once
  exportkit wait     <vendor> <ID> [flags]    poll until the export is ready, failed or expired
  exportkit download <vendor> <ID> -o FILE    wait, then download and verify (-o - for stdout,
                                              -o s3://BUCKET/KEY for an S3 object)
  exportkit list     <vendor> [ID] [flags]    list exports (memsolus) or an audience's runs (orbit)
  exportkit clean s3://BUCKET/PREFIX --older-than 24h
                                              abort the S3 uploads killed deliveries left
  exportkit help     <command>                a command's flags, valid values and examples

Vendors and ids:
  brainbase  ID is the export id
  memsolus   ID is the export id
  orbit      ID is AUDIENCE/RUN/EXPORT. create AUDIENCE starts a run;
             create AUDIENCE/RUN creates the run's CSV export; wait and get
             take AUDIENCE/RUN too; download AUDIENCE/RUN waits for the run,
             creates its export and downloads it; list AUDIENCE lists runs
  kore       ID is the bot id (Kore keeps one export per bot: the latest)

Flags (create, get, wait, download, list):
  --json                 machine-readable output on stdout, and errors as
                         JSON on stderr
  --quiet, -q            no status or progress lines on stderr
  --base-url URL         the vendor's API base URL (default: the SDK's, or
                         $BRAINBASE_LABS_BASE_URL, $MEMSOLUS_BASE_URL,
                         $LEADPIPE_BASE_URL, $KORE_HOST); without a scheme,
                         http for localhost, https otherwise
  --timeout DURATION     give up after this long (exit 5); positive
  --poll-interval MIN[,MAX]
                         delay between status reads (default 2s,15s)
Each command takes more: "exportkit help <command>" lists them.

Credentials (environment):
  BRAINBASE_LABS_API_KEY, MEMSOLUS_API_KEY, LEADPIPE_API_KEY,
  KORE_CLIENT_ID and KORE_CLIENT_SECRET

Exit codes:
` + exitCodesText + `
Errors under --json: {"error": "…", "code": "…", "kind": "…", "exit": N} on
stderr; kind is usage, invalid_input, not_found, unauthorized, forbidden,
rate_limited, timeout, export_failed, export_expired, export_canceled,
export_superseded, checksum_mismatch, size_mismatch, unsafe_url,
file_changed, interrupted or error; code is the vendor's own error code when
it sent one, else the kind.
`

// exitCodesText is the exit codes, as every usage text lists them.
const exitCodesText = `  0 ok, 1 error, 2 usage (bad arguments, unknown vendor, malformed id or
  other input the SDK refuses, missing credentials, output file exists
  without --force), 3 export failed or canceled, 4 export expired,
  5 timed out, 130 interrupted
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code. Errors are
// printed here, once, as one line on stderr.
// Under --json the error is one JSON object instead (see errorJSON).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, stdout, stderr)
	if errors.Is(err, errHelp) {
		err = nil
	}
	code := exitCode(ctx, err)
	if err == nil || errors.Is(err, errReported) {
		return code
	}
	msg := oneLine(err)
	if code == exitInterrupted {
		msg = "exportkit: interrupted"
	}
	if wantsJSON(args) {
		b, _ := json.Marshal(errorJSON{Error: msg, Code: errorCode(err, code), Kind: errorKind(err, code), Exit: code})
		fmt.Fprintf(stderr, "%s\n", b)
	} else {
		fmt.Fprintln(stderr, msg)
	}
	return code
}

// errorJSON is an error as --json prints it on stderr.
type errorJSON struct {
	Error string `json:"error"` // the message, as printed without --json
	Code  string `json:"code"`  // the vendor's error code, or Kind
	Kind  string `json:"kind"`  // what went wrong: see errorKinds
	Exit  int    `json:"exit"`  // the exit code
}

// errorKindRow is what an error is, for scripts (kind) and for the exit
// code.
type errorKindRow struct {
	err  error
	kind string
	exit int
}

// errorKinds name, in order of precedence, what an error is and the exit
// code it gives; an error none matches is "error", exit 1.
var errorKinds = []errorKindRow{
	{exportkit.ErrInvalidInput, "invalid_input", exitUsage},
	{exportkit.ErrWaitTimeout, "timeout", exitTimeout},
	{context.DeadlineExceeded, "timeout", exitTimeout},
	{exportkit.ErrExportFailed, "export_failed", exitFailed},
	{exportkit.ErrExportExpired, "export_expired", exitExpired},
	{exportkit.ErrExportCanceled, "export_canceled", exitFailed},
	{exportkit.ErrExportSuperseded, "export_superseded", exitFailed},
	{exportkit.ErrNotFound, "not_found", exitError},
	{exportkit.ErrUnauthorized, "unauthorized", exitError},
	{exportkit.ErrForbidden, "forbidden", exitError},
	{exportkit.ErrRateLimited, "rate_limited", exitError},
	{exportkit.ErrNotReady, "not_ready", exitError},
	{exportkit.ErrChecksumMismatch, "checksum_mismatch", exitError},
	{exportkit.ErrSizeMismatch, "size_mismatch", exitError},
	{exportkit.ErrFileChanged, "file_changed", exitError},
	{exportkit.ErrUnsafeURL, "unsafe_url", exitError},
}

// classify returns err's row of errorKinds.
func classify(err error) errorKindRow {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k
		}
	}
	return errorKindRow{kind: "error", exit: exitError}
}

// errorKind names what err is, for scripts: a word of errorKinds, "usage",
// "interrupted" or "error".
func errorKind(err error, code int) string {
	var ue *usageError
	switch {
	case code == exitInterrupted:
		return "interrupted"
	case errors.As(err, &ue):
		return "usage"
	}
	return classify(err).kind
}

// errorCode is the vendor's own code for err when it sent one (an export's
// failure code, an API error's code), else its kind.
func errorCode(err error, code int) string {
	var ee *exportkit.ExportError
	if errors.As(err, &ee) && ee.Code != "" {
		return ee.Code
	}
	var ae *exportkit.APIError
	if errors.As(err, &ae) && ae.Code != "" {
		return ae.Code
	}
	return errorKind(err, code)
}

// wantsJSON reports whether the command line asks for --json, so that an
// error found while parsing it is JSON too.
func wantsJSON(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--json", "-json", "--json=true", "-json=true":
			return true
		}
	}
	return false
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errReported
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && cmd == "help" && !strings.HasPrefix(rest[0], "-") {
			return commandHelp(rest[0], stdout)
		}
		fmt.Fprint(stdout, usage)
		return nil
	case "version", "--version":
		fmt.Fprintf(stdout, "exportkit %s\n", exportkit.Version)
		return nil
	case "demo":
		return demoCommand(ctx, rest, stdout, stderr)
	case "clean":
		return cleanCommand(ctx, rest, stdout, stderr)
	case "create", "get", "wait", "download", "list":
		return vendorCommand(ctx, cmd, rest, stdout, stderr)
	}
	return usageErrorf("unknown command %q (want demo, create, get, wait, download, list or clean)", cmd)
}

// usageError is a command line that cannot run as it is: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return "exportkit: " + e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errReported is an error whose message has already been printed (the
// usage text); run only sets the exit code. Its exit code is usage.
var errReported = &usageError{"usage"}

// exitCode maps an error to the documented exit codes.
func exitCode(ctx context.Context, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	}
	k := classify(err)
	if k.exit != exitUsage && ctx.Err() != nil {
		// Whatever failed after Ctrl-C failed because of it.
		return exitInterrupted
	}
	return k.exit
}

// oneLine makes sure an error is printed as one line, with the
// "exportkit: " prefix every message of the SDK has.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if !strings.HasPrefix(s, "exportkit: ") {
		s = "exportkit: " + s
	}
	return s
}

// parseFlags parses args with fs, allowing flags after positional
// arguments ("exportkit download brainbase ID -o out.csv"), and returns the
// positional ones. A flag error is a usage error; -h prints the command's
// usage.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeCommandUsage(stdout, fs)
				return nil, errHelp
			}
			return nil, usageErrorf("%s: %v", fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// errHelp ends a command after -h printed the usage: exit code 0.
var errHelp = errors.New("help")
