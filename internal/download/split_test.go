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
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanSize(t *testing.T) {
	const (
		KiB = 1 << 10
		MiB = 1 << 20
	)
	for _, tc := range []struct {
		total    int64
		conns    int
		partSize int64
		want     int64
	}{
		{4 * MiB, 16, 8 * MiB, MiB},             // spread over every connection, at least 1 MiB
		{16 * MiB, 16, 8 * MiB, MiB},            // 16 parts, not 2
		{64 * MiB, 16, 8 * MiB, 4 * MiB},        // size / connections
		{1 << 30, 16, 8 * MiB, 8 * MiB},         // at most PartSize
		{64 * MiB, 16, 2 * MiB, 2 * MiB},        // at most a smaller PartSize
		{100 * KiB, 4, 64 * KiB, 64 * KiB},      // a PartSize below the floor is the floor
		{testSize, 4, MinPartSize, MinPartSize}, // the tests' parts
		{1, 16, 8 * MiB, MiB},
		{10 * MiB, 1, 8 * MiB, 8 * MiB},
	} {
		assert.Equal(t, tc.want, planSize(tc.total, tc.conns, tc.partSize), "planSize(%d, %d, %d)", tc.total, tc.conns, tc.partSize)
	}
}

// splitData is four planned parts of 1 MiB over four connections: the
// last is short and done first, and its connection then splits a part.
var splitData = testData(3<<20 + 12345)

// isSplit reports whether a request's range starts inside a planned part:
// a split half (the tests that use it have no resumes).
func isSplit(r *http.Request) bool {
	rng := r.Header.Get("Range")
	if rng == "" {
		return false
	}
	a, _, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
	start, _ := strconv.ParseInt(a, 10, 64)
	return start%(1<<20) != 0
}

// TestSplit: part 1 holds after its first KiB until a split half of it is
// asked for, so that a connection with nothing left to start must split a
// range; the split half's answer then goes right or wrong.
func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		half    spoil // the first split half's answer
		err     error
		resumes bool
	}{
		{name: "clean"},
		{name: "a split range answered with the wrong Content-Range", half: spoil{shiftRange: 1}, err: errBadRange},
		{name: "the connection closed on the first byte of a split half", half: spoil{cutAt: 1}, resumes: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFileServer(t, splitData)
			gate := make(chan struct{})
			var once sync.Once
			var splits atomic.Int32
			s.setSpoil(func(n int, r *http.Request) spoil {
				if r.Header.Get("Range") == "bytes=1048576-2097151" {
					return spoil{hold: 1 << 10, gate: gate}
				}
				if isSplit(r) {
					first := splits.Add(1) == 1
					once.Do(func() { close(gate) })
					if first {
						return tc.half
					}
				}
				return spoil{}
			})
			path := filepath.Join(t.TempDir(), "out")
			cfg := testConfig(t, func(c *Config) {
				c.PartSize, c.splitFloor = 8<<20, 32<<10
				c.Checksums = []Checksum{{"sha1", sha1Of(splitData)}}
			})
			res, err := File(t.Context(), cfg, testSource(s, "t:1", nil), path)
			assert.Positive(t, splits.Load(), "a range was split")
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				// What was kept is right: a rerun goes on from it.
				s.setSpoil(nil)
				res, err = File(t.Context(), cfg, testSource(s, "t:1", nil), path)
				require.NoError(t, err)
				assert.Positive(t, res.Reused)
			}
			require.NoError(t, err)
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(splitData, got), "output differs from the source")
			assert.True(t, res.Verified)
			if tc.err == nil {
				assert.Greater(t, res.Parts, 4, "parts, splits included")
				assert.Equal(t, 4, res.Connections)
				assert.Positive(t, res.MeanPartThroughput)
				assert.GreaterOrEqual(t, res.PeakPartThroughput, res.MeanPartThroughput)
				assert.Positive(t, res.FirstByteWait)
			}
			if tc.resumes {
				assert.Positive(t, res.Resumes)
			}
		})
	}
}

