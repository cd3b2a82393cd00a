package exportkit_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/bench"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Downloads against a real nginx: the storage peer whose Range, ETag,
// If-Match and If-Range are the real thing rather than this project's
// reading of the RFCs. The tests start nginx themselves on 127.0.0.1 with a
// generated configuration; they skip when nginx is not installed, except
// under CI=true, where they fail (.ci/run installs it).

const nginxFileSize = 8<<20 + 12345 // not a multiple of any buffer or part

// Two fixed mtimes, a year apart: nginx's ETag and Last-Modified come from
// the mtime and size, so a rewritten file of the same size gets new
// validators only if its mtime differs.
var (
	mtimeOld = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	mtimeNew = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

type nginxEnv struct {
	*bench.Nginx
	data []byte
	path string // of the served file
}

// startNginx serves one file of nginxFileSize random bytes, seeded with
// seed, as /export.csv (and /noetag/export.csv).
func startNginx(t *testing.T, seed uint64) *nginxEnv {
	t.Helper()
	if bench.NginxPath() == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("nginx is not installed, and CI=true: bash .ci/bench-tools.sh nginx installs it")
		}
		t.Skip("nginx is not installed (bash .ci/bench-tools.sh nginx installs it)")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "www")
	require.NoError(t, os.Mkdir(root, 0o755))
	e := &nginxEnv{data: randomBytes(seed, nginxFileSize), path: filepath.Join(root, "export.csv")}
	writeServed(t, e.path, e.data, mtimeOld)
	n, err := bench.StartNginx(t.Context(), dir, root)
	require.NoError(t, err)
	t.Cleanup(n.Stop)
	e.Nginx = n
	return e
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

// writeServed replaces the served file as a deployment would: a new file
// renamed over the old one, with the given mtime.
func writeServed(t *testing.T, path string, data []byte, mtime time.Time) {
	t.Helper()
	stageServed(t, path, data, mtime)()
}

// stageServed writes the replacement of the served file beside it and
// returns the rename that puts it in place: quick enough to run between
// two parts of a loopback download. It may run on any goroutine.
func stageServed(t *testing.T, path string, data []byte, mtime time.Time) (replace func()) {
	t.Helper()
	tmp := path + ".new"
	require.NoError(t, os.WriteFile(tmp, data, 0o644))
	require.NoError(t, os.Chtimes(tmp, mtime, mtime))
	return func() {
		if err := os.Rename(tmp, path); err != nil {
			t.Errorf("replace the served file: %v", err)
		}
	}
}

// downloadTo downloads exp to a file (DownloadFile) or to a buffer
// (Download) and returns the bytes it wrote and the result.
func downloadTo(t *testing.T, c *exportkit.Client, exp exportkit.Export, toFile bool, opts ...exportkit.DownloadOption) ([]byte, *exportkit.DownloadResult) {
	t.Helper()
	if !toFile {
		var buf bytes.Buffer
		res, err := c.Download(t.Context(), exp, &buf, opts...)
		require.NoError(t, err)
		return buf.Bytes(), res
	}
	out := filepath.Join(t.TempDir(), "out.csv")
	res, err := c.DownloadFile(t.Context(), exp, out, opts...)
	require.NoError(t, err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	return got, res
}

// nginxExport is a ready Brainbase export whose file is at u.
func nginxExport(u string, size int64) *exportkit.LogExport {
	fs := float64(size)
	u += "?X-Amz-Signature=nginx-test" // a signed URL's shape; nginx ignores the query
	return &exportkit.LogExport{ID: "exp_nginx", Status: "COMPLETED", DownloadURL: &u, FileSizeBytes: &fs}
}

// fileRequests are the access log's requests for the file, the test's own
// readiness probes left out.
func fileRequests(t *testing.T, n *bench.Nginx) []bench.NginxRequest {
	t.Helper()
	all, err := n.Requests()
	require.NoError(t, err)
	var reqs []bench.NginxRequest
	for _, r := range all {
		if strings.HasSuffix(r.URI, "/export.csv") {
			reqs = append(reqs, r)
		}
	}
	return reqs
}

// TestNginxDownload: one stream from nginx, to a file and to a writer,
// with and without a strong ETag, byte-identical and verified.
func TestNginxDownload(t *testing.T) {
	e := startNginx(t, 1)
	c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey("test"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, path string
		toFile     bool
	}{
		{"file", "/export.csv", true},
		{"writer", "/export.csv", false},
		{"file without ETag", "/noetag/export.csv", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp := nginxExport(e.URL+tc.path, nginxFileSize)
			// One stream (parts are TestNginxParts'): the file is more
			// than two of Download's 2 MiB parts.
			opts := []exportkit.DownloadOption{exportkit.WithChecksum("sha1", sha1Hex(e.data)), exportkit.WithConnections(1)}
			got, res := downloadTo(t, c, exp, tc.toFile, opts...)
			assert.True(t, bytes.Equal(e.data, got), "the output differs from the served file")
			assert.Equal(t, int64(nginxFileSize), res.Bytes)
			assert.True(t, res.Verified)
			assert.Equal(t, sha1Hex(e.data), res.SHA1)
			assert.Zero(t, res.Resumes)
		})
	}
	for _, r := range fileRequests(t, e.Nginx) {
		assert.Equal(t, "GET", r.Method)
		assert.Equal(t, 200, r.Status, "a fresh download asks for the whole file")
		assert.Empty(t, r.Range)
	}
}

