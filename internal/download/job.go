package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exportkit/exportkit/internal/httpx"
)

// Resume backoff: short, because a dropped connection to a storage host is
// usually fixed by the next one, and jittered.
const (
	resumeMinWait = 100 * time.Millisecond
	resumeMaxWait = 2 * time.Second
	// resumeMaxRetryAfter is the longest Retry-After from a storage host
	// that a download waits out.
	resumeMaxRetryAfter = 30 * time.Second
)

var (
	errIdleTimeout = errors.New("no data received within the idle timeout")
	errBadRange    = errors.New("storage answered another range than the one asked for")
)

// job is what every connection of one download shares: the settings, the
// current location (refreshed once for all connections when it expires),
// what the first response said about the file, and the verifier.
type job struct {
	cfg Config
	src *Source
	ctx context.Context

	locMu       sync.Mutex
	loc         *Location
	locGen      int
	usedKnown   bool
	resolved    *url.URL  // where loc's Open redirected to, for the next requests
	resolvedFor *Location // the location resolved belongs to

	// What the first response said about the file (set before any other
	// connection starts, read-only after).
	started     bool
	rawETag     string // the ETag as sent, weak or strong
	etag        string // strong ETag for If-Match, "" when none
	lastMod     string
	total       int64 // file size, -1 when unknown
	ranges      bool  // the server said it serves byte ranges
	contentType string
	fileName    string

	early *earlyParts // the parts' requests sent beside the first, nil when none

	ver       verifier
	resumes   atomic.Int64
	reused    int64
	begun     time.Time    // when the download started, for one stream's throughput
	firstByte atomic.Int64 // nanoseconds the requests waited for their response headers

	progMu     sync.Mutex
	lastReport time.Time
	reported   int64       // done at the last report
	pending    int64       // done at the last throttled call
	trailing   *time.Timer // reports pending once the interval has passed
	progEnded  bool        // the final report was made
}

func newJob(ctx context.Context, cfg Config, src *Source) *job {
	cfg.defaults()
	now := time.Now()
	j := &job{cfg: cfg, src: src, ctx: ctx, total: -1, lastReport: now, begun: now}
	j.ver.init(cfg.Checksums, cfg.SHA1)
	return j
}

// location returns where the file is and its generation: the location of
// the export the caller holds first, then a fresh one from the vendor.
// Connections that find the location expired call refresh with the
// generation they used; the first one drops it and the next call locates
// the file again, once for all of them.
func (j *job) location(ctx context.Context) (*Location, int, error) {
	j.locMu.Lock()
	defer j.locMu.Unlock()
	if j.loc != nil {
		return j.loc, j.locGen, nil
	}
	var loc *Location
	if !j.usedKnown && j.src.Known != nil {
		loc = j.src.Known
	} else {
		var err error
		if loc, err = j.src.Locate(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctxError(ctx)
			}
			return nil, 0, err
		}
	}
	j.usedKnown = true
	if j.started {
		// A fresh location must describe the same file.
		if (loc.Size >= 0 && j.total >= 0 && loc.Size != j.total) || !j.ver.sameSHA1(loc.SHA1) {
			return nil, 0, fmt.Errorf("%w: the vendor now reports another size or checksum", ErrFileChanged)
		}
	}
	j.loc = loc
	j.ver.expect(loc)
	return loc, j.locGen, nil
}

// refresh drops the location of generation gen, unless another connection
// already did.
func (j *job) refresh(gen int, off int64) {
	j.locMu.Lock()
	defer j.locMu.Unlock()
	if gen != j.locGen {
		return
	}
	j.loc = nil
	j.locGen++
	j.cfg.Log.LogAttrs(j.ctx, slog.LevelInfo, "exportkit: download URL expired, refreshing",
		append(j.cfg.LogAttrs[:len(j.cfg.LogAttrs):len(j.cfg.LogAttrs)], slog.Int64("offset", off))...)
}

