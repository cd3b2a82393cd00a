package exportkit_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDownloadEveryVendor(t *testing.T) {
	data := testData(100_000)
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, data)
			e.api.sha1 = sha1Hex(data)
			var buf bytes.Buffer
			res, err := vendorDownload(context.Background(), e.client, v, &buf, exportkit.WithSHA1())
			require.NoError(t, err)
			assert.Equal(t, data, buf.Bytes())
			assert.Equal(t, int64(len(data)), res.Bytes)
			assert.Equal(t, sha1Hex(data), res.SHA1)
			assert.Equal(t, 0, res.Resumes)
			// Memsolus reports no size or checksum: nothing to verify against.
			assert.Equal(t, v != exportkit.Memsolus, res.Verified)
			reqs := e.storage.requests()
			require.Len(t, reqs, 1)
			assert.Equal(t, "identity", reqs[0].header.Get("Accept-Encoding"))
			assert.Empty(t, reqs[0].header.Get("Range"))
			assertNoCredential(t, reqs)
		})
	}
}

// QUALITY.md 10: a reset at 1 byte, 50% and 99.9% resumes with a validated
// range, and moves no more than the file plus what was in flight.
func TestDownloadResumesAfterReset(t *testing.T) {
	const size = 1 << 20
	data := testData(size)
	for _, tc := range []struct {
		name string
		cut  int64
	}{
		{"1 byte", 1},
		{"50%", size / 2},
		{"99.9%", size * 999 / 1000},
	} {
		for _, v := range allVendors {
			t.Run(tc.name+"/"+string(v), func(t *testing.T) {
				e := newEnv(t, data)
				e.storage.faults[0] = fault{cutAt: tc.cut}
				var buf bytes.Buffer
				res, err := vendorDownload(context.Background(), e.client, v, &buf, exportkit.WithSHA1())
				require.NoError(t, err)
				require.True(t, bytes.Equal(data, buf.Bytes()), "content differs")
				assert.Equal(t, 1, res.Resumes)
				assert.Equal(t, sha1Hex(data), res.SHA1)
				reqs := e.storage.requests()
				require.Len(t, reqs, 2)
				assert.Equal(t, "bytes="+itoa(tc.cut)+"-", reqs[1].header.Get("Range"))
				assert.Equal(t, `"v1"`, reqs[1].header.Get("If-Match"))
				assert.LessOrEqual(t, e.storage.servedBytes(), int64(size))
				assertNoCredential(t, reqs)
			})
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func fmtDec(n int64) string { return strconv.FormatInt(n, 10) }

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// fmtV formats err every way a caller might print it.
func fmtV(err error) string { return fmt.Sprintf("%v %+v %#v %s", err, err, err, err) }

func TestDownloadWithoutETagResumesWithIfRange(t *testing.T) {
	data := testData(64 << 10)
	e := newEnv(t, data)
	e.storage.etag = ""
	e.storage.faults[0] = fault{cutAt: 1000}
	var buf bytes.Buffer
	_, err := e.client.Exports.Download(context.Background(), "ex1", &buf)
	require.NoError(t, err)
	assert.Equal(t, data, buf.Bytes())
	reqs := e.storage.requests()
	require.Len(t, reqs, 2)
	assert.Empty(t, reqs[1].header.Get("If-Match"))
	assert.Equal(t, e.storage.modTime.Format(http.TimeFormat), reqs[1].header.Get("If-Range"))
}

// QUALITY.md 10: a 200 to a Range request never appends the whole file
// after the part already written.
func TestDownloadServerIgnoresRange(t *testing.T) {
	data := testData(256 << 10)
	t.Run("validators match: skip to the offset", func(t *testing.T) {
		e := newEnv(t, data)
		e.storage.ignoreRange = true
		e.storage.faults[0] = fault{cutAt: 100_000}
		var buf bytes.Buffer
		res, err := e.client.Exports.Download(context.Background(), "ex1", &buf)
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, buf.Bytes()))
		assert.Equal(t, 1, res.Resumes)
		assert.True(t, res.Verified)
	})
	t.Run("validators differ: clean failure", func(t *testing.T) {
		e := newEnv(t, data)
		e.storage.ignoreRange = true
		e.storage.faultFor = func(i int) fault {
			if i == 0 {
				return fault{cutAt: 100_000}
			}
			e.storage.etag = `"v2"` // under the storage's lock
			return fault{}
		}
		var buf bytes.Buffer
		_, err := e.client.Exports.Download(context.Background(), "ex1", &buf)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "changed")
		assert.Contains(t, err.Error(), `"ex1"`)
		assert.Equal(t, 100_000, buf.Len(), "nothing may be appended after the part already written")
		assert.True(t, bytes.Equal(data[:100_000], buf.Bytes()))
	})
}

