package download

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// earlyConfig fetches testSize in MinPartSize parts over 4 connections,
// with the early part requests the tests' config leaves out.
func earlyConfig(t *testing.T, data []byte) Config {
	return testConfig(t, func(c *Config) {
		c.noEarly = false
		c.Checksums = []Checksum{{"sha1", sha1Of(data)}}
	})
}

// TestEarlyParts: with the vendor's size known, the requests of parts 1
// to 3 go out before the first response has answered (the server holds
// the first until it has seen them), without If-Match; their answers are
// used as the parts, and nothing is asked twice.
func TestEarlyParts(t *testing.T) {
	data := testData(testSize)
	for _, toFile := range []bool{true, false} {
		t.Run(map[bool]string{true: "file", false: "writer"}[toFile], func(t *testing.T) {
			s := newFileServer(t, data)
			var mu sync.Mutex
			ranged := 0
			seen := make(chan struct{})
			s.setSpoil(func(n int, r *http.Request) spoil {
				if r.Header.Get("Range") == "" {
					select {
					case <-seen:
					case <-time.After(10 * time.Second): // a failure, not a timing
					}
					return spoil{}
				}
				mu.Lock()
				defer mu.Unlock()
				if ranged++; ranged == 3 && r.Header.Get("If-Match") == "" {
					close(seen)
				}
				return spoil{}
			})
			got, res := earlyFetch(t, s, toFile)
			require.True(t, bytes.Equal(data, got), "output differs from the source")
			assert.True(t, res.Verified)
			reqs := s.requests()
			early := 0
			for _, r := range reqs {
				if r.rng != "" && r.ifMatch == "" {
					early++
				}
			}
			assert.Equal(t, 3, early, "parts 1 to 3 were asked beside the first: %+v", reqs)
			select {
			case <-seen:
			default:
				t.Fatal("the first request was answered before the early parts were asked")
			}
		})
	}
}

// earlyFetch downloads the server's file to a file or a writer with
// earlyConfig.
func earlyFetch(t *testing.T, s *fileServer, toFile bool) ([]byte, *Result) {
	t.Helper()
	cfg := earlyConfig(t, s.data)
	if toFile {
		path := filepath.Join(t.TempDir(), "out")
		res, err := File(t.Context(), cfg, testSource(s, "t:1", nil), path)
		require.NoError(t, err)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		return got, res
	}
	var buf bytes.Buffer
	res, err := Copy(t.Context(), cfg, testSource(s, "t:1", nil), &buf)
	require.NoError(t, err)
	return buf.Bytes(), res
}

// TestEarlyPartSpoiled: an early answer that is not a 206 for its range
// of the same file decides nothing: it is closed, the part is asked again
// with If-Match, and the file is right.
func TestEarlyPartSpoiled(t *testing.T) {
	data := testData(testSize)
	for _, tc := range []struct {
		name string
		sp   spoil
	}{
		{"a server error", spoil{status: http.StatusServiceUnavailable}},
		{"another range", spoil{shiftRange: 100}},
		{"another ETag", spoil{etag: `"v2"`}},
		{"no ETag", spoil{etag: "-"}},
		{"the whole file", spoil{ignoreRange: true}},
		{"cut on the first byte", spoil{cutAt: 1}},
	} {
		for _, toFile := range []bool{true, false} {
			t.Run(tc.name+map[bool]string{true: "/file", false: "/writer"}[toFile], func(t *testing.T) {
				s := newFileServer(t, data)
				const bad = "bytes=65536-131071" // part 1, asked early
				s.setSpoil(func(n int, r *http.Request) spoil {
					if r.Header.Get("Range") == bad && r.Header.Get("If-Match") == "" {
						return tc.sp
					}
					return spoil{}
				})
				got, res := earlyFetch(t, s, toFile)
				require.True(t, bytes.Equal(data, got), "output differs from the source")
				assert.True(t, res.Verified)
				again := false
				for _, r := range s.requests() {
					again = again || (r.ifMatch == `"v1"` && strings.HasPrefix(r.rng, "bytes=6553"))
				}
				assert.True(t, again, "part 1 was asked again with If-Match: %+v", s.requests())
			})
		}
	}
}

// TestEarlyPartsUnused: when the first response allows no parts (no
// ranges here), the early requests are closed and the file is one stream.
func TestEarlyPartsUnused(t *testing.T) {
	data := testData(testSize)
	s := newFileServer(t, data)
	s.noRange = true
	for _, toFile := range []bool{true, false} {
		got, res := earlyFetch(t, s, toFile)
		require.True(t, bytes.Equal(data, got), "output differs from the source")
		assert.Equal(t, 1, res.Parts)
	}
}

// TestEarlyPartsAfterLocate: without a location in hand, the vendor is
// asked once, and its location's size plans the early parts; a vendor
// that fails is asked once too, and its error is the download's.
func TestEarlyPartsAfterLocate(t *testing.T) {
	data := testData(testSize)
	s := newFileServer(t, data)
	var locates atomic.Int32
	src := testSource(s, "t:1", &locates)
	src.Known = nil
	res, err := File(t.Context(), earlyConfig(t, data), src, filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	assert.True(t, res.Verified)
	assert.Equal(t, int32(1), locates.Load())
	early := 0
	for _, r := range s.requests() {
		if r.rng != "" && r.ifMatch == "" {
			early++
		}
	}
	assert.Equal(t, 3, early, "parts 1 to 3 were asked beside the first")

	locates.Store(0)
	boom := errors.New("vendor down")
	src.Locate = func(context.Context) (*Location, error) {
		locates.Add(1)
		return nil, boom
	}
	_, err = File(t.Context(), earlyConfig(t, data), src, filepath.Join(t.TempDir(), "out"))
	require.ErrorIs(t, err, boom)
	assert.Equal(t, int32(1), locates.Load())
}
