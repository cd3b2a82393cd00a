package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exportkit/exportkit/internal/httpx"
)

// Parallel parts. Once the first response shows a file of known size, a
// strong ETag and byte ranges, the rest is fetched as parts over up to
// Connections connections. The parts are planned from the size and the
// connections (planSize): ceil(size / Connections) bytes, at least
// minPlanned and at most PartSize, so that a file is never fetched over
// fewer connections than it can use; the first response's body is read as
// part 0, and the requests of parts 1 to Connections-1 may have gone out
// beside it (early.go). To a file, a connection that finds no part left to start takes
// the upper half of the largest range still being fetched (work stealing,
// as aria2 does): the part being split stops at its new end, so that the
// tail of a download is never one slow part. Every part request carries
// If-Match with the first response's ETag and is accepted only as a 206
// for exactly the range asked with the same total. A part that fails is
// retried alone from where it stopped; an expired URL is refreshed once for
// all parts (job.refresh).
//
// To a file, parts are written in place (WriteAt). To a writer or a
// reader, each part in flight owns a buffer of its size, and at most
// Connections parts are in flight or waiting to be delivered: memory is
// bounded by Connections × PartSize.

// part is a byte range of the file, [start, end). Its end only moves
// down, when the part is split (under parallel.mu and part.mu); got only
// grows, under part.mu, by bytes already written, and never past end.
type part struct {
	start int64
	end   atomic.Int64
	got   atomic.Int64 // bytes received from start, in order
	mu    sync.Mutex   // held while bytes are written and while the part is split
	buf   []byte       // in memory: the part's bytes

	// Under parallel.mu.
	claimed bool // a connection took it
	active  bool // a connection is fetching it now
}

func newPart(start, end int64) *part {
	pt := &part{start: start}
	pt.end.Store(end)
	return pt
}

func (p *part) size() int64 { return p.end.Load() - p.start }

// minPlanned is the smallest part planned or left by a split when
// PartSize allows it: below about 1 MiB, the round trip of another
// request costs more than the bytes it would carry on a capped link.
const minPlanned = 1 << 20

// planSize is the size of the parts of a file of total bytes fetched over
// conns connections: the file spread over every connection, at least
// minPlanned (or PartSize, when smaller) and at most PartSize.
func planSize(total int64, conns int, partSize int64) int64 {
	floor := min(int64(minPlanned), partSize)
	s := (total + int64(conns) - 1) / int64(max(conns, 1))
	return min(partSize, max(s, floor))
}

// connStat is what one connection of a download moved and for how long.
type connStat struct {
	bytes int64
	busy  time.Duration
}

// parallel is a download in parts.
type parallel struct {
	j        *job
	ctx      context.Context
	cancel   context.CancelCauseFunc
	parts    []*part
	received atomic.Int64 // the sum of the parts' got: read on every chunk for progress
	file     fileHandle   // nil: in memory

	mu       sync.Mutex // guards parts (a split inserts one), the parts' claimed and active, err, stats
	err      error      // the first error that ends the download
	stats    []connStat // one per connection that ended
	minSplit int64      // the smallest half a split leaves
	wg       sync.WaitGroup

	changed chan struct{} // a part made progress (one waiter)
	bufs    chan []byte   // in memory: free part buffers

	// The first response, read as part 0's first attempt.
	first    io.ReadCloser
	firstReq *idleRequest
	release  func()      // ends the first request's context
	onPart   func(*part) // called as each part completes (file mode)
	endOnce  sync.Once
}

// eligible reports whether the first response allows parts, and the file
// is large enough for two of them.
func (j *job) eligible(status int) bool {
	return j.cfg.Connections > 1 && j.total >= 2*j.planSize() && j.etag != "" &&
		(j.ranges || status == http.StatusPartialContent)
}

func (j *job) planSize() int64 { return planSize(j.total, j.cfg.Connections, j.cfg.PartSize) }

// planParts cuts [0, total) into parts.
func planParts(total, size int64) []*part {
	var ps []*part
	for off := int64(0); off < total; off += size {
		ps = append(ps, newPart(off, min(off+size, total)))
	}
	return ps
}