func TestDownloadFileChanged(t *testing.T) {
	data := testData(256 << 10)
	t.Run("412 on If-Match", func(t *testing.T) {
		e := newEnv(t, data)
		e.storage.faultFor = func(i int) fault {
			if i == 0 {
				return fault{cutAt: 5000}
			}
			e.storage.etag = `"v2"`
			return fault{}
		}
		_, err := e.client.Exports.Download(context.Background(), "ex1", io.Discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "changed")
		assert.Contains(t, err.Error(), "412")
		assert.Len(t, e.storage.requests(), 2, "a changed file is not retried")
	})
	t.Run("total changed in Content-Range", func(t *testing.T) {
		e := newEnv(t, data)
		e.storage.etag = ""
		e.api.size = -1
		e.storage.faultFor = func(i int) fault {
			if i == 0 {
				return fault{cutAt: 5000}
			}
			e.storage.data = data[:200_000]
			return fault{}
		}
		_, err := e.client.Exports.Download(context.Background(), "ex1", io.Discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "changed")
	})
}

// A server announcing more bytes than it sends: resumes, then a size
// mismatch, never a silent short file.
func TestDownloadContentLengthLongerThanBody(t *testing.T) {
	data := testData(1000)
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Length", "2000")
		w.Write(data)
	}))
	defer srv.Close()
	c := newLoopbackClient(t, srv.URL)
	u := srv.URL + "/f?sig=" + signature
	exp := &exportkit.LogExport{ID: "ex1", Status: "COMPLETED", DownloadURL: &u}
	var buf bytes.Buffer
	_, err := c.Download(context.Background(), exp, &buf, exportkit.WithMaxResumes(2))
	require.Error(t, err)
	assert.ErrorIs(t, err, exportkit.ErrSizeMismatch)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Contains(t, err.Error(), "gave up after 3 attempts")
	assert.Equal(t, int32(3), hits.Load())
	assert.Equal(t, 1000, buf.Len())
	assertNoSecret(t, err.Error())
}

func TestDownloadGivesUpWithoutProgressOnly(t *testing.T) {
	data := testData(50_000)
	e := newEnv(t, data)
	// Every response moves 5000 bytes, then drops: nine resumes with
	// progress are fine even with WithMaxResumes(1).
	e.storage.faultFor = func(i int) fault { return fault{cutAt: int64(i+1) * 5000} }
	var buf bytes.Buffer
	res, err := e.client.Exports.Download(context.Background(), "ex1", &buf, exportkit.WithMaxResumes(1))
	require.NoError(t, err)
	assert.Equal(t, data, buf.Bytes())
	assert.Equal(t, 9, res.Resumes)

	e = newEnv(t, data)
	e.storage.faults[1] = fault{status: http.StatusServiceUnavailable}
	e.storage.faults[2] = fault{status: http.StatusBadGateway}
	e.storage.faults[0] = fault{cutAt: 10}
	res, err = e.client.Exports.Download(context.Background(), "ex1", io.Discard, exportkit.WithMaxResumes(3))
	require.NoError(t, err, "5xx from storage are retried")
	assert.Equal(t, 3, res.Resumes)

	e = newEnv(t, data)
	e.storage.faultFor = func(int) fault { return fault{status: http.StatusInternalServerError} }
	_, err = e.client.Exports.Download(context.Background(), "ex1", io.Discard, exportkit.WithMaxResumes(0))
	require.Error(t, err)
	assert.Len(t, e.storage.requests(), 1)
	assert.Contains(t, err.Error(), "500")
	// One prefix, general to specific, even around the storage's error.
	assert.True(t, strings.HasPrefix(err.Error(), `exportkit: brainbase: download "ex1": gave up after 1 attempts`), err.Error())
	assert.Equal(t, 1, strings.Count(err.Error(), "exportkit: "), err.Error())
	var ae *exportkit.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusInternalServerError, ae.StatusCode)
}

