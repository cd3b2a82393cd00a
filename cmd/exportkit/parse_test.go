package main

import (
	"strings"
	"testing"
)

// TestFlagParsing: flag errors name flags as the docs do, shared flags
// may come before the command, help takes one command or none, and a flag
// that takes a value never swallows the next flag.
func TestFlagParsing(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in the error line, or on stdout for exit 0
	}{
		{"unknown flag", []string{"get", "brainbase", "x", "--frob"}, exitUsage, "unknown flag --frob"},
		{"bad value", []string{"wait", "brainbase", "x", "--timeout", "soon"}, exitUsage, "--timeout soon: want a duration"},
		{"missing value", []string{"download", "brainbase", "x", "-o"}, exitUsage, "flag -o needs a value"},
		{"swallowed flag", []string{"download", "brainbase", "x", "-o", "--base-url", srv.URL()}, exitUsage, "flag -o needs a value, got the flag --base-url"},
		{"swallowed short flag", []string{"get", "brainbase", "x", "--base-url", "-q"}, exitUsage, "flag --base-url needs a value, got the flag -q"},
		{"json before the command", []string{"--json", "get", "brainbase", "x", "--base-url", srv.URL()}, exitError, `"kind":"not_found"`},
		{"base URL before the command", []string{"--base-url", srv.URL(), "get", "brainbase", "x"}, exitError, "404"},
		{"unknown flag before the command", []string{"--frob", "get"}, exitUsage, "unknown flag --frob before the command"},
		{"only flags", []string{"--json"}, exitUsage, "missing command"},
		{"help help", []string{"help", "help"}, exitOK, "Usage: exportkit help"},
		{"help with two commands", []string{"help", "get", "wait"}, exitUsage, `unexpected argument "wait"`},
		{"version", []string{"version", "x"}, exitUsage, `unexpected argument "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runWith(t, fakeEnv, tc.args...).must(t, tc.code)
			got := r.stdout
			if tc.code != exitOK {
				got = lastLine(r.stderr)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("exportkit %s: %q lacks %q", strings.Join(tc.args, " "), got, tc.want)
			}
			if strings.Contains(r.stderr, " -frob") || strings.Contains(r.stderr, " -timeout") {
				t.Errorf("a single-dash long flag name in %q", r.stderr)
			}
		})
	}
	for _, r := range srv.Requests() {
		if r.Path != "/api/team/logs/export/x" && !strings.HasSuffix(r.Path, "/x") {
			t.Errorf("bad input sent %s %s", r.Method, r.Path)
		}
	}
}