func newParallel(j *job, parts []*part, file fileHandle) *parallel {
	p := &parallel{j: j, parts: parts, file: file, changed: make(chan struct{}, 1),
		minSplit: min(int64(minPlanned), j.cfg.PartSize)}
	if j.cfg.splitFloor > 0 {
		p.minSplit = j.cfg.splitFloor
	}
	for _, pt := range parts {
		p.received.Add(pt.got.Load()) // an earlier run's bytes, when resuming
	}
	p.ctx, p.cancel = context.WithCancelCause(j.ctx)
	if file == nil {
		p.bufs = make(chan []byte, j.cfg.Connections)
		for range j.cfg.Connections {
			p.bufs <- nil
		}
	}
	return p
}

// start runs the connections.
func (p *parallel) start() {
	n := min(p.j.cfg.Connections, len(p.parts))
	p.wg.Add(n)
	for range n {
		go p.worker()
	}
}

// wait waits for every connection to end and returns the error that ended
// the download, if any.
func (p *parallel) wait() error {
	p.wg.Wait()
	p.closeFirst()
	p.j.early.close()
	p.endOnce.Do(func() {
		if p.release != nil {
			p.release()
		}
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *parallel) closeFirst() {
	p.mu.Lock()
	body, req := p.first, p.firstReq
	p.first, p.firstReq = nil, nil
	p.mu.Unlock()
	if body != nil {
		body.Close()
		req.end()
	}
}

// fail records the first error and stops every connection.
func (p *parallel) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.cancel(err)
	p.signal()
}

func (p *parallel) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *parallel) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// done is the bytes received in all parts.
func (p *parallel) done() int64 { return p.received.Load() }

// prefix is the end of the contiguous received bytes from 0.
func (p *parallel) prefix() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pt := range p.parts {
		if g := pt.got.Load(); g < pt.size() {
			return pt.start + g
		}
	}
	return p.j.total
}

// claim takes the first part that no connection took and that still
// lacks bytes; in memory it first takes a buffer, so that at most
// Connections parts hold one. To a file, when none is left, it splits the
// largest range being fetched.
func (p *parallel) claim() *part {
	var buf []byte
	if p.bufs != nil {
		select {
		case buf = <-p.bufs:
		case <-p.ctx.Done():
			return nil
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pt := range p.parts {
		if pt.claimed || pt.got.Load() >= pt.size() {
			continue
		}
		pt.claimed, pt.active = true, true
		if p.bufs != nil {
			if int64(cap(buf)) < pt.size() {
				buf = make([]byte, pt.size())
			}
			pt.buf = buf[:pt.size()]
		}
		return pt
	}
	if p.bufs != nil {
		p.bufs <- buf
		return nil // in memory the parts are delivered in order: no splits
	}
	return p.splitLocked()
}

// splitLocked takes the upper half of the largest range a connection is
// still fetching, when both halves keep at least minSplit bytes, and
// returns it as a new part; nil when no range is worth splitting. The part
// split stops at its new end: its end moves under its lock, which its
// connection holds while it writes, so that it never counts a byte past
// it.
func (p *parallel) splitLocked() *part {
	var best *part
	var bestRem int64
	at := -1
	for i, pt := range p.parts {
		if !pt.active {
			continue
		}
		if rem := pt.size() - pt.got.Load(); rem > bestRem {
			best, bestRem, at = pt, rem, i
		}
	}
	if best == nil || bestRem < 2*p.minSplit {
		return nil
	}
	best.mu.Lock()
	cur, end := best.start+best.got.Load(), best.end.Load()
	if end-cur < 2*p.minSplit {
		best.mu.Unlock()
		return nil
	}
	mid := cur + (end-cur)/2
	best.end.Store(mid)
	best.mu.Unlock()
	np := newPart(mid, end)
	np.claimed, np.active = true, true
	p.parts = append(p.parts, nil)
	copy(p.parts[at+2:], p.parts[at+1:])
	p.parts[at+1] = np
	return np
}

// ranges is the parts as a state file holds them: start, end, bytes done.
func (p *parallel) ranges() [][3]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([][3]int64, len(p.parts))
	for i, pt := range p.parts {
		end := pt.end.Load()
		out[i] = [3]int64{pt.start, end, min(pt.got.Load(), end-pt.start)}
	}
	return out
}

// numParts is how many parts the file was fetched in, splits included.
func (p *parallel) numParts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parts)
}