// TestNginxResume cuts the first connection to nginx part way through the
// body (a proxy in between stops forwarding and closes it), optionally
// replacing the file at that moment, and checks what the resumed request
// carried and how nginx's answer was taken: with nginx's strong ETag, a
// range with If-Match, and 412 when the file changed; with only
// Last-Modified, a range with If-Range, and a whole new file (200) when it
// changed. A changed file is ErrFileChanged and leaves nothing behind.
func TestNginxResume(t *testing.T) {
	for _, tc := range []struct {
		name     string
		path     string
		change   bool
		ifMatch  bool // the resume carries If-Match (else If-Range)
		statuses []int
	}{
		{"ETag", "/export.csv", false, true, []int{200, 206}},
		{"ETag, file replaced", "/export.csv", true, true, []int{200, 412}},
		{"Last-Modified only", "/noetag/export.csv", false, false, []int{200, 206}},
		{"Last-Modified only, file replaced", "/noetag/export.csv", true, false, []int{200, 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startNginx(t, 2)
			replace := stageServed(t, e.path, randomBytes(3, nginxFileSize), mtimeNew)
			p := startCutProxy(t, strings.TrimPrefix(e.URL, "http://"), 3<<20, func() {
				if tc.change {
					replace()
				}
			})
			c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey("test"))
			require.NoError(t, err)
			dir := t.TempDir()
			out := filepath.Join(dir, "out.csv")
			// One stream: a resume of parts is TestNginxParts'.
			res, err := c.DownloadFile(t.Context(), nginxExport("http://"+p+tc.path, nginxFileSize), out, exportkit.WithConnections(1))

			reqs := fileRequests(t, e.Nginx)
			var statuses []int
			for _, r := range reqs {
				statuses = append(statuses, r.Status)
			}
			require.Equal(t, tc.statuses, statuses, "statuses of the requests nginx logged")
			first, resume := reqs[0], reqs[1]
			assert.Empty(t, first.Range)
			off, ok := strings.CutPrefix(resume.Range, "bytes=")
			require.True(t, ok, "the resume asks for a range: %q", resume.Range)
			start, err2 := strconv.ParseInt(strings.TrimSuffix(off, "-"), 10, 64)
			require.NoError(t, err2, "range %q", resume.Range)
			assert.Greater(t, start, int64(1<<20), "the resume starts after what arrived")
			assert.Less(t, start, int64(3<<20))
			if tc.ifMatch {
				require.NotEmpty(t, first.ETag)
				assert.False(t, strings.HasPrefix(first.ETag, "W/"), "nginx's ETag is strong")
				assert.Equal(t, first.ETag, resume.IfMatch, "the resume carries If-Match with nginx's ETag")
				assert.Empty(t, resume.IfRange)
			} else {
				assert.Empty(t, first.ETag)
				assert.Equal(t, mtimeOld.Format(http.TimeFormat), resume.IfRange, "the resume carries If-Range with nginx's Last-Modified")
				assert.Empty(t, resume.IfMatch)
			}

			entries, _ := os.ReadDir(dir)
			if tc.change {
				require.ErrorIs(t, err, exportkit.ErrFileChanged)
				assert.Empty(t, entries, "a changed file leaves nothing behind")
				return
			}
			require.NoError(t, err)
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(e.data, got), "the resumed output differs from the served file")
			assert.Equal(t, 1, res.Resumes)
			assert.True(t, res.Verified)
		})
	}
}

// startCutProxy forwards 127.0.0.1 connections to upstream. Once cutAt
// bytes from upstream have been read, over all connections together, atCut
// runs, and the connection that reached cutAt is closed on both sides
// after its first cutAt bytes (the others go on). The proxy stops, its goroutines ended, when
// the test ends.
func startCutProxy(t *testing.T, upstream string, cutAt int64, atCut func()) string {
	return startProxy(t, upstream, cutAt, atCut, true)
}

// startProxy is startCutProxy that, without cut, goes on forwarding on
// the connection that reached at once hook has run.
func startProxy(t *testing.T, upstream string, at int64, hook func(), cut bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex // guards conns, total and fired
		conns []net.Conn
		total int64
		fired bool
	)
	// forward copies up to down until either side ends, or until it
	// reaches at (true: then cut).
	forward := func(down, up net.Conn) bool {
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 {
				mu.Lock()
				m, reached := n, false
				if !fired && total+int64(n) >= at {
					m, reached, fired = int(at-total), true, true
				}
				total += int64(n)
				mu.Unlock()
				if reached {
					hook() // before these bytes go on: the client may not read them for a while
				}
				if _, werr := down.Write(buf[:m]); werr != nil {
					return false
				}
				if reached {
					if cut {
						return true
					}
					if _, werr := down.Write(buf[m:n]); werr != nil {
						return false
					}
				}
			}
			if err != nil {
				return false
			}
		}
	}
	wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, down, up)
			mu.Unlock()
			wg.Go(func() { io.Copy(up, down); up.(*net.TCPConn).CloseWrite() })
			wg.Go(func() {
				defer down.Close()
				defer up.Close()
				forward(down, up)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