// acceptFirst records what the first response says about the file: its
// validators, its size (checked against the vendor's) and its name.
func (j *job) acceptFirst(resp *http.Response) (remain int64, err error) {
	h := resp.Header
	total, remain := resp.ContentLength, resp.ContentLength
	if resp.StatusCode == http.StatusPartialContent {
		cr, err := parseContentRange(h.Get("Content-Range"))
		if err != nil {
			return 0, err
		}
		if cr.Start != 0 {
			return 0, fmt.Errorf("asked for the whole file, got a range from byte %d", cr.Start)
		}
		total, remain = cr.Total, cr.Len()
		j.ranges = true
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("Accept-Ranges")), "bytes") {
		j.ranges = true
	}
	if vs := j.loc.Size; vs >= 0 && total >= 0 && vs != total {
		return 0, sizeError("storage announces %d bytes, the vendor says %d", total, vs)
	}
	if total < 0 {
		total = j.loc.Size
	}
	j.total = total
	j.rawETag = validator(h.Get("ETag"))
	j.etag = ""
	if !strings.HasPrefix(j.rawETag, "W/") {
		j.etag = j.rawETag
	}
	j.lastMod = ""
	if lm := validator(h.Get("Last-Modified")); lm != "" {
		if _, err := http.ParseTime(lm); err == nil {
			j.lastMod = lm
		}
	}
	j.contentType = excerpt(h.Get("Content-Type"), 200)
	j.fileName = fileNameOf(h.Get("Content-Disposition"), j.loc.Name)
	j.ver.header(h.Get("X-Bz-Content-Sha1"))
	j.started = true
	return remain, nil
}

// progressEvery is ProgressInterval (a variable for the SIGKILL test's
// child, which stops at an exact byte).
var progressEvery = ProgressInterval

// progress reports done bytes at most every ProgressInterval. A call
// that is throttled is reported once the interval has passed (unless a
// later report covers it), so that the bytes that arrived just before a
// stall are shown during it.
func (j *job) progress(done int64) {
	if j.cfg.Progress == nil {
		return
	}
	j.progMu.Lock()
	defer j.progMu.Unlock()
	since := time.Since(j.lastReport)
	if since >= progressEvery {
		j.report(done)
		return
	}
	j.pending = max(j.pending, done)
	if j.trailing == nil && !j.progEnded {
		j.trailing = time.AfterFunc(progressEvery-since, j.trailingProgress)
	}
}

// trailingProgress reports the last throttled value, if no report has
// covered it since.
func (j *job) trailingProgress() {
	j.progMu.Lock()
	defer j.progMu.Unlock()
	j.trailing = nil
	if j.progEnded || j.pending <= j.reported {
		return
	}
	if since := time.Since(j.lastReport); since < progressEvery {
		j.trailing = time.AfterFunc(progressEvery-since, j.trailingProgress)
		return
	}
	j.report(j.pending)
}

// report calls the progress callback; progMu is held.
func (j *job) report(done int64) {
	j.lastReport, j.reported = time.Now(), done
	j.cfg.Progress(done, j.total)
}

func (j *job) finalProgress(done int64) {
	if j.cfg.Progress == nil {
		return
	}
	j.progMu.Lock()
	defer j.progMu.Unlock()
	j.progEnded = true
	if j.trailing != nil {
		j.trailing.Stop()
		j.trailing = nil
	}
	j.cfg.Progress(done, done)
}

// result describes a download over one connection.
func (j *job) result(bytes int64, parts int) *Result {
	r := j.resultOf(bytes, parts)
	r.Connections = 1
	if d := time.Since(j.begun).Seconds(); d > 0 {
		r.PeakPartThroughput = float64(bytes-j.reused) / d
		r.MeanPartThroughput = r.PeakPartThroughput
	}
	return r
}

func (j *job) resultOf(bytes int64, parts int) *Result {
	return &Result{
		Bytes:         bytes,
		SHA1:          j.ver.sha1Hex(),
		Verified:      j.ver.verified,
		Resumes:       int(j.resumes.Load()),
		Parts:         parts,
		Reused:        j.reused,
		ContentType:   j.contentType,
		FileName:      j.fileName,
		FirstByteWait: time.Duration(j.firstByte.Load()),
	}
}

// result describes a download in parts, with what each connection moved.
func (p *parallel) result(bytes int64) *Result {
	r := p.j.resultOf(bytes, p.numParts())
	p.mu.Lock()
	defer p.mu.Unlock()
	var sum int64
	var busy time.Duration
	for _, st := range p.stats {
		if st.busy <= 0 {
			continue
		}
		r.PeakPartThroughput = max(r.PeakPartThroughput, float64(st.bytes)/st.busy.Seconds())
		sum += st.bytes
		busy += st.busy
	}
	r.Connections = len(p.stats)
	if busy > 0 {
		r.MeanPartThroughput = float64(sum) / busy.Seconds()
	}
	return r
}