// QUALITY.md 12: an expired signed URL is refreshed through the status
// endpoint, and the download goes on at its offset.
func TestDownloadExpiredURLMidFile(t *testing.T) {
	data := testData(300_000)
	for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Orbit, exportkit.Kore} {
		t.Run(string(v), func(t *testing.T) {
			e := newEnv(t, data)
			var sig atomic.Int32
			sig.Store(1)
			e.api.url = func() string {
				return e.storageSrv.URL + "/bucket/file.csv?X-Amz-Signature=" + signature + "&sig=" + fmtDec(int64(sig.Load()))
			}
			e.storage.requireSig = "1"
			e.storage.faultFor = func(i int) fault {
				if i == 0 {
					// The URL expires while the first response is being read.
					e.storage.requireSig = "2"
					sig.Store(2)
					return fault{cutAt: 150_000}
				}
				return fault{}
			}
			var buf bytes.Buffer
			res, err := vendorDownload(context.Background(), e.client, v, &buf)
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, buf.Bytes()))
			assert.Equal(t, 2, e.api.count(string(v)), "one status read to start, one for the fresh URL")
			reqs := e.storage.requests()
			require.Len(t, reqs, 3)
			assert.Equal(t, "1", reqs[1].query.Get("sig"))
			assert.Equal(t, "2", reqs[2].query.Get("sig"))
			assert.Equal(t, "bytes=150000-", reqs[2].header.Get("Range"))
			assert.Equal(t, 2, res.Resumes)
		})
	}
}

func TestDownloadHeldExportUsesItsURLFirst(t *testing.T) {
	data := testData(10_000)
	e := newEnv(t, data)
	u := e.api.url()
	size := float64(len(data))
	exp := &exportkit.LogExport{ID: "ex1", Status: "COMPLETED", DownloadURL: &u, FileSizeBytes: &size}
	res, err := e.client.Download(context.Background(), exp, io.Discard)
	require.NoError(t, err)
	assert.True(t, res.Verified)
	assert.Equal(t, 0, e.api.count("brainbase"), "a held ready export needs no status read")

	// Its URL expired: one status read for a fresh one.
	e.storage.requireSig = "fresh"
	e.api.url = func() string { return e.storageSrv.URL + "/bucket/file.csv?sig=fresh" }
	res, err = e.client.Download(context.Background(), exp, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 1, e.api.count("brainbase"))
	assert.Equal(t, int64(len(data)), res.Bytes)

	// Still refused with the fresh URL: ErrForbidden, not a loop.
	e.storage.requireSig = "never"
	_, err = e.client.Download(context.Background(), exp, io.Discard)
	require.ErrorIs(t, err, exportkit.ErrForbidden)
	assert.Equal(t, 2, e.api.count("brainbase"))
	assertNoSecret(t, err.Error())
}

func TestDownloadNotReadyExport(t *testing.T) {
	c := newLoopbackClient(t, "http://127.0.0.1:1")
	_, err := c.Download(context.Background(), &exportkit.LogExport{ID: "ex1", Status: "FAILED"}, io.Discard)
	require.ErrorIs(t, err, exportkit.ErrExportFailed)
	_, err = c.Download(context.Background(), &exportkit.AudienceRun{ID: "r1"}, io.Discard)
	require.Error(t, err)
	_, err = c.Download(context.Background(), nil, io.Discard)
	require.Error(t, err)
}

// QUALITY.md 13: a corrupted byte is ErrChecksumMismatch, and DownloadFile
// leaves nothing at the path.
func TestDownloadChecksums(t *testing.T) {
	data := testData(200_000)
	bad := bytes.Clone(data)
	bad[123_456] ^= 0x01
	sum256 := sha256.Sum256(data)
	for _, tc := range []struct {
		name   string
		setup  func(e *env)
		opts   []exportkit.DownloadOption
		vendor exportkit.Vendor
		err    error
	}{
		{name: "orbit contentSha1", vendor: exportkit.Orbit, err: exportkit.ErrChecksumMismatch,
			setup: func(e *env) { e.api.sha1 = sha1Hex(data); e.storage.data = bad }},
		{name: "orbit contentSha1 ok", vendor: exportkit.Orbit,
			setup: func(e *env) { e.api.sha1 = strings.ToUpper(sha1Hex(data)) }},
		{name: "X-Bz-Content-Sha1", vendor: exportkit.Kore, err: exportkit.ErrChecksumMismatch,
			setup: func(e *env) {
				e.storage.header = http.Header{"X-Bz-Content-Sha1": {sha1Hex(data)}}
				e.storage.data = bad
			}},
		{name: "X-Bz-Content-Sha1 unverified", vendor: exportkit.Memsolus, err: exportkit.ErrChecksumMismatch,
			setup: func(e *env) {
				e.storage.header = http.Header{"X-Bz-Content-Sha1": {"unverified:" + sha1Hex(data)}}
				e.storage.data = bad
			}},
		{name: "X-Bz-Content-Sha1 none", vendor: exportkit.Memsolus,
			setup: func(e *env) { e.storage.header = http.Header{"X-Bz-Content-Sha1": {"none"}}; e.storage.data = bad }},
		{name: "WithChecksum sha256", vendor: exportkit.Memsolus, err: exportkit.ErrChecksumMismatch,
			opts:  []exportkit.DownloadOption{exportkit.WithChecksum("sha256", hex.EncodeToString(sum256[:]))},
			setup: func(e *env) { e.storage.data = bad }},
		{name: "WithChecksum md5 ok", vendor: exportkit.Memsolus,
			opts: []exportkit.DownloadOption{exportkit.WithChecksum("MD5", md5Hex(data)), exportkit.WithChecksum("sha1", sha1Hex(data))}},
		{name: "vendor size", vendor: exportkit.Brainbase, err: exportkit.ErrSizeMismatch,
			setup: func(e *env) { e.api.size = int64(len(data)) + 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, data)
			if tc.setup != nil {
				tc.setup(e)
			}
			var buf bytes.Buffer
			res, err := vendorDownload(context.Background(), e.client, tc.vendor, &buf, tc.opts...)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Contains(t, err.Error(), "exportkit: "+string(tc.vendor)+": download")
				assert.Equal(t, 1, strings.Count(err.Error(), "exportkit:"), err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(e.storage.data), buf.Len())
			assert.Equal(t, tc.name != "X-Bz-Content-Sha1 none", res.Verified)
		})
	}
}

