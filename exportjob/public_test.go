package exportjob

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/require"
)

// The exported helpers are the engine's own: a run has one period, one
// key, one file name and one vendor whoever drives it.
func TestPublicHelpersAreTheEngines(t *testing.T) {
	for _, j := range allJobs() {
		v, ok := LookupVendor(j.Vendor)
		require.True(t, ok, j.Vendor)
		require.Equal(t, vendors[j.Vendor], v)
		nj, err := Normalize(j)
		require.NoError(t, err)
		require.Equal(t, DefaultEvery, nj.Every)
		require.Equal(t, DefaultCatchup, nj.Catchup)
	}
	_, ok := LookupVendor("nope")
	require.False(t, ok)

	now := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	require.Equal(t, periodOf(now, time.Hour), PeriodOf(now, time.Hour))
	fp := Fingerprint("logs", now)
	require.Equal(t, idempotencyKey(fp, 1), IdempotencyKey(fp, 1))
	require.NotEqual(t, IdempotencyKey(fp, 1), IdempotencyKey(fp, 2))

	j := Job{Name: "logs", Vendor: exportkit.Brainbase, Every: time.Hour, Catchup: 2, Params: map[string]string{"format": "JSON"}}
	got, err := DuePeriods(j, now, now.Add(-5*time.Hour))
	require.NoError(t, err)
	require.Len(t, got, 3, "the current period and Catchup before it")
	require.Equal(t, now, got[2].Start)
	require.Equal(t, "logs/2026-12-05T13-00-00Z.json", FileName(j, got[2]))
}

func TestNormalizeRefusesABadJob(t *testing.T) {
	for _, j := range []Job{
		{Name: "a b", Vendor: exportkit.Brainbase},
		{Name: "x", Vendor: "nope"},
		{Name: "x", Vendor: exportkit.Orbit}, // no audience
		{Name: "x", Vendor: exportkit.Kore, Params: map[string]string{"bot": "b"}, Every: time.Second},
	} {
		_, err := Normalize(j)
		require.ErrorIs(t, err, exportkit.ErrInvalidInput, "%+v", j)
		_, err = DuePeriods(j, time.Now(), time.Time{})
		require.ErrorIs(t, err, exportkit.ErrInvalidInput, "%+v", j)
	}
}

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{exportkit.ErrInvalidInput, true},
		{&exportkit.APIError{StatusCode: http.StatusBadRequest}, true},
		{&exportkit.APIError{StatusCode: http.StatusTooManyRequests}, true},
		{&exportkit.APIError{StatusCode: http.StatusRequestTimeout}, false},
		{&exportkit.APIError{StatusCode: http.StatusBadGateway}, false},
		{errors.New("connection reset by peer"), false},
	} {
		require.Equal(t, tc.want, Refused(tc.err), "%v", tc.err)
	}
}

func TestLoadManifest(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sync.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`dir: files
jobs:
  - name: logs
    vendor: brainbase
    every: 1h
    catchup: 0
    format: CSV
  - name: bot
    vendor: kore
    bot: st-bot-1
`), 0o644))
	jobs, got, err := LoadManifest(path)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "files"), got)
	require.Equal(t, []Job{
		{Name: "logs", Vendor: exportkit.Brainbase, Every: time.Hour, Catchup: -1, Params: map[string]string{"format": "CSV"}},
		{Name: "bot", Vendor: exportkit.Kore, Every: DefaultEvery, Catchup: DefaultCatchup, Params: map[string]string{"bot": "st-bot-1"}},
	}, jobs)

	require.NoError(t, os.WriteFile(path, []byte("jobs:\n  - name: x\n    vendor: nope\n"), 0o644))
	_, _, err = LoadManifest(path)
	require.ErrorIs(t, err, exportkit.ErrInvalidInput)
	_, _, err = LoadManifest(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}
