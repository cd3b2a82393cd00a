package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// bin is the exportkit binary under test, built once by TestMain: these
// tests run the command as a user does, as a separate process.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "exportkit-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "exportkit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { os.RemoveAll(dir) }))
}

// result is how a run of the command ended.
type result struct {
	code           int
	stdout, stderr string
}

// vendorEnv is every environment variable the SDK reads, so that the
// tests neither see the developer's real keys nor depend on them.
var vendorEnv = []string{
	exportkit.EnvBrainbaseAPIKey, exportkit.EnvBrainbaseBaseURL, exportkit.EnvMemsolusAPIKey,
	exportkit.EnvMemsolusBaseURL, exportkit.EnvLeadpipeAPIKey, exportkit.EnvLeadpipeBaseURL,
	exportkit.EnvKoreClientID, exportkit.EnvKoreClientSecret, exportkit.EnvKoreHost,
}

// fakeEnv holds the credentials exporttest accepts, as the SDK reads them.
var fakeEnv = []string{
	exportkit.EnvBrainbaseAPIKey + "=" + exporttest.BrainbaseAPIKey,
	exportkit.EnvMemsolusAPIKey + "=" + exporttest.MemsolusAPIKey,
	exportkit.EnvLeadpipeAPIKey + "=" + exporttest.OrbitAPIKey,
	exportkit.EnvKoreClientID + "=" + exporttest.KoreClientID,
	exportkit.EnvKoreClientSecret + "=" + exporttest.KoreClientSecret,
}

// command returns the command line args with env, without the vendor
// variables of the test's own environment.
func command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !contains(vendorEnv, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runWith runs the command with env and returns how it ended.
func runWith(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := command(ctx, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("exportkit %s: %v", strings.Join(args, " "), err)
	}
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("exportkit %s crashed:\n%s", strings.Join(args, " "), r.stderr)
	}
	return r
}

// cli runs the command against srv with the fake's credentials and fast
// polling.
func cli(t *testing.T, srv *exporttest.Server, args ...string) result {
	t.Helper()
	if len(args) > 0 && args[0] != "demo" {
		args = append(args, "--base-url", srv.URL())
	}
	if len(args) > 0 && (args[0] == "wait" || args[0] == "download") {
		args = append(args, "--poll-interval", "10ms,50ms")
	}
	return runWith(t, fakeEnv, args...)
}

// must fails the test unless r ended with code want.
func (r result) must(t *testing.T, want int) result {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
	return r
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// errorLine checks that stderr ends with one error line, after the status
// lines if any, and returns it.
func errorLine(t *testing.T, r result) string {
	t.Helper()
	var errs []string
	for _, l := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
		if strings.HasPrefix(l, "exportkit: ") {
			errs = append(errs, l)
		}
	}
	if len(errs) != 1 || lastLine(r.stderr) != errs[0] {
		t.Fatalf("stderr does not end with one error line:\n%s", r.stderr)
	}
	return errs[0]
}

func newServer(t *testing.T, opts ...exporttest.Option) *exporttest.Server {
	t.Helper()
	srv := exporttest.NewServer(append([]exporttest.Option{exporttest.ReadyAfter(2), exporttest.FileSize(256 << 10)}, opts...)...)
	t.Cleanup(srv.Close)
	return srv
}

// TestVendorFlows runs create, get, wait and download for every vendor,
// as a script would: the id create prints is what the next command takes.
func TestVendorFlows(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vendor exportkit.Vendor
		create []string // create's arguments after the vendor
	}{
		{exportkit.Brainbase, []string{"--format", "CSV", "--since", "2025-01-01"}},
		{exportkit.Memsolus, []string{"--format", "csv", "--category", "billing", "--category", "support"}},
		{exportkit.Kore, []string{"st-bot-1", "--type", "published"}},
	} {
		t.Run(string(tc.vendor), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			v := string(tc.vendor)
			id := strings.TrimSpace(cli(t, srv, append([]string{"create", v}, tc.create...)...).must(t, exitOK).stdout)
			if id == "" {
				t.Fatal("create printed no id")
			}
			get := cli(t, srv, "get", v, id).must(t, exitOK)
			if !strings.Contains(get.stdout, "state") || !strings.Contains(get.stdout, id) {
				t.Errorf("get output:\n%s", get.stdout)
			}
			wait := cli(t, srv, "wait", v, id).must(t, exitOK)
			if !strings.Contains(wait.stdout, "ready") {
				t.Errorf("wait output:\n%s", wait.stdout)
			}
			out := filepath.Join(t.TempDir(), "export.bin")
			r := cli(t, srv, "download", v, id, "-o", out)
			r.must(t, exitOK)
			exportID := id
			if tc.vendor == exportkit.Kore {
				exportID = koreExportID(t, srv, id)
			}
			checkFile(t, out, srv.File(tc.vendor, exportID))
			if !strings.Contains(r.stdout, "sha1") {
				t.Errorf("download summary:\n%s", r.stdout)
			}
		})
	}
}

