package exportkit_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memNet is an in-memory network for tests on synctest's fake clock (real
// sockets would block it): each request runs its host's handler in a
// goroutine of the bubble, and the body streams back over channels, so a
// stalled handler blocks durably and time moves on.
type memNet map[string]http.Handler

func (m memNet) RoundTrip(req *http.Request) (*http.Response, error) {
	h := m[req.URL.Host]
	if h == nil {
		return nil, fmt.Errorf("dial tcp %s: no such host", req.URL.Host)
	}
	ctx, cancel := context.WithCancel(req.Context())
	rw := &memResponse{header: http.Header{}, ready: make(chan struct{}), chunks: make(chan []byte), done: make(chan struct{}), ctx: ctx}
	go func() {
		defer func() {
			if p := recover(); p != nil {
				if p != http.ErrAbortHandler {
					panic(p)
				}
				rw.err = io.ErrUnexpectedEOF
			}
			if !rw.wrote {
				rw.wrote = true
				if rw.err == nil {
					rw.code, rw.sent = http.StatusOK, rw.header.Clone()
				}
				close(rw.ready)
			}
			close(rw.done)
		}()
		h.ServeHTTP(rw, req.WithContext(ctx))
	}()
	select {
	case <-rw.ready:
	case <-ctx.Done():
		cancel()
		return nil, ctx.Err()
	}
	if rw.code == 0 {
		cancel()
		return nil, fmt.Errorf("read: connection reset by peer")
	}
	resp := &http.Response{StatusCode: rw.code, Status: strconv.Itoa(rw.code) + " " + http.StatusText(rw.code),
		Header: rw.sent, Request: req, ContentLength: -1, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if cl, err := strconv.ParseInt(rw.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = cl
	}
	resp.Body = &memNetBody{rw: rw, cancel: cancel, remaining: resp.ContentLength}
	return resp, nil
}

type memResponse struct {
	header, sent http.Header
	code         int
	wrote        bool
	ready        chan struct{}
	chunks       chan []byte
	done         chan struct{}
	err          error
	ctx          context.Context
}

func (rw *memResponse) Header() http.Header { return rw.header }

func (rw *memResponse) WriteHeader(code int) {
	if rw.wrote {
		return
	}
	rw.wrote, rw.code, rw.sent = true, code, rw.header.Clone()
	close(rw.ready)
}

func (rw *memResponse) Write(p []byte) (int, error) {
	rw.WriteHeader(http.StatusOK)
	select {
	case rw.chunks <- bytes.Clone(p):
		return len(p), nil
	case <-rw.ctx.Done():
		return 0, rw.ctx.Err()
	}
}

type memNetBody struct {
	rw        *memResponse
	cancel    context.CancelFunc
	buf       []byte
	remaining int64
}

func (b *memNetBody) Read(p []byte) (int, error) {
	if len(b.buf) == 0 {
		select {
		case c := <-b.rw.chunks:
			b.buf = c
		case <-b.rw.done:
			if b.rw.err != nil {
				return 0, b.rw.err
			}
			if b.remaining > 0 {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, io.EOF
		case <-b.rw.ctx.Done():
			return 0, b.rw.ctx.Err()
		}
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	b.remaining -= int64(n)
	return n, nil
}

func (b *memNetBody) Close() error {
	b.cancel()
	<-b.rw.done
	return nil
}

// memClient returns a client whose API and storage requests go to net.
func memClient(t *testing.T, net memNet) *exportkit.Client {
	hc := &http.Client{Transport: net}
	return newLoopbackClient(t, "https://api.test", exportkit.WithHTTPClient(hc), exportkit.WithStorageHTTPClient(hc))
}

func heldExport(u string, size int) *exportkit.LogExport {
	s := float64(size)
	return &exportkit.LogExport{ID: "ex1", Status: "COMPLETED", DownloadURL: &u, FileSizeBytes: &s}
}

// QUALITY.md 11: a stall longer than the idle timeout resumes.
func TestDownloadStallResumesAfterIdleTimeout(t *testing.T) {
	for _, stall := range []int64{1, 40_000, 99_999} {
		t.Run(strconv.FormatInt(stall, 10), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				data := testData(100_000)
				st := newFakeStorage(data)
				st.faults[0] = fault{stall: stall}
				c := memClient(t, memNet{"storage.test": st})
				var buf bytes.Buffer
				start := time.Now()
				res, err := c.Download(context.Background(), heldExport("https://storage.test/f?sig="+signature, len(data)), &buf,
					exportkit.WithIdleTimeout(30*time.Second))
				require.NoError(t, err)
				elapsed := time.Since(start)
				assert.True(t, bytes.Equal(data, buf.Bytes()))
				assert.Equal(t, 1, res.Resumes)
				assert.GreaterOrEqual(t, elapsed, 30*time.Second)
				assert.LessOrEqual(t, elapsed, 30*time.Second+resumeBackoffMax(1))
				reqs := st.requests()
				require.Len(t, reqs, 2)
				assert.Equal(t, "bytes="+strconv.FormatInt(stall, 10)+"-", reqs[1].header.Get("Range"))
			})
		})
	}
}

// resumeBackoffMax is the longest wait before the n-th resume in a row.
func resumeBackoffMax(n int) time.Duration { return min(100*time.Millisecond<<(n-1), 2*time.Second) }

func TestDownloadStallBeforeHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := testData(1000)
		st := newFakeStorage(data)
		var mu sync.Mutex
		calls := 0
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 1 {
				<-r.Context().Done() // never answers
				return
			}
			st.ServeHTTP(w, r)
		})
		c := memClient(t, memNet{"storage.test": slow})
		start := time.Now()
		res, err := c.Download(context.Background(), heldExport("https://storage.test/f", len(data)), io.Discard,
			exportkit.WithIdleTimeout(10*time.Second))
		require.NoError(t, err)
		assert.Equal(t, 1, res.Resumes)
		assert.GreaterOrEqual(t, time.Since(start), 10*time.Second)
	})
}

// QUALITY.md 11: a slow transfer that keeps moving is never cut, however
// long it takes.
func TestDownloadSlowButMovingIsNotCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := testData(20 * 1000)
		drip := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			for i := 0; i < len(data); i += 1000 {
				time.Sleep(50 * time.Second)
				if _, err := w.Write(data[i : i+1000]); err != nil {
					return
				}
			}
		})
		c := memClient(t, memNet{"storage.test": drip})
		start := time.Now()
		res, err := c.Download(context.Background(), heldExport("https://storage.test/f", len(data)), io.Discard,
			exportkit.WithIdleTimeout(60*time.Second))
		require.NoError(t, err)
		assert.Equal(t, 0, res.Resumes)
		assert.Equal(t, 1000*time.Second, time.Since(start))
	})
}

// WithProgress: at most every 100 ms, and once at the end with the total.
func TestDownloadProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const chunks, chunk = 500, 200
		data := testData(chunks * chunk)
		steady := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			for i := 0; i < len(data); i += chunk {
				time.Sleep(7 * time.Millisecond)
				if _, err := w.Write(data[i : i+chunk]); err != nil {
					return
				}
			}
		})
		c := memClient(t, memNet{"storage.test": steady})
		type call struct {
			at time.Time
			p  exportkit.Progress
		}
		var calls []call
		_, err := c.Download(context.Background(), heldExport("https://storage.test/f", len(data)), io.Discard,
			exportkit.WithProgress(func(p exportkit.Progress) { calls = append(calls, call{time.Now(), p}) }))
		require.NoError(t, err)
		require.NotEmpty(t, calls)
		last := calls[len(calls)-1]
		assert.Equal(t, exportkit.Progress{Done: int64(len(data)), Total: int64(len(data))}, last.p)
		// 3.5 s of transfer: about 35 reports, never two within 100 ms.
		assert.InDelta(t, 35, len(calls), 3)
		for i := 1; i < len(calls)-1; i++ {
			assert.GreaterOrEqual(t, calls[i].at.Sub(calls[i-1].at), 100*time.Millisecond)
			assert.GreaterOrEqual(t, calls[i].p.Done, calls[i-1].p.Done)
			assert.Equal(t, int64(len(data)), calls[i].p.Total)
		}
	})
}

// QUALITY.md 14: cancelling during the body, during a resume's backoff and
// while waiting for headers returns at once on the fake clock, and leaves
// no file.
func TestDownloadCancelReturnsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(i int) fault
		kept  []string // what a later run can go on from
	}{
		{"mid-body", func(int) fault { return fault{stall: 50_000} }, []string{"x.partial", "x.partial.state"}},
		{"backoff", func(int) fault { return fault{status: http.StatusServiceUnavailable} }, nil},
		{"headers", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				data := testData(100_000)
				st := newFakeStorage(data)
				var h http.Handler = st
				if tc.fault != nil {
					st.faultFor = tc.fault
				} else {
					h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
				}
				api := &vendorAPI{t: t, size: int64(len(data)), url: func() string { return "https://storage.test/f?sig=" + signature }}
				c := memClient(t, memNet{"storage.test": h, "api.test": api})
				ctx, cancel := context.WithCancel(context.Background())
				const at = 1500 * time.Millisecond
				time.AfterFunc(at, cancel)
				dir := t.TempDir()
				start := time.Now()
				_, err := c.Exports.DownloadFile(ctx, "ex1", filepath.Join(dir, "x"), exportkit.WithMaxResumes(100))
				require.ErrorIs(t, err, context.Canceled)
				assert.Equal(t, at, time.Since(start))
				assertDirHolds(t, dir, tc.kept...)
			})
		})
	}
}

// A storage host's Retry-After is a floor for the next attempt; one longer
// than the download waits, or than the context has left, ends it at once.
func TestDownloadStorageRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		after    string
		deadline time.Duration
		wait     time.Duration
		err      error
	}{
		{name: "floor", after: "7", wait: 7 * time.Second},
		{name: "too long", after: "120", err: exportkit.ErrRateLimited},
		{name: "past the deadline", after: "20", deadline: 10 * time.Second, err: exportkit.ErrRateLimited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				data := testData(1000)
				st := newFakeStorage(data)
				var mu sync.Mutex
				n := 0
				h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					mu.Lock()
					n++
					first := n == 1
					mu.Unlock()
					if first {
						w.Header().Set("Retry-After", tc.after)
						w.WriteHeader(http.StatusTooManyRequests)
						return
					}
					st.ServeHTTP(w, r)
				})
				c := memClient(t, memNet{"storage.test": h})
				ctx := context.Background()
				if tc.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				start := time.Now()
				_, err := c.Download(ctx, heldExport("https://storage.test/f", len(data)), io.Discard)
				if tc.err != nil {
					require.ErrorIs(t, err, tc.err)
					assert.Zero(t, time.Since(start))
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tc.wait, time.Since(start))
			})
		})
	}
}
