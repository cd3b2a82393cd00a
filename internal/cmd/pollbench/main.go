// Command pollbench prints the polling measurements of QUALITY.md item 18:
// requests per wait and detection lag for the default schedule and for a
// fixed 5 s poll, over ready times drawn from U[2s,60s] and U[60s,900s],
// and how far 1,000 waits started together stay in lockstep, each goal
// marked PASS or FAIL.
//
// The simulation runs on testing/synctest's fake clock, which exists only
// inside tests, so this command runs the test that holds it:
//
//	go test -v -run '^TestPollBench$' -count=1 ./internal/bench -args -bench.poll
//
// from the module root, streaming its output and exiting with its status.
// Arguments are passed on to the test, for example:
//
//	go run ./internal/cmd/pollbench -bench.waits=10000 -bench.burst=1000
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pollbench:", err)
		os.Exit(2)
	}
	args := []string{"test", "-v", "-run", "^TestPollBench$", "-count=1", "./internal/bench", "-args", "-bench.poll"}
	args = append(args, os.Args[1:]...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "pollbench:", err)
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
