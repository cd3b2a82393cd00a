package main

import (
	"encoding/json"
	"flag"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// TestSDKInputErrorsAreUsage: input the SDK refuses before sending is a
// usage error (exit 2), like input the command line refuses itself.
func TestSDKInputErrorsAreUsage(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"dot-dot id", []string{"get", "brainbase", ".."}, `".."`},
		{"dot-dot audience", []string{"get", "orbit", "../x"}, `".."`},
		{"long id", []string{"get", "brainbase", strings.Repeat("x", 1025)}, "1024"},
		{"unknown memsolus format", []string{"create", "memsolus", "--format", "BOGUS"}, "format"},
		{"unknown memsolus priority", []string{"create", "memsolus", "--priority", "urgent"}, "priority"},
		{"unknown kore type", []string{"create", "kore", "st-1", "--type", "draft"}, "latest or published"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, srv, tc.args...).must(t, exitUsage)
			if line := errorLine(t, r); !strings.Contains(line, tc.want) {
				t.Errorf("error line %q lacks %q", line, tc.want)
			}
		})
	}
	for _, r := range srv.Requests() {
		t.Errorf("refused input sent %s %s", r.Method, r.Path)
	}
}

// TestVendorSpellings: a format in another case is the vendor's format.
func TestVendorSpellings(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cli(t, srv, "create", "memsolus", "--format", "CSV").must(t, exitOK)
	cli(t, srv, "create", "kore", "st-1", "--type", "Published").must(t, exitOK)
	var sent []string
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Vendor == exportkit.Memsolus {
			sent = append(sent, r.RawQuery)
		}
	}
	if len(sent) != 1 || sent[0] != "format=csv" {
		t.Errorf("create memsolus --format CSV sent %q, want format=csv", sent)
	}
}

// TestBaseURLWithoutScheme: localhost:PORT is the local server, as an
// option and in the environment.
func TestBaseURLWithoutScheme(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	ref, err := srv.AddExport(exportkit.Kore)
	if err != nil {
		t.Fatal(err)
	}
	hostPort := strings.TrimPrefix(srv.URL(), "http://")
	runWith(t, fakeEnv, "get", "kore", ref.BotID, "--base-url", hostPort).must(t, exitOK)
	runWith(t, append(fakeEnv[:len(fakeEnv):len(fakeEnv)], exportkit.EnvKoreHost+"="+hostPort), "get", "kore", ref.BotID).must(t, exitOK)
}

// sigRE matches the fake's URL signatures (64 hex digits).
var sigRE = regexp.MustCompile(`[0-9a-f]{64}`)

// TestSignedURLRedacted: get and wait print a download URL with its query
// values REDACTED, in JSON and in text; --show-url prints it whole.
func TestSignedURLRedacted(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Orbit, exportkit.Kore} {
		ref, err := srv.AddExport(v)
		if err != nil {
			t.Fatal(err)
		}
		id := ref.ID
		switch v {
		case exportkit.Orbit:
			id = ref.AudienceID + "/" + ref.RunID + "/" + ref.ID
		case exportkit.Kore:
			id = ref.BotID
		}
		for _, args := range [][]string{
			{"get", string(v), id, "--json"},
			{"wait", string(v), id, "--json"},
			{"get", string(v), id},
		} {
			r := cli(t, srv, args...).must(t, exitOK)
			if sig := sigRE.FindString(r.stdout); sig != "" {
				t.Errorf("exportkit %s printed a signature:\n%s", strings.Join(args, " "), r.stdout)
			}
			if !strings.Contains(r.stdout, "=REDACTED") {
				t.Errorf("exportkit %s: no redacted URL:\n%s", strings.Join(args, " "), r.stdout)
			}
			whole := cli(t, srv, append(args, "--show-url")...).must(t, exitOK)
			if !sigRE.MatchString(whole.stdout) {
				t.Errorf("exportkit %s --show-url: no signature:\n%s", strings.Join(args, " "), whole.stdout)
			}
			if args[len(args)-1] != "--json" {
				continue
			}
			var view struct {
				DownloadURL string `json:"download_url"`
			}
			if err := json.Unmarshal([]byte(whole.stdout), &view); err != nil || !strings.HasPrefix(view.DownloadURL, srv.StorageURL()) {
				t.Errorf("exportkit %s --show-url: download_url %q, %v", strings.Join(args, " "), view.DownloadURL, err)
			}
		}
	}
}

// TestTimeoutFlag: --timeout takes a positive duration only, and one that
// runs out reads the same for a status read and a wait.
func TestTimeoutFlag(t *testing.T) {
	t.Parallel()
	srv := newServer(t, exporttest.ReadyAfter(1_000_000))
	for _, bad := range []string{"0", "0s", "-5s"} {
		r := cli(t, srv, "wait", "brainbase", "exp_1", "--timeout", bad).must(t, exitUsage)
		if line := errorLine(t, r); !strings.Contains(line, "positive duration") {
			t.Errorf("--timeout %s: %q", bad, line)
		}
	}
	id := strings.TrimSpace(cli(t, srv, "create", "brainbase").must(t, exitOK).stdout)
	wait := errorLine(t, cli(t, srv, "wait", "brainbase", id, "--timeout", "300ms").must(t, exitTimeout))
	// The status read hangs: only the deadline ends it.
	if err := srv.Inject(exporttest.On(exportkit.Brainbase).StallAfter(0, time.Minute).Always()); err != nil {
		t.Fatal(err)
	}
	get := errorLine(t, cli(t, srv, "get", "brainbase", id, "--timeout", "300ms").must(t, exitTimeout))
	for _, line := range []string{wait, get} {
		if !strings.HasSuffix(line, ": timed out after 300ms") || strings.Count(line, "exportkit: ") != 1 {
			t.Errorf("error line %q, want one prefix and the same ending for get and wait", line)
		}
	}
}