func (p *parallel) worker() {
	defer p.wg.Done()
	var st connStat
	start := time.Now()
	defer func() {
		st.busy = time.Since(start)
		p.mu.Lock()
		p.stats = append(p.stats, st)
		p.mu.Unlock()
	}()
	for {
		pt := p.claim()
		if pt == nil {
			return
		}
		err := p.fetchPart(pt, &st)
		p.mu.Lock()
		pt.active = false
		p.mu.Unlock()
		if err != nil {
			p.fail(err)
			return
		}
		if p.onPart != nil {
			p.onPart(pt)
		}
	}
}

// fetchPart fetches what a part lacks, resuming it alone after a failure.
func (p *parallel) fetchPart(pt *part, st *connStat) error {
	r := retrier{j: p.j, failOff: -1}
	relocAt := int64(-1)
	for pt.got.Load() < pt.size() {
		if err := p.ctx.Err(); err != nil {
			return ctxError(p.ctx)
		}
		if body, req := p.takeFirst(pt); body != nil {
			if err := p.readTaken(pt, body, req, st, &r); err != nil {
				return err
			}
			continue
		}
		if resp, req := p.j.early.take(p.ctx, p, pt); resp != nil {
			stop := context.AfterFunc(p.ctx, func() { req.stop(context.Cause(p.ctx)) })
			err := p.readTaken(pt, resp.Body, req, st, &r)
			stop()
			if err != nil {
				return err
			}
			continue
		}
		if r.lastErr != nil {
			if err := r.backoff(p.ctx); err != nil {
				return err
			}
		}
		loc, gen, err := p.j.location(p.ctx)
		if err != nil {
			return err
		}
		off := pt.start + pt.got.Load()
		if r.lastErr != nil || relocAt >= 0 {
			p.j.resumes.Add(1)
		}
		err = p.request(pt, loc, st)
		if err == nil {
			r.lastErr = nil
			continue
		}
		if expired(err) && relocAt != off {
			relocAt = off
			p.j.refresh(gen, off)
			continue
		}
		if perr := r.failure(p.ctx, pt.start+pt.got.Load(), p.j.total, err); perr != nil {
			return perr
		}
	}
	return nil
}

// readTaken reads pt's bytes from a body sent before the part asked for
// it (the first response's, or an early part's), then closes it and ends
// its request. A failure is handed to r: nil when the part goes on (the
// loop asks for the rest), else the error that ends the part.
func (p *parallel) readTaken(pt *part, body io.ReadCloser, req *idleRequest, st *connStat, r *retrier) error {
	err := p.read(pt, body, req, st)
	body.Close()
	req.end()
	if err == nil {
		return nil
	}
	return r.failure(p.ctx, pt.start+pt.got.Load(), p.j.total, err)
}

