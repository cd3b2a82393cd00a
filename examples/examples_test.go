// Package examples_test runs every example program the way the README
// says to, without credentials: each must say on its first line that it
// uses the embedded exporttest server, and succeed.
package examples_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// emptySHA1 matches a "sha1" label followed by no hex digest.
var emptySHA1 = regexp.MustCompile(`sha1 (?:[^0-9a-f]|$)`)

var examples = []string{"brainbase", "memsolus", "orbit", "kore", "allvendors", "otel"}

// credentials are the variables that would send an example to a real API.
var credentials = []string{
	"BRAINBASE_LABS_API_KEY", "MEMSOLUS_API_KEY", "LEADPIPE_API_KEY", "KORE_CLIENT_ID", "KORE_CLIENT_SECRET",
}

func TestExamples(t *testing.T) {
	bin := t.TempDir()
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			exe := filepath.Join(bin, name)
			if out, err := exec.Command("go", "build", "-o", exe, "./"+name).CombinedOutput(); err != nil {
				t.Fatalf("go build ./examples/%s: %v\n%s", name, err, out)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, exe)
			tmp, work := t.TempDir(), t.TempDir()
			cmd.Dir = work
			cmd.Env = append(withoutCredentials(os.Environ()), "TMPDIR="+tmp)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			if err != nil {
				t.Fatalf("go run ./examples/%s: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout.String(), stderr.String())
			}
			first, _, _ := strings.Cut(stdout.String(), "\n")
			if !strings.Contains(first, "embedded exporttest server") {
				t.Errorf("first line %q does not say the example uses the embedded fake server", first)
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %s; an example against the fake should take a moment", took)
			}
			// Nothing left behind, in the temporary directory or here.
			for _, dir := range []string{tmp, work} {
				if left, _ := os.ReadDir(dir); len(left) > 0 {
					t.Errorf("left %s behind in %s", left[0].Name(), dir)
				}
			}
			// Output for people: no Go type names.
			if strings.Contains(stdout.String(), "*exportkit.") {
				t.Errorf("prints Go type names:\n%s", stdout.String())
			}
			// A SHA-1 printed is a SHA-1 computed: never "sha1 ," or "sha1 …".
			if emptySHA1.MatchString(stdout.String()) {
				t.Errorf("prints an empty SHA-1:\n%s", stdout.String())
			}
			if name == "kore" && !strings.Contains(stdout.String(), "60 requests a minute") {
				t.Errorf("does not say how Kore's pacing applies:\n%s", stdout.String())
			}
		})
	}
}

// TestExampleKeepsFilesWhenAsked: a directory given as argument keeps the
// file.
func TestExampleKeepsFilesWhenAsked(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "brainbase")
	if out, err := exec.Command("go", "build", "-o", exe, "./brainbase").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	keep := filepath.Join(t.TempDir(), "out")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, keep)
	cmd.Env = append(withoutCredentials(os.Environ()), "TMPDIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if files, _ := filepath.Glob(filepath.Join(keep, "brainbase-*.csv")); len(files) != 1 {
		t.Errorf("files kept in %s: %v", keep, files)
	}
}

func withoutCredentials(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, c := range credentials {
			keep = keep && name != c
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}
