package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

const syncManifest = `store: state/exportkit.db
jobs:
  - name: logs
    vendor: brainbase
    format: CSV
  - name: memories
    vendor: memsolus
    format: json
  - name: audience
    vendor: orbit
    audience: aud_1
  - name: bot
    vendor: kore
    bot: st-bot-1
`

// syncEnv is the fake's credentials and base URLs, as sync reads them.
func syncEnv(srv *exporttest.Server) []string {
	return append([]string{
		exportkit.EnvBrainbaseBaseURL + "=" + srv.URL(), exportkit.EnvMemsolusBaseURL + "=" + srv.URL(),
		exportkit.EnvLeadpipeBaseURL + "=" + srv.URL(), exportkit.EnvKoreHost + "=" + srv.URL(),
	}, fakeEnv...)
}

func writeManifest(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "exportkit.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSync(t *testing.T) {
	t.Parallel()
	srv := exporttest.NewServer(exporttest.ReadyAfter(0), exporttest.FileSize(64<<10))
	defer srv.Close()
	mf := writeManifest(t, syncManifest)

	r := runWith(t, syncEnv(srv), "sync", "-f", mf, "--json").must(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 result lines, got:\n%s", r.stdout)
	}
	for _, l := range lines {
		var res syncRun
		if err := json.Unmarshal([]byte(l), &res); err != nil {
			t.Fatal(err)
		}
		if res.State != "done" || res.Size == nil || *res.Size != 64<<10 || len(res.SHA1) != 40 || !strings.HasPrefix(res.File, "exports/"+res.Job+"/") {
			t.Errorf("result %s", l)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(mf), res.File)); err != nil {
			t.Error(err)
		}
	}
	if !strings.Contains(r.stderr, "sync: logs ") || !strings.Contains(r.stderr, ": done") {
		t.Errorf("no progress lines on stderr:\n%s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(mf), "state", "exportkit.db")); err != nil {
		t.Error("the store is not where the manifest says:", err)
	}

	// Nothing is due any more: no line, nothing sent.
	n := len(srv.Requests())
	r = runWith(t, syncEnv(srv), "sync", "-f", mf, "--quiet").must(t, 0)
	if r.stdout != "" || r.stderr != "" || len(srv.Requests()) != n {
		t.Errorf("a second sync did something:\n%s\n%s", r.stdout, r.stderr)
	}

	r = runWith(t, syncEnv(srv), "sync", "status", "-f", mf, "--json").must(t, 0)
	var st struct {
		Jobs []struct {
			Name, Vendor string
			Runs         []map[string]any
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if len(st.Jobs) != 4 || st.Jobs[0].Name != "logs" || st.Jobs[0].Vendor != "brainbase" || len(st.Jobs[0].Runs) != 1 {
		t.Fatalf("status: %s", r.stdout)
	}
	for _, k := range []string{"period", "state", "export_id", "file", "size", "sha1", "rows", "candidates", "error"} {
		if _, ok := st.Jobs[0].Runs[0][k]; !ok {
			t.Errorf("status run has no %q: %s", k, r.stdout)
		}
	}
	runWith(t, syncEnv(srv), "sync", "status", "-f", mf).must(t, 0)
}

// A lost create reply with a second matching export at the vendor parks
// the run: exit 1 saying why, and sync status shows both candidates.
func TestSyncParked(t *testing.T) {
	t.Parallel()
	srv := exporttest.NewServer(exporttest.ReadyAfter(0))
	defer srv.Close()
	stray, err := srv.Client().Exports.Create(context.Background(), &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		t.Fatal(err)
	}
	srv.LoseNextCreateReplies(1)
	mf := writeManifest(t, "jobs:\n  - name: logs\n    vendor: brainbase\n    format: CSV\n")
	r := runWith(t, syncEnv(srv), "sync", "-f", mf).must(t, 1)
	if !strings.Contains(errorLine(t, r), "parked") || !strings.Contains(r.stdout, stray.ID) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	r = runWith(t, syncEnv(srv), "sync", "status", "-f", mf, "--json").must(t, 0)
	if !strings.Contains(r.stdout, `"state":"parked"`) || !strings.Contains(r.stdout, stray.ID) {
		t.Errorf("status: %s", r.stdout)
	}
	runWith(t, syncEnv(srv), "sync", "-f", mf).must(t, 0) // nothing due; the parked run waits for a person
}

func TestSyncBadManifest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, text, want string }{
		{"unknown vendor", "jobs:\n  - name: a\n    vendor: acme\n", ":3:"},
		{"duplicate", "jobs:\n  - name: a\n    vendor: orbit\n    audience: x\n  - name: a\n    vendor: orbit\n    audience: x\n", ":5:"},
		{"bad period", "jobs:\n  - name: a\n    vendor: kore\n    bot: b\n    every: soon\n", ":5:"},
		{"unknown key", "jobs:\n  - name: a\n    vendor: kore\n    bot: b\n    colour: red\n", ":5:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mf := writeManifest(t, tc.text)
			r := runWith(t, fakeEnv, "sync", "-f", mf).must(t, 2)
			if l := errorLine(t, r); !strings.Contains(l, tc.want) {
				t.Errorf("error %q does not name the line (%s)", l, tc.want)
			}
		})
	}
	// No manifest: a usage error that says how to get one.
	r := runWith(t, fakeEnv, "sync", "-f", filepath.Join(t.TempDir(), "none.yaml")).must(t, 2)
	if l := errorLine(t, r); !strings.Contains(l, "no manifest at") || !strings.Contains(l, "exportkit help sync") {
		t.Errorf("error %q", l)
	}
	runWith(t, fakeEnv, "sync", "status", "-f", filepath.Join(t.TempDir(), "none.yaml")).must(t, 2)
	runWith(t, fakeEnv, "sync", "status", "--watch").must(t, 2)
	runWith(t, fakeEnv, "sync", "stat").must(t, 2)
}

