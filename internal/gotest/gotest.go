// Package gotest runs one test of exportkit's internal/bench package with
// the go tool and streams its output. The measurements there need
// testing/synctest's fake clock, which exists only inside tests, so the
// commands that print them run the tests that hold them.
package gotest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Main runs `go test -v -run '^test$' -count=1 -timeout 30m ./internal/bench
// -args flags... os.Args[1:]...` from the module root, streaming its output,
// and exits with its status.
func Main(name, test string, flags ...string) {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	args := []string{"test", "-v", "-run", "^" + test + "$", "-count=1", "-timeout", "30m", "./internal/bench", "-args"}
	args = append(append(args, flags...), os.Args[1:]...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
}

// moduleRoot returns the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the exportkit module: run it from the repository")
	}
	return filepath.Dir(gomod), nil
}
