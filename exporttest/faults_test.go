package exporttest_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultStatusWithRetryAfter(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		date := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
		require.NoError(t, srv.Inject(
			exporttest.On(exportkit.Kore).Method("GET").Path("/status").Status(429).RetryAfter("3").Times(2),
			exporttest.On(exportkit.Kore).Path("/status").Status(503).RetryAfter(date),
		))
		require.Equal(t, 2, srv.FaultsPending())
		status := srv.URL() + "/api/public/bot/st-1/export/status"

		post := call(t, srv, "POST", srv.URL()+"/api/public/bot/st-1/export", creds(t, exportkit.Kore), `{"exportType":"latest"}`)
		assert.Equal(t, http.StatusOK, post.code, "the method does not match")
		for range 2 {
			r := call(t, srv, "GET", status, creds(t, exportkit.Kore), "")
			require.Equal(t, http.StatusTooManyRequests, r.code)
			assert.Equal(t, "3", r.header.Get("Retry-After"))
			e := r.json(t)["errors"].([]any)[0]
			assert.EqualValues(t, 429, path(e, "code"))
			assert.Equal(t, "Rate limit for this API has been reached. Please try again later", str(e, "msg"))
		}
		r := call(t, srv, "GET", status, creds(t, exportkit.Kore), "")
		require.Equal(t, http.StatusServiceUnavailable, r.code)
		assert.Equal(t, date, r.header.Get("Retry-After"))
		assert.Equal(t, 0, srv.FaultsPending())
		assert.Equal(t, http.StatusOK, call(t, srv, "GET", status, creds(t, exportkit.Kore), "").code)
	})
}

func TestFaultVendorErrorBodies(t *testing.T) {
	srv := newServer(t, modes[1])
	for _, tc := range []struct {
		v    exportkit.Vendor
		url  string
		code func(map[string]any) string
	}{
		{exportkit.Brainbase, "/api/team/exports", func(v map[string]any) string { return str(v, "code") }},
		{exportkit.Memsolus, "/v1/exports", func(v map[string]any) string { return str(v, "error") }},
		{exportkit.Orbit, "/v1/intent/audiences/a/runs", func(v map[string]any) string { return str(v, "error", "code") }},
		{exportkit.Kore, "/api/public/bot/b/export/status", func(v map[string]any) string {
			return str(map[string]any{"c": path(v["errors"].([]any)[0], "msg")}, "c")
		}},
	} {
		t.Run(string(tc.v), func(t *testing.T) {
			require.NoError(t, srv.Inject(exporttest.On(tc.v).Status(500).VendorError("BOOM", "BOOM")))
			r := call(t, srv, "GET", srv.URL()+tc.url, creds(t, tc.v), "")
			require.Equal(t, 500, r.code)
			assert.Equal(t, "BOOM", tc.code(r.json(t)), "%s", r.body)
		})
	}
}

func TestFaultBadBodies(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		url := srv.URL() + "/v1/exports"
		h := creds(t, exportkit.Memsolus)

		require.NoError(t, srv.Inject(exporttest.On(exportkit.Memsolus).ProxyErrorPage()))
		r := call(t, srv, "GET", url, h, "")
		assert.Equal(t, http.StatusBadGateway, r.code)
		assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
		assert.Contains(t, string(r.body), "<h1>502 Bad Gateway</h1>")

		require.NoError(t, srv.Inject(exporttest.On("").EmptyBody()))
		r = call(t, srv, "GET", url, h, "")
		assert.Equal(t, http.StatusOK, r.code)
		assert.Empty(t, r.body)

		require.NoError(t, srv.Inject(exporttest.On(exportkit.Memsolus).MalformedJSON()))
		r = call(t, srv, "GET", url, h, "")
		assert.Equal(t, http.StatusOK, r.code)
		assert.False(t, json.Valid(r.body))

		require.NoError(t, srv.Inject(exporttest.On(exportkit.Memsolus).Status(418).Body("text/plain", "teapot")))
		r = call(t, srv, "GET", url, h, "")
		assert.Equal(t, 418, r.code)
		assert.Equal(t, "teapot", string(r.body))

		const huge = 5 << 20
		require.NoError(t, srv.Inject(exporttest.On(exportkit.Memsolus).HugeBody(huge)))
		req, err := http.NewRequest("GET", url, nil)
		require.NoError(t, err)
		req.Header = h
		resp, err := srv.HTTPClient().Do(req)
		require.NoError(t, err)
		assert.Equal(t, int64(-1), resp.ContentLength, "streamed, no Content-Length")
		head := make([]byte, 9)
		_, err = io.ReadFull(resp.Body, head)
		require.NoError(t, err)
		assert.Equal(t, `{"data":[`, string(head))
		n, err := io.Copy(io.Discard, resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		assert.EqualValues(t, huge, n+9)
	})
}