// takeFirst hands the first response to part 0, once.
func (p *parallel) takeFirst(pt *part) (io.ReadCloser, *idleRequest) {
	if pt.start != 0 {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	body, req := p.first, p.firstReq
	p.first, p.firstReq = nil, nil
	return body, req
}

// request asks for the rest of a part and reads it.
func (p *parallel) request(pt *part, loc *Location, st *connStat) error {
	j := p.j
	off, end := pt.start+pt.got.Load(), pt.end.Load()
	req := newIdleRequest(p.ctx, j.cfg.IdleTimeout)
	defer req.end()
	h := make(http.Header, 4)
	h.Set("Range", rangeHeader(off, end-1))
	h.Set("If-Match", j.etag)
	resp, err := j.fetch(req.ctx, loc, h, off)
	if err != nil {
		return req.err(p.ctx, err)
	}
	defer resp.Body.Close()
	if err := p.acceptPart(resp, off, end); err != nil {
		return req.err(p.ctx, err)
	}
	if resp.StatusCode == http.StatusOK {
		// The server ignored the range for this part: the whole file, whose
		// validators match, is read up to the part.
		if err := skip(resp.Body, off, req); err != nil {
			return req.err(p.ctx, err)
		}
	}
	return p.read(pt, resp.Body, req, st)
}

// acceptPart checks the answer to a part request: the range checks every
// ranged request makes, and a known total.
func (p *parallel) acceptPart(resp *http.Response, from, to int64) error {
	cr, err := p.j.acceptRange(resp, from, to)
	if err != nil || cr == nil {
		return err
	}
	if cr.Total < 0 {
		return fmt.Errorf("%w: asked for bytes %d-%d/%d, got %s", errBadRange, from, to-1, p.j.total,
			excerpt(resp.Header.Get("Content-Range"), 80))
	}
	if resp.ContentLength >= 0 && resp.ContentLength != to-from {
		return fmt.Errorf("%w: Content-Length %d for a range of %d bytes", errBadRange, resp.ContentLength, to-from)
	}
	return nil
}

// acceptRange checks the answer to a request for bytes from to to-1 of the
// file: a 206 for exactly that range with the same total (when given) and
// ETag, or a 200 whose validators show the same file. It returns the
// parsed Content-Range of a 206, nil for a 200.
func (j *job) acceptRange(resp *http.Response, from, to int64) (*httpx.ContentRange, error) {
	switch code := resp.StatusCode; {
	case code == http.StatusPartialContent, code == http.StatusOK:
	case code == http.StatusPreconditionFailed:
		return nil, fmt.Errorf("%w (412 Precondition Failed at byte %d)", ErrFileChanged, from)
	case code == http.StatusRequestedRangeNotSatisfiable:
		return nil, fmt.Errorf("%w (416 Range Not Satisfiable at byte %d)", ErrFileChanged, from)
	case code >= 400:
		return nil, j.statusError(resp)
	default:
		return nil, fmt.Errorf("unexpected status %d %s", code, http.StatusText(code))
	}
	if et := validator(resp.Header.Get("ETag")); et != "" && et != j.rawETag {
		return nil, fmt.Errorf("%w (ETag %s, was %s)", ErrFileChanged, excerpt(et, 80), excerpt(j.rawETag, 80))
	}
	if resp.StatusCode == http.StatusOK {
		if !j.sameFile(resp) {
			return nil, fmt.Errorf("%w: the server ignored the range request and its validators do not match the first response", ErrFileChanged)
		}
		return nil, nil
	}
	cr, err := parseContentRange(resp.Header.Get("Content-Range"))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRange, err)
	}
	if cr.Total >= 0 && cr.Total != j.total {
		return nil, fmt.Errorf("%w (%d bytes, was %d)", ErrFileChanged, cr.Total, j.total)
	}
	if cr.Start != from || cr.Start+cr.Len() != to {
		return nil, fmt.Errorf("%w: asked for bytes %d-%d/%d, got %s", errBadRange, from, to-1, j.total,
			excerpt(resp.Header.Get("Content-Range"), 80))
	}
	return &cr, nil
}

// read reads a part's bytes from body, up to the part's end, into the part
// buffer or the file. The end may move down while it reads (a split): the
// bytes are counted, and written to the file, under the part's lock, up to
// the end as it is then.
func (p *parallel) read(pt *part, body io.Reader, req *idleRequest, st *connStat) error {
	var buf []byte
	if p.file != nil {
		bp := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(bp)
		buf = *bp
	}
	for {
		got := pt.got.Load()
		want := pt.size() - got
		if want <= 0 {
			return nil
		}
		var dst []byte
		if p.file != nil {
			dst = buf[:min(int64(len(buf)), want)]
		} else {
			dst = pt.buf[got:]
		}
		n, err := body.Read(dst)
		if n > 0 {
			req.touch()
			if p.file != nil {
				pt.mu.Lock()
				n = int(min(int64(n), pt.size()-got))
				_, werr := p.file.WriteAt(dst[:n], pt.start+got)
				if werr == nil {
					pt.got.Add(int64(n))
				}
				pt.mu.Unlock()
				if werr != nil {
					return writeError(werr)
				}
			} else {
				pt.got.Add(int64(n))
			}
			st.bytes += int64(n)
			p.received.Add(int64(n))
			p.signal()
			if p.j.cfg.Progress != nil {
				p.j.progress(p.done())
			}
			if pt.got.Load() >= pt.size() {
				return nil // done, or split while this read was on its way
			}
		}
		if err != nil {
			if err == io.EOF {
				if pt.got.Load() >= pt.size() {
					return nil
				}
				err = io.ErrUnexpectedEOF
			}
			return req.err(p.ctx, err)
		}
	}
}

