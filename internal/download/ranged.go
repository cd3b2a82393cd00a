package download

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// Ranged reading, for a destination that stores a file in parts of its
// own choosing (an object store's multipart upload): the first request
// says what the file is, and any range is then read on its own request,
// with If-Match the first response's ETag, resuming inside the range after
// a failure and refreshing an expired URL once for every reader. The
// verifier hashes what the destination hands it, in order, so that one
// pass both stores and verifies the file.
//
// It uses only the engine's single-request pieces (job, fetch, retrier,
// idleRequest), not the part planner: the destination plans the parts.

// Info is what the first response said about a file.
type Info struct {
	Size        int64  // bytes; -1 when unknown
	ETag        string // the strong ETag every range request carries in If-Match; "" when none
	Ranged      bool   // the server serves byte ranges and the file has a strong ETag and a size
	ContentType string
	FileName    string
	SHA1        string // the hex SHA-1 that the vendor or storage host gives, "" when none
}

// Ranger reads byte ranges of one file. Its methods may be called from
// several goroutines; the hash methods must be called in file order.
type Ranger struct {
	j *job

	mu       sync.Mutex
	first    io.ReadCloser // the rest of the first response, from firstOff
	firstReq *idleRequest
	firstOff int64

	received atomic.Int64 // bytes read, and those reused, for progress
}

// OpenRanger sends the first request, for bytes [0, firstLen), and
// records what the answer says about the file. Its body is kept for the
// first ReadRange at offset 0. The caller must Close the Ranger.
func OpenRanger(ctx context.Context, cfg Config, src *Source, firstLen int64) (*Ranger, error) {
	r := &Ranger{j: newJob(ctx, cfg, src)}
	if err := r.openFirst(ctx, max(firstLen, 1)); err != nil {
		return nil, err
	}
	return r, nil
}

// openFirst asks for the first bytes, resuming and refreshing an expired
// URL like any request of the engine.
func (r *Ranger) openFirst(ctx context.Context, n int64) error {
	j := r.j
	rt := retrier{j: j, failOff: -1}
	refreshed := false
	for {
		if err := ctx.Err(); err != nil {
			return ctxError(ctx)
		}
		if rt.lastErr != nil {
			if err := rt.backoff(ctx); err != nil {
				return err
			}
		}
		loc, gen, err := j.location(ctx)
		if err != nil {
			return err
		}
		req := newIdleRequest(j.ctx, j.cfg.IdleTimeout)
		h := make(http.Header, 2)
		h.Set("Range", rangeHeader(0, n-1))
		resp, err := j.fetch(req.ctx, loc, h, 0)
		if err == nil {
			var keep bool
			if keep, err = r.acceptFirst(resp); err == nil {
				if keep {
					r.first, r.firstReq = resp.Body, req
				} else {
					resp.Body.Close()
					req.end()
				}
				return nil
			}
			resp.Body.Close()
		}
		req.end()
		err = req.err(ctx, err)
		if expired(err) && !refreshed {
			refreshed = true
			j.refresh(gen, 0)
			continue
		}
		if perr := rt.failure(ctx, 0, -1, err); perr != nil {
			return perr
		}
	}
}

// acceptFirst checks the first answer; keep reports a body worth reading.
func (r *Ranger) acceptFirst(resp *http.Response) (keep bool, err error) {
	j := r.j
	switch code := resp.StatusCode; {
	case code == http.StatusOK, code == http.StatusPartialContent:
	case code == http.StatusRequestedRangeNotSatisfiable:
		// An empty file has no byte 0.
		if cr, err := parseContentRange(resp.Header.Get("Content-Range")); err == nil && cr.Total == 0 {
			j.total, j.started = 0, true
			j.rawETag = validator(resp.Header.Get("ETag"))
			return false, nil
		}
		return false, fmt.Errorf("%w (416 Range Not Satisfiable at byte 0)", ErrFileChanged)
	case code >= 400:
		return false, j.statusError(resp)
	default:
		return false, fmt.Errorf("unexpected status %d %s", code, http.StatusText(code))
	}
	remain, err := j.acceptFirst(resp)
	if err != nil {
		return false, err
	}
	if resp.ContentLength >= 0 && remain >= 0 && resp.ContentLength != remain {
		return false, sizeError("Content-Length %d for a range of %d bytes", resp.ContentLength, remain)
	}
	return true, nil
}

// Info says what the file is.
func (r *Ranger) Info() Info {
	j := r.j
	j.ver.mu.Lock()
	sum := j.ver.vendorSHA1
	if sum == "" {
		sum = j.ver.headerSHA1
	}
	j.ver.mu.Unlock()
	return Info{
		Size:        j.total,
		ETag:        j.etag,
		Ranged:      j.total >= 0 && j.etag != "" && j.ranges,
		ContentType: j.contentType,
		FileName:    j.fileName,
		SHA1:        sum,
	}
}