// TestOrbitChainTimeout: --timeout covers Orbit's run and its export
// together, not each of them in turn.
func TestOrbitChainTimeout(t *testing.T) {
	t.Parallel()
	srv := newServer(t, exporttest.ReadyAfterDuration(time.Second))
	run := strings.TrimSpace(cli(t, srv, "create", "orbit", "aud-1").must(t, exitOK).stdout)
	start := time.Now()
	r := cli(t, srv, "download", "orbit", run, "-o", t.TempDir()+"/x.csv", "--timeout", "1500ms").must(t, exitTimeout)
	if line := errorLine(t, r); !strings.Contains(line, "timed out after 1500ms") || strings.Count(line, "exportkit:") != 1 {
		t.Errorf("error line %q", line)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %s", took)
	}
}

// TestJSONErrors: under --json an error is one JSON object on stderr.
func TestJSONErrors(t *testing.T) {
	t.Parallel()
	srv := newServer(t, exporttest.FailWith("QUERY_TIMEOUT", "the query took too long"))
	run := strings.TrimSpace(cli(t, srv, "create", "orbit", "aud-1", "-q").must(t, exitOK).stdout)
	for _, tc := range []struct {
		args       []string
		exit       int
		code, kind string
	}{
		{[]string{"get", "acme", "x", "--json"}, exitUsage, "usage", "usage"},
		{[]string{"get", "brainbase", "..", "--json"}, exitUsage, "invalid_input", "invalid_input"},
		{[]string{"wait", "brainbase", "x", "--json", "--timeout", "0"}, exitUsage, "usage", "usage"},
		{[]string{"get", "brainbase", "exp_nope", "--json"}, exitError, "", "not_found"},
		{[]string{"wait", "orbit", run, "--json"}, exitFailed, "QUERY_TIMEOUT", "export_failed"},
	} {
		r := cli(t, srv, tc.args...).must(t, tc.exit)
		last := lastLine(r.stderr)
		var e struct {
			Error, Code, Kind string
			Exit              int
		}
		if err := json.Unmarshal([]byte(last), &e); err != nil {
			t.Errorf("exportkit %s: stderr does not end with a JSON error: %v\n%s", strings.Join(tc.args, " "), err, r.stderr)
			continue
		}
		if tc.code == "" {
			tc.code = e.Code // the vendor's own code, whatever the fake calls it
		}
		if !strings.HasPrefix(e.Error, "exportkit: ") || e.Code != tc.code || e.Kind != tc.kind || e.Exit != tc.exit || e.Code == "" {
			t.Errorf("exportkit %s: %s", strings.Join(tc.args, " "), last)
		}
	}

	// No SHA-1 computed: none in the JSON, rather than "".
	ref, err := srv.AddExport(exportkit.Brainbase)
	if err != nil {
		t.Fatal(err)
	}
	r := cli(t, srv, "download", "brainbase", ref.ID, "-o", t.TempDir()+"/f", "--json").must(t, exitOK)
	var d map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil {
		t.Fatal(err)
	}
	if _, ok := d["sha1"]; ok {
		t.Errorf("download --json without a SHA-1 has a sha1 field: %s", r.stdout)
	}
}

// TestCommandHelp: each command's help is its own, lists exactly the
// flags the command takes, and "help CMD" says the same.
func TestCommandHelp(t *testing.T) {
	t.Parallel()
	global := runWith(t, nil, "help").must(t, exitOK).stdout
	flagRE := regexp.MustCompile(`(?:^|[\s,(])(--?[a-z][a-z0-9-]*)`)
	for _, cmd := range []string{"demo", "create", "get", "wait", "download", "list"} {
		t.Run(cmd, func(t *testing.T) {
			r := runWith(t, nil, cmd, "--help").must(t, exitOK)
			if h := runWith(t, nil, "help", cmd).must(t, exitOK); h.stdout != r.stdout {
				t.Errorf("help %s differs from %s --help", cmd, cmd)
			}
			if r.stdout == global || !strings.HasPrefix(r.stdout, "Usage: exportkit "+cmd+" ") {
				t.Fatalf("%s --help is not the command's own usage:\n%s", cmd, r.stdout)
			}
			if !strings.Contains(r.stdout, "Examples:\n  exportkit "+cmd) {
				t.Errorf("%s --help has no example:\n%s", cmd, r.stdout)
			}
			fs, _ := commandFlagSet(cmd)
			named := map[string]bool{}
			own, _, _ := strings.Cut(r.stdout, "\nExit codes:") // those are every command's
			for _, m := range flagRE.FindAllStringSubmatch(own, -1) {
				name := strings.TrimLeft(m[1], "-")
				named[name] = true
				if fs.Lookup(name) == nil {
					t.Errorf("%s --help names %s, which %s does not take", cmd, m[1], cmd)
				}
			}
			fs.VisitAll(func(f *flag.Flag) {
				if !named[f.Name] {
					t.Errorf("%s --help does not list its flag %s", cmd, f.Name)
				}
			})
		})
	}
	create := runWith(t, nil, "help", "create").must(t, exitOK).stdout
	for _, want := range []string{"CSV or JSON", "json (default), csv or markdown", "any case", "2025-01-31", "RFC 3339", "latest (default) or published"} {
		if !strings.Contains(create, want) {
			t.Errorf("help create lacks %q", want)
		}
	}
	runWith(t, nil, "help", "fetch").must(t, exitUsage)
}
