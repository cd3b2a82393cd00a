package download

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// stream reads the file over one connection at a time: it opens the file,
// reads it, resumes after a failed read with a validated range request,
// refreshes an expired URL, and verifies what it read in the same pass.
type stream struct {
	j *job

	mu   sync.Mutex // held by Read and Close, so that Close can abort a blocked Read
	ctx  context.Context
	stop context.CancelFunc // ends ctx: the caller's context, or Close

	// The response being read, nil between responses.
	body   io.ReadCloser
	req    *idleRequest
	remain int64 // bytes the response still owes, -1 when unknown
	status int   // the response's status code

	off      int64 // bytes delivered to the reader
	retry    retrier
	relocOff int64 // offset at the last URL refresh, -1 before any
	done     bool
	err      error // sticky: every Read after a failure returns it
}

func newStream(j *job) *stream {
	s := &stream{j: j, remain: -1, relocOff: -1}
	s.retry.j = j
	s.ctx, s.stop = context.WithCancel(j.ctx)
	return s
}

// Read reads the file, resuming under the caller after a failed read. At
// the end of the file it verifies sizes and checksums and returns io.EOF,
// or the verification error.
func (s *stream) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return 0, s.err
	}
	if s.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if s.body == nil {
			if err := s.connect(); err != nil {
				return 0, s.fail(err)
			}
		}
		n, err := s.body.Read(p)
		if n > 0 {
			s.req.touch()
			s.off += int64(n)
			s.j.ver.write(p[:n])
			if s.remain >= 0 {
				if s.remain -= int64(n); s.remain < 0 {
					return n, s.fail(sizeError("the server sent more than the range it announced"))
				}
			}
			if t := s.j.total; t >= 0 && s.off > t {
				return n, s.fail(sizeError("received more than the expected %d bytes", t))
			}
			s.j.progress(s.off)
		}
		if err == nil {
			return n, nil
		}
		if err == io.EOF {
			if s.remain > 0 {
				// The server closed before the bytes it announced.
				err = io.ErrUnexpectedEOF
			} else {
				// A clean end: a body of unknown length (chunked) ended as the
				// server meant it to, so finish checks it against the size.
				s.closeBody()
				if s.remain == 0 && s.j.total >= 0 && s.off < s.j.total {
					// A range response that ended early by design: ask for the rest.
					if n > 0 {
						return n, nil
					}
					continue
				}
				if verr := s.j.ver.finish(s.off, s.j.total); verr != nil {
					return n, s.fail(verr)
				}
				s.j.finalProgress(s.off)
				s.done = true
				s.stop()
				return n, io.EOF
			}
		}
		err = s.req.err(s.ctx, err)
		s.closeBody()
		if perr := s.retry.failure(s.ctx, s.off, s.j.total, err); perr != nil {
			return n, s.fail(perr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close ends the stream and releases its connection and timer. It may be
// called while a Read is blocked, which then returns.
func (s *stream) Close() error {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeBody()
	if s.err == nil && !s.done {
		s.err = ErrClosed
	}
	return nil
}

// fail records err as the stream's final error and releases everything.
func (s *stream) fail(err error) error {
	s.closeBody()
	s.stop()
	s.err = err
	return err
}

func (s *stream) closeBody() {
	if s.body == nil {
		return
	}
	s.body.Close()
	s.req.end()
	s.body, s.req = nil, nil
}

// connect opens the file at the current offset: after a failure it waits a
// short jittered backoff, then asks for the rest of the file, refreshing an
// expired URL once per offset.
func (s *stream) connect() error {
	refreshed := false
	for {
		if err := s.ctx.Err(); err != nil {
			return ctxError(s.ctx)
		}
		if s.retry.lastErr != nil {
			if err := s.retry.backoff(s.ctx); err != nil {
				return err
			}
		}
		loc, gen, err := s.j.location(s.ctx)
		if err != nil {
			return err
		}
		if refreshed || s.retry.lastErr != nil {
			s.j.resumes.Add(1)
		}
		err = s.open(loc)
		if err == nil {
			s.retry.lastErr = nil
			return nil
		}
		if expired(err) && s.relocOff != s.off {
			// A signed URL has a short life: read a fresh one from the
			// vendor and go on at the same offset, once per expiry.
			s.relocOff = s.off
			s.j.refresh(gen, s.off)
			refreshed = true
			continue
		}
		if perr := s.retry.failure(s.ctx, s.off, s.j.total, err); perr != nil {
			return perr
		}
	}
}

// open sends one request for the file from the current offset and, when
// the answer can be continued from, makes it the response being read. The
// idle timer runs from the moment the request is sent, so a server that
// never answers is cut like one that stops sending.
func (s *stream) open(loc *Location) error {
	req := newIdleRequest(s.ctx, s.j.cfg.IdleTimeout)
	h := make(http.Header, 4)
	if s.off > 0 {
		h.Set("Range", rangeHeader(s.off, -1))
		switch {
		case s.j.etag != "":
			h.Set("If-Match", s.j.etag)
		case s.j.lastMod != "":
			h.Set("If-Range", s.j.lastMod)
		}
	}
	resp, err := s.j.fetch(req.ctx, loc, h, s.off)
	if err == nil {
		s.body, s.req = resp.Body, req
		s.status = resp.StatusCode
		err = s.accept(resp)
	}
	if err != nil {
		err = req.err(s.ctx, err)
		if s.body == nil {
			req.end()
		}
		s.closeBody()
		return err
	}
	return nil
}

// accept checks a response before its body is read: the status, and that
// it continues the file the download started on.
func (s *stream) accept(resp *http.Response) error {
	switch code := resp.StatusCode; {
	case code == http.StatusOK, code == http.StatusPartialContent:
	case code == http.StatusPreconditionFailed:
		return fmt.Errorf("%w (412 Precondition Failed at byte %d)", ErrFileChanged, s.off)
	case code == http.StatusRequestedRangeNotSatisfiable:
		if cr, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && cr.Total == s.off {
			// Everything there is was read: the first response announced more.
			return sizeError("%d bytes were announced, the file has %d", s.j.total, cr.Total)
		}
		return fmt.Errorf("%w (416 Range Not Satisfiable at byte %d)", ErrFileChanged, s.off)
	case code >= 400:
		return s.j.statusError(resp)
	default:
		return fmt.Errorf("unexpected status %d %s", code, http.StatusText(code))
	}
	if !s.j.started {
		remain, err := s.j.acceptFirst(resp)
		s.remain = remain
		return err
	}
	return s.acceptResume(resp)
}

// acceptResume checks the answer to a range request: a 206 must start at
// the offset and keep the total; a 200 (the range ignored) is continued by
// skipping what was already read, only when its validators show the same
// file.
func (s *stream) acceptResume(resp *http.Response) error {
	h := resp.Header
	j := s.j
	if et := validator(h.Get("ETag")); j.rawETag != "" && et != "" && et != j.rawETag {
		return fmt.Errorf("%w (ETag %s, was %s)", ErrFileChanged, excerpt(et, 80), excerpt(j.rawETag, 80))
	}
	if resp.StatusCode == http.StatusPartialContent {
		cr, err := parseContentRange(h.Get("Content-Range"))
		if err != nil {
			return err
		}
		if cr.Start != s.off {
			return fmt.Errorf("%w: asked for bytes from %d, got a range from %d", errBadRange, s.off, cr.Start)
		}
		if cr.Total >= 0 && j.total >= 0 && cr.Total != j.total {
			return fmt.Errorf("%w (%d bytes, was %d)", ErrFileChanged, cr.Total, j.total)
		}
		if j.total < 0 {
			j.total = cr.Total
		}
		s.remain = cr.Len()
		return nil
	}
	if !j.sameFile(resp) {
		return fmt.Errorf("%w: the server ignored the range request and its validators do not match the first response", ErrFileChanged)
	}
	s.remain = resp.ContentLength
	if err := skip(s.body, s.off, s.req); err != nil {
		return err
	}
	if s.remain >= 0 {
		s.remain -= s.off
	}
	return nil
}

// sameFile reports whether a full response describes the file the first
// response did: every validator both have must match, and at least one
// must have been compared.
func (j *job) sameFile(resp *http.Response) bool {
	compared := false
	if j.rawETag != "" {
		if validator(resp.Header.Get("ETag")) != j.rawETag {
			return false
		}
		compared = true
	}
	if j.lastMod != "" {
		if resp.Header.Get("Last-Modified") != j.lastMod {
			return false
		}
		compared = true
	}
	if j.total >= 0 {
		if resp.ContentLength != j.total {
			return false
		}
		compared = true
	}
	return compared
}

// skip reads and discards the first n bytes of a response that ignored
// the range, keeping the idle timer going.
func skip(body io.Reader, n int64, req *idleRequest) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for n > 0 {
		m, err := body.Read(buf[:min(int64(len(buf)), n)])
		if m > 0 {
			n -= int64(m)
			req.touch()
		}
		if err == io.EOF && n > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && n > 0 {
			return err
		}
	}
	return nil
}