// ReadRange fills p with the file's bytes from off. A failed read resumes
// from where it stopped, inside the range; an expired URL is refreshed.
// Without Info().Ranged, ranges must be read in order from 0 and a
// failure cannot be resumed.
func (r *Ranger) ReadRange(ctx context.Context, off int64, p []byte) error {
	j := r.j
	end := off + int64(len(p))
	if off < 0 || (j.total >= 0 && end > j.total) {
		return fmt.Errorf("range %d-%d is outside the file of %d bytes", off, end, j.total)
	}
	got := 0
	if body, req := r.takeFirst(off); body != nil {
		n, err := r.readFull(ctx, body, req, p)
		got = n
		if err == nil && (j.total < 0 || off+int64(n) < j.total) {
			r.putFirst(body, req, off+int64(n))
		} else {
			body.Close()
			req.end()
		}
		if err != nil && !transient(err) {
			return err
		}
	}
	if got == len(p) {
		return nil
	}
	if j.etag == "" {
		return fmt.Errorf("the storage host gave no strong ETag: byte %d cannot be asked for again", off+int64(got))
	}
	rt := retrier{j: j, failOff: -1}
	relocAt := int64(-1)
	for got < len(p) {
		if err := ctx.Err(); err != nil {
			return ctxError(ctx)
		}
		if rt.lastErr != nil {
			if err := rt.backoff(ctx); err != nil {
				return err
			}
		}
		loc, gen, err := j.location(ctx)
		if err != nil {
			return err
		}
		cur := off + int64(got)
		if rt.lastErr != nil || relocAt >= 0 {
			j.resumes.Add(1)
		}
		n, err := r.request(ctx, loc, cur, end, p[got:])
		got += n
		if err == nil {
			rt.lastErr = nil
			continue
		}
		if expired(err) && relocAt != cur {
			relocAt = cur
			j.refresh(gen, cur)
			continue
		}
		if perr := rt.failure(ctx, off+int64(got), j.total, err); perr != nil {
			return perr
		}
	}
	return nil
}

func (r *Ranger) takeFirst(off int64) (io.ReadCloser, *idleRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first == nil || r.firstOff != off {
		return nil, nil
	}
	body, req := r.first, r.firstReq
	r.first, r.firstReq = nil, nil
	return body, req
}

func (r *Ranger) putFirst(body io.ReadCloser, req *idleRequest, off int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.first, r.firstReq, r.firstOff = body, req, off
}

// request asks for bytes [from, to) and reads them into dst.
func (r *Ranger) request(ctx context.Context, loc *Location, from, to int64, dst []byte) (int, error) {
	j := r.j
	req := newIdleRequest(ctx, j.cfg.IdleTimeout)
	defer req.end()
	h := make(http.Header, 4)
	h.Set("Range", rangeHeader(from, to-1))
	h.Set("If-Match", j.etag)
	resp, err := j.fetch(req.ctx, loc, h, from)
	if err != nil {
		return 0, req.err(ctx, err)
	}
	defer resp.Body.Close()
	if err := r.acceptRange(resp, from, to); err != nil {
		return 0, req.err(ctx, err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := skip(resp.Body, from, req); err != nil {
			return 0, req.err(ctx, err)
		}
	}
	return r.readFull(ctx, resp.Body, req, dst)
}

// acceptRange checks the answer to a range request (see job.acceptRange)
// and that a 206's body is as long as the range.
func (r *Ranger) acceptRange(resp *http.Response, from, to int64) error {
	cr, err := r.j.acceptRange(resp, from, to)
	if err != nil || cr == nil {
		return err
	}
	if resp.ContentLength >= 0 && resp.ContentLength != to-from {
		return sizeError("Content-Length %d for a range of %d bytes", resp.ContentLength, to-from)
	}
	return nil
}

// readFull reads body into dst until dst is full, counting progress.
func (r *Ranger) readFull(ctx context.Context, body io.Reader, req *idleRequest, dst []byte) (int, error) {
	got := 0
	for got < len(dst) {
		n, err := body.Read(dst[got:])
		if n > 0 {
			req.touch()
			got += n
			r.j.progress(r.received.Add(int64(n)))
		}
		if err != nil {
			if err == io.EOF {
				if got == len(dst) {
					return got, nil
				}
				err = io.ErrUnexpectedEOF
			}
			return got, req.err(ctx, err)
		}
	}
	return got, nil
}

// Reused records n bytes that an earlier run stored already: they count
// as progress and in the result.
func (r *Ranger) Reused(n int64) {
	r.j.reused = n
	r.j.progress(r.received.Add(n))
}

// Hashing reports whether the bytes must be hashed: a checksum is to be
// verified or asked for.
func (r *Ranger) Hashing() bool { return r.j.ver.active() }

// Hash hashes the file's next bytes, in order.
func (r *Ranger) Hash(p []byte) { r.j.ver.write(p) }

// HashState is the state of every hash now, for a resume state file.
func (r *Ranger) HashState() ([]byte, error) {
	st, err := r.j.ver.marshal()
	if err != nil {
		return nil, err
	}
	return json.Marshal(st)
}

// RestoreHash takes up a state HashState returned: the bytes before
// Hashed() are then hashed already.
func (r *Ranger) RestoreHash(b []byte) error {
	var st hashState
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	if st.Hashed < 0 || (r.j.total >= 0 && st.Hashed > r.j.total) {
		return errors.New("hash state out of range")
	}
	return r.j.ver.restore(st)
}

// Hashed is the length of the prefix hashed.
func (r *Ranger) Hashed() int64 {
	r.j.ver.mu.Lock()
	defer r.j.ver.mu.Unlock()
	return r.j.ver.hashed
}

// Verify checks the n bytes hashed against every size and checksum known:
// ErrSizeMismatch or ErrChecksumMismatch.
func (r *Ranger) Verify(n int64) error {
	if h := r.Hashed(); r.Hashing() && h != n {
		return sizeError("hashed %d bytes of %d", h, n)
	}
	return r.j.ver.finish(n, r.j.total)
}

// Result describes the finished transfer of n bytes in parts.
func (r *Ranger) Result(n int64, parts int) *Result {
	r.j.finalProgress(n)
	return r.j.result(n, parts)
}

// Close releases the first response when no ReadRange took it.
func (r *Ranger) Close() error {
	r.mu.Lock()
	body, req := r.first, r.firstReq
	r.first, r.firstReq = nil, nil
	r.mu.Unlock()
	if body != nil {
		body.Close()
		req.end()
	}
	return nil
}
