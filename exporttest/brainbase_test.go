package exporttest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBrainbaseLifecycle(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		h := creds(t, exportkit.Brainbase)
		r := call(t, srv, "POST", srv.URL()+"/api/team/exports", h, `{"format":"JSON","logType":"VoiceDeploymentLog"}`)
		require.Equal(t, http.StatusCreated, r.code, "%s", r.body)
		created := r.json(t)
		id := str(created, "id")
		require.True(t, strings.HasPrefix(id, "exp_"), id)
		assert.Equal(t, "PENDING", created["status"])
		assert.Equal(t, "JSON", created["format"])
		assert.Equal(t, "VoiceDeploymentLog", created["logType"])
		for _, k := range []string{"rowCount", "fileSizeBytes", "downloadUrl", "errorMessage", "expiresAt"} {
			v, present := created[k]
			assert.True(t, present, k)
			assert.Nil(t, v, k)
		}

		var statuses []string
		var last reply
		for range 3 {
			last = call(t, srv, "GET", srv.URL()+"/api/team/exports/"+id, h, "")
			require.Equal(t, http.StatusOK, last.code)
			statuses = append(statuses, str(last.json(t), "status"))
		}
		assert.Equal(t, []string{"PENDING", "PROCESSING", "COMPLETED"}, statuses)
		assert.Contains(t, string(last.body), `"fileSizeBytes":65536.0`, "a JSON number sent as a float")
		done := last.json(t)
		assert.EqualValues(t, 341, done["rowCount"], "65536 bytes of 192-byte JSON rows")
		assert.NotNil(t, done["expiresAt"])

		u := str(done, "downloadUrl")
		require.True(t, strings.HasPrefix(u, srv.StorageURL()+"/s3/"), u)
		for _, p := range []string{"X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Credential=", "X-Amz-Expires=86400", "X-Amz-Signature="} {
			assert.Contains(t, u, p)
		}
		file := call(t, srv, "GET", u, nil, "")
		require.Equal(t, http.StatusOK, file.code, "%s", file.body)
		assert.Equal(t, srv.File(exportkit.Brainbase, id), file.body)
		assert.Equal(t, "application/json", file.header.Get("Content-Type"))
		assert.Len(t, file.body, 64<<10)

		list := call(t, srv, "GET", srv.URL()+"/api/team/exports", h, "")
		require.Equal(t, http.StatusOK, list.code)
		var all struct{ Data []map[string]any }
		require.NoError(t, json.Unmarshal(list.body, &all), "{data: […]}")
		require.Len(t, all.Data, 1)
		assert.Equal(t, id, all.Data[0]["id"])
	})
}

func TestBrainbaseErrors(t *testing.T) {
	srv := newServer(t, modes[1])
	good := creds(t, exportkit.Brainbase)
	for _, tc := range []struct {
		name, method, path, body string
		h                        http.Header
		code                     int
		msg                      string
	}{
		{"no key", "GET", "/api/team/exports", "", nil, 401, "Invalid or missing API key"},
		{"wrong key", "GET", "/api/team/exports", "", http.Header{"X-Api-Key": {"bb_wrong"}}, 401, "Invalid or missing API key"},
		{"another vendor's key", "GET", "/api/team/exports", "", http.Header{"X-Api-Key": {exporttest.OrbitAPIKey}}, 401, ""},
		{"unknown export", "GET", "/api/team/exports/exp_nope", "", good, 404, "Export not found"},
		{"slash in id stays one segment", "GET", "/api/team/exports/a%2Fb", "", good, 404, "Export not found"},
		{"dot-dot id", "GET", "/api/team/exports/..", "", good, 404, "Export not found"},
		{"bad format", "POST", "/api/team/exports", `{"format":"XML"}`, good, 400, "format must be one of CSV, JSON"},
		{"bad json", "POST", "/api/team/exports", `{"format":`, good, 400, ""},
		{"wrong method", "DELETE", "/api/team/exports/x", "", good, 405, ""},
		{"unknown route", "GET", "/api/team/nothing", "", good, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv, tc.method, srv.URL()+tc.path, tc.h, tc.body)
			require.Equal(t, tc.code, r.code, "%s", r.body)
			v := r.json(t)
			assert.NotEmpty(t, v["message"])
			if tc.msg != "" {
				assert.Equal(t, tc.msg, v["message"])
			}
		})
	}
}

func TestBrainbaseFailAndExpire(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.ReadyAfter(0), exporttest.FailWith("QUERY_TIMEOUT", "the log query timed out"))
	h := creds(t, exportkit.Brainbase)
	id := str(call(t, srv, "POST", srv.URL()+"/api/team/exports", h, "").json(t), "id")
	v := call(t, srv, "GET", srv.URL()+"/api/team/exports/"+id, h, "").json(t)
	assert.Equal(t, "FAILED", v["status"])
	assert.Equal(t, "the log query timed out", v["errorMessage"])
	assert.Nil(t, v["downloadUrl"])

	ref, err := srv.AddExport(exportkit.Brainbase)
	require.NoError(t, err)
	v = call(t, srv, "GET", srv.URL()+"/api/team/exports/"+ref.ID, h, "").json(t)
	require.Equal(t, "COMPLETED", v["status"])
	u := str(v, "downloadUrl")
	require.NoError(t, srv.Expire(exportkit.Brainbase, ref.ID))
	v = call(t, srv, "GET", srv.URL()+"/api/team/exports/"+ref.ID, h, "").json(t)
	assert.Equal(t, "EXPIRED", v["status"])
	assert.Nil(t, v["downloadUrl"])
	assert.Equal(t, http.StatusNotFound, call(t, srv, "GET", u, nil, "").code, "the file is gone")

	require.NoError(t, srv.SetRawStatus(exportkit.Brainbase, ref.ID, "ARCHIVED"))
	assert.Equal(t, "ARCHIVED", call(t, srv, "GET", srv.URL()+"/api/team/exports/"+ref.ID, h, "").json(t)["status"])
	assert.Error(t, srv.SetState(exportkit.Brainbase, "exp_missing", exportkit.StateReady))
	assert.Error(t, srv.SetState(exportkit.Brainbase, ref.ID, exportkit.State("bogus")))
}