func TestDownloadBadChecksumOption(t *testing.T) {
	e := newEnv(t, testData(10))
	for _, opt := range []exportkit.DownloadOption{
		exportkit.WithChecksum("crc32", "00000000"),
		exportkit.WithChecksum("sha1", "xyz"),
		exportkit.WithChecksum("sha256", sha1Hex(nil)),
	} {
		_, err := e.client.Exports.Download(context.Background(), "ex1", io.Discard, opt)
		require.Error(t, err)
	}
	assert.Empty(t, e.storage.requests(), "a bad option fails before any request")
}

func TestDownloadFileChecksumMismatchLeavesNothing(t *testing.T) {
	data := testData(200_000)
	bad := bytes.Clone(data)
	bad[199_999] ^= 0xff
	e := newEnv(t, bad)
	e.api.sha1 = sha1Hex(data)
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	_, err := e.client.Audiences.DownloadFile(context.Background(), exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "e1"}, path)
	require.ErrorIs(t, err, exportkit.ErrChecksumMismatch)
	assertDirEmpty(t, dir)

	// An existing file stays untouched on failure, and is replaced on success.
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	_, err = e.client.Audiences.DownloadFile(context.Background(), exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "e1"}, path)
	require.ErrorIs(t, err, exportkit.ErrChecksumMismatch)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "old", string(got))
	assertDirHolds(t, dir, "out.csv")

	e.storage.data = data
	res, err := e.client.Audiences.DownloadFile(context.Background(), exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "e1"}, path)
	require.NoError(t, err)
	assert.True(t, res.Verified)
	got, err = os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))
	assertDirHolds(t, dir, "out.csv")
}

func TestDownloadFileResumes(t *testing.T) {
	data := testData(500_000)
	e := newEnv(t, data)
	e.storage.faults[0] = fault{cutAt: 250_000}
	path := filepath.Join(t.TempDir(), "bot.zip")
	res, err := e.client.Bots.DownloadFile(context.Background(), "st-1", path)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Resumes)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))
}

func TestDownloadFileTakesOverStalePartial(t *testing.T) {
	data := testData(1000)
	e := newEnv(t, data)
	dir := t.TempDir()
	path := filepath.Join(dir, "x.csv")
	require.NoError(t, os.WriteFile(path+".partial", bytes.Repeat([]byte("z"), 5000), 0o600))
	_, err := e.client.Exports.DownloadFile(context.Background(), "ex1", path)
	require.NoError(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assertDirHolds(t, dir, "x.csv")
}

func TestDownloadFileConcurrentSamePath(t *testing.T) {
	data := testData(100_000)
	e := newEnv(t, data)
	e.storage.faults[0] = fault{stall: 50_000}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.csv")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := e.client.Exports.DownloadFile(ctx, "ex1", path, exportkit.WithProgress(func(exportkit.Progress) {}),
			exportkit.WithIdleTimeout(time.Hour))
		done <- err
	}()
	go func() {
		for len(e.storage.requests()) == 0 || e.storage.servedBytes() < 50_000 {
			time.Sleep(time.Millisecond)
		}
		close(started)
	}()
	<-started
	_, err := e.client.Exports.DownloadFile(context.Background(), "ex1", path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "another download")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	// Nothing reached the path; the cancelled download keeps what it had
	// received, with its state, for a later run (nothing when the
	// cancellation came before the first bytes).
	_, err = os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
	assertDirHoldsKept(t, dir, "x.csv")
}

