package download

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

// StripCredentials deletes every credential header from h, in any spelling.
func StripCredentials(h http.Header) {
	for k := range h {
		for _, c := range credentialHeaders {
			if strings.EqualFold(k, c) {
				delete(h, k)
			}
		}
	}
}

func unsafeURL(format string, args ...any) error {
	return &kindError{ErrUnsafeURL, "unsafe URL: " + fmt.Sprintf(format, args...)}
}

// checkURL refuses a storage URL or redirect target that is not https
// (plain http is allowed to loopback hosts, or anywhere with AllowHTTP), is
// not absolute, or carries userinfo.
func checkURL(u *url.URL, allowHTTP bool) error {
	switch {
	case u.User != nil:
		return unsafeURL("%s carries credentials", httpx.RedactURL(u))
	case u.Scheme != "https" && u.Scheme != "http":
		return unsafeURL("%q is not an absolute http(s) URL", httpx.RedactURL(u))
	case u.Host == "" || u.Hostname() == "":
		return unsafeURL("%s has no host", httpx.RedactURL(u))
	case u.Scheme == "http" && !allowHTTP && !httpx.IsLoopback(u.Hostname()):
		return unsafeURL("plain http to %q (only https, or http to a loopback host unless WithAllowHTTP)", u.Host)
	}
	return nil
}

// parseURL parses a URL given by a vendor or a redirect, relative to base
// when base is not nil.
func parseURL(base *url.URL, raw string) (*url.URL, error) {
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

// openError marks an error from a Location's Open: it ends the download
// as it is, unless it is a network error.
type openError struct{ err error }

func (e *openError) Error() string { return e.err.Error() }
func (e *openError) Unwrap() error { return e.err }

// fetch sends one request for the file with headers h: to the storage URL,
// or through the location's Open, whose redirect to storage is followed
// without credentials.
func (j *job) fetch(ctx context.Context, loc *Location, h http.Header, off int64) (*http.Response, error) {
	h.Set("Accept-Encoding", "identity") // offsets and checksums count the stored bytes
	if loc.Open == nil {
		u, err := parseURL(nil, loc.URL)
		if err != nil {
			return nil, err
		}
		return j.fetchStorage(ctx, u, h, 0, off)
	}
	if u := j.resolvedURL(loc); u != nil {
		// The vendor endpoint sent this location's file to storage before:
		// go there straight, without another authenticated request.
		return j.fetchStorage(ctx, u, h, 1, off)
	}
	oh := h.Clone()
	oh.Set("Accept", "*/*") // the file, not JSON about it
	resp, err := loc.Open(ctx, oh)
	if err != nil {
		return nil, &openError{err}
	}
	if !isRedirect(resp.StatusCode) {
		return resp, nil
	}
	where, from := resp.Header.Get("Location"), resp.Request.URL
	drain(resp)
	if where == "" {
		return nil, fmt.Errorf("the download endpoint answered %d without a Location", resp.StatusCode)
	}
	u, err := parseURL(from, where)
	if err != nil {
		return nil, err
	}
	resp, err = j.fetchStorage(ctx, u, h, 1, off)
	if err == nil && resp.StatusCode < 300 {
		j.resolve(loc, resp.Request.URL)
	}
	return resp, err
}

// resolvedURL is the storage URL that loc's Open last redirected to, or
// nil.
func (j *job) resolvedURL(loc *Location) *url.URL {
	j.locMu.Lock()
	defer j.locMu.Unlock()
	if j.resolvedFor != loc {
		return nil
	}
	return j.resolved
}

func (j *job) resolve(loc *Location, u *url.URL) {
	j.locMu.Lock()
	defer j.locMu.Unlock()
	if j.loc == loc {
		j.resolvedFor, j.resolved = loc, u
	}
}

// fetchStorage GETs u with the storage client, following redirects by hand
// so that each target is checked and no credential can ride along.
func (j *job) fetchStorage(ctx context.Context, u *url.URL, h http.Header, hops int, off int64) (*http.Response, error) {
	for {
		if err := checkURL(u, j.cfg.AllowHTTP); err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, unsafeURL("%s: %v", httpx.RedactURL(u), httpx.CleanError(err))
		}
		req.Header = h.Clone()
		if j.cfg.UserAgent != "" {
			req.Header.Set("User-Agent", j.cfg.UserAgent)
		}
		StripCredentials(req.Header)
		start := time.Now()
		resp, err := j.cfg.Client.Do(req)
		j.firstByte.Add(int64(time.Since(start)))
		j.logRequest(ctx, u, off, start, resp, err)
		if err != nil {
			return nil, httpx.CleanError(err)
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
		if u, err = parseURL(u, where); err != nil {
			return nil, err
		}
	}
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
func (j *job) logRequest(ctx context.Context, u *url.URL, off int64, start time.Time, resp *http.Response, err error) {
	log := j.cfg.Log
	if !log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := append(j.cfg.LogAttrs[:len(j.cfg.LogAttrs):len(j.cfg.LogAttrs)],
		slog.String("method", http.MethodGet),
		slog.String("url", httpx.RedactURL(u)),
		slog.Int64("offset", off),
		slog.Duration("elapsed", time.Since(start)),
	)
	if err != nil {
		attrs = append(attrs, slog.String("error", j.cfg.Scrub(httpx.RedactText(httpx.CleanError(err).Error()))))
	} else {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
	}
	log.LogAttrs(ctx, slog.LevelDebug, "exportkit: storage request", attrs...)
}

// StatusError is a storage error response: its status, Retry-After, and
// the caller's error for it (Config.StatusError), which it unwraps to.
type StatusError struct {
	StatusCode int
	RetryAfter time.Duration
	Err        error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// temporary reports whether the request may succeed if sent again later.
func (e *StatusError) temporary() bool {
	return httpx.RetryableStatus(e.StatusCode)
}

// expired reports a storage host refusing a signed URL: 401 (B2) or 403 (S3).
func (e *StatusError) expired() bool {
	return e.StatusCode == http.StatusForbidden || e.StatusCode == http.StatusUnauthorized
}

func (j *job) statusError(resp *http.Response) error {
	ra, _ := httpx.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	var err error
	if j.cfg.StatusError != nil {
		err = j.cfg.StatusError(resp)
	} else {
		err = fmt.Errorf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	return &StatusError{StatusCode: resp.StatusCode, RetryAfter: ra, Err: err}
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

func rangeHeader(from, to int64) string {
	s := "bytes=" + strconv.FormatInt(from, 10) + "-"
	if to >= 0 {
		s += strconv.FormatInt(to, 10)
	}
	return s
}
