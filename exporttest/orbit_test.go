package exporttest_test

import (
	"crypto/sha1"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrbitLifecycle(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		h := creds(t, exportkit.Orbit)
		runs := srv.URL() + "/v1/intent/audiences/aud-1/runs"

		hk := h.Clone()
		hk.Set("Idempotency-Key", "key-1")
		first := call(t, srv, "POST", runs, hk, `{"runType":"manual"}`)
		require.Equal(t, http.StatusCreated, first.code, "%s", first.body)
		run := first.json(t)
		runID := str(run, "data", "id")
		assert.Equal(t, "queued", str(run, "data", "status"))
		assert.Equal(t, "aud-1", str(run, "data", "audienceId"))
		assert.Equal(t, "manual", str(run, "data", "runType"))
		assert.Equal(t, "key-1", str(run, "data", "idempotencyKey"))
		assert.Regexp(t, `^\d{4}-\d{2}-\d{2}$`, str(run, "data", "dataDate"))
		assert.NotEmpty(t, str(run, "meta", "request_id"))
		assert.NotEmpty(t, str(run, "meta", "timestamp"))

		again := call(t, srv, "POST", runs, hk, `{"runType":"manual"}`)
		assert.Equal(t, http.StatusOK, again.code)
		assert.Equal(t, runID, str(again.json(t), "data", "id"), "same key, same run")

		exports := runs + "/" + runID + "/exports"
		early := call(t, srv, "POST", exports, h, "")
		require.Equal(t, http.StatusConflict, early.code)
		assert.Equal(t, "RUN_NOT_COMPLETED", str(early.json(t), "error", "code"))

		var statuses []string
		for range 3 {
			l := call(t, srv, "GET", runs+"?limit=5", h, "").json(t)
			data := path(l, "data").([]any)
			require.Len(t, data, 1)
			statuses = append(statuses, str(data[0], "status"))
		}
		assert.Equal(t, []string{"queued", "running", "completed"}, statuses)

		created := call(t, srv, "POST", exports, h, "")
		require.Equal(t, http.StatusAccepted, created.code, "%s", created.body)
		c := created.json(t)
		exportID := str(c, "data", "export", "id")
		assert.Equal(t, "processing", str(c, "data", "export", "status"))
		assert.Nil(t, path(c, "data", "downloadUrl"))
		assert.Equal(t, runID, str(c, "data", "export", "runId"))
		assert.Equal(t, "b2", str(c, "data", "export", "storageProvider"))
		assert.Equal(t, "text/csv", str(c, "data", "export", "contentType"))

		reuse := call(t, srv, "POST", exports, h, "")
		assert.Equal(t, http.StatusOK, reuse.code, "create or reuse")
		assert.Equal(t, exportID, str(reuse.json(t), "data", "export", "id"))

		get := exports + "/" + exportID
		var v map[string]any
		for range 3 {
			v = call(t, srv, "GET", get, h, "").json(t)
		}
		require.Equal(t, "completed", str(v, "data", "export", "status"))
		file := srv.File(exportkit.Orbit, exportID)
		sum := sha1.Sum(file)
		assert.Equal(t, hex.EncodeToString(sum[:]), str(v, "data", "export", "contentSha1"))
		assert.EqualValues(t, len(file), path(v, "data", "export", "byteSize"))
		assert.EqualValues(t, 3600, path(v, "data", "downloadUrlTtlSeconds"))
		assert.NotEmpty(t, str(v, "data", "downloadUrlExpiresAt"))
		assert.True(t, strings.HasSuffix(str(v, "data", "export", "fileName"), ".csv"))
		u := str(v, "data", "downloadUrl")
		require.True(t, strings.HasPrefix(u, srv.StorageURL()+"/file/orbit-intent-exports/"), u)
		assert.Contains(t, u, "?Authorization=3_")

		srv.ExpireURLs()
		u2 := str(call(t, srv, "GET", get, h, "").json(t), "data", "downloadUrl")
		assert.NotEqual(t, u, u2, "a fresh signed URL on every read")

		dl := call(t, srv, "GET", u2, nil, "")
		require.Equal(t, http.StatusOK, dl.code, "%s", dl.body)
		assert.Equal(t, file, dl.body)
		assert.Equal(t, hex.EncodeToString(sum[:]), dl.header.Get("X-Bz-Content-Sha1"))
		assert.Equal(t, "text/csv", dl.header.Get("Content-Type"))

		missing := call(t, srv, "GET", exports+"/00000000-0000-4000-8000-000000000000", h, "")
		assert.Equal(t, http.StatusNotFound, missing.code)
		assert.Equal(t, "EXPORT_NOT_FOUND", str(missing.json(t), "error", "code"))
		other := call(t, srv, "GET", srv.URL()+"/v1/intent/audiences/aud-2/runs/"+runID+"/exports/"+exportID, h, "")
		assert.Equal(t, http.StatusNotFound, other.code, "an export is reached only through its audience and run")
	})
}

