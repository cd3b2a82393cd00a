package exporttest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestInMemoryURLs(t *testing.T) {
	srv := newServer(t, modes[1])
	assert.Equal(t, "http://"+exporttest.InMemoryAPIHost, srv.URL())
	assert.Equal(t, "http://"+exporttest.InMemoryStorageHost, srv.StorageURL())
	assert.True(t, strings.HasPrefix(srv.URL(), "http://localhost:"))
	assert.True(t, strings.HasPrefix(srv.StorageURL(), "http://127.0.0.1:"))

	sock := newServer(t, modes[0])
	assert.True(t, strings.HasPrefix(sock.URL(), "http://localhost:"))
	assert.True(t, strings.HasPrefix(sock.StorageURL(), "http://127.0.0.1:"))
	assert.NotEqual(t, sock.URL(), srv.URL())
}

func TestInMemoryTransportErrors(t *testing.T) {
	srv := exporttest.NewServer(exporttest.InMemory())
	c := &http.Client{Transport: srv.Transport()}
	for _, u := range []string{"http://example.com/", "https://" + exporttest.InMemoryAPIHost + "/v1/exports"} {
		resp, err := c.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		assert.Error(t, err, u)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL()+"/v1/exports", nil)
	require.NoError(t, err)
	_, err = c.Do(req)
	assert.ErrorIs(t, err, context.Canceled)

	srv.Close()
	srv.Close()
	_, err = c.Get(srv.URL() + "/v1/exports")
	assert.True(t, errors.Is(err, syscall.ECONNREFUSED), "%v", err)
}

func TestInMemoryBodyEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, resp *http.Response, cancel context.CancelFunc, srv *exporttest.Server)
	}{
		{"closed early", func(t *testing.T, resp *http.Response, _ context.CancelFunc, _ *exporttest.Server) {
			require.NoError(t, resp.Body.Close())
			_, err := resp.Body.Read(make([]byte, 1))
			assert.Error(t, err)
		}},
		{"context cancelled", func(t *testing.T, resp *http.Response, cancel context.CancelFunc, _ *exporttest.Server) {
			cancel()
			_, err := io.ReadAll(resp.Body)
			assert.ErrorIs(t, err, context.Canceled)
			resp.Body.Close()
		}},
		{"server closed", func(t *testing.T, resp *http.Response, _ context.CancelFunc, srv *exporttest.Server) {
			srv.Close()
			_, err := io.ReadAll(resp.Body)
			assert.Error(t, err)
			resp.Body.Close()
		}},
		{"read to the end", func(t *testing.T, resp *http.Response, _ context.CancelFunc, srv *exporttest.Server) {
			n, err := io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			assert.EqualValues(t, 8<<20-1024-4096, n)
			resp.Body.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, modes[1], exporttest.FileSize(8<<20))
			_, u := readyURL(t, srv, exportkit.Brainbase)
			ctx, cancel := contextWithCancel(t)
			req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
			require.NoError(t, err)
			req.Header.Set("Range", "bytes=1024-")
			resp, err := srv.HTTPClient().Do(req)
			require.NoError(t, err)
			require.Equal(t, http.StatusPartialContent, resp.StatusCode)
			assert.EqualValues(t, 8<<20-1024, resp.ContentLength)
			_, err = io.ReadFull(resp.Body, make([]byte, 4096))
			require.NoError(t, err)
			tc.end(t, resp, cancel, srv)
			// goleak in TestMain checks that the handler goroutine ended.
		})
	}
}

func TestInMemoryRequestBodyAndHead(t *testing.T) {
	srv := newServer(t, modes[1])
	body := io.NopCloser(strings.NewReader(`{"format":"CSV"}`))
	req, err := http.NewRequest("POST", srv.URL()+"/api/team/exports", body)
	require.NoError(t, err)
	req.Header = creds(t, exportkit.Brainbase)
	resp, err := srv.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "201 Created", resp.Status)
	assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
}

func TestClient(t *testing.T) {
	eachMode(t, func(t *testing.T, m mode) {
		srv := newServer(t, m)
		require.NotNil(t, srv.Client())
		c, err := srv.ClientE(exportkit.WithUserAgent("exporttest"))
		require.NoError(t, err)
		require.NotNil(t, c)
		_, err = srv.ClientE(exportkit.WithBaseURL(exportkit.Vendor("nobody"), "http://localhost"))
		assert.Error(t, err)
		assert.Panics(t, func() { srv.Client(exportkit.WithBaseURL(exportkit.Vendor("nobody"), "http://localhost")) },
			"a bad option fails loudly")
		assert.Len(t, srv.ClientOptions(), 11)
	})
}

func TestInMemoryCanonicalHeaders(t *testing.T) {
	srv := newServer(t, modes[1])
	r := call(t, srv, "GET", srv.URL()+"/api/team/exports", http.Header{"x-api-key": {exporttest.BrainbaseAPIKey}}, "")
	assert.Equal(t, http.StatusOK, r.code, "a raw lower-case key is read like a server does")
	assert.Equal(t, "Go-http-client/1.1", srv.Requests()[0].Header.Get("User-Agent"))
}
