package exporttest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemsolusLifecycle(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m, exporttest.ReadyAfter(1))
		h := creds(t, exportkit.Memsolus)
		q := "?format=csv&user_id=user-123&priority=HIGH&categories=a,b&created_after=2026-01-01T00:00:00Z"
		r := call(t, srv, "POST", srv.URL()+"/v1/exports"+q, h, "")
		require.Equal(t, http.StatusAccepted, r.code, "%s", r.body)
		v := r.json(t)
		id := str(v, "id")
		require.Len(t, id, 36, "a UUID")
		assert.Equal(t, "PENDING", v["status"])
		assert.Equal(t, "csv", v["format"])
		assert.Equal(t, "user-123", v["user_id"])
		assert.Equal(t, "HIGH", v["priority"])
		assert.Equal(t, []any{"a", "b"}, v["categories"])
		assert.Equal(t, "2026-01-01T00:00:00Z", v["created_after"])
		for _, k := range []string{"agent_id", "session_id", "created_before"} {
			val, present := v[k]
			assert.True(t, present, k)
			assert.Nil(t, val, k)
		}
		assert.NotEmpty(t, v["created_at"])
		assert.NotEmpty(t, v["updated_at"])

		dl := srv.URL() + "/v1/exports/" + id + "/download"
		nr := call(t, srv, "GET", dl, h, "")
		assert.Equal(t, http.StatusConflict, nr.code)
		assert.Equal(t, "EXPORT_NOT_READY", nr.json(t)["error"])

		assert.Equal(t, "PENDING", str(call(t, srv, "GET", srv.URL()+"/v1/exports/"+id, h, "").json(t), "status"))
		assert.Equal(t, "READY", str(call(t, srv, "GET", srv.URL()+"/v1/exports/"+id, h, "").json(t), "status"))

		file := call(t, srv, "GET", dl, h, "")
		require.Equal(t, http.StatusOK, file.code, "%s", file.body)
		assert.Equal(t, srv.File(exportkit.Memsolus, id), file.body)
		assert.Equal(t, "text/csv", file.header.Get("Content-Type"))
		assert.Equal(t, `attachment; filename="memories-`+id+`.csv"`, file.header.Get("Content-Disposition"))
		assert.NotEmpty(t, file.header.Get("ETag"))

		part := call(t, srv, "GET", dl, http.Header{"X-Api-Key": {exporttest.MemsolusAPIKey}, "Range": {"bytes=10-19"}}, "")
		assert.Equal(t, http.StatusPartialContent, part.code)
		assert.Equal(t, file.body[10:20], part.body)

		require.NoError(t, srv.Expire(exportkit.Memsolus, id))
		gone := call(t, srv, "GET", dl, h, "")
		assert.Equal(t, http.StatusGone, gone.code)
		assert.Equal(t, "EXPORT_EXPIRED", gone.json(t)["error"])
		assert.Equal(t, "EXPIRED", str(call(t, srv, "GET", srv.URL()+"/v1/exports/"+id, h, "").json(t), "status"))
	})
}

func TestMemsolusList(t *testing.T) {
	srv := newServer(t, modes[1])
	h := creds(t, exportkit.Memsolus)
	var ids []string
	for range 12 {
		ids = append(ids, str(call(t, srv, "POST", srv.URL()+"/v1/exports", h, "").json(t), "id"))
	}
	page1 := call(t, srv, "GET", srv.URL()+"/v1/exports", h, "").json(t)
	data := path(page1, "data").([]any)
	require.Len(t, data, 10, "page_size defaults to 10")
	assert.Equal(t, ids[11], str(data[0], "id"), "newest first")
	assert.EqualValues(t, 1, path(page1, "meta", "current_page"))
	assert.EqualValues(t, 10, path(page1, "meta", "per_page"))
	assert.EqualValues(t, 12, path(page1, "meta", "total"))
	assert.EqualValues(t, 2, path(page1, "meta", "last_page"))

	page2 := call(t, srv, "GET", srv.URL()+"/v1/exports?page=2&page_size=10", h, "").json(t)
	data = path(page2, "data").([]any)
	require.Len(t, data, 2)
	assert.Equal(t, ids[0], str(data[1], "id"))

	far := call(t, srv, "GET", srv.URL()+"/v1/exports?page=9", h, "").json(t)
	assert.Empty(t, path(far, "data"))
	for _, q := range []string{"page_size=101", "page_size=0", "page=0", "page=x"} {
		r := call(t, srv, "GET", srv.URL()+"/v1/exports?"+q, h, "")
		assert.Equal(t, http.StatusBadRequest, r.code, q)
		assert.Equal(t, "VALIDATION_ERROR", r.json(t)["error"], q)
	}
}

