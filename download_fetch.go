package exportkit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit/internal/httpx"
)

// maxRedirects is how many redirects a download follows.
const maxRedirects = 10

// credentialHeaders are the headers that carry a vendor credential
// (x-api-key, X-Api-Key and X-API-Key are one name in any case). None is
// ever set on a storage request; they are deleted anyway, in any spelling,
// so that no future change can leak one.
var credentialHeaders = [...]string{"X-Api-Key", "Authorization", "Auth", "Cookie", "Proxy-Authorization"}

func stripCredentials(h http.Header) {
	for k := range h {
		for _, c := range credentialHeaders {
			if strings.EqualFold(k, c) {
				delete(h, k)
			}
		}
	}
}

// sentinelError is an error that matches a sentinel with errors.Is but
// reads without the sentinel's "exportkit: " prefix, so that a wrapped
// message does not repeat it.
type sentinelError struct {
	kind error
	msg  string
}

func (e *sentinelError) Error() string        { return e.msg }
func (e *sentinelError) Is(target error) bool { return target == e.kind }

func unsafeURL(format string, args ...any) error {
	return &sentinelError{ErrUnsafeURL, "unsafe URL: " + fmt.Sprintf(format, args...)}
}

// checkDownloadURL refuses a storage URL or redirect target that is not
// https (plain http is allowed to loopback hosts, or anywhere with
// WithAllowHTTP), is not absolute, or carries userinfo.
func checkDownloadURL(u *url.URL, allowHTTP bool) error {
	switch {
	case u.User != nil:
		return unsafeURL("%s carries credentials", httpx.RedactURL(u))
	case u.Scheme != "https" && u.Scheme != "http":
		return unsafeURL("%q is not an absolute http(s) URL", httpx.RedactURL(u))
	case u.Host == "" || u.Hostname() == "":
		return unsafeURL("%s has no host", httpx.RedactURL(u))
	case u.Scheme == "http" && !allowHTTP && !isLoopback(u.Hostname()):
		return unsafeURL("plain http to %q (only https, or http to a loopback host unless WithAllowHTTP)", u.Host)
	}
	return nil
}

// parseDownloadURL parses a URL given by a vendor or a redirect, relative
// to base when base is not nil.
func parseDownloadURL(base *url.URL, raw string) (*url.URL, error) {
	var u *url.URL
	var err error
	if base != nil {
		u, err = base.Parse(raw)
	} else {
		u, err = url.Parse(raw)
	}
	if err != nil || strings.ContainsAny(raw, "\x00\r\n") {
		return nil, unsafeURL("cannot parse %q", httpx.RedactURLString(excerpt(raw, 200)))
	}
	return u, nil
}

// fetch sends one request for the file from the current offset: to the
// storage URL, or to the vendor's download endpoint (Memsolus), whose
// redirect to storage is followed without the credential.
func (t *transfer) fetch(ctx context.Context, loc *fileLocation) (*http.Response, error) {
	if loc.api == nil {
		u, err := parseDownloadURL(nil, loc.url)
		if err != nil {
			return nil, err
		}
		return t.fetchStorage(ctx, u, 0)
	}
	r := *loc.apiReq
	r.header = t.fileHeaders(r.header.Clone())
	r.header.Set("Accept", "*/*") // the file, not JSON about it
	resp, err := loc.api.send(ctx, &r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	where, from := resp.Header.Get("Location"), resp.Request.URL
	drain(resp)
	if where == "" {
		return nil, fmt.Errorf("%s answered %d without a Location", loc.api.vendor, resp.StatusCode)
	}
	u, err := parseDownloadURL(from, where)
	if err != nil {
		return nil, err
	}
	return t.fetchStorage(ctx, u, 1)
}

// fetchStorage GETs u with the storage client, following redirects by hand
// so that each target is checked and no credential can ride along.
func (t *transfer) fetchStorage(ctx context.Context, u *url.URL, hops int) (*http.Response, error) {
	for {
		if err := checkDownloadURL(u, t.cfg.allowHTTP); err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, unsafeURL("%s: %v", httpx.RedactURL(u), cleanError(err))
		}
		req.Header = t.fileHeaders(req.Header)
		req.Header.Set("User-Agent", t.c.ua)
		stripCredentials(req.Header)
		start := time.Now()
		resp, err := t.c.storage.Do(req)
		t.logRequest(u, start, resp, err)
		if err != nil {
			return nil, cleanError(err)
		}
		if !isRedirect(resp.StatusCode) {
			return resp, nil
		}
		where := resp.Header.Get("Location")
		drain(resp)
		if where == "" {
			return nil, fmt.Errorf("storage answered %d without a Location", resp.StatusCode)
		}
		if hops++; hops > maxRedirects {
			return nil, unsafeURL("more than %d redirects", maxRedirects)
		}
		if u, err = parseDownloadURL(u, where); err != nil {
			return nil, err
		}
	}
}