func TestFaultHangup(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		require.NoError(t, srv.Inject(exporttest.On(exportkit.Brainbase).Method("POST").Hangup()))
		req, err := http.NewRequest("POST", srv.URL()+"/api/team/exports", strings.NewReader(`{}`))
		require.NoError(t, err)
		req.Header = creds(t, exportkit.Brainbase)
		resp, err := srv.HTTPClient().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		require.Error(t, err)
		r := call(t, srv, "GET", srv.URL()+"/api/team/exports", creds(t, exportkit.Brainbase), "")
		assert.Equal(t, `{"data":[]}`, string(r.body), "nothing was created")
	})
}

func TestFaultResetAfter(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		id, u := readyURL(t, srv, exportkit.Brainbase)
		file := srv.File(exportkit.Brainbase, id)
		for _, n := range []int64{0, 1, 1000, 40000} {
			require.NoError(t, srv.Inject(exporttest.OnStorage().ResetAfter(n)))
			r := call(t, srv, "GET", u, nil, "")
			require.Equal(t, http.StatusOK, r.code)
			require.Error(t, r.err, "the body read fails")
			if m.name == "memory" {
				assert.True(t, errors.Is(r.err, syscall.ECONNRESET), "%v", r.err)
			} else {
				assert.ErrorIs(t, r.err, io.ErrUnexpectedEOF)
			}
			assert.Equal(t, file[:n], r.body, "exactly n bytes arrive")
		}
		require.NoError(t, srv.Inject(exporttest.OnStorage().ResetAfter(100)))
		r := call(t, srv, "GET", u, http.Header{"Range": {"bytes=60000-"}}, "")
		require.Equal(t, http.StatusPartialContent, r.code)
		assert.Equal(t, file[60000:60100], r.body, "n counts bytes of this response")
		assert.Equal(t, file, call(t, srv, "GET", u, nil, "").body, "used up")
	})
}