// QUALITY.md 14: cancelling mid-body returns within 100 ms and leaves no
// file at the path (goleak checks the goroutines in TestMain); the partial
// file and its state stay for a later run.
func TestDownloadFileCancelMidBody(t *testing.T) {
	data := testData(1 << 20)
	e := newEnv(t, data)
	e.storage.faults[0] = fault{stall: 600_000}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.csv")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled atomic.Int64
	go func() {
		for e.storage.servedBytes() < 600_000 {
			time.Sleep(time.Millisecond)
		}
		cancelled.Store(time.Now().UnixNano())
		cancel()
	}()
	_, err := e.client.Exports.DownloadFile(ctx, "ex1", path)
	returned := time.Now().UnixNano()
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Duration(returned-cancelled.Load()), 100*time.Millisecond)
	got, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Equal(t, "old", string(got))
	assertDirHoldsKept(t, dir, "x.csv", "x.csv")
	assert.Contains(t, err.Error(), `exportkit: brainbase: download "ex1"`)
}

func TestDownloadFileOverADirectory(t *testing.T) {
	e := newEnv(t, testData(1000))
	dir := t.TempDir()
	path := filepath.Join(dir, "taken")
	require.NoError(t, os.Mkdir(path, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(path, "keep"), nil, 0o600))
	_, err := e.client.Exports.DownloadFile(context.Background(), "ex1", path)
	require.Error(t, err)
	require.ErrorIs(t, err, exportkit.ErrInvalidInput, "refused before any request")
	assert.Contains(t, err.Error(), `exportkit: brainbase: download "ex1": `)
	assert.Contains(t, err.Error(), "is a directory")
	assertDirHolds(t, dir, "taken")
	assertDirHolds(t, path, "keep")
}

func TestDownloadFileBadPath(t *testing.T) {
	e := newEnv(t, testData(10))
	_, err := e.client.Exports.DownloadFile(context.Background(), "ex1", "")
	require.Error(t, err)
	_, err = e.client.Exports.DownloadFile(context.Background(), "ex1", filepath.Join(t.TempDir(), "missing", "x"))
	require.Error(t, err)
	assert.Empty(t, e.storage.requests())
}

func TestDownloadMemsolus(t *testing.T) {
	data := testData(70_000)
	t.Run("bytes from the API", func(t *testing.T) {
		e := newEnv(t, data)
		var got []http.Header
		e.api.memsolus = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = append(got, r.Header.Clone())
			w.Header().Set("Content-Disposition", `attachment; filename="memories.json"`)
			w.Header().Set("Content-Type", "application/json")
			if len(got) == 1 {
				w.Header().Set("Content-Length", "70000")
				w.Write(data[:30_000])
				panic(http.ErrAbortHandler)
			}
			e.storage.ServeHTTP(w, r)
		})
		var buf bytes.Buffer
		res, err := e.client.Memories.Download(context.Background(), "mem1", &buf)
		require.NoError(t, err)
		assert.Equal(t, data, buf.Bytes())
		assert.Equal(t, "memories.json", res.FileName)
		assert.Equal(t, "application/json", res.ContentType)
		assert.Equal(t, 1, res.Resumes)
		assert.False(t, res.Verified)
		require.Len(t, got, 2)
		assert.Equal(t, "identity", got[0].Get("Accept-Encoding"))
		assert.Equal(t, "*/*", got[0].Get("Accept"), "the download asks for the file, not JSON")
		assert.Equal(t, "bytes=30000-", got[1].Get("Range"))
		assert.Empty(t, e.storage.requests()[0].header.Get("If-Match"), "the first response had no ETag")
	})
	t.Run("redirect to storage", func(t *testing.T) {
		e := newEnv(t, data)
		var buf bytes.Buffer
		_, err := e.client.Memories.Download(context.Background(), "mem1", &buf)
		require.NoError(t, err)
		assert.Equal(t, data, buf.Bytes())
		assertNoCredential(t, e.storage.requests())
	})
	t.Run("not ready", func(t *testing.T) {
		e := newEnv(t, data)
		e.api.memsolus = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error":"EXPORT_NOT_READY","message":"not ready"}`))
		})
		_, err := e.client.Memories.Download(context.Background(), "mem1", io.Discard)
		require.ErrorIs(t, err, exportkit.ErrNotReady)
	})
}

