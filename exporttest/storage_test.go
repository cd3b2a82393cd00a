package exporttest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readyURL seeds a ready export of v and returns its id and a signed URL
// read from the vendor's status endpoint.
func readyURL(t testing.TB, srv *exporttest.Server, v exportkit.Vendor) (string, string) {
	t.Helper()
	ref, err := srv.AddExport(v)
	require.NoError(t, err)
	h := creds(t, v)
	switch v {
	case exportkit.Brainbase:
		return ref.ID, str(call(t, srv, "GET", srv.URL()+"/api/team/exports/"+ref.ID, h, "").json(t), "downloadUrl")
	case exportkit.Orbit:
		u := srv.URL() + "/v1/intent/audiences/" + ref.AudienceID + "/runs/" + ref.RunID + "/exports/" + ref.ID
		return ref.ID, str(call(t, srv, "GET", u, h, "").json(t), "data", "downloadUrl")
	case exportkit.Kore:
		u := srv.URL() + "/api/public/bot/" + url.PathEscape(ref.BotID) + "/export/status"
		return ref.ID, str(call(t, srv, "GET", u, h, "").json(t), "downloadURL")
	}
	t.Fatalf("no signed URL for %s", v)
	return "", ""
}

func TestStorageRanges(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m, exporttest.FileSize(1000))
		id, u := readyURL(t, srv, exportkit.Brainbase)
		file := srv.File(exportkit.Brainbase, id)
		require.Len(t, file, 1000)
		full := call(t, srv, "GET", u, nil, "")
		etag := full.header.Get("ETag")
		require.Regexp(t, `^"[0-9a-f]+-1"$`, etag)
		assert.Equal(t, "bytes", full.header.Get("Accept-Ranges"))
		assert.Equal(t, "1000", full.header.Get("Content-Length"))
		assert.Contains(t, full.header.Get("Content-Disposition"), `attachment; filename="brainbase-logs-`)
		assert.NotEmpty(t, full.header.Get("Last-Modified"))

		for _, tc := range []struct {
			name     string
			h        http.Header
			code     int
			from, to int // expected body: file[from:to]
			cr       string
		}{
			{"open range", http.Header{"Range": {"bytes=990-"}}, 206, 990, 1000, "bytes 990-999/1000"},
			{"closed range", http.Header{"Range": {"bytes=0-9"}}, 206, 0, 10, "bytes 0-9/1000"},
			{"past the end is clamped", http.Header{"Range": {"bytes=995-5000"}}, 206, 995, 1000, "bytes 995-999/1000"},
			{"suffix", http.Header{"Range": {"bytes=-4"}}, 206, 996, 1000, "bytes 996-999/1000"},
			{"unsatisfiable", http.Header{"Range": {"bytes=1000-"}}, 416, 0, 0, "bytes */1000"},
			{"several ranges are ignored", http.Header{"Range": {"bytes=0-1,5-6"}}, 200, 0, 1000, ""},
			{"malformed is ignored", http.Header{"Range": {"bytes=x-"}}, 200, 0, 1000, ""},
			{"if-match holds", http.Header{"Range": {"bytes=500-"}, "If-Match": {etag}}, 206, 500, 1000, "bytes 500-999/1000"},
			{"if-match fails", http.Header{"Range": {"bytes=500-"}, "If-Match": {`"other-1"`}}, 412, 0, 0, ""},
			{"if-range holds", http.Header{"Range": {"bytes=500-"}, "If-Range": {etag}}, 206, 500, 1000, "bytes 500-999/1000"},
			{"if-range fails: whole file", http.Header{"Range": {"bytes=500-"}, "If-Range": {`"other-1"`}}, 200, 0, 1000, ""},
			{"if-range by date", http.Header{"Range": {"bytes=500-"}, "If-Range": {full.header.Get("Last-Modified")}}, 206, 500, 1000, "bytes 500-999/1000"},
			{"if-none-match", http.Header{"If-None-Match": {etag}}, 304, 0, 0, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := call(t, srv, "GET", u, tc.h, "")
				require.Equal(t, tc.code, r.code, "%s", r.body)
				assert.Equal(t, tc.cr, r.header.Get("Content-Range"))
				if tc.code < 300 {
					assert.Equal(t, file[tc.from:tc.to], r.body)
				}
			})
		}

		head, err := http.NewRequest("HEAD", u, nil)
		require.NoError(t, err)
		resp, err := srv.HTTPClient().Do(head)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, int64(1000), resp.ContentLength)
		assert.Equal(t, etag, resp.Header.Get("ETag"))

		require.NoError(t, srv.ChangeFile(exportkit.Brainbase, id))
		changed := call(t, srv, "GET", u, http.Header{"Range": {"bytes=500-"}, "If-Match": {etag}}, "")
		assert.Equal(t, http.StatusPreconditionFailed, changed.code, "the file changed under the same URL")
		now := call(t, srv, "GET", u, nil, "")
		assert.NotEqual(t, etag, now.header.Get("ETag"))
		assert.NotEqual(t, file, now.body)
		assert.Len(t, now.body, 1000)
		assert.Equal(t, srv.File(exportkit.Brainbase, id), now.body)
	})
}

