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
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
			tmp := t.TempDir() // the examples save their files under the temp dir
			cmd.Dir = tmp
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
		})
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
