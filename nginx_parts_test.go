package exportkit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/bench"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const nginxPartSize = 1 << 20

// TestNginxParts: parallel ranged parts from nginx, to a file and to a
// writer: byte-identical, and every part a 206 for the range it asked,
// with If-Match carrying the ETag of nginx's first response.
func TestNginxParts(t *testing.T) {
	for _, toFile := range []bool{true, false} {
		t.Run(map[bool]string{true: "file", false: "writer"}[toFile], func(t *testing.T) {
			e := startNginx(t, 4)
			c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey("test"))
			require.NoError(t, err)
			exp := nginxExport(e.URL+"/export.csv", nginxFileSize)
			opts := []exportkit.DownloadOption{exportkit.WithConnections(4), exportkit.WithPartSize(nginxPartSize),
				exportkit.WithChecksum("sha1", sha1Hex(e.data))}
			got, res := downloadTo(t, c, exp, toFile, opts...)
			assert.True(t, bytes.Equal(e.data, got), "the output differs from the served file")
			assert.True(t, res.Verified)
			assert.Greater(t, res.Parts, 1, "fetched in parts")

			reqs := fileRequests(t, e.Nginx)
			require.NotEmpty(t, reqs)
			// nginx logs a request when it ends: the first (a plain GET,
			// read for part 0 and then closed) is not always first.
			first, ranged := splitFirst(t, reqs)
			etag := first.ETag
			require.NotEmpty(t, etag)
			assert.False(t, strings.HasPrefix(etag, "W/"), "nginx's ETag is strong")
			type span struct{ start, end int64 }
			covered := []span{{0, nginxPartSize}} // part 0, from the first response
			for _, r := range ranged {
				assert.Equal(t, 206, r.Status, "a part is a 206: %+v", r)
				if r.IfMatch == "" {
					// Sent beside the first request, before its ETag was
					// known: used only because its answer had that ETag.
					assert.Equal(t, etag, r.ETag, "an early part is of the same file: %+v", r)
				} else {
					assert.Equal(t, etag, r.IfMatch, "a part carries If-Match with nginx's ETag: %+v", r)
				}
				s, end, ok := parseRange(r.Range)
				require.True(t, ok, "a part asks for a closed range: %q", r.Range)
				assert.Equal(t, end-s+1, r.Bytes, "nginx sent exactly the range")
				covered = append(covered, span{s, end + 1})
			}
			slices.SortFunc(covered, func(a, b span) int { return int(a.start - b.start) })
			var next int64
			for _, sp := range covered {
				assert.Equal(t, next, sp.start, "parts are disjoint and leave no gap")
				next = sp.end
			}
			assert.Equal(t, int64(nginxFileSize), next, "parts cover the file")
		})
	}
}

// TestNginxPartsFileChanged replaces the served file (new mtime, so a new
// ETag) once a third of it has arrived: the parts asked for after that get
// 412 from nginx, and the download is ErrFileChanged with nothing left
// behind.
func TestNginxPartsFileChanged(t *testing.T) {
	e := startNginx(t, 5)
	replace := stageServed(t, e.path, randomBytes(6, nginxFileSize), mtimeNew)
	p := startProxy(t, strings.TrimPrefix(e.URL, "http://"), nginxFileSize/3, replace, false)
	c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey("test"))
	require.NoError(t, err)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.csv")
	_, err = c.DownloadFile(t.Context(), nginxExport("http://"+p+"/export.csv", nginxFileSize), out,
		exportkit.WithConnections(2), exportkit.WithPartSize(nginxPartSize))
	reqs := fileRequests(t, e.Nginx)
	require.ErrorIs(t, err, exportkit.ErrFileChanged, "requests: %+v", reqs)
	entries, _ := os.ReadDir(dir)
	assert.Empty(t, entries, "a changed file leaves nothing behind: no file, no partial file, no state")

	first, ranged := splitFirst(t, reqs)
	saw412 := false
	for _, r := range ranged {
		if r.IfMatch == "" {
			// An early part, sent beside the first request: answered
			// before the file was replaced, from the same file.
			assert.Equal(t, first.ETag, r.ETag, "an early part is of the first file: %+v", r)
			continue
		}
		assert.Equal(t, first.ETag, r.IfMatch, "every later part carries If-Match with the first ETag: %+v", r)
		saw412 = saw412 || r.Status == 412
	}
	assert.True(t, saw412, "nginx refused a part of the replaced file: %+v", reqs)
}

// TestNginxPartsNoETag: without an ETag there is no validator for parts,
// so the download is one stream, and no request carries If-Match; the
// early part requests sent beside the first (before its headers showed
// no ETag) are closed unused.
func TestNginxPartsNoETag(t *testing.T) {
	e := startNginx(t, 7)
	c, err := exportkit.NewClient(exportkit.WithBrainbaseAPIKey("test"))
	require.NoError(t, err)
	out := filepath.Join(t.TempDir(), "out.csv")
	res, err := c.DownloadFile(t.Context(), nginxExport(e.URL+"/noetag/export.csv", nginxFileSize), out,
		exportkit.WithConnections(4), exportkit.WithPartSize(nginxPartSize))
	require.NoError(t, err)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(e.data, got))
	assert.Equal(t, 1, res.Parts)
	_, ranged := splitFirst(t, fileRequests(t, e.Nginx))
	assert.LessOrEqual(t, len(ranged), 3, "only the early parts asked for a range")
	for _, r := range ranged {
		assert.Empty(t, r.IfMatch)
	}
}

// splitFirst returns the one request without a Range (the first the
// download made) and the others.
func splitFirst(t *testing.T, reqs []bench.NginxRequest) (first bench.NginxRequest, ranged []bench.NginxRequest) {
	t.Helper()
	n := 0
	for _, r := range reqs {
		if r.Range == "" {
			first, n = r, n+1
		} else {
			ranged = append(ranged, r)
		}
	}
	require.Equal(t, 1, n, "one request without a range: %+v", reqs)
	return first, ranged
}

// parseRange parses "bytes=S-E".
func parseRange(h string) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	s, err1 := strconv.ParseInt(a, 10, 64)
	e, err2 := strconv.ParseInt(b, 10, 64)
	return s, e, err1 == nil && err2 == nil && e >= s
}