// fileHeaders sets the headers of a request for the file: no compression,
// so that offsets and checksums count the stored bytes, and on a resume the
// range with a validator of the file the download started on.
func (t *transfer) fileHeaders(h http.Header) http.Header {
	if h == nil {
		h = make(http.Header, 4)
	}
	h.Set("Accept-Encoding", "identity")
	if t.off > 0 {
		h.Set("Range", "bytes="+strconv.FormatInt(t.off, 10)+"-")
		switch {
		case t.etag != "":
			h.Set("If-Match", t.etag)
		case t.lastMod != "":
			h.Set("If-Range", t.lastMod)
		}
	}
	return h
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// drain reads a little of a body that is not wanted, so that the
// connection can be reused, and closes it.
func drain(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}

// logRequest logs a storage request at debug level, its URL redacted.
func (t *transfer) logRequest(u *url.URL, start time.Time, resp *http.Response, err error) {
	log := t.c.log
	if !log.Enabled(t.ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("vendor", string(t.src.vendor)),
		slog.String("id", t.src.id),
		slog.String("method", http.MethodGet),
		slog.String("url", httpx.RedactURL(u)),
		slog.Int64("offset", t.off),
		slog.Duration("elapsed", time.Since(start)),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", t.c.scrub(redactText(cleanError(err).Error()))))
	} else {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
	}
	log.LogAttrs(t.ctx, slog.LevelDebug, "exportkit: storage request", attrs...)
}

// accept checks a response before its body is read: the status, and that
// it continues the file the download started on.
func (t *transfer) accept(resp *http.Response) error {
	switch code := resp.StatusCode; {
	case code == http.StatusOK, code == http.StatusPartialContent:
	case code == http.StatusPreconditionFailed:
		return fmt.Errorf("%w (412 Precondition Failed at byte %d)", ErrFileChanged, t.off)
	case code == http.StatusRequestedRangeNotSatisfiable:
		if cr, err := httpx.ParseContentRange(resp.Header.Get("Content-Range")); err == nil && cr.Total == t.off {
			// Everything there is was read: the first response announced more.
			return &sentinelError{ErrSizeMismatch, fmt.Sprintf("size mismatch: %d bytes were announced, the file has %d", t.total, cr.Total)}
		}
		return fmt.Errorf("%w (416 Range Not Satisfiable at byte %d)", ErrFileChanged, t.off)
	case code >= 400:
		return newAPIError(t.src.vendor, "download", t.src.id, resp, t.c.scrub)
	default:
		return fmt.Errorf("unexpected status %d %s", code, http.StatusText(code))
	}
	if t.off == 0 {
		return t.acceptFirst(resp)
	}
	return t.acceptResume(resp)
}

// acceptFirst records what the first response says about the file: its
// validators, its size (checked against the vendor's) and its name.
func (t *transfer) acceptFirst(resp *http.Response) error {
	h := resp.Header
	total, remain := resp.ContentLength, resp.ContentLength
	if resp.StatusCode == http.StatusPartialContent {
		cr, err := httpx.ParseContentRange(h.Get("Content-Range"))
		if err != nil {
			return err
		}
		if cr.Start != 0 {
			return fmt.Errorf("asked for the whole file, got a range from byte %d", cr.Start)
		}
		total, remain = cr.Total, cr.Len()
	}
	if vs := t.loc.size; vs >= 0 && total >= 0 && vs != total {
		return &sentinelError{ErrSizeMismatch, fmt.Sprintf("size mismatch: storage announces %d bytes, %s says %d", total, t.src.vendor, vs)}
	}
	if total < 0 {
		total = t.loc.size
	}
	t.total, t.remain = total, remain
	t.rawETag = validator(h.Get("ETag"))
	t.etag = ""
	if !strings.HasPrefix(t.rawETag, "W/") {
		t.etag = t.rawETag
	}
	t.lastMod = ""
	if lm := validator(h.Get("Last-Modified")); lm != "" {
		if _, err := http.ParseTime(lm); err == nil {
			t.lastMod = lm
		}
	}
	t.contentType = excerpt(h.Get("Content-Type"), 200)
	name, _ := httpx.DispositionFileName(h.Get("Content-Disposition"))
	if t.fileName = httpx.SanitizeFileName(name); t.fileName == "" {
		t.fileName = httpx.SanitizeFileName(t.loc.name)
	}
	t.ver.header(h.Get("X-Bz-Content-Sha1"))
	t.started = true
	return nil
}

// acceptResume checks the answer to a range request: a 206 must start at
// the offset and keep the total; a 200 (the range ignored) is continued by
// skipping what was already read, only when its validators show the same
// file.
func (t *transfer) acceptResume(resp *http.Response) error {
	h := resp.Header
	if et := validator(h.Get("ETag")); t.rawETag != "" && et != "" && et != t.rawETag {
		return fmt.Errorf("%w (ETag %s, was %s)", ErrFileChanged, excerpt(et, 80), excerpt(t.rawETag, 80))
	}
	if resp.StatusCode == http.StatusPartialContent {
		cr, err := httpx.ParseContentRange(h.Get("Content-Range"))
		if err != nil {
			return err
		}
		if cr.Start != t.off {
			return fmt.Errorf("asked for bytes from %d, got a range from %d", t.off, cr.Start)
		}
		if cr.Total >= 0 && t.total >= 0 && cr.Total != t.total {
			return fmt.Errorf("%w (%d bytes, was %d)", ErrFileChanged, cr.Total, t.total)
		}
		if t.total < 0 {
			t.total = cr.Total
		}
		t.remain = cr.Len()
		return nil
	}
	if !t.sameFile(resp) {
		return fmt.Errorf("%w: the server ignored the range request and its validators do not match the first response", ErrFileChanged)
	}
	t.remain = resp.ContentLength
	if err := t.skip(t.off); err != nil {
		return err
	}
	if t.remain >= 0 {
		t.remain -= t.off
	}
	return nil
}

// sameFile reports whether a full response describes the file the first
// response did: every validator both have must match, and at least one
// must have been compared.
func (t *transfer) sameFile(resp *http.Response) bool {
	compared := false
	if t.rawETag != "" {
		if validator(resp.Header.Get("ETag")) != t.rawETag {
			return false
		}
		compared = true
	}
	if t.lastMod != "" {
		if resp.Header.Get("Last-Modified") != t.lastMod {
			return false
		}
		compared = true
	}
	if t.total >= 0 {
		if resp.ContentLength != t.total {
			return false
		}
		compared = true
	}
	return compared
}

// skip reads and discards the first n bytes of a response that ignored
// the range, keeping the idle timer going.
func (t *transfer) skip(n int64) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for n > 0 {
		m, err := t.body.Read(buf[:min(int64(len(buf)), n)])
		if m > 0 {
			n -= int64(m)
			t.idle.Reset(t.cfg.idleTimeout)
		}
		if err == io.EOF && n > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil && n > 0 {
			return t.readError(err)
		}
	}
	return nil
}

// validator returns an ETag or Last-Modified value when it is short
// printable ASCII that can be sent back in a header, else "".
func validator(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 256 {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return ""
		}
	}
	return v
}