// TestStateWhileSplitting saves state files while connections read their
// parts and others split them: every state file loads, and the bytes it
// says are done are the file's.
func TestStateWhileSplitting(t *testing.T) {
	skipWithoutLocks(t)
	data := testData(1<<20 + 777)
	dir := t.TempDir()
	f, err := createPartial(filepath.Join(dir, "out.partial"))
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Truncate(int64(len(data))))
	cfg := Config{Client: http.DefaultClient, Connections: 8, PartSize: 256 << 10, splitFloor: 4 << 10}
	loc := &Location{Size: int64(len(data))}
	j := newJob(t.Context(), cfg, &Source{Key: "t:1", Known: loc, Locate: func(context.Context) (*Location, error) { return loc, nil }})
	j.total, j.etag, j.rawETag, j.ranges, j.started = int64(len(data)), `"v1"`, `"v1"`, true, true
	fj := &fileJob{j: j, f: f, partial: filepath.Join(dir, "out.partial"), state: filepath.Join(dir, "out.partial.state")}
	p := newParallel(j, planParts(j.total, cfg.PartSize), f)

	// Each part's connection reads its bytes 1 KiB at a time, one chunk
	// per token, so that the splits fall while they read.
	tokens := make(chan struct{})
	var wg sync.WaitGroup
	read := func(pt *part) {
		defer wg.Done()
		var st connStat
		req := newIdleRequest(t.Context(), DefaultIdleTimeout)
		defer req.end()
		body := &chunkReader{b: data[pt.start:pt.end.Load()], n: 1 << 10, tokens: tokens}
		assert.NoError(t, p.read(pt, body, req, &st))
		p.mu.Lock()
		pt.active = false
		p.mu.Unlock()
	}
	for {
		pt := p.claim()
		if pt == nil {
			break
		}
		wg.Add(1)
		go read(pt)
		// As many chunks as the running parts can surely take.
		for range min(16, activeRemaining(p)>>10) {
			tokens <- struct{}{}
		}
		require.NoError(t, fj.checkpoint(p.ranges))
		st := loadState(fj.state, "t:1", f)
		require.NotNil(t, st, "a state file saved during a split loads")
		for _, r := range st.Parts {
			b := make([]byte, r[2])
			_, err := f.ReadAt(b, r[0])
			require.NoError(t, err)
			require.True(t, bytes.Equal(data[r[0]:r[0]+r[2]], b), "the bytes a state file counts are written")
		}
	}
	close(tokens)
	wg.Wait()
	assert.Equal(t, int64(len(data)), p.done())
	assert.Greater(t, p.numParts(), 5, "ranges were split")
	got := make([]byte, len(data))
	_, err = f.ReadAt(got, 0)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}

// activeRemaining is the bytes the parts being read still lack.
func activeRemaining(p *parallel) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, pt := range p.parts {
		if pt.active {
			n += pt.size() - pt.got.Load()
		}
	}
	return n
}

// chunkReader reads b at most n bytes at a time, each once it has taken a
// token (or tokens is closed).
type chunkReader struct {
	b      []byte
	n      int
	tokens <-chan struct{}
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	<-r.tokens
	m := copy(p[:min(len(p), r.n)], r.b)
	r.b = r.b[m:]
	return m, nil
}

// TestTinyFiles: a 0-byte and a 1-byte file, in every mode.
func TestTinyFiles(t *testing.T) {
	for _, n := range []int{0, 1} {
		for _, m := range modes {
			t.Run(strconv.Itoa(n)+" bytes/"+m.name, func(t *testing.T) {
				data := testData(n)
				s := newFileServer(t, data)
				cfg := testConfig(t, func(c *Config) { c.Checksums = []Checksum{{"sha1", sha1Of(data)}} })
				got, res, err := m.run(t.Context(), t, cfg, testSource(s, "t:1", nil))
				require.NoError(t, err)
				assert.True(t, bytes.Equal(data, got), "output differs from the source")
				assert.Equal(t, int64(n), res.Bytes)
			})
		}
	}
}

// TestFileChangedBeforeRerun: the file changed between an interrupted
// download and its rerun: the rerun's If-Match fails (ErrFileChanged),
// nothing of the earlier run is kept, and the new file is fetched whole.
func TestFileChangedBeforeRerun(t *testing.T) {
	skipWithoutLocks(t)
	old := testData(testSize)
	s := newFileServer(t, old)
	path := filepath.Join(t.TempDir(), "out")
	interrupted(t, s, path, testConfig(t, func(c *Config) { c.Checksums = []Checksum{{"sha1", sha1Of(old)}} }))

	data := bytes.Clone(old)
	data[len(data)-1] ^= 0xff
	s2 := newFileServer(t, data)
	s2.setETag(`"v2"`)
	var statuses []int
	var mu sync.Mutex
	s2.setSpoil(func(n int, r *http.Request) spoil {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("If-Match") == `"v1"` {
			statuses = append(statuses, http.StatusPreconditionFailed)
		}
		return spoil{}
	})
	cfg := testConfig(t, func(c *Config) { c.Checksums = []Checksum{{"sha1", sha1Of(data)}} })
	res, err := File(t.Context(), cfg, testSource(s2, "t:1", nil), path)
	require.NoError(t, err)
	mu.Lock()
	assert.NotEmpty(t, statuses, "the rerun asked for the old file's ranges first")
	mu.Unlock()
	assert.Zero(t, res.Reused, "nothing of the changed file is kept")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}
