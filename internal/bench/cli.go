package bench

// The CLI's memory (issue 10: peak RSS under 64 MiB for a 4 GiB download),
// measured on the whole process: what the kernel counted, runtime and
// buffers included, not the Go heap alone.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// BuildCLI builds ./cmd/exportkit of the module that holds the working
// directory into dir and returns the binary's path.
func BuildCLI(ctx context.Context, dir string) (string, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "exportkit")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/exportkit")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/exportkit: %v\n%s", err, out)
	}
	return bin, nil
}

// ModuleRoot returns the directory of the exportkit module's go.mod, for
// commands run from anywhere inside the repository.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the exportkit module: run it from the repository")
	}
	return filepath.Dir(gomod), nil
}

// CLIRun is one `exportkit download` measured as a process.
type CLIRun struct {
	Output  string        // "file" (-o FILE) or "stdout" (-o - to /dev/null)
	Wall    time.Duration // start to exit
	PeakRSS int64         // bytes, the process's maximum resident set (RunPeakRSS)
}

// MeasureCLI runs bin (the exportkit CLI) to download size bytes over
// loopback from a [NewRangeServer] (ranges and a strong ETag, as S3 and B2
// have: a parallel engine fetches in parts), once to a file in dir and once
// to stdout (/dev/null), and returns the peak RSS of each. The export is a
// local Orbit status with the size and no SHA-1: the CLI verifies the size
// and hashes nothing, the common case.
func MeasureCLI(ctx context.Context, bin, dir string, size int64, args ...string) ([]CLIRun, error) {
	srv := NewRangeServer()
	defer srv.Close()
	api := httptest.NewServer(OrbitAPI(FileURL(srv, size), size, ""))
	defer api.Close()
	out := filepath.Join(dir, "cli-out.csv")
	defer os.Remove(out)
	var runs []CLIRun
	for _, to := range []string{"file", "stdout"} {
		target := out
		if to == "stdout" {
			target = "-"
		}
		cmdArgs := append([]string{"download", "orbit", OrbitExportID, "-o", target, "--force", "-q", "--json", "--base-url", api.URL}, args...)
		cmd := exec.CommandContext(ctx, bin, cmdArgs...)
		cmd.Env = append(os.Environ(), OrbitEnv...)
		cmd.WaitDelay = 5 * time.Second
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if to == "stdout" {
			devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
			if err != nil {
				return nil, err
			}
			defer devnull.Close()
			cmd.Stdout = devnull // an *os.File: the child writes to it directly
		}
		start := time.Now()
		peak, err := RunPeakRSS(cmd)
		if err != nil {
			return nil, fmt.Errorf("exportkit download to %s: %v: %s", to, err, strings.TrimSpace(stderr.String()))
		}
		wall := time.Since(start)
		if to == "file" {
			var v struct {
				Bytes    int64 `json:"bytes"`
				Verified bool  `json:"verified"`
			}
			if err := json.Unmarshal([]byte(stdout.String()), &v); err != nil || v.Bytes != size || !v.Verified {
				return nil, fmt.Errorf("exportkit download to a file: summary %q (%v), want %d bytes verified", stdout.String(), err, size)
			}
			os.Remove(out)
		}
		runs = append(runs, CLIRun{Output: to, Wall: wall, PeakRSS: peak})
	}
	return runs, nil
}