// QUALITY.md 1: no credential reaches a storage host across redirect
// chains, for any vendor.
func TestDownloadRedirectChainsCarryNoCredential(t *testing.T) {
	data := testData(40_000)
	for _, chain := range []struct {
		name  string
		hops  map[string]string // on storage a and b
		start string
	}{
		{name: "a→b", start: "a:/start", hops: map[string]string{"a:/start": "b:/file"}},
		{name: "a→b→b", start: "a:/start", hops: map[string]string{"a:/start": "b:/hop", "b:/hop": "b:/file"}},
		{name: "a→b→a→b", start: "a:/start", hops: map[string]string{"a:/start": "b:/hop", "b:/hop": "a:/back", "a:/back": "b:/file"}},
	} {
		for _, v := range allVendors {
			t.Run(chain.name+"/"+string(v), func(t *testing.T) {
				a, b := newFakeStorage(data), newFakeStorage(data)
				as, bs := httptest.NewServer(a), httptest.NewServer(b)
				defer as.Close()
				defer bs.Close()
				host := map[string]string{"a": as.URL, "b": bs.URL}
				resolve := func(s string) string {
					h, p, _ := strings.Cut(s, ":")
					return host[h] + p + "?sig=" + signature
				}
				a.redirects, b.redirects = map[string]string{}, map[string]string{}
				for from, to := range chain.hops {
					h, p, _ := strings.Cut(from, ":")
					map[string]*fakeStorage{"a": a, "b": b}[h].redirects[p] = resolve(to)
				}
				b.faults[len(chain.hops)/2] = fault{cutAt: 20_000} // and a resume through the chain
				api := &vendorAPI{t: t, size: int64(len(data)), url: func() string { return resolve(chain.start) }}
				apiSrv := httptest.NewServer(api)
				defer apiSrv.Close()
				c := newLoopbackClient(t, apiSrv.URL)
				var buf bytes.Buffer
				res, err := vendorDownload(context.Background(), c, v, &buf)
				require.NoError(t, err)
				assert.Equal(t, data, buf.Bytes())
				assert.Equal(t, 1, res.Resumes)
				assertNoCredential(t, append(a.requests(), b.requests()...))
			})
		}
	}
}

func TestDownloadHTTPSToHTTPRedirect(t *testing.T) {
	data := testData(30_000)
	plain := newFakeStorage(data)
	ps := httptest.NewServer(plain)
	defer ps.Close()
	tlsStore := newFakeStorage(data)
	ts := httptest.NewTLSServer(tlsStore)
	defer ts.Close()
	tlsStore.redirects = map[string]string{"/file": ps.URL + "/file?sig=" + signature}
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			api := &vendorAPI{t: t, size: int64(len(data)), url: func() string { return ts.URL + "/file?sig=" + signature }}
			apiSrv := httptest.NewServer(api)
			defer apiSrv.Close()
			c := newLoopbackClient(t, apiSrv.URL, exportkit.WithStorageHTTPClient(ts.Client()))
			var buf bytes.Buffer
			_, err := vendorDownload(context.Background(), c, v, &buf)
			require.NoError(t, err)
			assert.Equal(t, data, buf.Bytes())
		})
	}
	assertNoCredential(t, append(tlsStore.requests(), plain.requests()...))

	// The same downgrade to a host that is not loopback is refused before
	// any request to it.
	tlsStore.redirects["/file"] = "http://storage.example.com/file?sig=" + signature
	api := &vendorAPI{t: t, size: int64(len(data)), url: func() string { return ts.URL + "/file?sig=" + signature }}
	apiSrv := httptest.NewServer(api)
	defer apiSrv.Close()
	c := newLoopbackClient(t, apiSrv.URL, exportkit.WithStorageHTTPClient(ts.Client()))
	_, err := c.Exports.Download(context.Background(), "ex1", io.Discard)
	require.ErrorIs(t, err, exportkit.ErrUnsafeURL)
	assertNoSecret(t, err.Error())
}

// failTransport fails the test on any request.
type failTransport struct{ t *testing.T }

func (f failTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("unexpected request to %s", r.URL.Host)
	return nil, errors.New("no request expected")
}

// QUALITY.md 3: unsafe download URLs and redirect targets are refused with
// ErrUnsafeURL, without a request.
func TestDownloadUnsafeURLs(t *testing.T) {
	for _, tc := range []struct{ name, url string }{
		{"http to a remote host", "http://storage.example.com/f?X-Amz-Signature=" + signature},
		{"userinfo", "https://user:" + signature + "@storage.example.com/f"},
		{"unparsable", "https://storage.example.com/%zz?sig=" + signature},
		{"control character", "https://storage.example.com/f\n?sig=" + signature},
		{"relative", "/f?sig=" + signature},
		{"other scheme", "ftp://storage.example.com/f?sig=" + signature},
		{"no host", "https:///f?sig=" + signature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := exportkit.NewClient(exportkit.WithStorageHTTPClient(&http.Client{Transport: failTransport{t}}))
			require.NoError(t, err)
			u := tc.url
			exp := &exportkit.LogExport{ID: "ex1", Status: "COMPLETED", DownloadURL: &u}
			_, err = c.Download(context.Background(), exp, io.Discard)
			require.ErrorIs(t, err, exportkit.ErrUnsafeURL)
			assert.Contains(t, err.Error(), `exportkit: brainbase: download "ex1": unsafe URL`)
			assertNoSecret(t, err.Error())
			assertNoSecret(t, strings.ReplaceAll(err.Error(), "%", ""))
		})
	}
	t.Run("WithAllowHTTP", func(t *testing.T) {
		var hit atomic.Bool
		c, err := exportkit.NewClient(exportkit.WithStorageHTTPClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			hit.Store(true)
			return nil, errors.New("offline")
		})}))
		require.NoError(t, err)
		u := "http://storage.example.com/f?sig=" + signature
		_, err = c.Download(context.Background(), &exportkit.LogExport{ID: "ex1", Status: "COMPLETED", DownloadURL: &u}, io.Discard,
			exportkit.WithAllowHTTP(), exportkit.WithMaxResumes(0))
		require.Error(t, err)
		assert.NotErrorIs(t, err, exportkit.ErrUnsafeURL)
		assert.True(t, hit.Load())
	})
}

