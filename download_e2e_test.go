package exportkit_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end downloads through exporttest, the fake of all four vendors and
// their storage host, in memory on a fake clock.

// fakeDownload downloads the export ref of the fake server with the service
// method of its vendor.
func fakeDownload(ctx context.Context, c *exportkit.Client, ref exporttest.Ref, w io.Writer, opts ...exportkit.DownloadOption) (*exportkit.DownloadResult, error) {
	switch ref.Vendor {
	case exportkit.Brainbase:
		return c.Exports.Download(ctx, ref.ID, w, opts...)
	case exportkit.Memsolus:
		return c.Memories.Download(ctx, ref.ID, w, opts...)
	case exportkit.Orbit:
		return c.Audiences.Download(ctx, exportkit.ExportRef{AudienceID: ref.AudienceID, RunID: ref.RunID, ExportID: ref.ID}, w, opts...)
	default:
		return c.Bots.Download(ctx, ref.BotID, w, opts...)
	}
}

func fakeDownloadFile(ctx context.Context, c *exportkit.Client, ref exporttest.Ref, path string, opts ...exportkit.DownloadOption) (*exportkit.DownloadResult, error) {
	switch ref.Vendor {
	case exportkit.Brainbase:
		return c.Exports.DownloadFile(ctx, ref.ID, path, opts...)
	case exportkit.Memsolus:
		return c.Memories.DownloadFile(ctx, ref.ID, path, opts...)
	case exportkit.Orbit:
		return c.Audiences.DownloadFile(ctx, exportkit.ExportRef{AudienceID: ref.AudienceID, RunID: ref.RunID, ExportID: ref.ID}, path, opts...)
	default:
		return c.Bots.DownloadFile(ctx, ref.BotID, path, opts...)
	}
}

// assertStorageClean checks that no storage request carried a credential.
func assertStorageClean(t *testing.T, srv *exporttest.Server) {
	t.Helper()
	n := 0
	for _, r := range srv.Requests() {
		if !r.Storage {
			continue
		}
		n++
		for _, h := range credentialHeaders {
			assert.Empty(t, r.Header.Values(h), "%s reached storage at %s", h, r.Path)
		}
	}
	assert.NotZero(t, n)
}

// inFake runs f for every vendor in a synctest bubble with a fresh
// in-memory fake holding one ready export of the given size. Memsolus
// redirects to the storage host, so that storage faults reach it too.
func inFake(t *testing.T, size int64, opts []exporttest.Option, f func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref)) {
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := exporttest.NewServer(append([]exporttest.Option{exporttest.InMemory(), exporttest.FileSize(size),
					exporttest.MemsolusDownloadRedirect(0)}, opts...)...)
				defer srv.Close()
				ref, err := srv.AddExport(v)
				require.NoError(t, err)
				f(t, srv, ref)
			})
		})
	}
}

func TestFakeDownloadResets(t *testing.T) {
	const size = 1 << 20
	for _, cut := range []int64{1, size / 2, size * 999 / 1000} {
		t.Run(fmtDec(cut), func(t *testing.T) {
			inFake(t, size, nil, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
				require.NoError(t, srv.Inject(exporttest.OnStorage().ResetAfter(cut)))
				var buf bytes.Buffer
				res, err := fakeDownload(t.Context(), srv.Client(), ref, &buf)
				require.NoError(t, err)
				require.True(t, bytes.Equal(srv.File(ref.Vendor, ref.ID), buf.Bytes()))
				assert.Equal(t, 1, res.Resumes)
				assert.Equal(t, ref.Vendor != exportkit.Memsolus, res.Verified)
				assertStorageClean(t, srv)
			})
		})
	}
}

func TestFakeDownloadIgnoredRange(t *testing.T) {
	inFake(t, 300_000, []exporttest.Option{exporttest.MemsolusDownloadRedirect(0)}, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
		require.NoError(t, srv.Inject(exporttest.OnStorage().ResetAfter(100_000), exporttest.OnStorage().IgnoreRange()))
		var buf bytes.Buffer
		_, err := fakeDownload(t.Context(), srv.Client(), ref, &buf)
		require.NoError(t, err)
		require.True(t, bytes.Equal(srv.File(ref.Vendor, ref.ID), buf.Bytes()))
	})
}

func TestFakeDownloadStallAndExpiry(t *testing.T) {
	inFake(t, 200_000, []exporttest.Option{exporttest.MemsolusDownloadRedirect(1)}, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
		require.NoError(t, srv.Inject(
			exporttest.OnStorage().StallAfter(50_000, time.Hour),
			exporttest.OnStorage().ExpiredURL(),
			exporttest.OnStorage().Redirects(3),
		))
		start := time.Now()
		var buf bytes.Buffer
		res, err := fakeDownload(t.Context(), srv.Client(), ref, &buf, exportkit.WithIdleTimeout(20*time.Second))
		require.NoError(t, err)
		require.True(t, bytes.Equal(srv.File(ref.Vendor, ref.ID), buf.Bytes()))
		assert.Less(t, time.Since(start), 25*time.Second, "the stall was cut by the idle timeout, not waited out")
		assert.Equal(t, 2, res.Resumes)
		assert.Zero(t, srv.FaultsPending())
		assertStorageClean(t, srv)
	})
}

