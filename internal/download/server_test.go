package download

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fileServer is a storage host for the engine's tests: one file with a
// strong ETag, single byte ranges and If-Match, a log of the requests and
// of the bytes served, and a spoil hook that makes the n-th request (from
// 0) misbehave.
type fileServer struct {
	*httptest.Server
	data    []byte      // the file, when held in memory (nil for generated content)
	src     io.ReaderAt // the file's bytes: data, or generated
	size    int64
	noRange bool         // no Accept-Ranges, Range ignored
	pace    atomic.Int64 // nanoseconds of pause after each 32 KiB written (a slow link)

	mu     sync.Mutex
	etag   string
	reqs   []logged
	spoil  func(n int, r *http.Request) spoil
	served atomic.Int64
	// active counts the handlers running, so that a test can wait until a
	// killed client's responses have stopped adding to served.
	active sync.WaitGroup
}

type logged struct {
	rng, ifMatch string
}

// spoil is what goes wrong with one response.
type spoil struct {
	status      int    // answer with this status instead
	etag        string // send this ETag ("-": none)
	ignoreRange bool   // answer 200 with the whole file
	shiftRange  int64  // announce (and send) a range this many bytes later
	cutAt       int64  // cut the connection after this many body bytes (> 0)
	stall       int64  // stop sending after this many bytes until the request ends (> 0)
	holdTail    int64  // stop sending this many bytes before the end until the request ends (> 0)
	hold        int64  // with gate: stop sending after this many bytes until gate is closed
	gate        <-chan struct{}
}

func newFileServer(t *testing.T, data []byte) *fileServer {
	return newServerOf(t, bytes.NewReader(data), int64(len(data)), data)
}

// newGenServer serves size bytes of genData: a large file that is never
// held in memory.
func newGenServer(t *testing.T, size int64) *fileServer {
	return newServerOf(t, genData{}, size, nil)
}

func newServerOf(t *testing.T, src io.ReaderAt, size int64, data []byte) *fileServer {
	s := &fileServer{data: data, src: src, size: size, etag: `"v1"`}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) setSpoil(f func(n int, r *http.Request) spoil) {
	s.mu.Lock()
	s.spoil = f
	s.mu.Unlock()
}

func (s *fileServer) setETag(e string) {
	s.mu.Lock()
	s.etag = e
	s.mu.Unlock()
}

func (s *fileServer) requests() []logged {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logged(nil), s.reqs...)
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.active.Add(1)
	defer s.active.Done()
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, logged{r.Header.Get("Range"), r.Header.Get("If-Match")})
	etag, hook := s.etag, s.spoil
	s.mu.Unlock()
	var sp spoil
	if hook != nil {
		sp = hook(n, r)
	}
	if sp.status != 0 {
		http.Error(w, http.StatusText(sp.status), sp.status)
		return
	}
	if im := r.Header.Get("If-Match"); im != "" && im != etag {
		http.Error(w, "precondition failed", http.StatusPreconditionFailed)
		return
	}
	if sp.etag != "" {
		etag = sp.etag
	}
	h := w.Header()
	if etag != "-" { // "-": no ETag
		h.Set("ETag", etag)
	}
	if !s.noRange {
		h.Set("Accept-Ranges", "bytes")
	}
	size := s.size
	start, end, code := int64(0), size, http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && !s.noRange && !sp.ignoreRange {
		a, b, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
		start, _ = strconv.ParseInt(a, 10, 64)
		if b != "" {
			e, _ := strconv.ParseInt(b, 10, 64)
			end = min(e+1, size)
		}
		start, end = start+sp.shiftRange, min(end+sp.shiftRange, size)
		code = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, size))
	}
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	w.WriteHeader(code)
	body := io.NewSectionReader(s.src, start, end-start)
	left := end - start
	if sp.holdTail > 0 && sp.holdTail < left {
		sp.stall = left - sp.holdTail
	}
	if sp.stall > 0 && sp.stall < left {
		s.write(w, body, sp.stall)
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
		return
	}
	if sp.gate != nil && sp.hold < left {
		s.write(w, body, sp.hold)
		http.NewResponseController(w).Flush()
		select {
		case <-sp.gate:
		case <-r.Context().Done():
			return
		}
		left -= sp.hold
	}
	if sp.cutAt > 0 && sp.cutAt < left {
		s.write(w, body, sp.cutAt)
		http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
	s.write(w, body, left)
}

// write sends the next n bytes of body, 32 KiB at a time.
func (s *fileServer) write(w http.ResponseWriter, body io.Reader, n int64) {
	buf := make([]byte, 32<<10)
	for n > 0 {
		b := buf[:min(n, int64(len(buf)))]
		if _, err := io.ReadFull(body, b); err != nil {
			return
		}
		m, err := w.Write(b)
		s.served.Add(int64(m))
		if err != nil {
			return
		}
		n -= int64(m)
		if d := time.Duration(s.pace.Load()); d > 0 {
			time.Sleep(d)
		}
	}
}

// genData is a file of any size generated at any offset: a block of
// genPeriod bytes of testData repeated, with genPeriod prime, so that
// bytes put at the wrong offset (by anything but a multiple of genPeriod)
// change the file's hash. Reading it costs a copy, not a byte loop (which
// the race detector would slow tenfold).
type genData struct{}

// genPeriod is a prime just below 1 MiB.
const genPeriod = 1<<20 - 3

var genBlock = sync.OnceValue(func() []byte { return testData(genPeriod) })

func (genData) ReadAt(p []byte, off int64) (int, error) {
	blk := genBlock()
	n := 0
	for n < len(p) {
		i := (off + int64(n)) % genPeriod
		n += copy(p[n:], blk[i:])
	}
	return n, nil
}

// genSHA1 is the hex SHA-1 of the first size bytes of genData.
func genSHA1(size int64) string {
	h := sha1.New()
	io.Copy(h, io.NewSectionReader(genData{}, 0, size))
	return hex.EncodeToString(h.Sum(nil))
}

// testData is n bytes that differ at every offset modulo a prime.
func testData(n int) []byte {
	b := make([]byte, n)
	var x uint32 = 2463534242
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// testSource is a Source for the server's file; locates counts the fresh
// locations asked for.
func testSource(s *fileServer, key string, locates *atomic.Int32) *Source {
	loc := &Location{URL: s.URL + "/f?sig=secret", Size: s.size}
	return &Source{Key: key, Known: loc, Locate: func(context.Context) (*Location, error) {
		if locates != nil {
			locates.Add(1)
		}
		return loc, nil
	}}
}

// testConfig parts the file in MinPartSize parts over 4 connections.
func testConfig(t *testing.T, opts ...func(*Config)) Config {
	hc := &http.Client{
		Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	cfg := Config{Client: hc, Connections: 4, PartSize: MinPartSize, MaxResumes: DefaultMaxResumes, IdleTimeout: 5 * time.Second,
		noEarly: true}
	for _, o := range opts {
		o(&cfg)
	}
	t.Cleanup(hc.CloseIdleConnections)
	return cfg
}
