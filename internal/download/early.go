package download

import (
	"context"
	"net/http"
	"sync"
)

// Early parts. When the location is a signed URL with the vendor's size
// (an export the caller holds, or the vendor's answer to Locate), the parts that the first connections will fetch are known before
// the first response: their requests go out beside the first one instead
// of one round trip after it, which is most of the time a small file takes
// on a link with latency. They carry no If-Match (the ETag is not known
// yet); each answer is used only if it is a 206 for exactly its range
// whose ETag and total match the first response's, and is otherwise
// closed and asked for again the usual way (with If-Match), so that it
// never decides anything. When the first response does not allow parts
// (no ranges, no strong ETag, another size), they are all closed: the
// cost is at most one socket buffer per connection, once.

// earlyReq is one early part request and, once it is answered, its
// response.
type earlyReq struct {
	start, end int64 // the range asked for, [start, end)
	req        *idleRequest
	done       chan struct{} // closed when resp or err is set
	resp       *http.Response
	err        error
}

// earlyParts is the early requests of a download, by the start of their
// part.
type earlyParts struct {
	mu   sync.Mutex
	reqs map[int64]*earlyReq
	wg   sync.WaitGroup
}

// startEarly sends the requests for parts 1 to n-1 of the plan of a file
// of the vendor's size at loc, when it would be fetched in parts over a
// plain URL; nil when it would not.
func startEarly(j *job, loc *Location) *earlyParts {
	if j.cfg.noEarly || j.cfg.Connections < 2 || loc.Open != nil || loc.URL == "" || loc.Size <= 0 {
		return nil
	}
	size := planSize(loc.Size, j.cfg.Connections, j.cfg.PartSize)
	if loc.Size < 2*size {
		return nil
	}
	e := &earlyParts{reqs: map[int64]*earlyReq{}}
	for i := 1; i < j.cfg.Connections; i++ {
		start := int64(i) * size
		if start >= loc.Size {
			break
		}
		r := &earlyReq{start: start, end: min(start+size, loc.Size), done: make(chan struct{}),
			req: newIdleRequest(j.ctx, j.cfg.IdleTimeout)}
		e.reqs[start] = r
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			defer close(r.done)
			h := make(http.Header, 2)
			h.Set("Range", rangeHeader(r.start, r.end-1))
			r.resp, r.err = j.fetch(r.req.ctx, loc, h, r.start)
		}()
	}
	return e
}

// take hands part pt the answer to its early request, once: nil when
// there was none, or it is not a 206 for the part's range from the same
// file (then it is closed, and the part asks again with If-Match).
func (e *earlyParts) take(ctx context.Context, p *parallel, pt *part) (*http.Response, *idleRequest) {
	if e == nil || pt.got.Load() > 0 {
		return nil, nil
	}
	e.mu.Lock()
	r := e.reqs[pt.start]
	delete(e.reqs, pt.start)
	e.mu.Unlock()
	if r == nil {
		return nil, nil
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		r.close()
		return nil, nil
	}
	// Without If-Match, only the answer's own ETag shows it is the same
	// file: it must be there, and the first response's.
	if r.err != nil || r.resp.StatusCode != http.StatusPartialContent || p.j.etag == "" ||
		validator(r.resp.Header.Get("ETag")) != p.j.etag || p.acceptPart(r.resp, r.start, r.end) != nil {
		r.close()
		return nil, nil
	}
	return r.resp, r.req
}

// close ends the request and its response.
func (r *earlyReq) close() {
	r.req.end()
	<-r.done
	if r.resp != nil {
		r.resp.Body.Close()
	}
}

// close ends every early request not taken, and waits for them.
func (e *earlyParts) close() {
	if e == nil {
		return
	}
	e.mu.Lock()
	reqs := e.reqs
	e.reqs = nil
	e.mu.Unlock()
	for _, r := range reqs {
		r.close()
	}
	e.wg.Wait()
}