func TestFaultSpoiledFiles(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m, exporttest.FileSize(1000))
		id, u := readyURL(t, srv, exportkit.Orbit)
		file := srv.File(exportkit.Orbit, id)

		require.NoError(t, srv.Inject(exporttest.OnStorage().CorruptAt(500).Times(2)))
		r := call(t, srv, "GET", u, nil, "")
		require.Len(t, r.body, 1000)
		assert.Equal(t, file[:500], r.body[:500])
		assert.Equal(t, file[500]^0xff, r.body[500])
		assert.Equal(t, file[501:], r.body[501:])
		r = call(t, srv, "GET", u, http.Header{"Range": {"bytes=400-"}}, "")
		assert.Equal(t, file[500]^0xff, r.body[100], "a file offset")

		require.NoError(t, srv.Inject(exporttest.OnStorage().IgnoreRange()))
		r = call(t, srv, "GET", u, http.Header{"Range": {"bytes=400-"}}, "")
		assert.Equal(t, http.StatusOK, r.code)
		assert.Equal(t, file, r.body)

		require.NoError(t, srv.Inject(exporttest.OnStorage().LongContentLength(10)))
		r = call(t, srv, "GET", u, nil, "")
		assert.ErrorIs(t, r.err, io.ErrUnexpectedEOF)
		assert.Equal(t, file, r.body)

		require.NoError(t, srv.Inject(exporttest.OnStorage().ExpiredURL()))
		r = call(t, srv, "GET", u, nil, "")
		assert.Equal(t, http.StatusForbidden, r.code)
		assert.Equal(t, "Request has expired", str(r.json(t), "message"))

		require.NoError(t, srv.Inject(exporttest.OnStorage().Status(503).RetryAfter("1")))
		r = call(t, srv, "GET", u, nil, "")
		assert.Equal(t, http.StatusServiceUnavailable, r.code)
		assert.Equal(t, "1", r.header.Get("Retry-After"))

		srv.ResetRequests()
		require.NoError(t, srv.Inject(exporttest.OnStorage().Redirects(2)))
		r = call(t, srv, "GET", u, nil, "")
		assert.Equal(t, file, r.body)
		reqs := srv.Requests()
		require.Len(t, reqs, 4, "the file, two hops, the file again")
		assert.Contains(t, reqs[1].Path, "/redirect/")
		assert.Equal(t, reqs[0].RawQuery, reqs[3].RawQuery)
		assert.Equal(t, 0, srv.FaultsPending())
	})
}

func TestFaultStallEndsWithContext(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		id, u := readyURL(t, srv, exportkit.Kore)
		require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(100, time.Hour)))
		ctx, cancel := contextWithCancel(t)
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		require.NoError(t, err)
		resp, err := srv.HTTPClient().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		got := make([]byte, 100)
		_, err = io.ReadFull(resp.Body, got)
		require.NoError(t, err)
		assert.Equal(t, srv.File(exportkit.Kore, id)[:100], got)
		cancel()
		_, err = resp.Body.Read(got)
		require.Error(t, err, "the stall ends with the request's context")
	})
}

func TestFaultMatchingAndLifetime(t *testing.T) {
	srv := newServer(t, modes[1])
	assert.Error(t, srv.Inject(exporttest.On(exportkit.Orbit)), "a fault must do something")
	require.NoError(t, srv.Inject(exporttest.On(exportkit.Orbit).Path("/exports").Status(500).Always()))
	h := creds(t, exportkit.Orbit)
	runs := srv.URL() + "/v1/intent/audiences/a/runs"
	assert.Equal(t, http.StatusOK, call(t, srv, "GET", runs, h, "").code, "the path does not match")
	for range 3 {
		assert.Equal(t, 500, call(t, srv, "POST", runs+"/r/exports", h, "").code)
	}
	assert.Equal(t, 1, srv.FaultsPending())
	srv.ClearFaults()
	assert.Equal(t, 0, srv.FaultsPending())
	assert.Equal(t, http.StatusNotFound, call(t, srv, "POST", runs+"/r/exports", h, "").code)

	require.NoError(t, srv.Inject(exporttest.On(exportkit.Orbit).Status(500)))
	assert.Equal(t, http.StatusUnauthorized, call(t, srv, "GET", runs, nil, "").code, "401 comes first and does not use the fault")
	assert.Equal(t, 1, srv.FaultsPending())
	assert.Equal(t, http.StatusOK, call(t, srv, "GET", srv.URL()+"/v1/exports", creds(t, exportkit.Memsolus), "").code, "another vendor")
	assert.Equal(t, 500, call(t, srv, "GET", runs, h, "").code)
}

func TestCloseEndsStalls(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := exporttest.NewServer(m.opts...)
		_, u := readyURL(t, srv, exportkit.Brainbase)
		require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(10, time.Hour)))
		resp, err := srv.HTTPClient().Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		_, err = io.ReadFull(resp.Body, make([]byte, 10))
		require.NoError(t, err)
		srv.Close() // must not wait for the hour
		_, err = io.ReadAll(resp.Body)
		assert.Error(t, err)
	})
}