func TestOrbitRunRules(t *testing.T) {
	srv := newServer(t, modes[1])
	h := creds(t, exportkit.Orbit)
	runs := srv.URL() + "/v1/intent/audiences/aud-1/runs"
	long := h.Clone()
	long.Set("Idempotency-Key", strings.Repeat("k", 121))
	for _, tc := range []struct {
		name, method, url, body string
		h                       http.Header
		code                    int
		errCode                 string
	}{
		{"long idempotency key", "POST", runs, "", long, 400, "VALIDATION_ERROR"},
		{"run type", "POST", runs, `{"runType":"daily"}`, h, 400, "VALIDATION_ERROR"},
		{"limit 0", "GET", runs + "?limit=0", "", h, 400, "VALIDATION_ERROR"},
		{"limit 101", "GET", runs + "?limit=101", "", h, 400, "VALIDATION_ERROR"},
		{"unknown run export", "POST", runs + "/nope/exports", "", h, 404, "RUN_NOT_FOUND"},
		{"no key", "GET", runs, "", nil, 401, "UNAUTHORIZED"},
		{"sk key as bearer", "GET", runs, "", http.Header{"Authorization": {"Bearer " + exporttest.OrbitAPIKey}}, 401, "UNAUTHORIZED"},
		{"wrong key", "GET", runs, "", http.Header{"X-Api-Key": {"sk_test_wrong"}}, 401, "UNAUTHORIZED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv, tc.method, tc.url, tc.h, tc.body)
			require.Equal(t, tc.code, r.code, "%s", r.body)
			v := r.json(t)
			assert.Equal(t, tc.errCode, str(v, "error", "code"))
			assert.NotEmpty(t, str(v, "error", "message"))
			assert.NotEmpty(t, str(v, "meta", "request_id"))
		})
	}

	bearer := http.Header{"Authorization": {"Bearer " + exporttest.OrbitBearerToken}}
	assert.Equal(t, http.StatusCreated, call(t, srv, "POST", runs, bearer, "").code, "the dashboard token works too")
	for range 30 {
		call(t, srv, "POST", runs, h, "")
	}
	l := call(t, srv, "GET", runs, h, "").json(t)
	assert.Len(t, path(l, "data"), 25, "limit defaults to 25")

	queued := str(call(t, srv, "POST", runs, h, "").json(t), "data", "id")
	c := call(t, srv, "DELETE", runs+"/"+queued, h, "")
	require.Equal(t, http.StatusOK, c.code, "%s", c.body)
	assert.Equal(t, "cancelled", str(c.json(t), "data", "status"))
	assert.NotNil(t, path(c.json(t), "data", "cancelledAt"))
	assert.Equal(t, http.StatusConflict, call(t, srv, "DELETE", runs+"/"+queued, h, "").code)
}

func TestOrbitFailureAndResults(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.ReadyAfter(1), exporttest.FailWith("QUERY_FAILED", "warehouse unavailable"))
	h := creds(t, exportkit.Orbit)
	runs := srv.URL() + "/v1/intent/audiences/aud-9/runs"
	runID := str(call(t, srv, "POST", runs, h, "").json(t), "data", "id")
	results := runs + "/" + runID + "/results"
	r := call(t, srv, "GET", results, h, "")
	assert.Equal(t, http.StatusAccepted, r.code, "not ready is not an error")
	assert.Equal(t, "queued", str(r.json(t), "data", "state"))
	r = call(t, srv, "GET", results, h, "")
	require.Equal(t, http.StatusConflict, r.code)
	l := call(t, srv, "GET", runs, h, "").json(t)
	run := path(l, "data").([]any)[0]
	assert.Equal(t, "failed", str(run, "status"))
	assert.Equal(t, "QUERY_FAILED", str(run, "errorCode"))
	assert.Equal(t, "warehouse unavailable", str(run, "errorMessage"))

	ref, err := srv.AddExport(exportkit.Orbit)
	require.NoError(t, err)
	require.NoError(t, srv.FailExport(exportkit.Orbit, ref.ID, "B2_UPLOAD_FAILED", "upload failed"))
	get := srv.URL() + "/v1/intent/audiences/" + ref.AudienceID + "/runs/" + ref.RunID + "/exports/" + ref.ID
	v := call(t, srv, "GET", get, h, "").json(t)
	assert.Equal(t, "failed", str(v, "data", "export", "status"))
	assert.Equal(t, "B2_UPLOAD_FAILED", str(v, "data", "export", "errorCode"))
	assert.Nil(t, path(v, "data", "downloadUrl"))
}

func TestOrbitNotReadyConflict(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.OrbitNotReadyConflict())
	ref, err := srv.AddExport(exportkit.Orbit)
	require.NoError(t, err)
	require.NoError(t, srv.SetState(exportkit.Orbit, ref.ID, exportkit.StateRunning))
	get := srv.URL() + "/v1/intent/audiences/" + ref.AudienceID + "/runs/" + ref.RunID + "/exports/" + ref.ID
	r := call(t, srv, "GET", get, creds(t, exportkit.Orbit), "")
	require.Equal(t, http.StatusConflict, r.code)
	assert.Equal(t, "EXPORT_NOT_READY", str(r.json(t), "error", "code"))
}
