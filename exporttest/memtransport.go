package exporttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// memTransport serves requests in-process, without sockets: the handler
// runs in its own goroutine and the body streams through an io.Pipe. It
// honours the request's context and leaks no goroutine once a response body
// is closed, read to its end, or its context ends.
type memTransport struct {
	s      *Server
	mu     sync.Mutex
	closed bool
	active map[*exchange]struct{}
	wg     sync.WaitGroup
}

// connReset is the error a broken in-memory connection reports.
func connReset() error {
	return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
}

// errServerClosed ends exchanges still running when the Server closes.
var errServerClosed = errors.New("exporttest: server closed")

// exchange is one request in flight.
type exchange struct {
	cancel context.CancelFunc
	pr     *io.PipeReader
}

// RoundTrip implements http.RoundTripper.
func (t *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var h http.HandlerFunc
	switch req.URL.Host {
	case t.s.apiHost:
		h = t.s.serveAPI
	case t.s.storageHost:
		h = t.s.serveStorage
	}
	if h == nil || req.URL.Scheme != "http" {
		closeBody(req)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("lookup %s: no such host (exporttest in memory)", req.URL.Host)}
	}
	if err := req.Context().Err(); err != nil {
		closeBody(req)
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	pr, pw := io.Pipe()
	x := &exchange{cancel: cancel, pr: pr}
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		cancel()
		closeBody(req)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	t.active[x] = struct{}{}
	t.wg.Add(1)
	t.mu.Unlock()

	mw := &memWriter{header: http.Header{}, ready: make(chan struct{}), pw: pw, head: req.Method == http.MethodHead}
	go t.serve(h, mw, serverRequest(ctx, req), x)

	select {
	case <-mw.ready:
	case <-req.Context().Done():
		t.finish(x, context.Cause(req.Context()))
		return nil, req.Context().Err()
	}
	if mw.err != nil {
		t.finish(x, mw.err)
		return nil, mw.err
	}
	resp := &http.Response{
		Status:        strconv.Itoa(mw.status) + " " + http.StatusText(mw.status),
		StatusCode:    mw.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        mw.sent,
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(mw.sent.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		resp.ContentLength = n
	}
	if mw.status == http.StatusNoContent || mw.status == http.StatusNotModified {
		resp.ContentLength = 0
	}
	if mw.head || resp.ContentLength == 0 {
		// Like net/http: a HEAD response keeps its Content-Length but has
		// no body.
		t.finish(x, io.EOF)
		resp.Body = http.NoBody
		return resp, nil
	}
	body := &memBody{t: t, x: x, ctx: req.Context(), left: resp.ContentLength}
	body.stop = context.AfterFunc(req.Context(), func() { t.finish(x, context.Cause(req.Context())) })
	resp.Body = body
	return resp, nil
}

// serve runs the handler and ends the body once it returns (or panics).
func (t *memTransport) serve(h http.HandlerFunc, mw *memWriter, r *http.Request, x *exchange) {
	defer t.wg.Done()
	defer closeBody(r)
	defer func() {
		if p := recover(); p != nil {
			mw.fail(fmt.Errorf("exporttest: handler panic: %v", p))
			return
		}
		mw.finish()
	}()
	h(mw, r)
}

// finish ends exchange x: the handler sees its context end and its writes
// fail with err.
func (t *memTransport) finish(x *exchange, err error) {
	x.cancel()
	_ = x.pr.CloseWithError(err)
	t.mu.Lock()
	delete(t.active, x)
	t.mu.Unlock()
}

// close ends every exchange and waits for the handlers to return.
func (t *memTransport) close() {
	t.mu.Lock()
	t.closed = true
	xs := make([]*exchange, 0, len(t.active))
	for x := range t.active {
		xs = append(xs, x)
	}
	t.mu.Unlock()
	for _, x := range xs {
		t.finish(x, errServerClosed)
	}
	t.wg.Wait()
}

// serverRequest is the request as a handler would see it from net/http.
func serverRequest(ctx context.Context, req *http.Request) *http.Request {
	r := req.Clone(ctx)
	r.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	r.RequestURI = req.URL.RequestURI()
	r.Host = req.Host
	if r.Host == "" {
		r.Host = req.URL.Host
	}
	r.RemoteAddr = "127.0.0.1:50000"
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.Header = make(http.Header, len(req.Header)+1)
	for k, vs := range req.Header {
		k = http.CanonicalHeaderKey(k) // as a server parses them
		r.Header[k] = append(r.Header[k], vs...)
	}
	if _, ok := r.Header["User-Agent"]; !ok {
		r.Header.Set("User-Agent", "Go-http-client/1.1") // as http.Transport sends
	}
	r.Body = req.Body
	if r.Body == nil {
		r.Body = http.NoBody
	}
	return r
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}

// memWriter is the handler's http.ResponseWriter. Only the handler's
// goroutine writes it; ready publishes status, sent and err to RoundTrip.
type memWriter struct {
	header      http.Header
	sent        http.Header
	status      int
	wroteHeader bool
	head        bool
	ready       chan struct{}
	err         error // set before ready closes: the round trip fails
	pw          *io.PipeWriter
}

func (w *memWriter) Header() http.Header { return w.header }

func (w *memWriter) WriteHeader(code int) {
	if w.wroteHeader || code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.wroteHeader, w.status, w.sent = true, code, w.header.Clone()
	close(w.ready)
}

func (w *memWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		if w.header.Get("Content-Type") == "" && len(p) > 0 {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.head || w.err != nil {
		return len(p), nil
	}
	return w.pw.Write(p)
}

// Flush sends the headers; body bytes are never buffered.
func (w *memWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
}

// abort breaks the connection: before the headers the round trip fails,
// after them the body read does.
func (w *memWriter) abort(bool) { w.fail(connReset()) }

func (w *memWriter) fail(err error) {
	if !w.wroteHeader {
		w.wroteHeader, w.err = true, err
		close(w.ready)
		return
	}
	_ = w.pw.CloseWithError(err)
}

func (w *memWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.pw.Close()
}

// memBody is the response body: it reads the pipe, enforces
// Content-Length as a client would (a short body is io.ErrUnexpectedEOF)
// and ends the exchange on EOF, error or Close.
type memBody struct {
	t    *memTransport
	x    *exchange
	ctx  context.Context // the request's
	left int64           // bytes still announced by Content-Length; < 0 unknown
	stop func() bool
	done bool
}

func (b *memBody) Read(p []byte) (int, error) {
	if b.done {
		return 0, errors.New("http: read on closed response body")
	}
	if b.left == 0 {
		b.end(io.EOF)
		return 0, io.EOF
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.x.pr.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	complete := err == io.EOF && b.left <= 0
	switch {
	case err != nil && !complete && b.ctx.Err() != nil:
		err = b.ctx.Err() // as net/http reports a cancelled body read
	case err == io.EOF && b.left > 0:
		err = io.ErrUnexpectedEOF
	case err == nil && b.left == 0:
		err = io.EOF
	}
	if err != nil {
		b.end(err)
	}
	return n, err
}

func (b *memBody) end(err error) {
	b.stop()
	b.t.finish(b.x, err)
}

func (b *memBody) Close() error {
	if !b.done {
		b.done = true
		b.end(errors.New("exporttest: response body closed"))
	}
	return nil
}
