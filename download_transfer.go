package exportkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
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
	errClosed      = errors.New("read from a closed download")
)

// transfer is one download: it opens the file, reads it, resumes after a
// failed read with a validated range request, refreshes an expired URL,
// and verifies what it read in the same pass. It is the io.ReadCloser that
// Open returns, and the reader Download copies from.
type transfer struct {
	c   *Client
	src *fileSource
	cfg downloadConfig

	mu   sync.Mutex // held by Read and Close, so that Close can abort a blocked Read
	ctx  context.Context
	stop context.CancelFunc // ends ctx: the caller's context, or Close

	loc       *fileLocation
	usedKnown bool

	// The response being read, nil between responses.
	body    io.ReadCloser
	reqCtx  context.Context
	reqStop context.CancelCauseFunc // cancels the request: idle timeout or end
	idle    *time.Timer
	remain  int64 // bytes the response still owes, -1 when unknown

	// What the first response said about the file.
	started     bool
	rawETag     string // the ETag as sent, weak or strong
	etag        string // strong ETag for If-Match, "" when none
	lastMod     string
	total       int64 // file size, -1 when unknown
	contentType string
	fileName    string

	off        int64 // bytes delivered to the reader
	ver        verifier
	resumes    int
	streak     int   // failures in a row without progress
	failOff    int64 // offset at the last failure
	relocOff   int64 // offset at the last URL refresh, -1 before any
	lastErr    error // the last failure, until a response is accepted
	lastReport time.Time
	done       bool
	err        error // sticky: every Read after a failure returns it
}

// startTransfer checks the options, finds the file and opens it, so that a
// download that cannot start fails before the caller reads anything.
func (c *Client) startTransfer(ctx context.Context, src *fileSource, opts []DownloadOption) (*transfer, error) {
	cfg, err := newDownloadConfig(opts)
	if err != nil {
		return nil, err
	}
	t := &transfer{c: c, src: src, cfg: cfg, total: -1, relocOff: -1, remain: -1}
	t.ctx, t.stop = context.WithCancel(ctx)
	t.ver.init(cfg.checksums, !cfg.noSHA1)
	t.lastReport = time.Now()
	if err := t.connect(); err != nil {
		return nil, t.fail(err)
	}
	return t, nil
}