func TestStorageSignatures(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Orbit, exportkit.Kore} {
			t.Run(string(v), func(t *testing.T) {
				_, u := readyURL(t, srv, v)
				require.Equal(t, http.StatusOK, call(t, srv, "GET", u, nil, "").code)

				parsed, err := url.Parse(u)
				require.NoError(t, err)
				bare := call(t, srv, "GET", srv.StorageURL()+parsed.Path, nil, "")
				assert.Equal(t, http.StatusForbidden, bare.code, "no signature")

				q := parsed.Query()
				for k := range q {
					if strings.Contains(strings.ToLower(k), "sig") || k == "Authorization" {
						q.Set(k, q.Get(k)+"0")
					}
				}
				parsed.RawQuery = q.Encode()
				assert.Equal(t, http.StatusForbidden, call(t, srv, "GET", parsed.String(), nil, "").code, "tampered")

				srv.ExpireURLs()
				expired := call(t, srv, "GET", u, nil, "")
				require.Equal(t, http.StatusForbidden, expired.code)
				if v == exportkit.Orbit {
					assert.Equal(t, "Request has expired", str(expired.json(t), "message"))
				} else {
					assert.Contains(t, string(expired.body), "<Code>AccessDenied</Code><Message>Request has expired</Message>")
					assert.Equal(t, "application/xml", expired.header.Get("Content-Type"))
				}
				_, fresh := readyURL(t, srv, v)
				assert.Equal(t, http.StatusOK, call(t, srv, "GET", fresh, nil, "").code)

				withAuth := call(t, srv, "GET", fresh, http.Header{"Authorization": {"Bearer x"}}, "")
				assert.Contains(t, []int{400, 401}, withAuth.code, "a signed URL takes no second credential")
			})
		}
		missing := call(t, srv, "GET", srv.StorageURL()+"/s3/brainbase-log-exports/nothing.csv?X-Amz-Date=x", nil, "")
		assert.Equal(t, http.StatusForbidden, missing.code)
		post := call(t, srv, "POST", srv.StorageURL()+"/s3/x", nil, "")
		assert.Equal(t, http.StatusMethodNotAllowed, post.code)
	})
}

func TestRequestsRecordHostsAndVendors(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		_, u := readyURL(t, srv, exportkit.Kore)
		call(t, srv, "GET", u, nil, "")
		reqs := srv.Requests()
		require.Len(t, reqs, 2)
		api, st := reqs[0], reqs[1]
		assert.Equal(t, exportkit.Kore, api.Vendor)
		assert.False(t, api.Storage)
		assert.Equal(t, strings.TrimPrefix(srv.URL(), "http://"), api.Host)
		assert.True(t, strings.HasPrefix(api.Host, "localhost:"))
		assert.Equal(t, "GET", api.Method)
		assert.Contains(t, api.Path, "/export/status")
		assert.NotEmpty(t, api.Header.Get("Auth"))
		assert.False(t, api.Time.IsZero())
		assert.True(t, st.Storage)
		assert.True(t, strings.HasPrefix(st.Host, "127.0.0.1:"))
		assert.Contains(t, st.RawQuery, "sig=")
		for _, h := range []string{"X-Api-Key", "Authorization", "Auth", "Cookie"} {
			assert.Empty(t, st.Header.Get(h))
		}

		reqs[0].Header.Set("Auth", "changed")
		assert.NotEqual(t, "changed", srv.Requests()[0].Header.Get("Auth"), "Requests returns a copy")
		srv.ResetRequests()
		assert.Empty(t, srv.Requests())

		kept := newServer(t, m, exporttest.KeepRequests(1))
		call(t, kept, "GET", kept.URL()+"/v1/exports", nil, "")
		call(t, kept, "GET", kept.URL()+"/api/team/exports", nil, "")
		require.Len(t, kept.Requests(), 1)
		assert.Equal(t, exportkit.Brainbase, kept.Requests()[0].Vendor)
	})
}
