package manifest_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/manifest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// write puts text in dir/exportkit.yaml and returns its path.
func write(t testing.TB, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "exportkit.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return p
}

const full = `# every key
store: state/sync.db
dir: out
jobs:
  - name: logs
    vendor: brainbase
    every: 6h
    catchup: 3
    start: 2026-11-01
    format: csv
    log-type: VoiceDeploymentLog
    worker: w-1
    deployment: d-1
  - name: memories
    vendor: memsolus
    every: 7d
    format: Markdown
    user: u-1
    agent: a-1
    session: s-1
    priority: high
    category: [work, "home"]
  - name: Audience_2
    vendor: orbit
    audience: "0b6c-1f"
    start: 2026-11-01T06:30:00+01:00
  - name: bot
    vendor: kore
    bot: st-123
    type: published
    catchup: 0
`

func TestLoadFull(t *testing.T) {
	dir := t.TempDir()
	m, err := manifest.Load(write(t, dir, full))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "exportkit.yaml"), m.Path)
	assert.Equal(t, filepath.Join(dir, "state", "sync.db"), m.Store)
	assert.Equal(t, filepath.Join(dir, "out"), m.Dir)
	want := []manifest.Job{
		{Name: "logs", Vendor: "brainbase", Every: 6 * time.Hour, Catchup: 3, Line: 5,
			Start:  time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
			Params: map[string]string{"format": "CSV", "log-type": "VoiceDeploymentLog", "worker": "w-1", "deployment": "d-1"}},
		{Name: "memories", Vendor: "memsolus", Every: 7 * 24 * time.Hour, Catchup: 7, Line: 14,
			Params: map[string]string{"format": "markdown", "user": "u-1", "agent": "a-1", "session": "s-1",
				"priority": "HIGH", "category": "work,home"}},
		{Name: "Audience_2", Vendor: "orbit", Every: 24 * time.Hour, Catchup: 7, Line: 23,
			Start:  time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC),
			Params: map[string]string{"audience": "0b6c-1f"}},
		{Name: "bot", Vendor: "kore", Every: 24 * time.Hour, Catchup: 0, Line: 27,
			Params: map[string]string{"bot": "st-123", "type": "published"}},
	}
	assert.Equal(t, want, m.Jobs)
}

func TestLoadDefaults(t *testing.T) {
	dir := t.TempDir()
	m, err := manifest.Load(write(t, dir, "jobs:\n  - {name: m, vendor: memsolus}\n"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, manifest.DefaultStore), m.Store)
	assert.Equal(t, filepath.Join(dir, manifest.DefaultDir), m.Dir)
	require.Len(t, m.Jobs, 1)
	j := m.Jobs[0]
	assert.Equal(t, manifest.DefaultEvery, j.Every)
	assert.Equal(t, manifest.DefaultCatchup, j.Catchup)
	assert.True(t, j.Start.IsZero())
	assert.Empty(t, j.Params)
	assert.Equal(t, 2, j.Line)
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(t.TempDir(), "elsewhere")
	for _, tc := range []struct{ in, want string }{
		{"exports", filepath.Join(dir, "exports")},
		{"./a/../b", filepath.Join(dir, "b")},
		{abs, abs},
		{"file://rel/x", "file://" + filepath.ToSlash(filepath.Join(dir, "rel", "x"))},
		{"file://" + filepath.ToSlash(abs), "file://" + filepath.ToSlash(abs)},
		{"s3://bucket/prefix?endpoint=http://127.0.0.1:9000&use_path_style=true&region=x&disable_https=true",
			"s3://bucket/prefix?endpoint=http://127.0.0.1:9000&use_path_style=true&region=x&disable_https=true"},
		{"s3://bucket", "s3://bucket"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := manifest.Load(write(t, dir, "dir: '"+tc.in+"'\njobs: [{name: a, vendor: brainbase}]\n"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.Dir)
		})
	}
}