func TestFakeDownloadCorruptByte(t *testing.T) {
	inFake(t, 100_000, nil, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
		require.NoError(t, srv.Inject(exporttest.OnStorage().CorruptAt(77_777)))
		dir := t.TempDir()
		path := filepath.Join(dir, "out")
		want := srv.File(ref.Vendor, ref.ID)
		opts := []exportkit.DownloadOption{exportkit.WithChecksum("sha1", sha1Hex(want))}
		_, err := fakeDownloadFile(t.Context(), srv.Client(), ref, path, opts...)
		require.ErrorIs(t, err, exportkit.ErrChecksumMismatch)
		assertDirEmpty(t, dir)

		res, err := fakeDownloadFile(t.Context(), srv.Client(), ref, path, opts...)
		require.NoError(t, err)
		assert.True(t, res.Verified)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got))
	})
}

func TestFakeDownloadShortBody(t *testing.T) {
	inFake(t, 100_000, nil, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
		require.NoError(t, srv.Inject(exporttest.OnStorage().LongContentLength(1000).Always()))
		_, err := fakeDownload(t.Context(), srv.Client(), ref, io.Discard, exportkit.WithMaxResumes(2))
		require.ErrorIs(t, err, exportkit.ErrSizeMismatch)
	})
}

// The file changes on the storage host during a stall: the resume's
// If-Match fails, and the download stops with an error saying so.
func TestFakeDownloadFileChanges(t *testing.T) {
	inFake(t, 100_000, nil, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
		require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(40_000, time.Hour)))
		rc, err := openFake(t.Context(), srv.Client(), ref, exportkit.WithIdleTimeout(5*time.Second))
		require.NoError(t, err)
		defer rc.Close()
		_, err = io.ReadFull(rc, make([]byte, 40_000))
		require.NoError(t, err)
		require.NoError(t, srv.ChangeFile(ref.Vendor, ref.ID))
		_, err = io.Copy(io.Discard, rc)
		require.ErrorIs(t, err, exportkit.ErrFileChanged)
		assert.Contains(t, err.Error(), "changed")
	})
}

// TestFakeDownloadWithoutSHA1: the opt-out skips hashing only where no
// SHA-1 is to be verified.
func TestFakeDownloadWithoutSHA1(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.FileSize(50_000))
		defer srv.Close()
		c := srv.Client()
		ctx := t.Context()
		for _, v := range []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus, exportkit.Orbit, exportkit.Kore} {
			ref, err := srv.AddExport(v)
			require.NoError(t, err)
			var buf bytes.Buffer
			res, err := fakeDownload(ctx, c, ref, &buf, exportkit.WithoutSHA1())
			require.NoError(t, err, v)
			assert.Equal(t, srv.File(v, ref.ID), buf.Bytes(), v)
			if v == exportkit.Orbit {
				assert.Len(t, res.SHA1, 40, "Orbit's contentSha1 is still verified")
				assert.True(t, res.Verified)
			} else {
				assert.Empty(t, res.SHA1, v)
			}
			sum := sha1.Sum(srv.File(v, ref.ID))
			res, err = fakeDownload(ctx, c, ref, io.Discard, exportkit.WithoutSHA1(), exportkit.WithChecksum("sha1", hex.EncodeToString(sum[:])))
			require.NoError(t, err, v)
			assert.Equal(t, hex.EncodeToString(sum[:]), res.SHA1, "a caller's SHA-1 is still verified")
			assert.True(t, res.Verified)
			_, err = fakeDownload(ctx, c, ref, io.Discard, exportkit.WithoutSHA1(), exportkit.WithChecksum("sha1", strings.Repeat("0", 40)))
			require.ErrorIs(t, err, exportkit.ErrChecksumMismatch, v)
		}
	})
}

func openFake(ctx context.Context, c *exportkit.Client, ref exporttest.Ref, opts ...exportkit.DownloadOption) (io.ReadCloser, error) {
	switch ref.Vendor {
	case exportkit.Brainbase:
		return c.Exports.Open(ctx, ref.ID, opts...)
	case exportkit.Memsolus:
		return c.Memories.Open(ctx, ref.ID, opts...)
	case exportkit.Orbit:
		return c.Audiences.Open(ctx, exportkit.ExportRef{AudienceID: ref.AudienceID, RunID: ref.RunID, ExportID: ref.ID}, opts...)
	default:
		return c.Bots.Open(ctx, ref.BotID, opts...)
	}
}

func TestFakeDownloadCancelMidBody(t *testing.T) {
	inFake(t, 100_000, nil, func(t *testing.T, srv *exporttest.Server, ref exporttest.Ref) {
		require.NoError(t, srv.Inject(exporttest.OnStorage().StallAfter(30_000, time.Hour)))
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(10*time.Second, cancel)
		dir := t.TempDir()
		start := time.Now()
		_, err := fakeDownloadFile(ctx, srv.Client(), ref, filepath.Join(dir, "x"))
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 10*time.Second, time.Since(start))
		assertDirHolds(t, dir, "x.partial", "x.partial.state") // kept for a later run
	})
}

// Through real loopback sockets too, as a user's test would run.
func TestFakeDownloadOverSockets(t *testing.T) {
	srv := exporttest.NewServer(exporttest.FileSize(500_000), exporttest.MemsolusDownloadRedirect(2))
	defer srv.Close()
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			ref, err := srv.AddExport(v)
			require.NoError(t, err)
			require.NoError(t, srv.Inject(exporttest.OnStorage().ResetAfter(250_000)))
			var buf bytes.Buffer
			res, err := fakeDownload(context.Background(), srv.Client(), ref, &buf)
			require.NoError(t, err)
			require.True(t, bytes.Equal(srv.File(v, ref.ID), buf.Bytes()))
			assert.Equal(t, 1, res.Resumes)
		})
	}
	assertStorageClean(t, srv)
}
