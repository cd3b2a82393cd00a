package download

import (
	"context"
	"fmt"
	"io"
)

// begin opens the file: the first response, read by a stream, says what
// the file is and whether it can be fetched in parts.
func begin(ctx context.Context, cfg Config, src *Source) (*job, *stream, error) {
	j := newJob(ctx, cfg, src)
	s := newStream(j)
	// The location first (the connection would ask for it anyway), so
	// that the early parts know where the file is and how large.
	loc, _, err := j.location(s.ctx)
	if err != nil {
		return nil, nil, s.fail(err)
	}
	j.early = startEarly(j, loc)
	s.mu.Lock()
	err = s.connect()
	s.mu.Unlock()
	if err != nil {
		j.early.close()
		return nil, nil, s.fail(err)
	}
	return j, s, nil
}

// handFirst gives the stream's open response to part 0 of p: the bytes
// already on their way are not asked for again.
func (p *parallel) handFirst(s *stream) {
	s.mu.Lock()
	p.first, p.firstReq = s.body, s.req
	s.body, s.req = nil, nil
	s.mu.Unlock()
	if p.firstReq != nil {
		req := p.firstReq
		stop := context.AfterFunc(p.ctx, func() { req.stop(context.Cause(p.ctx)) })
		p.release = func() { stop(); s.stop() }
	} else {
		p.release = s.stop
	}
}

// Open returns a reader of the file. It resumes under the caller's reads
// and, at the end, returns a verification failure instead of io.EOF. In
// parts, it holds at most Connections × PartSize bytes. The caller must
// close it.
func Open(ctx context.Context, cfg Config, src *Source) (io.ReadCloser, error) {
	if cfg.PartSize <= 0 {
		cfg.PartSize = DefaultBufferedPartSize
	}
	j, s, err := begin(ctx, cfg, src)
	if err != nil {
		return nil, err
	}
	if !j.eligible(s.status) {
		j.early.close()
		return s, nil
	}
	p := newParallel(j, planParts(j.total, j.planSize()), nil)
	p.handFirst(s)
	p.start()
	return &reader{p: p}, nil
}

// Copy copies the file to w in order.
func Copy(ctx context.Context, cfg Config, src *Source, w io.Writer) (*Result, error) {
	r, err := Open(ctx, cfg, src)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if pr, ok := r.(*reader); ok {
		n, err := pr.WriteTo(w)
		if err != nil {
			return nil, err
		}
		return pr.p.result(n), nil
	}
	s := r.(*stream)
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := s.Read(buf)
		if n > 0 {
			if err := write(w, buf[:n]); err != nil {
				return nil, err
			}
		}
		if rerr == io.EOF {
			return s.j.result(s.off, 1), nil
		}
		if rerr != nil {
			return nil, rerr
		}
	}
}

// write writes b to the caller's writer; a failure reads "write: …".
func write(w io.Writer, b []byte) error {
	m, err := w.Write(b)
	if err == nil && m < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// WriteTo writes the parts to w in order, straight from their buffers.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.p
	for r.err == nil && !r.done {
		if r.cur == len(p.parts) {
			if err := p.wait(); err != nil {
				return r.off, r.stopLocked(err)
			}
			if err := p.j.ver.finish(r.off, p.j.total); err != nil {
				r.err = err
				return r.off, err
			}
			p.j.finalProgress(r.off)
			r.done = true
			p.cancel(nil)
			return r.off, nil
		}
		pt := p.parts[r.cur]
		if avail := pt.got.Load() - r.curOff; avail > 0 {
			b := pt.buf[r.curOff : r.curOff+avail]
			p.j.ver.write(b)
			if err := write(w, b); err != nil {
				return r.off, r.stopLocked(err)
			}
			r.advance(pt, avail)
			continue
		}
		if err := p.failed(); err != nil {
			return r.off, r.stopLocked(err)
		}
		select {
		case <-p.changed:
		case <-p.ctx.Done():
			err := p.failed()
			if err == nil {
				err = ctxError(p.ctx)
			}
			return r.off, r.stopLocked(err)
		}
	}
	if r.err != nil {
		return r.off, r.err
	}
	return r.off, nil
}

// Result describes the finished download, once Read has returned io.EOF;
// nil before.
func (s *stream) Result() *Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		return nil
	}
	return s.j.result(s.off, 1)
}

// Result describes the finished download, once Read has returned io.EOF;
// nil before.
func (r *reader) Result() *Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.done {
		return nil
	}
	return r.p.result(r.off)
}