// koreExportID is the _id of the bot's latest export.
func koreExportID(t *testing.T, srv *exporttest.Server, bot string) string {
	t.Helper()
	c := srv.Client()
	e, err := c.Bots.ExportStatus(context.Background(), bot)
	if err != nil {
		t.Fatal(err)
	}
	return e.ID
}

func checkFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, want the server's %d bytes", path, len(got), len(want))
	}
	if _, err := os.Stat(path + ".partial"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s.partial left behind", path)
	}
}

// TestOrbit runs an audience run and its export, with the ids Orbit needs:
// AUDIENCE, AUDIENCE/RUN, AUDIENCE/RUN/EXPORT.
func TestOrbit(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	run := strings.TrimSpace(cli(t, srv, "create", "orbit", "aud-1").must(t, exitOK).stdout)
	if !strings.HasPrefix(run, "aud-1/") || strings.Count(run, "/") != 1 {
		t.Fatalf("create orbit AUDIENCE printed %q, want aud-1/RUN", run)
	}
	list := cli(t, srv, "list", "orbit", "aud-1").must(t, exitOK)
	if !strings.Contains(list.stdout, run) {
		t.Errorf("list orbit aud-1 lacks %s:\n%s", run, list.stdout)
	}
	cli(t, srv, "wait", "orbit", run).must(t, exitOK)
	get := cli(t, srv, "get", "orbit", run, "--json").must(t, exitOK)
	var v map[string]any
	if err := json.Unmarshal([]byte(get.stdout), &v); err != nil || v["state"] != "ready" || v["id"] != run {
		t.Errorf("get orbit %s --json: %v, %v\n%s", run, v, err, get.stdout)
	}
	ref := strings.TrimSpace(cli(t, srv, "create", "orbit", run).must(t, exitOK).stdout)
	if !strings.HasPrefix(ref, run+"/") {
		t.Fatalf("create orbit AUDIENCE/RUN printed %q, want %s/EXPORT", ref, run)
	}
	out := filepath.Join(t.TempDir(), "audience.csv")
	r := cli(t, srv, "download", "orbit", ref, "-o", out, "--json")
	r.must(t, exitOK)
	var d downloadView
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatalf("download --json: %v\n%s", err, r.stdout)
	}
	want := srv.File(exportkit.Orbit, ref[strings.LastIndex(ref, "/")+1:])
	checkFile(t, out, want)
	if d.Bytes != int64(len(want)) || !d.Verified || len(d.SHA1) != 40 || d.ID != ref || d.Path != out {
		t.Errorf("download --json = %+v", d)
	}

	// AUDIENCE/RUN downloads too: the run's export is created or reused.
	run2 := strings.TrimSpace(cli(t, srv, "create", "orbit", "aud-1", "--quiet").must(t, exitOK).stdout)
	out2 := filepath.Join(t.TempDir(), "audience2.csv")
	cli(t, srv, "download", "orbit", run2, "-o", out2).must(t, exitOK)
	if fi, err := os.Stat(out2); err != nil || fi.Size() == 0 {
		t.Errorf("download orbit AUDIENCE/RUN: %v", err)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	r := cli(t, srv, "create", "brainbase", "--json").must(t, exitOK)
	var created map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("create --json: %v\n%s", err, r.stdout)
	}
	id, _ := created["id"].(string)
	if id == "" || created["vendor"] != "brainbase" || created["state"] != "pending" || created["raw"] == nil {
		t.Fatalf("create --json = %v", created)
	}
	r = cli(t, srv, "wait", "brainbase", id, "--json").must(t, exitOK)
	var waited map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &waited); err != nil {
		t.Fatalf("wait --json: %v\n%s", err, r.stdout)
	}
	if waited["state"] != "ready" || waited["status"] != "COMPLETED" || waited["size"] != float64(256<<10) {
		t.Errorf("wait --json = %v", waited)
	}

	r = cli(t, srv, "list", "memsolus").must(t, exitOK)
	if !strings.Contains(r.stderr, "memsolus: no exports") || strings.TrimSpace(r.stdout) != "ID  STATE  STATUS  SIZE" {
		t.Errorf("an empty list: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	ms := strings.TrimSpace(cli(t, srv, "create", "memsolus").must(t, exitOK).stdout)
	r = cli(t, srv, "list", "memsolus", "--json").must(t, exitOK)
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0]["id"] != ms {
		t.Errorf("list memsolus --json = %v, %v; want one export %s", list, err, ms)
	}
}