// writeError says why the file could not be written.
func writeError(err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("save file: %w (%w)", err, ErrNoSpace)
	}
	return fmt.Errorf("save file: %w", err)
}

// reader delivers the parts in order: the reader of Download and Open in
// parallel mode.
type reader struct {
	p      *parallel
	cur    int   // the part being delivered
	curOff int64 // bytes of it delivered
	off    int64
	mu     sync.Mutex
	done   bool
	err    error
}

func (r *reader) Read(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return 0, r.err
	}
	if r.done {
		return 0, io.EOF
	}
	p := r.p
	for {
		if r.cur == len(p.parts) {
			if err := p.wait(); err != nil {
				return 0, r.stopLocked(err)
			}
			if err := p.j.ver.finish(r.off, p.j.total); err != nil {
				r.err = err
				return 0, err
			}
			p.j.finalProgress(r.off)
			r.done = true
			p.cancel(nil)
			return 0, io.EOF
		}
		pt := p.parts[r.cur]
		if avail := pt.got.Load() - r.curOff; avail > 0 {
			n := copy(b, pt.buf[r.curOff:r.curOff+avail])
			p.j.ver.write(b[:n])
			r.advance(pt, int64(n))
			return n, nil
		}
		if err := p.failed(); err != nil {
			return 0, r.stopLocked(err)
		}
		select {
		case <-p.changed:
		case <-p.ctx.Done():
			err := p.failed()
			if err == nil {
				err = ctxError(p.ctx)
			}
			return 0, r.stopLocked(err)
		}
	}
}

// advance records n bytes of part pt delivered, and frees its buffer once
// it is all delivered.
func (r *reader) advance(pt *part, n int64) {
	r.curOff += n
	r.off += n
	if r.curOff == pt.size() {
		r.p.bufs <- pt.buf[:0]
		pt.buf = nil
		r.cur++
		r.curOff = 0
	}
}

func (r *reader) stopLocked(err error) error {
	r.p.cancel(err)
	r.p.wait()
	if e := r.p.failed(); e != nil {
		err = e
	}
	r.err = err
	return err
}

// Close ends the download and waits for its connections.
func (r *reader) Close() error {
	r.p.cancel(ErrClosed)
	r.p.wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil && !r.done {
		r.err = ErrClosed
	}
	return nil
}

// hashFile hashes the file's contiguous prefix as parts complete, reading
// it back from the file, until the whole file is hashed or the download
// fails. Without anything to hash it only waits.
func (p *parallel) hashFile() error {
	p.j.ver.freeze()
	if !p.j.ver.active() {
		return p.wait()
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	hashed := p.j.ver.hashed
	for hashed < p.j.total {
		if end := p.prefix(); end > hashed {
			n := min(int64(len(buf)), end-hashed)
			m, err := p.file.ReadAt(buf[:n], hashed)
			if m > 0 {
				p.j.ver.write(buf[:m])
				hashed += int64(m)
			}
			if err != nil && !(errors.Is(err, io.EOF) && int64(m) == n) {
				p.fail(fmt.Errorf("read back: %w", err))
				return p.wait()
			}
			continue
		}
		if err := p.failed(); err != nil {
			return p.wait()
		}
		select {
		case <-p.changed:
		case <-p.ctx.Done():
			return p.waitOr(ctxError(p.ctx))
		}
	}
	return p.wait()
}

func (p *parallel) waitOr(err error) error {
	if e := p.wait(); e != nil {
		return e
	}
	return err
}