func TestDownloadRedirectLimits(t *testing.T) {
	data := testData(100)
	s := newFakeStorage(data)
	srv := httptest.NewServer(s)
	defer srv.Close()
	s.redirects = map[string]string{}
	for i := range 11 {
		s.redirects["/r"+fmtDec(int64(i))] = "/r" + fmtDec(int64(i+1)) + "?sig=" + signature
	}
	c := newLoopbackClient(t, srv.URL)
	get := func(path string) error {
		u := srv.URL + path + "?sig=" + signature
		_, err := c.Download(context.Background(), &exportkit.LogExport{ID: "ex1", Status: "COMPLETED", DownloadURL: &u}, io.Discard)
		return err
	}
	require.NoError(t, get("/r1"), "10 redirects are followed")
	err := get("/r0")
	require.ErrorIs(t, err, exportkit.ErrUnsafeURL, "11 are not")
	assert.Contains(t, err.Error(), "more than 10 redirects")

	s.redirects = map[string]string{"/u": "https://user:pw@127.0.0.1/x", "/h": "http://example.com/x?sig=" + signature}
	for _, p := range []string{"/u", "/h"} {
		err := get(p)
		require.ErrorIs(t, err, exportkit.ErrUnsafeURL)
		assertNoSecret(t, err.Error())
		assert.NotContains(t, err.Error(), "pw")
	}
}

// QUALITY.md 2: no signed URL query in any log line or error, including
// the *url.Error net/http returns.
func TestDownloadRedactsSignedURLs(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	data := testData(20_000)
	e := newEnv(t, data, exportkit.WithLogger(log))
	e.storage.faults[0] = fault{cutAt: 10_000}
	_, err := e.client.Exports.Download(context.Background(), "ex1", io.Discard)
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "exportkit: storage request")
	assert.Contains(t, logs.String(), "REDACTED")
	assert.Contains(t, logs.String(), "resuming")

	// A connection refused: net/http's *url.Error holds the whole URL.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	u := deadURL + "/f?X-Amz-Signature=" + signature
	_, err = e.client.Download(context.Background(), &exportkit.LogExport{ID: "ex1", Status: "COMPLETED", DownloadURL: &u}, io.Discard,
		exportkit.WithMaxResumes(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "REDACTED")
	for _, s := range []string{err.Error(), logs.String()} {
		assertNoSecret(t, s)
	}
	assertNoSecret(t, fmtV(err))
}

