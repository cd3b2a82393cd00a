//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/exportkit/exportkit/exporttest"
)

// fakeVars are the variables exportkit fake prints, in order.
var fakeVars = []string{
	"BRAINBASE_LABS_BASE_URL", "MEMSOLUS_BASE_URL", "LEADPIPE_BASE_URL", "KORE_HOST",
	"BRAINBASE_LABS_API_KEY", "MEMSOLUS_API_KEY", "LEADPIPE_API_KEY", "KORE_CLIENT_ID", "KORE_CLIENT_SECRET",
	"LEADPIPE_AUDIENCE_ID", "KORE_BOT_ID", "EXPORTTEST_URL",
}

// parseDotenv reads NAME=VALUE lines, checking they are exactly fakeVars.
func parseDotenv(t *testing.T, text string) (map[string]string, []string) {
	t.Helper()
	vars := map[string]string{}
	var env []string
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		name, value, ok := strings.Cut(line, "=")
		if !ok || i >= len(fakeVars) || name != fakeVars[i] || value == "" || strings.ContainsAny(value, " '\"$") {
			t.Fatalf("line %d %q: want %s=VALUE, a plain value\n%s", i+1, line, fakeVars[min(i, len(fakeVars)-1)], text)
		}
		vars[name] = value
		env = append(env, line)
	}
	if len(vars) != len(fakeVars) {
		t.Fatalf("%d variables, want %d:\n%s", len(vars), len(fakeVars), text)
	}
	return vars, env
}