func TestDownloadToStdout(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ref, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	r := cli(t, srv, "download", "brainbase", ref.ID, "-o", "-")
	r.must(t, exitOK)
	if !bytes.Equal([]byte(r.stdout), srv.File(exportkit.Brainbase, ref.ID)) {
		t.Errorf("stdout has %d bytes, not the file", len(r.stdout))
	}
	if !strings.Contains(r.stderr, "stdout:") {
		t.Errorf("the summary belongs on stderr when the file goes to stdout:\n%s", r.stderr)
	}
}

// TestExitCodes checks the documented exit codes of an export that ends
// badly: 3 failed, 4 expired, 5 timed out, each with one error line.
func TestExitCodes(t *testing.T) {
	t.Parallel()
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, exporttest.FailWith("QUERY_TIMEOUT", "the query took too long"))
		r := cli(t, srv, "create", "orbit", "aud-9").must(t, exitOK)
		run := strings.TrimSpace(r.stdout)
		r = cli(t, srv, "wait", "orbit", run).must(t, exitFailed)
		if line := errorLine(t, r); !strings.Contains(line, "QUERY_TIMEOUT: the query took too long") {
			t.Errorf("error line %q lacks the vendor's code and message", line)
		}
		if !strings.Contains(r.stdout, "failed") {
			t.Errorf("wait prints the failed export:\n%s", r.stdout)
		}
		cli(t, srv, "download", "orbit", run, "-o", filepath.Join(t.TempDir(), "x.csv")).must(t, exitFailed)
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		ref, err := srv.AddExport(exportkit.Memsolus)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Expire(exportkit.Memsolus, ref.ID); err != nil {
			t.Fatal(err)
		}
		errorLine(t, cli(t, srv, "wait", "memsolus", ref.ID).must(t, exitExpired))
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, exporttest.ReadyAfter(1_000_000))
		id := strings.TrimSpace(cli(t, srv, "create", "brainbase").must(t, exitOK).stdout)
		r := cli(t, srv, "wait", "brainbase", id, "--timeout", "300ms").must(t, exitTimeout)
		errorLine(t, r)
	})
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t)
		errorLine(t, cli(t, srv, "get", "brainbase", "exp_nope").must(t, exitError))
	})
}