func TestMemsolusErrors(t *testing.T) {
	srv := newServer(t, modes[1])
	h := creds(t, exportkit.Memsolus)
	cats := make([]string, 21)
	for i := range cats {
		cats[i] = fmt.Sprint("c", i)
	}
	for _, tc := range []struct {
		name, method, path string
		h                  http.Header
		code               int
		errCode            string
	}{
		{"no key", "GET", "/v1/exports", nil, 401, "UNAUTHORIZED"},
		{"bearer is not accepted", "GET", "/v1/exports", http.Header{"Authorization": {"Bearer " + exporttest.MemsolusAPIKey}}, 401, "UNAUTHORIZED"},
		{"21 categories", "POST", "/v1/exports?categories=" + strings.Join(cats, ","), h, 400, "VALIDATION_ERROR"},
		{"bad format", "POST", "/v1/exports?format=xml", h, 400, "VALIDATION_ERROR"},
		{"bad priority", "POST", "/v1/exports?priority=URGENT", h, 400, "VALIDATION_ERROR"},
		{"bad date", "POST", "/v1/exports?created_before=yesterday", h, 400, "VALIDATION_ERROR"},
		{"unknown export", "GET", "/v1/exports/00000000-0000-4000-8000-000000000000", h, 404, "EXPORT_NOT_FOUND"},
		{"unknown download", "GET", "/v1/exports/nope/download", h, 404, "EXPORT_NOT_FOUND"},
		{"escaped slash", "GET", "/v1/exports/a%2Fdownload", h, 404, "EXPORT_NOT_FOUND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, srv, tc.method, srv.URL()+tc.path, tc.h, "")
			require.Equal(t, tc.code, r.code, "%s", r.body)
			v := r.json(t)
			assert.Equal(t, tc.errCode, v["error"])
			assert.NotEmpty(t, v["message"])
			assert.EqualValues(t, tc.code, v["statusCode"])
		})
	}
	twenty := call(t, srv, "POST", srv.URL()+"/v1/exports?categories="+strings.Join(cats[:20], ","), h, "")
	assert.Equal(t, http.StatusAccepted, twenty.code, "20 categories are allowed")
}

func TestMemsolusScopes(t *testing.T) {
	srv := newServer(t, modes[1], exporttest.MemsolusScopes(exporttest.ScopeExportRead))
	h := creds(t, exportkit.Memsolus)
	r := call(t, srv, "POST", srv.URL()+"/v1/exports", h, "")
	require.Equal(t, http.StatusForbidden, r.code)
	assert.Equal(t, "FORBIDDEN", r.json(t)["error"])
	assert.Contains(t, r.json(t)["message"], "export.write")
	assert.Equal(t, http.StatusOK, call(t, srv, "GET", srv.URL()+"/v1/exports", h, "").code)

	ro := newServer(t, modes[1], exporttest.MemsolusScopes())
	assert.Equal(t, http.StatusForbidden, call(t, ro, "GET", ro.URL()+"/v1/exports", h, "").code)
}

func TestMemsolusRedirect(t *testing.T) {
	for _, hops := range []int{0, 1, 3} {
		t.Run(fmt.Sprint(hops, " extra hops"), func(t *testing.T) {
			eachMode(t, func(t *testing.T, m mode) {
				srv := newServer(t, m, exporttest.MemsolusDownloadRedirect(hops))
				ref, err := srv.AddExport(exportkit.Memsolus)
				require.NoError(t, err)
				srv.ResetRequests()
				r := call(t, srv, "GET", srv.URL()+"/v1/exports/"+ref.ID+"/download", creds(t, exportkit.Memsolus), "")
				require.Equal(t, http.StatusOK, r.code, "%s", r.body)
				assert.Equal(t, srv.File(exportkit.Memsolus, ref.ID), r.body)

				reqs := srv.Requests()
				require.Len(t, reqs, hops+2, "API, the hops, the file")
				assert.False(t, reqs[0].Storage)
				assert.Equal(t, exportkit.Memsolus, reqs[0].Vendor)
				for _, rq := range reqs[1:] {
					assert.True(t, rq.Storage)
					assert.Equal(t, exportkit.Vendor(""), rq.Vendor)
					assert.Equal(t, strings.TrimPrefix(srv.StorageURL(), "http://"), rq.Host)
				}
				last := reqs[len(reqs)-1]
				assert.Contains(t, last.RawQuery, "Signature=")
				assert.Contains(t, last.RawQuery, "Expires=")
			})
		})
	}
}