// Read reads the file, resuming under the caller after a failed read. At
// the end of the file it verifies sizes and checksums and returns io.EOF,
// or the verification error.
func (t *transfer) Read(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return 0, t.err
	}
	if t.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if t.body == nil {
			if err := t.connect(); err != nil {
				return 0, t.fail(err)
			}
		}
		n, err := t.body.Read(p)
		if n > 0 {
			t.idle.Reset(t.cfg.idleTimeout)
			t.off += int64(n)
			t.ver.write(p[:n])
			if t.remain >= 0 {
				if t.remain -= int64(n); t.remain < 0 {
					return n, t.fail(&sentinelError{ErrSizeMismatch, "size mismatch: the server sent more than the range it announced"})
				}
			}
			if t.total >= 0 && t.off > t.total {
				return n, t.fail(&sentinelError{ErrSizeMismatch, fmt.Sprintf("size mismatch: received more than the expected %d bytes", t.total)})
			}
			if t.cfg.progress != nil {
				if now := time.Now(); now.Sub(t.lastReport) >= progressInterval {
					t.lastReport = now
					t.cfg.progress(Progress{Done: t.off, Total: t.total})
				}
			}
		}
		if err == nil {
			return n, nil
		}
		if err == io.EOF {
			if t.remain > 0 {
				// The server closed before the bytes it announced.
				err = io.ErrUnexpectedEOF
			} else {
				// A clean end: a body of unknown length (chunked) ended as the
				// server meant it to, so finish checks it against the size.
				t.closeBody()
				if t.remain == 0 && t.total >= 0 && t.off < t.total {
					// A range response that ended early by design: ask for the rest.
					if n > 0 {
						return n, nil
					}
					continue
				}
				if verr := t.finish(); verr != nil {
					return n, t.fail(verr)
				}
				t.done = true
				t.stop()
				return n, io.EOF
			}
		}
		err = t.readError(err)
		t.closeBody()
		if perr := t.failure(err); perr != nil {
			return n, t.fail(perr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// Close ends the transfer and releases its connection and timer. It may be
// called while a Read is blocked, which then returns.
func (t *transfer) Close() error {
	t.stop()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closeBody()
	if t.err == nil && !t.done {
		t.err = opError(t.src.vendor, "download", t.src.id, errClosed)
	}
	return nil
}

// result describes the finished download.
func (t *transfer) result() *DownloadResult {
	return &DownloadResult{
		Bytes:       t.off,
		SHA1:        t.ver.sha1Hex(),
		Verified:    t.ver.verified,
		Resumes:     t.resumes,
		ContentType: t.contentType,
		FileName:    t.fileName,
	}
}

// fail records err as the transfer's final error and releases everything.
func (t *transfer) fail(err error) error {
	t.closeBody()
	t.stop()
	t.err = t.wrap(err)
	return t.err
}

// wrap gives err the vendor, operation and id, unless it already has them.
func (t *transfer) wrap(err error) error {
	var ae *APIError
	var ee *ExportError
	if errors.As(err, &ae) || errors.As(err, &ee) || strings.HasPrefix(err.Error(), "exportkit: "+string(t.src.vendor)+": ") {
		return err
	}
	return opError(t.src.vendor, "download", t.src.id, err)
}

func (t *transfer) closeBody() {
	if t.body == nil {
		return
	}
	t.idle.Stop()
	t.body.Close()
	t.reqStop(nil)
	t.body, t.idle, t.reqStop, t.reqCtx = nil, nil, nil, nil
}

// readError turns an error from a body read into what the caller should
// see: the context's error when the caller gave up, an idle timeout when
// the timer cut the read.
func (t *transfer) readError(err error) error {
	if t.ctx.Err() != nil {
		return t.ctxError()
	}
	if t.reqCtx != nil && context.Cause(t.reqCtx) == errIdleTimeout {
		return errIdleTimeout
	}
	return cleanError(err)
}

func (t *transfer) ctxError() error {
	if err := context.Cause(t.ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return t.ctx.Err()
}

// failure counts a failed attempt. It returns nil when the transfer should
// go on, or the error that ends it: a permanent failure, or too many
// failures in a row without progress.
func (t *transfer) failure(err error) error {
	if !transient(err) {
		return err
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.RetryAfter > resumeMaxRetryAfter {
		return err // a storage host asking for a long pause: the caller decides
	}
	if t.off > t.failOff {
		t.streak = 0
	}
	t.streak++
	t.failOff = t.off
	t.lastErr = err
	if t.streak > t.cfg.maxResumes {
		what := fmt.Sprintf("gave up after %d attempts without progress at byte %d", t.streak, t.off)
		if t.total >= 0 {
			what += fmt.Sprintf(" of %d", t.total)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) && t.total >= 0 {
			// The server keeps closing before the length it announced.
			return fmt.Errorf("%s: %w (%w)", what, err, &sentinelError{ErrSizeMismatch, "size mismatch"})
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	t.c.log.LogAttrs(t.ctx, slog.LevelInfo, "exportkit: download interrupted, resuming",
		slog.String("vendor", string(t.src.vendor)), slog.String("id", t.src.id),
		slog.Int64("offset", t.off), slog.Int("attempt", t.streak),
		slog.String("error", t.c.scrub(redactText(err.Error()))))
	return nil
}

// transient reports whether another attempt at the same offset may succeed.
func transient(err error) bool {
	var ae *APIError
	switch {
	case errors.Is(err, errIdleTimeout), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.As(err, &ae):
		return ae.temporary() && ae.Op == "download"
	case errors.Is(err, ErrFileChanged), errors.Is(err, ErrUnsafeURL), errors.Is(err, ErrSizeMismatch),
		errors.Is(err, ErrChecksumMismatch), errors.Is(err, errClosed):
		return false
	}
	var ie *inputError
	if errors.As(err, &ie) {
		return false
	}
	return retryableTransportError(err)
}

// connect opens the file at the current offset: after a failure it waits a
// short jittered backoff, then asks for the rest of the file, refreshing an
// expired URL once per expiry.
func (t *transfer) connect() error {
	retry := false // after an expired URL
	for {
		if err := t.ctx.Err(); err != nil {
			return t.ctxError()
		}
		if t.lastErr != nil {
			if err := t.backoff(); err != nil {
				return err
			}
		}
		loc, err := t.location()
		if err != nil {
			return err
		}
		if retry || t.lastErr != nil {
			t.resumes++
		}
		err = t.open(loc)
		if err == nil {
			t.lastErr = nil
			return nil
		}
		if expired(err) && t.relocOff != t.off {
			// A signed URL has a short life: read a fresh one from the
			// vendor and go on at the same offset, once per expiry.
			t.relocOff = t.off
			t.loc = nil
			retry = true
			t.c.log.LogAttrs(t.ctx, slog.LevelInfo, "exportkit: download URL expired, refreshing",
				slog.String("vendor", string(t.src.vendor)), slog.String("id", t.src.id), slog.Int64("offset", t.off))
			continue
		}
		if perr := t.failure(err); perr != nil {
			return perr
		}
	}
}

// expired reports a storage host refusing a signed URL: 401 (B2) or 403 (S3).
func expired(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Op == "download" &&
		(ae.StatusCode == http.StatusForbidden || ae.StatusCode == http.StatusUnauthorized)
}

// backoff sleeps before the next attempt: 100 ms doubling to 2 s with the
// failures in a row, each spread over its upper half, or the server's
// Retry-After when longer, ending early when the context does.
func (t *transfer) backoff() error {
	d := resumeMaxWait
	if s := t.streak - 1; s < 5 {
		d = min(resumeMinWait<<s, resumeMaxWait)
	}
	d = d/2 + rand.N(d/2+1)
	var ae *APIError
	if errors.As(t.lastErr, &ae) && ae.RetryAfter > d {
		// The server's Retry-After is a floor; one the context cannot wait
		// for ends the download now rather than at the deadline.
		d = ae.RetryAfter
		if dl, ok := t.ctx.Deadline(); ok && time.Until(dl) < d {
			return t.lastErr
		}
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-t.ctx.Done():
		return t.ctxError()
	}
}

// location returns where the file is: the location of the export the
// caller holds first, then a fresh one from the vendor.
func (t *transfer) location() (*fileLocation, error) {
	if t.loc != nil {
		return t.loc, nil
	}
	var loc *fileLocation
	switch ke := t.src.knownErr; {
	case !t.usedKnown && t.src.known != nil:
		loc = t.src.known
	case !t.usedKnown && ke != nil && !errors.Is(ke, ErrNotReady) && !errors.Is(ke, errNoDownloadURL):
		return nil, ke // the held export failed or expired: a status read cannot help
	default:
		var err error
		if loc, err = t.src.locate(t.ctx); err != nil {
			if t.ctx.Err() != nil {
				return nil, t.ctxError()
			}
			return nil, err
		}
	}
	t.usedKnown = true
	if t.started {
		// A fresh location must describe the same file.
		old := t.loc
		if old == nil {
			old = &fileLocation{size: -1}
		}
		if (loc.size >= 0 && t.total >= 0 && loc.size != t.total) ||
			(loc.sha1 != "" && t.ver.vendorSHA1 != "" && !strings.EqualFold(loc.sha1, t.ver.vendorSHA1)) {
			return nil, fmt.Errorf("%w: the vendor now reports another size or checksum", ErrFileChanged)
		}
	}
	t.loc = loc
	t.ver.expect(loc)
	return loc, nil
}

// open sends one request for the file from the current offset and, when
// the answer can be continued from, makes it the response being read. The
// idle timer runs from the moment the request is sent, so a server that
// never answers is cut like one that stops sending.
func (t *transfer) open(loc *fileLocation) error {
	ctx, stop := context.WithCancelCause(t.ctx)
	t.reqCtx, t.reqStop = ctx, stop
	t.idle = time.AfterFunc(t.cfg.idleTimeout, func() { stop(errIdleTimeout) })
	resp, err := t.fetch(ctx, loc)
	if err == nil {
		t.body = resp.Body
		err = t.accept(resp)
	}
	if err != nil {
		err = t.openError(err)
		if t.body == nil {
			t.idle.Stop()
			stop(nil)
			t.idle, t.reqStop = nil, nil
		}
		t.closeBody()
		return err
	}
	return nil
}

// openError is readError for a request that did not get to the body.
func (t *transfer) openError(err error) error {
	if t.ctx.Err() != nil {
		return t.ctxError()
	}
	if context.Cause(t.reqCtx) == errIdleTimeout {
		return errIdleTimeout
	}
	return err
}