// TestBadInput: what a person gets wrong is one line on stderr and the
// documented exit code, never a stack trace, and nothing is sent.
func TestBadInput(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.csv")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	notADir := filepath.Join(dir, "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	noKeys := func(args ...string) result {
		return runWith(t, nil, append(args, "--base-url", srv.URL())...)
	}
	for _, tc := range []struct {
		name string
		r    func() result
		code int
		want string // in the error line
	}{
		{"no command", func() result { return runWith(t, nil) }, exitUsage, ""},
		{"unknown command", func() result { return cli(t, srv, "fetch", "brainbase", "x") }, exitUsage, `unknown command "fetch"`},
		{"unknown vendor", func() result { return cli(t, srv, "get", "acme", "x") }, exitUsage, `unknown vendor "acme"`},
		{"missing vendor", func() result { return runWith(t, fakeEnv, "get") }, exitUsage, "missing vendor"},
		{"missing id", func() result { return cli(t, srv, "wait", "brainbase") }, exitUsage, "missing an export id"},
		{"extra argument", func() result { return cli(t, srv, "get", "brainbase", "a", "b") }, exitUsage, `unexpected argument "b"`},
		{"unknown flag", func() result { return cli(t, srv, "get", "brainbase", "a", "--colour") }, exitUsage, "colour"},
		{"bad duration", func() result { return cli(t, srv, "wait", "brainbase", "a", "--timeout", "soon") }, exitUsage, "timeout"},
		{"flag for another vendor", func() result { return cli(t, srv, "create", "kore", "bot", "--format", "CSV") }, exitUsage, "--format is not for kore"},
		{"malformed orbit id", func() result { return cli(t, srv, "get", "orbit", "aud-1") }, exitUsage, "malformed Orbit id"},
		{"orbit id with an empty part", func() result { return cli(t, srv, "wait", "orbit", "aud-1//x") }, exitUsage, "malformed Orbit id"},
		{"orbit id too long", func() result { return cli(t, srv, "download", "orbit", "a/b/c/d", "-o", "-") }, exitUsage, "AUDIENCE/RUN/EXPORT"},
		{"list without endpoint", func() result { return cli(t, srv, "list", "kore") }, exitUsage, "no endpoint"},
		{"missing key", func() result { return noKeys("get", "brainbase", "x") }, exitUsage, "set BRAINBASE_LABS_API_KEY"},
		{"missing kore app", func() result { return noKeys("get", "kore", "bot") }, exitUsage, "KORE_CLIENT_ID and KORE_CLIENT_SECRET"},
		{"insecure base URL", func() result {
			return runWith(t, fakeEnv, "get", "brainbase", "x", "--base-url", "http://example.com")
		}, exitUsage, "plain http"},
		{"no output", func() result { return cli(t, srv, "download", "brainbase", "x") }, exitUsage, "missing -o"},
		{"output exists", func() result { return cli(t, srv, "download", "brainbase", "x", "-o", existing) }, exitUsage, "--force"},
		{"output is a directory", func() result { return cli(t, srv, "download", "brainbase", "x", "-o", dir) }, exitUsage, "is a directory"},
		{"unwritable output", func() result {
			return cli(t, srv, "download", "brainbase", "x", "-o", filepath.Join(notADir, "out.csv"))
		}, exitUsage, "cannot write"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r().must(t, tc.code)
			if tc.want == "" {
				return
			}
			if line := errorLine(t, r); !strings.Contains(line, tc.want) {
				t.Errorf("error line %q lacks %q", line, tc.want)
			}
		})
	}
	if got, _ := os.ReadFile(existing); string(got) != "keep me" {
		t.Errorf("a refused download changed the existing file: %q", got)
	}
	for _, r := range srv.Requests() {
		t.Errorf("bad input sent %s %s", r.Method, r.Path)
	}
}

// TestForce: --force replaces an existing file, atomically.
func TestForce(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ref, err := srv.AddExport(exportkit.Kore)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "bot.zip")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := cli(t, srv, "download", "kore", ref.BotID, "-o", out, "--force")
	r.must(t, exitOK)
	checkFile(t, out, srv.File(exportkit.Kore, ref.ID))
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"--help"}, {"download", "-h"}} {
		r := runWith(t, nil, args...).must(t, exitOK)
		if !strings.Contains(r.stdout, "Exit codes:") {
			t.Errorf("exportkit %s: no usage on stdout:\n%s", strings.Join(args, " "), r.stdout)
		}
	}
	if r := runWith(t, nil, "version").must(t, exitOK); !strings.Contains(r.stdout, exportkit.Version) {
		t.Errorf("version: %q", r.stdout)
	}
}

// TestSHA1: by default the SHA-1 of the file is computed only when the
// vendor gives one to verify (Orbit's contentSha1); --sha1 computes it
// always.
func TestSHA1(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Orbit} {
		ref, err := srv.AddExport(v)
		if err != nil {
			t.Fatal(err)
		}
		id := ref.ID
		if v == exportkit.Orbit {
			id = ref.AudienceID + "/" + ref.RunID + "/" + ref.ID
		}
		for _, always := range []bool{false, true} {
			out := filepath.Join(t.TempDir(), "out")
			args := []string{"download", string(v), id, "-o", out, "--json"}
			if always {
				args = append(args, "--sha1")
			}
			r := cli(t, srv, args...).must(t, exitOK)
			var d downloadView
			if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
				t.Fatalf("%s: %v\n%s", v, err, r.stdout)
			}
			if wantSum := always || v == exportkit.Orbit; (d.SHA1 != "") != wantSum || !d.Verified {
				t.Errorf("%s (--sha1 %v): sha1 %q, verified %v", v, always, d.SHA1, d.Verified)
			}
			if d.SHA1 != "" {
				sum := sha1.Sum(srv.File(v, ref.ID))
				if d.SHA1 != hex.EncodeToString(sum[:]) {
					t.Errorf("%s: sha1 %s", v, d.SHA1)
				}
			}
			checkFile(t, out, srv.File(v, ref.ID))
		}
	}
}
