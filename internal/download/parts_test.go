package download

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testSize = 1<<20 + 12345 // 17 parts of 64 KiB, the last one short

// modes are the three ways out of the engine: a writer, a reader, a file.
var modes = []struct {
	name string
	run  func(ctx context.Context, t *testing.T, cfg Config, src *Source) ([]byte, *Result, error)
}{
	{"copy", func(ctx context.Context, t *testing.T, cfg Config, src *Source) ([]byte, *Result, error) {
		var buf bytes.Buffer
		res, err := Copy(ctx, cfg, src, &buf)
		return buf.Bytes(), res, err
	}},
	{"open", func(ctx context.Context, t *testing.T, cfg Config, src *Source) ([]byte, *Result, error) {
		r, err := Open(ctx, cfg, src)
		if err != nil {
			return nil, nil, err
		}
		defer r.Close()
		b, err := io.ReadAll(r)
		return b, &Result{Bytes: int64(len(b))}, err
	}},
	{"file", func(ctx context.Context, t *testing.T, cfg Config, src *Source) ([]byte, *Result, error) {
		path := filepath.Join(t.TempDir(), "out")
		res, err := File(ctx, cfg, src, path)
		if err != nil {
			ents, _ := os.ReadDir(filepath.Dir(path))
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			// A failed download never leaves anything at the path.
			assert.NotContains(t, names, "out")
			return nil, res, err
		}
		b, rerr := os.ReadFile(path)
		require.NoError(t, rerr)
		return b, res, nil
	}},
}

// TestParts: every part request carries If-Match and asks for exactly its
// range; the output is the file whatever goes wrong that can be survived.
func TestParts(t *testing.T) {
	data := testData(testSize)
	for _, tc := range []struct {
		name    string
		spoil   func(n int, r *http.Request) spoil
		noRange bool
		conns   int
		parts   int // 0: all
		err     error
	}{
		{name: "clean"},
		{name: "one stream", conns: 1, parts: 1},
		{name: "no ranges: one stream", noRange: true, parts: 1},
		{name: "reset on every part at another offset", spoil: func(n int, r *http.Request) spoil {
			if n < 18 {
				return spoil{cutAt: int64(1000 + n*977)}
			}
			return spoil{}
		}},
		{name: "server ignores Range on part 3 only", spoil: func(n int, r *http.Request) spoil {
			if r.Header.Get("Range") == "bytes="+strconv.Itoa(3*MinPartSize)+"-"+strconv.Itoa(4*MinPartSize-1) {
				return spoil{ignoreRange: true}
			}
			return spoil{}
		}},
		{name: "a 503 on a part is retried", spoil: func(n int, r *http.Request) spoil {
			if n == 2 || n == 5 {
				return spoil{status: http.StatusServiceUnavailable}
			}
			return spoil{}
		}},
		{name: "a part with another ETag", err: ErrFileChanged, spoil: func(n int, r *http.Request) spoil {
			if n == 3 {
				return spoil{etag: `"v2"`}
			}
			return spoil{}
		}},
		{name: "a part whose Content-Range is not the range asked", err: errBadRange, spoil: func(n int, r *http.Request) spoil {
			if n == 3 {
				return spoil{shiftRange: 1}
			}
			return spoil{}
		}},
	} {
		for _, m := range modes {
			t.Run(tc.name+"/"+m.name, func(t *testing.T) {
				s := newFileServer(t, data)
				s.noRange = tc.noRange
				s.setSpoil(tc.spoil)
				cfg := testConfig(t, func(c *Config) {
					if tc.conns > 0 {
						c.Connections = tc.conns
					}
				})
				got, res, err := m.run(t.Context(), t, cfg, testSource(s, "t:1", nil))
				if tc.err != nil {
					require.ErrorIs(t, err, tc.err)
					return
				}
				require.NoError(t, err)
				require.True(t, bytes.Equal(data, got), "output differs from the source")
				wantParts := tc.parts
				if wantParts == 0 {
					wantParts = (testSize + MinPartSize - 1) / MinPartSize
				}
				if m.name != "open" {
					assert.Equal(t, wantParts, res.Parts)
				}
				for i, r := range s.requests() {
					if i == 0 || r.rng == "" {
						continue
					}
					assert.Equal(t, `"v1"`, r.ifMatch, "request %d (%s) without If-Match", i, r.rng)
				}
			})
		}
	}
}

