package exporttest_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sha1Hex(b []byte) string {
	h := sha1.Sum(b)
	return hex.EncodeToString(h[:])
}

func TestAdminExports(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m, exporttest.ReadyAfter(0), exporttest.FileSize(4096))
		c := srv.Client()
		ctx := context.Background()

		bb, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "JSON"})
		require.NoError(t, err)
		_, err = c.Exports.Wait(ctx, bb.ID, fast)
		require.NoError(t, err)
		srv.LoseNextCreateReplies(1)
		_, err = c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "markdown"})
		require.Error(t, err, "the reply is lost, the export exists")
		run, err := c.Audiences.CreateRun(ctx, "aud-1", &exportkit.RunRequest{IdempotencyKey: "k-1"})
		require.NoError(t, err)
		_, err = c.Audiences.WaitRun(ctx, "aud-1", run.ID, fast)
		require.NoError(t, err)
		oe, err := c.Audiences.Export(ctx, "aud-1", run.ID, fast)
		require.NoError(t, err)
		first, err := c.Bots.StartExport(ctx, "st-bot", nil)
		require.NoError(t, err)
		_, err = c.Bots.WaitExport(ctx, "st-bot", fast)
		require.NoError(t, err)
		second, err := c.Bots.StartExport(ctx, "st-bot", nil)
		require.NoError(t, err)

		got := srv.Exports()
		r := call(t, srv, "GET", srv.AdminURL()+"/_exporttest/exports", nil, "")
		require.Equal(t, http.StatusOK, r.code, "%s", r.body)
		var wire []exporttest.ExportInfo
		require.NoError(t, json.Unmarshal(r.body, &wire))
		require.Len(t, wire, len(got))
		for i := range got {
			assert.True(t, got[i].Created.Equal(wire[i].Created))
			wire[i].Created = got[i].Created
		}
		assert.Equal(t, got, wire, "the endpoint lists what Exports returns")
		var raw []map[string]any
		require.NoError(t, json.Unmarshal(r.body, &raw))
		for _, k := range []string{"vendor", "kind", "id", "state", "size", "sha1"} {
			assert.Contains(t, raw[0], k)
		}

		type row struct {
			vendor exportkit.Vendor
			kind   string
			id     string
			state  exportkit.State
		}
		var rows []row
		for _, e := range got {
			rows = append(rows, row{e.Vendor, e.Kind, e.ID, e.State})
		}
		mem := got[1].ID
		assert.Equal(t, []row{
			{exportkit.Brainbase, "export", bb.ID, exportkit.StateReady},
			{exportkit.Memsolus, "export", mem, exportkit.StatePending},
			{exportkit.Orbit, "run", run.ID, exportkit.StateReady},
			{exportkit.Orbit, "export", oe.ExportID(), exportkit.StateReady},
			{exportkit.Kore, "export", first.ID, exporttest.StateSuperseded},
			{exportkit.Kore, "export", second.ID, exportkit.StatePending},
		}, rows)

		for _, e := range got {
			switch {
			case e.State == exportkit.StateReady && e.Kind == "export":
				b := srv.File(e.Vendor, e.ID)
				assert.EqualValues(t, len(b), e.Size)
				assert.Equal(t, sha1Hex(b), e.SHA1, "%s %s", e.Vendor, e.ID)
			case e.State == exporttest.StateSuperseded:
				assert.NotEmpty(t, e.SHA1, "it was ready before it was replaced")
			default:
				assert.Zero(t, e.Size)
				assert.Empty(t, e.SHA1)
			}
		}
		assert.Equal(t, "k-1", got[2].IdempotencyKey)
		assert.Equal(t, "aud-1", got[2].AudienceID)
		assert.Equal(t, run.ID, got[3].RunID)
		assert.Equal(t, "st-bot", got[4].BotID)
	})
}

func TestAdminRequests(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m, exporttest.ReadyAfter(0), exporttest.FileSize(4096))
		c := srv.Client()
		ctx := context.Background()
		srv.LoseNextCreateReplies(1)
		_, err := c.Memories.Create(ctx, &exportkit.MemoryExportRequest{Format: "csv"})
		require.Error(t, err)
		ref, err := srv.AddExport(exportkit.Brainbase)
		require.NoError(t, err)
		_, err = c.Exports.DownloadFile(ctx, ref.ID, t.TempDir()+"/f.csv")
		require.NoError(t, err)

		r := call(t, srv, "GET", srv.AdminURL()+"/_exporttest/requests", nil, "")
		require.Equal(t, http.StatusOK, r.code, "%s", r.body)
		var got []map[string]any
		require.NoError(t, json.Unmarshal(r.body, &got), "%s", r.body)
		require.GreaterOrEqual(t, len(got), 3)
		assert.Equal(t, map[string]any{"vendor": "memsolus", "method": "POST", "path": "/v1/exports",
			"query": "format=csv", "storage": false, "status": 0.0, "bytes": 0.0, "time": got[0]["time"]}, got[0])
		assert.Equal(t, "/api/team/exports/"+ref.ID, got[1]["path"])
		assert.EqualValues(t, 200, got[1]["status"])
		last := got[len(got)-1]
		assert.Equal(t, true, last["storage"])
		assert.Equal(t, "", last["vendor"])
		assert.NotContains(t, last, "query", "a signed URL's query stays out")
		assert.EqualValues(t, 4096, last["bytes"], "the file's bytes")
		for _, q := range got {
			assert.NotContains(t, q["path"], "_exporttest", "admin requests are not recorded")
		}
		assert.Len(t, srv.Requests(), len(got))
	})
}

func TestAdminErrors(t *testing.T) {
	srv := newServer(t, modes[1])
	assert.Equal(t, http.StatusNotFound, call(t, srv, "GET", srv.AdminURL()+"/_exporttest/nothing", nil, "").code)
	r := call(t, srv, "POST", srv.AdminURL()+"/_exporttest/exports", nil, "{}")
	assert.Equal(t, http.StatusMethodNotAllowed, r.code)
	assert.Equal(t, "GET", r.header.Get("Allow"))
	assert.Empty(t, srv.Requests())
}

func TestNewServerAt(t *testing.T) {
	srv, err := exporttest.NewServerAt("127.0.0.1:0", exporttest.ReadyAfter(0))
	require.NoError(t, err)
	defer srv.Close()
	assert.Regexp(t, `^http://localhost:\d+$`, srv.URL())
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, srv.StorageURL())
	ref, err := srv.AddExport(exportkit.Memsolus)
	require.NoError(t, err)
	var got struct{ Data []map[string]any }
	r := call(t, srv, "GET", srv.URL()+"/v1/exports", creds(t, exportkit.Memsolus), "")
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Len(t, got.Data, 1)
	assert.Equal(t, ref.ID, got.Data[0]["id"])

	_, err = exporttest.NewServerAt("127.0.0.1:0", exporttest.InMemory())
	assert.ErrorContains(t, err, "InMemory does not apply")
	_, err = exporttest.NewServerAt("no-port")
	assert.Error(t, err)
	u, _ := url.Parse(srv.URL())
	_, err = exporttest.NewServerAt("127.0.0.1:" + u.Port())
	assert.ErrorContains(t, err, "address already in use")
}
