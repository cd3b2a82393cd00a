package exporttest_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fileCase makes one ready export through the SDK and returns its id and
// the row count its status reports (-1 when the vendor reports none).
type fileCase struct {
	name   string
	vendor exportkit.Vendor
	make   func(t *testing.T, c *exportkit.Client) (id string, rows int64)
	check  func(t *testing.T, b []byte) int64 // parses the file, returns its rows
}

func rowCount(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

func brainbaseFile(format string) func(t *testing.T, c *exportkit.Client) (string, int64) {
	return func(t *testing.T, c *exportkit.Client) (string, int64) {
		ctx := context.Background()
		e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: format})
		require.NoError(t, err)
		e, err = c.Exports.Wait(ctx, e.ID, fast)
		require.NoError(t, err)
		return e.ID, rowCount(e.RowCount)
	}
}

func memsolusFile(format string) func(t *testing.T, c *exportkit.Client) (string, int64) {
	return func(t *testing.T, c *exportkit.Client) (string, int64) {
		ctx := context.Background()
		e, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: format})
		require.NoError(t, err)
		e, err = c.Memories.Wait(ctx, e.ID, fast)
		require.NoError(t, err)
		return e.ID, -1
	}
}

// fast polls without delay: the fake answers at once.
var fast = exportkit.WithPollInterval(time.Millisecond, time.Millisecond)

func orbitFile(t *testing.T, c *exportkit.Client) (string, int64) {
	ctx := context.Background()
	run, err := c.Audiences.CreateRun(ctx, "aud-1", nil)
	require.NoError(t, err)
	run, err = c.Audiences.WaitRun(ctx, "aud-1", run.ID, fast)
	require.NoError(t, err)
	e, err := c.Audiences.Export(ctx, "aud-1", run.ID, fast)
	require.NoError(t, err)
	assert.Equal(t, rowCount(e.Export.RowCount), rowCount(run.ResultCount), "the run's result count is the export's rows")
	return e.ExportID(), rowCount(e.Export.RowCount)
}

func koreFile(t *testing.T, c *exportkit.Client) (string, int64) {
	ctx := context.Background()
	_, err := c.Bots.StartExport(ctx, "st-bot", nil)
	require.NoError(t, err)
	e, err := c.Bots.WaitExport(ctx, "st-bot", fast)
	require.NoError(t, err)
	return e.ID, -1
}

// csvRows parses b as CSV with a header whose first column is first, and
// returns the data rows.
func csvRows(first string) func(t *testing.T, b []byte) int64 {
	return func(t *testing.T, b []byte) int64 {
		r := csv.NewReader(bytes.NewReader(b))
		recs, err := r.ReadAll()
		require.NoError(t, err)
		require.NotEmpty(t, recs)
		assert.Equal(t, first, recs[0][0])
		for _, rec := range recs[1:] {
			assert.Len(t, rec, len(recs[0]))
		}
		return int64(len(recs) - 1)
	}
}

func jsonRows(key string) func(t *testing.T, b []byte) int64 {
	return func(t *testing.T, b []byte) int64 {
		var arr []map[string]any
		require.NoError(t, json.Unmarshal(b, &arr), "%.300s", b)
		for _, o := range arr {
			assert.NotEmpty(t, o[key])
		}
		return int64(len(arr))
	}
}

func markdownRows(t *testing.T, b []byte) int64 {
	s := string(b)
	require.True(t, strings.HasPrefix(s, "# Memories\n\n| id |"), "%.100s", s)
	n := int64(0)
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n")[4:] {
		require.True(t, strings.HasPrefix(line, "| mem_") && strings.HasSuffix(line, " |"), "%q", line)
		assert.Equal(t, 8, strings.Count(line, "|"), "%q", line)
		n++
	}
	return n
}

func zipRows(t *testing.T, b []byte) int64 {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	require.NoError(t, err)
	require.Len(t, zr.File, 2)
	names := []string{zr.File[0].Name, zr.File[1].Name}
	assert.Equal(t, []string{"config.json", "botDefinition.json"}, names)
	for _, f := range zr.File {
		rc, err := f.Open()
		require.NoError(t, err)
		body, err := io.ReadAll(rc) // checks the CRC-32 at EOF
		require.NoError(t, err, f.Name)
		require.NoError(t, rc.Close())
		var v map[string]any
		require.NoError(t, json.Unmarshal(body, &v), "%s: %.200s", f.Name, body)
		if f.Name == "botDefinition.json" {
			dialogs, _ := v["dialogs"].([]any)
			return int64(len(dialogs))
		}
	}
	return 0
}

var fileCases = []fileCase{
	{"brainbase csv", exportkit.Brainbase, brainbaseFile("CSV"), csvRows("id")},
	{"brainbase json", exportkit.Brainbase, brainbaseFile("JSON"), jsonRows("timestamp")},
	{"memsolus json", exportkit.Memsolus, memsolusFile("json"), jsonRows("content")},
	{"memsolus csv", exportkit.Memsolus, memsolusFile("csv"), csvRows("id")},
	{"memsolus markdown", exportkit.Memsolus, memsolusFile("markdown"), markdownRows},
	{"orbit", exportkit.Orbit, orbitFile, csvRows("person_id")},
	{"kore", exportkit.Kore, koreFile, zipRows},
}

func TestFilesLookLikeTheVendors(t *testing.T) {
	for _, size := range []int64{1000, 4096, 64 << 10, 1<<20 + 17} {
		for _, tc := range fileCases {
			t.Run(tc.name+"/"+itoa(size), func(t *testing.T) {
				srv := newServer(t, modes[1], exporttest.ReadyAfter(0), exporttest.FileSize(size))
				id, reported := tc.make(t, srv.Client())
				b := srv.File(tc.vendor, id)
				require.Len(t, b, int(size), "the size asked for")
				rows := tc.check(t, b)
				assert.Positive(t, rows)
				if reported >= 0 {
					assert.Equal(t, reported, rows, "the status's row count is the file's")
				}
			})
		}
	}
}

func TestFilesDifferPerExport(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.FileSize(4096))
	a, err := srv.AddExport(exportkit.Brainbase)
	require.NoError(t, err)
	b, err := srv.AddExport(exportkit.Brainbase)
	require.NoError(t, err)
	fa, fb := srv.File(exportkit.Brainbase, a.ID), srv.File(exportkit.Brainbase, b.ID)
	assert.NotEqual(t, fa, fb)
	assert.Equal(t, fa, srv.File(exportkit.Brainbase, a.ID), "the same bytes every time")
	require.NoError(t, srv.ChangeFile(exportkit.Brainbase, a.ID))
	changed := srv.File(exportkit.Brainbase, a.ID)
	assert.Len(t, changed, len(fa))
	assert.NotEqual(t, fa, changed)
	assert.Equal(t, csvRows("id")(t, fa), csvRows("id")(t, changed))
}

func TestFileContentRowCount(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.ReadyAfter(0), exporttest.FileContent([]byte("id,x\n1,a\n2,b\n3,c\n")))
	id, rows := brainbaseFile("CSV")(t, srv.Client())
	assert.EqualValues(t, 3, rows)
	assert.Equal(t, "id,x\n1,a\n2,b\n3,c\n", string(srv.File(exportkit.Brainbase, id)))
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