// logResume logs an interrupted request that will be resumed.
func (j *job) logResume(ctx context.Context, off int64, attempt int, err error) {
	j.cfg.Log.LogAttrs(ctx, slog.LevelInfo, "exportkit: download interrupted, resuming",
		append(j.cfg.LogAttrs[:len(j.cfg.LogAttrs):len(j.cfg.LogAttrs)],
			slog.Int64("offset", off), slog.Int("attempt", attempt),
			slog.String("error", j.cfg.Scrub(redactText(err.Error()))))...)
}

// retrier counts the failures of one connection in a row without
// progress and decides whether it goes on.
type retrier struct {
	j       *job
	streak  int
	failOff int64
	lastErr error
}

// failure counts a failed attempt at offset off. It returns nil when the
// connection should try again, or the error that ends the download.
func (r *retrier) failure(ctx context.Context, off, total int64, err error) error {
	if !transient(err) {
		return err
	}
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > resumeMaxRetryAfter {
		return err // a storage host asking for a long pause: the caller decides
	}
	if off > r.failOff {
		r.streak = 0
	}
	r.streak++
	r.failOff = off
	r.lastErr = err
	if r.streak > r.j.cfg.MaxResumes {
		what := fmt.Sprintf("gave up after %d attempts without progress at byte %d", r.streak, off)
		if total >= 0 {
			what += fmt.Sprintf(" of %d", total)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) && total >= 0 {
			// The server keeps closing before the length it announced.
			return fmt.Errorf("%s: %w (%w)", what, err, &kindError{ErrSizeMismatch, "size mismatch"})
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	r.j.logResume(ctx, off, r.streak, err)
	return nil
}

// backoff sleeps before the next attempt: 100 ms doubling to 2 s with the
// failures in a row, each spread over its upper half, or the server's
// Retry-After when longer, ending early when the context does.
func (r *retrier) backoff(ctx context.Context) error {
	d := resumeMaxWait
	if s := r.streak - 1; s < 5 {
		d = min(resumeMinWait<<max(s, 0), resumeMaxWait)
	}
	d = d/2 + rand.N(d/2+1)
	var se *StatusError
	if errors.As(r.lastErr, &se) && se.RetryAfter > d {
		// The server's Retry-After is a floor; one the context cannot wait
		// for ends the download now rather than at the deadline.
		d = se.RetryAfter
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return r.lastErr
		}
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctxError(ctx)
	}
}

// transient reports whether another attempt at the same offset may succeed.
func transient(err error) bool {
	var se *StatusError
	var oe *openError
	switch {
	case errors.Is(err, errIdleTimeout), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &se):
		return se.temporary()
	case errors.Is(err, ErrFileChanged), errors.Is(err, ErrUnsafeURL), errors.Is(err, ErrSizeMismatch),
		errors.Is(err, ErrChecksumMismatch), errors.Is(err, ErrClosed), errors.Is(err, ErrNoSpace),
		errors.Is(err, errBadRange), errors.Is(err, ErrBusy):
		return false
	case errors.As(err, &oe):
		var ne net.Error
		return errors.As(oe.err, &ne) && !errors.Is(oe.err, context.Canceled) && !errors.Is(oe.err, context.DeadlineExceeded)
	}
	return httpx.RetryableTransportError(err)
}

// expired reports a storage host refusing a signed URL.
func expired(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.expired()
}

func ctxError(ctx context.Context) error {
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// idleRequest is one request's context, cut when no byte arrives for the
// idle timeout.
type idleRequest struct {
	ctx   context.Context
	stop  context.CancelCauseFunc
	timer *time.Timer
	d     time.Duration
}

func newIdleRequest(parent context.Context, d time.Duration) *idleRequest {
	ctx, stop := context.WithCancelCause(parent)
	r := &idleRequest{ctx: ctx, stop: stop, d: d}
	r.timer = time.AfterFunc(d, func() { stop(errIdleTimeout) })
	return r
}

func (r *idleRequest) touch() { r.timer.Reset(r.d) }

func (r *idleRequest) end() {
	r.timer.Stop()
	r.stop(nil)
}

// err turns an error from the request or its body into what the caller
// should see: the parent context's error when the caller gave up, an idle
// timeout when the timer cut the read.
func (r *idleRequest) err(parent context.Context, err error) error {
	if parent.Err() != nil {
		return ctxError(parent)
	}
	if context.Cause(r.ctx) == errIdleTimeout {
		return errIdleTimeout
	}
	return httpx.CleanError(err)
}