// QUALITY.md 4: a server-suggested name is sanitized.
func TestDownloadFileName(t *testing.T) {
	data := testData(10)
	for _, tc := range []struct{ name, disposition, vendorName, want string }{
		{"plain", `attachment; filename="audience.csv"`, "", "audience.csv"},
		{"traversal", `attachment; filename="../../etc/passwd"`, "", "passwd"},
		{"windows traversal", `attachment; filename="..\\..\\x"`, "", "x"},
		// net/http refuses raw NUL and control bytes in a header; RFC 5987
		// can still encode them.
		{"NUL", `attachment; filename*=UTF-8''a%00b.csv`, "", "ab.csv"},
		{"control", `attachment; filename*=UTF-8''a%1B[2J%0D%0Ab.csv`, "", "a[2Jb.csv"},
		{"bidi override", `attachment; filename*=UTF-8''invoice%E2%80%AEvsc.exe`, "", "invoicevsc.exe"},
		{"leading dots", `attachment; filename="...profile"`, "", "profile"},
		{"300 bytes", `attachment; filename="` + strings.Repeat("n", 300) + `.csv"`, "", strings.Repeat("n", 251) + ".csv"},
		{"RFC 5987", `attachment; filename="fallback.csv"; filename*=UTF-8''%C3%A9t%C3%A9%20%E2%82%AC.csv`, "", "été €.csv"},
		{"RFC 5987 traversal", `attachment; filename*=UTF-8''..%2F..%2Fx.csv`, "", "x.csv"},
		{"bad encoding", `attachment; filename="ok.csv"; filename*=UTF-8''%FF%FE`, "", "ok.csv"},
		{"bad encoding alone", `attachment; filename*=UTF-8''%FF`, "run.csv", "run.csv"},
		{"only dots", `attachment; filename=".."`, "", ""},
		{"vendor name", "", "../exports/run-1.csv", "run-1.csv"},
		{"none", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, data)
			if tc.disposition != "" {
				e.storage.header = http.Header{"Content-Disposition": {tc.disposition}}
			}
			e.api.fileName = tc.vendorName
			dir := t.TempDir()
			path := filepath.Join(dir, "chosen-by-caller")
			res, err := e.client.Audiences.DownloadFile(context.Background(), exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "e1"}, path)
			require.NoError(t, err)
			assert.Equal(t, tc.want, res.FileName)
			assertDirHolds(t, dir, "chosen-by-caller")
		})
	}
}

func TestOpen(t *testing.T) {
	data := testData(300_000)
	t.Run("resumes under the reader", func(t *testing.T) {
		e := newEnv(t, data)
		e.storage.faults[0] = fault{cutAt: 123_457}
		rc, err := e.client.Bots.Open(context.Background(), "st-1")
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.True(t, bytes.Equal(data, got))
		assert.Len(t, e.storage.requests(), 2)
	})
	t.Run("verification error at EOF", func(t *testing.T) {
		e := newEnv(t, data)
		bad := bytes.Clone(data)
		bad[5] ^= 1
		e.storage.data = bad
		e.api.sha1 = sha1Hex(data)
		rc, err := e.client.Audiences.Open(context.Background(), exportkit.ExportRef{AudienceID: "a1", RunID: "r1", ExportID: "e1"})
		require.NoError(t, err)
		defer rc.Close()
		got, err := io.ReadAll(rc)
		require.ErrorIs(t, err, exportkit.ErrChecksumMismatch)
		assert.Len(t, got, len(data))
		_, err = rc.Read(make([]byte, 10))
		require.ErrorIs(t, err, exportkit.ErrChecksumMismatch, "the error sticks")
	})
	t.Run("errors before reading", func(t *testing.T) {
		e := newEnv(t, data)
		e.storage.faultFor = func(int) fault { return fault{status: http.StatusNotFound} }
		_, err := e.client.Exports.Open(context.Background(), "ex1")
		require.ErrorIs(t, err, exportkit.ErrNotFound)
	})
	t.Run("close mid-body", func(t *testing.T) {
		e := newEnv(t, data)
		rc, err := e.client.Exports.Open(context.Background(), "ex1")
		require.NoError(t, err)
		_, err = io.ReadFull(rc, make([]byte, 1000))
		require.NoError(t, err)
		assertNoSecret(t, fmt.Sprintf("%v %+v %#v", rc, rc, rc))
		require.NoError(t, rc.Close())
		require.NoError(t, rc.Close())
		_, err = rc.Read(make([]byte, 10))
		require.Error(t, err)
	})
	t.Run("close unblocks a read", func(t *testing.T) {
		e := newEnv(t, data)
		e.storage.faults[0] = fault{stall: 100_000}
		rc, err := e.client.Exports.Open(context.Background(), "ex1")
		require.NoError(t, err)
		go func() {
			for e.storage.servedBytes() < 100_000 {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(5 * time.Millisecond)
			rc.Close()
		}()
		_, err = io.Copy(io.Discard, rc)
		require.Error(t, err)
	})
}

func TestDownloadWriterError(t *testing.T) {
	e := newEnv(t, testData(100_000))
	_, err := e.client.Exports.Download(context.Background(), "ex1", errWriter{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk full")
	_, err = e.client.Exports.Download(context.Background(), "ex1", nil)
	require.Error(t, err)
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func assertDirEmpty(t *testing.T, dir string) {
	t.Helper()
	assertDirHolds(t, dir)
}

// assertDirHoldsKept asserts that dir holds names and, when the
// download had received bytes, target's partial file and state file (a
// cancellation before the first bytes leaves nothing to go on from).
func assertDirHoldsKept(t *testing.T, dir, target string, names ...string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, target+".partial")); err == nil {
		names = append(names, target+".partial", target+".partial.state")
	}
	assertDirHolds(t, dir, names...)
}

func assertDirHolds(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	assert.ElementsMatch(t, names, got)
}