// admin reads an admin endpoint of the fake at base.
func admin(t *testing.T, base, name string, v any) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(base + exporttest.AdminPath + name)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", name, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// startFake runs the exportkit binary's fake with args and returns its
// variables once it listens; it is stopped with SIGTERM at the end of the
// test, and must then exit 0.
func startFake(t *testing.T, args ...string) (vars map[string]string, env []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := command(ctx, nil, append([]string{"fake"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		defer cancel()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM: %v", err)
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != exitOK {
			t.Errorf("fake exited %d after SIGTERM, want 0\n%s", code, stderr.String())
		}
		if !strings.HasSuffix(stderr.String(), "exportkit fake: stopped\n") {
			t.Errorf("stderr does not end with the stop line:\n%s", stderr.String())
		}
	})
	var text strings.Builder
	sc := bufio.NewScanner(stdout)
	for range fakeVars {
		if !sc.Scan() {
			t.Fatalf("fake ended before printing its environment (%v):\n%s\n%s", sc.Err(), text.String(), stderr.String())
		}
		text.WriteString(sc.Text() + "\n")
	}
	return parseDotenv(t, text.String())
}

func sha1Of(b []byte) string {
	h := sha1.Sum(b)
	return hex.EncodeToString(h[:])
}

// The fake as a program: its environment points the CLI at it, it keeps
// state, answers what it holds, and stops on SIGTERM.
func TestFakeProcess(t *testing.T) {
	t.Parallel()
	envFile := filepath.Join(t.TempDir(), "fake.env")
	vars, env := startFake(t, "--env-file", envFile, "--ready-after", "0", "--file-size", "64KiB")
	b, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if fileVars, _ := parseDotenv(t, string(b)); len(fileVars) != len(vars) || fileVars["EXPORTTEST_URL"] != vars["EXPORTTEST_URL"] {
		t.Errorf("--env-file differs from stdout:\n%s", b)
	}
	if fi, err := os.Stat(envFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("env file mode: %v %v, want 0600", fi.Mode(), err)
	}

	id := strings.TrimSpace(runWith(t, env, "create", "brainbase", "--format", "CSV", "-q").must(t, exitOK).stdout)
	out := filepath.Join(t.TempDir(), "logs.csv")
	runWith(t, env, "download", "brainbase", id, "-o", out, "-q", "--poll-interval", "10ms").must(t, exitOK)
	runWith(t, env, "create", "orbit", vars["LEADPIPE_AUDIENCE_ID"], "-q").must(t, exitOK)
	runWith(t, env, "create", "kore", vars["KORE_BOT_ID"], "-q").must(t, exitOK)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 64<<10 || !strings.HasPrefix(string(got), "id,timestamp,") {
		t.Errorf("downloaded %d bytes: %.60q", len(got), got)
	}

	var exports []exporttest.ExportInfo
	admin(t, vars["EXPORTTEST_URL"], "exports", &exports)
	if len(exports) != 3 {
		t.Fatalf("fake holds %d exports, want 3: %+v", len(exports), exports)
	}
	if e := exports[0]; e.ID != id || e.State != "ready" || e.SHA1 != sha1Of(got) || e.Size != 64<<10 {
		t.Errorf("brainbase export %+v, want ready with the downloaded file's SHA-1 %s", e, sha1Of(got))
	}
	if e := exports[1]; e.Kind != "run" || e.AudienceID != vars["LEADPIPE_AUDIENCE_ID"] {
		t.Errorf("orbit run %+v", e)
	}
	if e := exports[2]; e.BotID != vars["KORE_BOT_ID"] {
		t.Errorf("kore export %+v", e)
	}
	var reqs []map[string]any
	admin(t, vars["EXPORTTEST_URL"], "requests", &reqs)
	if len(reqs) < 5 || reqs[0]["method"] != "POST" || reqs[0]["status"] != 201.0 {
		t.Errorf("requests: %v", reqs)
	}
}

// With every create reply lost, the CLI's create fails, and the fake holds
// the export it made all the same.
func TestFakeLosesCreateReplies(t *testing.T) {
	t.Parallel()
	vars, env := startFake(t, "--lose-create-replies", "1")
	r := runWith(t, env, "create", "memsolus", "--format", "json", "-q")
	if r.code != exitError {
		t.Fatalf("create exit %d, want %d:\n%s", r.code, exitError, r.stderr)
	}
	var exports []exporttest.ExportInfo
	admin(t, vars["EXPORTTEST_URL"], "exports", &exports)
	if len(exports) != 1 || exports[0].Vendor != "memsolus" {
		t.Fatalf("exports %+v, want the one memsolus export", exports)
	}
	var reqs []map[string]any
	admin(t, vars["EXPORTTEST_URL"], "requests", &reqs)
	if len(reqs) != 1 || reqs[0]["status"] != 0.0 {
		t.Errorf("requests %v, want one create with status 0", reqs)
	}
}

// syncBuffer is a bytes.Buffer safe to write from the command's goroutine
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// In process, as run calls it: cancelling the context (Ctrl-C) stops the
// fake with exit 0.
func TestFakeInProcess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"fake", "--addr", "localhost:0"}, &stdout, &stderr) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), "EXPORTTEST_URL=") {
		select {
		case code := <-done:
			t.Fatalf("exited %d:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no environment after 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	vars, _ := parseDotenv(t, stdout.String())
	var exports []exporttest.ExportInfo
	admin(t, vars["EXPORTTEST_URL"], "exports", &exports)
	if len(exports) != 0 {
		t.Errorf("a new fake holds %v", exports)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d after cancel, want 0:\n%s", code, stderr.String())
	}
}

func TestFakeRefuses(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--addr", "0.0.0.0:0"}, exitUsage, "serve on a loopback host"},
		{[]string{"--addr", "example.com:80"}, exitUsage, "serve on a loopback host"},
		{[]string{"--addr", "127.0.0.1"}, exitUsage, "want HOST:PORT"},
		{[]string{"--addr", "127.0.0.1:http"}, exitUsage, "is not a port"},
		{[]string{"--lose-create-replies", "1.5"}, exitUsage, "not a rate from 0 to 1"},
		{[]string{"--lose-create-replies", "NaN"}, exitUsage, "not a rate from 0 to 1"},
		{[]string{"--ready-after", "-1"}, exitUsage, "want 0 or more"},
		{[]string{"--file-size", "lots"}, exitUsage, "not a size"},
		{[]string{"extra"}, exitUsage, `unexpected argument "extra"`},
		{[]string{"--addr", busy.Addr().String()}, exitError, "address already in use"},
		{[]string{"--env-file", filepath.Join(t.TempDir(), "no", "such", "dir", "f.env")}, exitError, "--env-file"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), append([]string{"fake"}, tc.args...), &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("fake %v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), tc.code, tc.msg)
		}
		if stdout.Len() > 0 {
			t.Errorf("fake %v printed %q", tc.args, stdout.String())
		}
	}
}