func TestLoadPeriods(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"1m", time.Minute}, {"90m", 90 * time.Minute}, {"1h30m", 90 * time.Minute}, {"24h", 24 * time.Hour},
		{"1d", 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}, {"7m13s", 7*time.Minute + 13*time.Second},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, err := manifest.Load(write(t, t.TempDir(), "jobs: [{name: a, vendor: brainbase, every: "+tc.in+"}]\n"))
			require.NoError(t, err)
			assert.Equal(t, tc.want, m.Jobs[0].Every)
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	const okJob = "  - name: ok\n    vendor: kore\n    bot: b\n"
	for _, tc := range []struct {
		name, text string
		line       int
		msg        string
	}{
		{"empty file", "", 0, "empty manifest"},
		{"only a comment", "# nothing\n", 0, "empty manifest"},
		{"not a mapping", "- a\n- b\n", 1, "want a mapping"},
		{"bad yaml", "jobs: [\n", 1, "not valid YAML"},
		{"tab indent", "jobs:\n\t- name: a\n", 2, "not valid YAML"},
		{"two documents", "jobs: [{name: a, vendor: kore, bot: b}]\n---\njobs: []\n", 2, "second YAML document"},
		{"unknown top key", "stor: x.db\njobs:\n" + okJob, 1, `unknown key "stor" (want store, dir or jobs) (did you mean store?)`},
		{"duplicate top key", "jobs:\n" + okJob + "jobs:\n" + okJob, 5, `key "jobs" given twice (first on line 1)`},
		{"no jobs key", "store: a.db\n", 1, "no jobs"},
		{"jobs empty", "jobs: []\n", 1, "the list is empty"},
		{"jobs null", "jobs:\n", 1, "want a list of jobs, not nothing"},
		{"jobs a mapping", "jobs:\n  name: a\n", 2, "want a list of jobs, not a mapping"},
		{"job a scalar", "jobs:\n  - logs\n", 2, "a job must be a mapping"},
		{"store a URL", "store: s3://b/x.db\njobs:\n" + okJob, 1, "store: want a local file path"},
		{"store empty", "store: ''\njobs:\n" + okJob, 1, "store: want a value"},
		{"store a list", "store: [a]\njobs:\n" + okJob, 1, "store: want a value, not a list"},
		{"dir scheme", "dir: gs://b/p\njobs:\n" + okJob, 1, `scheme "gs" is not supported`},
		{"dir s3 no bucket", "dir: s3:///p\njobs:\n" + okJob, 1, "want s3://BUCKET/PREFIX"},
		{"dir s3 param", "dir: s3://b/p?acl=public\njobs:\n" + okJob, 1, `unknown s3 URL parameter "acl"`},
		{"dir file empty", "dir: file://\njobs:\n" + okJob, 1, "file:// needs a path"},
		{"missing name", "jobs:\n  - vendor: kore\n    bot: b\n", 2, "missing name"},
		{"bad name", "jobs:\n  - name: my logs\n    vendor: brainbase\n", 2, `name "my logs": use at most 64 letters`},
		{"name with dot", "jobs:\n  - name: a.b\n    vendor: brainbase\n", 2, "name \"a.b\""},
		{"name too long", "jobs:\n  - name: " + strings.Repeat("a", 65) + "\n    vendor: brainbase\n", 2, "at most 64"},
		{"name a list", "jobs:\n  - name: [a]\n    vendor: brainbase\n", 2, "name: want a value, not a list"},
		{"duplicate name", "jobs:\n" + okJob + okJob, 5, `duplicate job name "ok" (first on line 2`},
		{"duplicate name in case", "jobs:\n" + okJob + "  - name: OK\n    vendor: brainbase\n", 5, `duplicate job name "OK"`},
		{"missing vendor", "jobs:\n  - name: a\n", 2, `job "a": missing vendor`},
		{"unknown vendor", "jobs:\n  - name: a\n    vendor: salesforce\n", 3, `unknown vendor "salesforce"`},
		{"vendor in caps", "jobs:\n  - name: a\n    vendor: Kore\n    bot: b\n", 3, `unknown vendor "Kore"`},
		{"unknown job key", "jobs:\n  - name: a\n    vendor: brainbase\n    formt: CSV\n", 4, `unknown key "formt" (want name, vendor, every, catchup, start, deployment, format, log-type, worker) (did you mean format?)`},
		{"another vendor's param", "jobs:\n  - name: a\n    vendor: memsolus\n    log-type: X\n", 4, "log-type is a brainbase parameter, not one of memsolus's"},
		{"since", "jobs:\n  - name: a\n    vendor: memsolus\n    since: 2026-01-01\n", 4, "since is set by sync"},
		{"until", "jobs:\n  - name: a\n    vendor: brainbase\n    until: 2026-01-01\n", 4, "until is set by sync"},
		{"idempotency key", "jobs:\n  - name: a\n    vendor: orbit\n    audience: x\n    idempotency-key: k\n", 5, "idempotency-key is set by sync"},
		{"duplicate job key", "jobs:\n  - name: a\n    vendor: brainbase\n    every: 1h\n    every: 2h\n", 5, `key "every" given twice (first on line 4)`},
		{"merge key", "base: &b {vendor: kore}\njobs:\n  - <<: *b\n    name: a\n", 1, `unknown key "base"`},
		{"every zero", "jobs:\n  - name: a\n    vendor: brainbase\n    every: 0s\n", 4, "at least 1m"},
		{"every negative", "jobs:\n  - name: a\n    vendor: brainbase\n    every: -24h\n", 4, "at least 1m"},
		{"every too short", "jobs:\n  - name: a\n    vendor: brainbase\n    every: 59s\n", 4, "at least 1m"},
		{"every no unit", "jobs:\n  - name: a\n    vendor: brainbase\n    every: 3600\n", 4, "want a Go duration"},
		{"every weeks", "jobs:\n  - name: a\n    vendor: brainbase\n    every: 1w\n", 4, "want a Go duration"},
		{"every half day", "jobs:\n  - name: a\n    vendor: brainbase\n    every: 1.5d\n", 4, "want a Go duration"},
		{"every 0d", "jobs:\n  - name: a\n    vendor: brainbase\n    every: 0d\n", 4, "at least 1m"},
		{"every overflow", "jobs:\n  - name: a\n    vendor: brainbase\n    every: 999999999d\n", 4, "too long"},
		{"every empty", "jobs:\n  - name: a\n    vendor: brainbase\n    every:\n", 4, "every: want a value, not nothing"},
		{"catchup negative", "jobs:\n  - name: a\n    vendor: brainbase\n    catchup: -1\n", 4, "catchup \"-1\": want a whole number from 0 to 10000"},
		{"catchup fraction", "jobs:\n  - name: a\n    vendor: brainbase\n    catchup: 1.5\n", 4, "whole number"},
		{"catchup huge", "jobs:\n  - name: a\n    vendor: brainbase\n    catchup: 10001\n", 4, "whole number"},
		{"catchup word", "jobs:\n  - name: a\n    vendor: brainbase\n    catchup: all\n", 4, "whole number"},
		{"start bad", "jobs:\n  - name: a\n    vendor: brainbase\n    start: yesterday\n", 4, `start "yesterday": want a date`},
		{"start no zone", "jobs:\n  - name: a\n    vendor: brainbase\n    start: 2026-11-01T06:00:00\n", 4, "want a date"},
		{"start invalid date", "jobs:\n  - name: a\n    vendor: brainbase\n    start: 2026-02-30\n", 4, "want a date"},
		{"start ancient", "jobs:\n  - name: a\n    vendor: brainbase\n    start: 1970-01-01\n", 4, "before the year 2000"},
		{"bad brainbase format", "jobs:\n  - name: a\n    vendor: brainbase\n    format: XML\n", 4, `format: "XML" is not CSV or JSON`},
		{"bad memsolus format", "jobs:\n  - name: a\n    vendor: memsolus\n    format: md\n", 4, `"md" is not json, csv or markdown`},
		{"bad priority", "jobs:\n  - name: a\n    vendor: memsolus\n    priority: urgent\n", 4, "is not LOW, MEDIUM or HIGH"},
		{"category with comma", "jobs:\n  - name: a\n    vendor: memsolus\n    category: [a, 'b,c']\n", 4, "contains a comma"},
		{"empty category list", "jobs:\n  - name: a\n    vendor: memsolus\n    category: []\n", 4, "an empty list"},
		{"empty category", "jobs:\n  - name: a\n    vendor: memsolus\n    category: 'a,,b'\n", 4, "an empty category"},
		{"too many categories", "jobs:\n  - name: a\n    vendor: memsolus\n    category: [" + strings.Repeat("c,", 20) + "c]\n", 4, "21 categories, at most 20"},
		{"format a list", "jobs:\n  - name: a\n    vendor: brainbase\n    format: [CSV]\n", 4, "format: want a value, not a list"},
		{"orbit without audience", "jobs:\n  - name: a\n    vendor: orbit\n", 2, "orbit needs audience:"},
		{"orbit empty audience", "jobs:\n  - name: a\n    vendor: orbit\n    audience: ''\n", 4, "audience: want a value"},
		{"orbit audience with slash", "jobs:\n  - name: a\n    vendor: orbit\n    audience: a/b\n", 4, "contains '/'"},
		{"kore without bot", "jobs:\n  - name: a\n    vendor: kore\n    type: latest\n", 2, "kore needs bot:"},
		{"kore bot with space", "jobs:\n  - name: a\n    vendor: kore\n    bot: 'st 1'\n", 4, "contains a space"},
		{"kore bad type", "jobs:\n  - name: a\n    vendor: kore\n    bot: b\n    type: draft\n", 5, `"draft" is not latest or published`},
		{"brainbase bot", "jobs:\n  - name: a\n    vendor: brainbase\n    bot: b\n", 4, "bot is a kore parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, t.TempDir(), tc.text)
			m, err := manifest.Load(p)
			require.Error(t, err, "%+v", m)
			assert.Nil(t, m)
			assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
			var me *manifest.Error
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tc.line, me.Line, "%v", err)
			assert.Equal(t, p, me.File)
			assert.Contains(t, err.Error(), tc.msg)
			prefix := "exportkit: " + p + ":"
			if tc.line > 0 {
				prefix += strconv.Itoa(tc.line) + ": "
			}
			assert.True(t, strings.HasPrefix(err.Error(), prefix), "%q has prefix %q", err, prefix)
			assert.Equal(t, 1, strings.Count(err.Error(), "exportkit:"), "one prefix: %v", err)
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	_, err := manifest.Load(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.True(t, strings.HasPrefix(err.Error(), "exportkit: read manifest: "), err.Error())

	dir := t.TempDir()
	big := write(t, dir, "jobs:\n"+strings.Repeat("# padding padding padding padding\n", 40000))
	_, err = manifest.Load(big)
	assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
	assert.Contains(t, err.Error(), "larger than")

	_, err = manifest.Load(dir)
	assert.Error(t, err, "a directory is not a manifest")
}

func TestLoadAliases(t *testing.T) {
	m, err := manifest.Load(write(t, t.TempDir(), "jobs:\n  - name: a\n    vendor: &v kore\n    bot: &b st-1\n  - name: b\n    vendor: *v\n    bot: *b\n"))
	require.NoError(t, err)
	require.Len(t, m.Jobs, 2)
	assert.Equal(t, "kore", m.Jobs[1].Vendor)
	assert.Equal(t, "st-1", m.Jobs[1].Params["bot"])
}

// FuzzLoad feeds mangled manifests: Load never panics, and whatever it
// refuses is an *Error matching ErrInvalidInput with a line inside the
// file.
func FuzzLoad(f *testing.F) {
	f.Add(full)
	f.Add("jobs: [{name: a, vendor: kore, bot: b}]")
	f.Add("jobs:\n  - name: a\n    vendor: memsolus\n    category: [a, b, *x]\n")
	f.Add("a: &a [*a]\n")
	f.Add("jobs: !!binary aGVsbG8=\n")
	f.Add("{jobs: [{name: '', vendor: ''}]}")
	f.Add("jobs:\n  - ? [a, b]\n    : c\n")
	f.Add("\xff\xfe")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		p := write(t, dir, text)
		m, err := manifest.Load(p)
		if err == nil {
			require.NotEmpty(t, m.Jobs)
			return
		}
		var me *manifest.Error
		require.ErrorAs(t, err, &me, "%v", err)
		assert.ErrorIs(t, err, exportkit.ErrInvalidInput)
		assert.LessOrEqual(t, me.Line, strings.Count(text, "\n")+1, "%v", err)
	})
}

func TestErrorMatches(t *testing.T) {
	err := error(&manifest.Error{File: "x.yaml", Line: 3, Msg: "bad"})
	assert.True(t, errors.Is(err, exportkit.ErrInvalidInput))
	assert.Equal(t, "exportkit: x.yaml:3: bad", err.Error())
	assert.Equal(t, "exportkit: x.yaml: bad", (&manifest.Error{File: "x.yaml", Msg: "bad"}).Error())
}