// A file that changes (412 to If-Match) ends the download: nothing kept.
func TestPartsFileReplaced(t *testing.T) {
	data := testData(testSize)
	s := newFileServer(t, data)
	var n atomic.Int32
	s.setSpoil(func(i int, r *http.Request) spoil {
		if n.Add(1) == 4 {
			s.setETag(`"v2"`) // the object is replaced while parts are in flight
		}
		return spoil{}
	})
	dir := t.TempDir()
	_, err := File(t.Context(), testConfig(t), testSource(s, "t:1", nil), filepath.Join(dir, "out"))
	require.ErrorIs(t, err, ErrFileChanged)
	ents, _ := os.ReadDir(dir)
	assert.Empty(t, ents, "a changed file keeps nothing")
}

// An expired URL (403) seen by several parts at once is located again
// once, not once per part.
func TestPartsExpiredURLRefreshedOnce(t *testing.T) {
	data := testData(testSize)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newFileServer(t, data)
			var locates atomic.Int32
			src := testSource(s, "t:1", nil)
			src.Locate = func(context.Context) (*Location, error) {
				locates.Add(1)
				return &Location{URL: s.URL + "/f?sig=fresh", Size: int64(len(data))}, nil
			}
			s.setSpoil(func(n int, r *http.Request) spoil {
				// The first URL expires once the first response is under way.
				if n > 0 && r.URL.Query().Get("sig") == "secret" {
					return spoil{status: http.StatusForbidden}
				}
				return spoil{}
			})
			got, _, err := m.run(t.Context(), t, testConfig(t), src)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(data, got))
			assert.Equal(t, int32(1), locates.Load())
		})
	}
}

// A disk that fills: a clear error, nothing at the path, no partial file.
func TestFileDiskFull(t *testing.T) {
	data := testData(testSize)
	for _, conns := range []int{1, 4} {
		t.Run(strconv.Itoa(conns), func(t *testing.T) {
			s := newFileServer(t, data)
			dir := t.TempDir()
			cfg := testConfig(t, func(c *Config) {
				c.Connections = conns
				c.createFile = func(name string) (fileHandle, error) {
					f, err := createPartial(name)
					if err != nil {
						return nil, err
					}
					fd := &fullDisk{fileHandle: f}
					fd.room.Store(300_000)
					return fd, nil
				}
			})
			_, err := File(t.Context(), cfg, testSource(s, "t:1", nil), filepath.Join(dir, "out"))
			require.ErrorIs(t, err, ErrNoSpace)
			assert.Contains(t, err.Error(), "no space left")
			ents, _ := os.ReadDir(dir)
			assert.Empty(t, ents)
		})
	}
}

// fullDisk is a file on a disk with room bytes left.
type fullDisk struct {
	fileHandle
	room atomic.Int64
}

func (f *fullDisk) WriteAt(p []byte, off int64) (int, error) {
	if f.room.Add(-int64(len(p))) < 0 {
		return 0, &os.PathError{Op: "write", Path: "out.partial", Err: errNoSpaceErrno}
	}
	return f.fileHandle.WriteAt(p, off)
}

// Two downloads to the same path at once: the second fails at once with
// ErrBusy, the first finishes with the right bytes.
func TestFileSamePathAtOnce(t *testing.T) {
	data := testData(testSize)
	s := newFileServer(t, data)
	release := make(chan struct{})
	first := make(chan struct{})
	s.setSpoil(func(n int, r *http.Request) spoil {
		if n == 0 {
			close(first)
			<-release
		}
		return spoil{}
	})
	path := filepath.Join(t.TempDir(), "out")
	done := make(chan error, 1)
	go func() {
		_, err := File(context.Background(), testConfig(t), testSource(s, "t:1", nil), path)
		done <- err
	}()
	<-first
	_, err := File(t.Context(), testConfig(t), testSource(s, "t:1", nil), path)
	require.ErrorIs(t, err, ErrBusy)
	// The message says it once: another download, and the file it holds.
	assert.Equal(t, 1, strings.Count(err.Error(), "same path"), err.Error())
	assert.Contains(t, err.Error(), "out.partial")
	close(release)
	require.NoError(t, <-done)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, got))
}

// A reader closed half way stops every connection (goleak checks) and
// reads ErrClosed after; memory stays within connections × part size.
func TestOpenCloseHalfWay(t *testing.T) {
	data := testData(testSize)
	s := newFileServer(t, data)
	r, err := Open(t.Context(), testConfig(t), testSource(s, "t:1", nil))
	require.NoError(t, err)
	buf := make([]byte, 100_000)
	_, err = io.ReadFull(r, buf)
	require.NoError(t, err)
	assert.Equal(t, data[:len(buf)], buf)
	p := r.(*reader).p
	assert.LessOrEqual(t, cap(p.bufs), 4, "at most one buffer per connection")
	require.NoError(t, r.Close())
	_, err = r.Read(buf)
	require.ErrorIs(t, err, ErrClosed)
}
