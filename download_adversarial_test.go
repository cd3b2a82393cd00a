package exportkit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripted answers request i with the i-th step; the last step repeats.
type scripted struct {
	mu    sync.Mutex
	steps []func(w http.ResponseWriter, r *http.Request)
	reqs  []*http.Request
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := min(len(s.reqs), len(s.steps)-1)
	s.reqs = append(s.reqs, r.Clone(context.Background()))
	s.mu.Unlock()
	s.steps[i](w, r)
}

// cut sends the headers of the whole file and its first n bytes, then
// drops the connection.
func cut(data []byte, etag string, n int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:n])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
}

// partial answers 206 with the given Content-Range and body.
func partial(contentRange, etag string, body []byte, chunked bool) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		if etag != "" {
			w.Header().Set("ETag", etag)
		}
		w.Header().Set("Content-Range", contentRange)
		if !chunked {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body)
	}
}

func TestDownloadAdversarialResponses(t *testing.T) {
	data := testData(10_000)
	n := len(data)
	cr := func(a, b, total int) string { return fmt.Sprintf("bytes %d-%d/%d", a, b, total) }
	for _, tc := range []struct {
		name    string
		steps   []func(http.ResponseWriter, *http.Request)
		size    int // vendor size, -1 unknown
		err     string
		errIs   error
		resumes int
	}{
		{name: "206 at another offset", size: n, err: "got a range from 0",
			steps: []func(http.ResponseWriter, *http.Request){cut(data, `"a"`, 4000), partial(cr(0, n-1, n), `"a"`, data, false)}},
		{name: "206 with a malformed Content-Range", size: n, err: "Content-Range",
			steps: []func(http.ResponseWriter, *http.Request){cut(data, `"a"`, 4000), partial("bytes 4000-/10000", `"a"`, data[4000:], false)}},
		{name: "206 with another total", size: -1, err: "changed",
			steps: []func(http.ResponseWriter, *http.Request){cut(data, "", 4000), partial(cr(4000, n, n+1), "", data[4000:], false)}},
		{name: "206 with another ETag", size: n, err: "changed",
			steps: []func(http.ResponseWriter, *http.Request){cut(data, `"a"`, 4000), partial(cr(4000, n-1, n), `"b"`, data[4000:], false)}},
		{name: "206 longer than its range", size: -1, errIs: exportkit.ErrSizeMismatch,
			steps: []func(http.ResponseWriter, *http.Request){cut(data, `"a"`, 4000), partial(cr(4000, 4999, n), `"a"`, data[4000:], true)}},
		{name: "206 in pieces", size: n, resumes: 1, // a range ending early by design is no failure
			steps: []func(http.ResponseWriter, *http.Request){
				cut(data, `"a"`, 4000),
				partial(cr(4000, 4999, n), `"a"`, data[4000:5000], false),
				partial(cr(5000, n-1, n), `"a"`, data[5000:], false),
			}},
		{name: "unasked 206 from 0", size: n,
			steps: []func(http.ResponseWriter, *http.Request){partial(cr(0, n-1, n), `"a"`, data, false)}},
		{name: "unasked 206 from elsewhere", size: n, err: "got a range from byte 5",
			steps: []func(http.ResponseWriter, *http.Request){partial(cr(5, n-1, n), `"a"`, data[5:], false)}},
		{name: "204", size: n, err: "unexpected status 204",
			steps: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }}},
		{name: "redirect without Location", size: n, err: "without a Location",
			steps: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) }}},
		{name: "chunked body longer than the vendor size", size: n - 1, errIs: exportkit.ErrSizeMismatch,
			steps: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
				w.Write(data[:100])
				w.(http.Flusher).Flush()
				w.Write(data[100:])
			}}},
		{name: "chunked body shorter than the vendor size", size: n + 1, errIs: exportkit.ErrSizeMismatch,
			steps: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
				w.Write(data[:100])
				w.(http.Flusher).Flush()
				w.Write(data[100:])
			}}},
		{name: "unsendable ETag is not echoed", size: n, resumes: 1,
			steps: []func(http.ResponseWriter, *http.Request){
				cut(data, "\"caf\xc3\xa9\"", 4000),
				func(w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("If-Match") != "" {
						w.WriteHeader(http.StatusBadRequest)
						return
					}
					partial(cr(4000, n-1, n), "", data[4000:], false)(w, r)
				},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scripted{steps: tc.steps}
			srv := httptest.NewServer(s)
			defer srv.Close()
			c := newLoopbackClient(t, srv.URL)
			u := srv.URL + "/f?sig=" + signature
			e := &exportkit.LogExport{ID: "ex1", Status: "COMPLETED", DownloadURL: &u}
			if tc.size >= 0 {
				fs := float64(tc.size)
				e.FileSizeBytes = &fs
			}
			var buf bytes.Buffer
			res, err := c.Download(context.Background(), e, &buf, exportkit.WithMaxResumes(1))
			switch {
			case tc.errIs != nil:
				require.ErrorIs(t, err, tc.errIs)
			case tc.err != "":
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
			default:
				require.NoError(t, err)
				assert.Equal(t, data, buf.Bytes())
				assert.Equal(t, tc.resumes, res.Resumes)
				return
			}
			assert.Contains(t, err.Error(), `exportkit: brainbase: download "ex1"`)
			assertNoSecret(t, err.Error())
			assert.LessOrEqual(t, buf.Len(), n, "never more than the file")
		})
	}
}

func TestDownloadMemsolusRedirectWithoutLocation(t *testing.T) {
	e := newEnv(t, testData(10))
	e.api.memsolus = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "")
		w.WriteHeader(http.StatusFound)
	})
	_, err := e.client.Memories.Download(context.Background(), "mem1", io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "without a Location")
	e.api.memsolus = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://storage.example.com/x?sig="+signature, http.StatusFound)
	})
	_, err = e.client.Memories.Download(context.Background(), "mem1", io.Discard)
	require.ErrorIs(t, err, exportkit.ErrUnsafeURL)
	assertNoSecret(t, err.Error())
}
