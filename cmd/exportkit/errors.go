package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/exportkit/exportkit"
)

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

// kindsText lists the error kinds of --json, as the usage texts say them.
const kindsText = `  usage, invalid_input, not_found, unauthorized, forbidden, rate_limited,
  not_ready, timeout, export_failed, export_expired, export_canceled,
  export_superseded, checksum_mismatch, size_mismatch, unsafe_url,
  file_changed, interrupted or error`