func TestSyncExitCodes(t *testing.T) {
	t.Parallel()
	mf := "jobs:\n  - name: memories\n    vendor: memsolus\n"
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		srv := exporttest.NewServer(exporttest.ReadyAfter(0), exporttest.FailWith("QUOTA", "over quota"))
		defer srv.Close()
		r := runWith(t, syncEnv(srv), "sync", "-f", writeManifest(t, mf)).must(t, 3)
		if !strings.Contains(r.stdout, "failed") || !strings.Contains(errorLine(t, r), "failed") {
			t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		srv := exporttest.NewServer(exporttest.ReadyAfter(1000))
		defer srv.Close()
		p := writeManifest(t, mf)
		r := runWith(t, syncEnv(srv), "sync", "-f", p, "--timeout", "300ms", "--json").must(t, 5)
		if !strings.Contains(r.stderr, "timed out after 300ms") || !strings.Contains(r.stdout, `"state":"waiting"`) {
			t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
		runWith(t, syncEnv(srv), "sync", "status", "-f", p).must(t, 0)
	})
}

// The manifest's dir as a URL: file://PATH is that directory; an s3://
// URL that cannot be right is refused (exit 2) before anything is sent.
func TestSyncDirURLs(t *testing.T) {
	t.Parallel()
	srv := exporttest.NewServer(exporttest.ReadyAfter(0), exporttest.FileSize(1<<10))
	defer srv.Close()
	job := "jobs:\n  - name: memories\n    vendor: memsolus\n"
	local := filepath.Join(t.TempDir(), "files")
	mf := writeManifest(t, "dir: file://"+filepath.ToSlash(local)+"\n"+job)
	r := runWith(t, syncEnv(srv), "sync", "-f", mf, "--json").must(t, 0)
	var res syncRun
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &res); err != nil {
		t.Fatal(err, r.stdout)
	}
	rel, _ := filepath.Rel(filepath.Dir(mf), filepath.Join(local, "memories"))
	if res.State != "done" || !strings.HasPrefix(res.File, filepath.ToSlash(rel)+"/") {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(mf), res.File)); err != nil {
		t.Error(err)
	}

	n := len(srv.Requests())
	for _, tc := range []struct{ dir, want string }{
		{"s3://b/p?endpoint=http://127.0.0.1:1", "disable_https=true"},
		{"s3://b/p?endpoint=ftp://127.0.0.1:1&disable_https=true", "not an http(s) URL"},
	} {
		mf := writeManifest(t, "dir: "+tc.dir+"\n"+job)
		r := runWith(t, syncEnv(srv), "sync", "-f", mf).must(t, exitUsage)
		if !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: stderr %s", tc.dir, r.stderr)
		}
	}
	if len(srv.Requests()) != n {
		t.Error("a bad dir sent requests")
	}
}
