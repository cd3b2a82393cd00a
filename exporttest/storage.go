package exporttest

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// serveStorage is the storage host. It never asks for a credential: a
// signed URL is the whole authorization. It records the request, applies a
// fault, checks the signature and expiry (403 otherwise), and serves the
// file with Range, If-Match, If-None-Match and If-Range.
func (s *Server) serveStorage(w http.ResponseWriter, r *http.Request) {
	sw := s.record(w, r, "", true)
	defer sw.settle()
	w = sw
	p := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(p, redirPrefix); ok {
		s.serveRedirect(w, r, rest)
		return
	}
	b2 := strings.HasPrefix(p, b2Prefix)
	fail := func(code int, errCode, msg string) { storageError(w, b2, code, errCode, msg) }
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		fail(http.StatusMethodNotAllowed, "", "")
		return
	}
	f := s.takeFault(true, "", r)
	if f != nil && s.respondFault(w, r, f, fail) {
		return
	}
	if r.Header.Get("Authorization") != "" {
		// A signed URL carries its own authorization; S3 refuses a second
		// mechanism and B2 takes the header as a (wrong) account token.
		if b2 {
			fail(http.StatusUnauthorized, "bad_auth_token", "Invalid authorization token")
		} else {
			fail(http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
		}
		return
	}
	now := time.Now()
	check := s.verifyURL(p, r.URL.Query(), now)
	if f != nil && f.expired {
		check = urlExpired
	}
	switch check {
	case urlExpired:
		fail(http.StatusForbidden, "", "Request has expired")
		return
	case urlBadSignature:
		fail(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided")
		return
	}
	s.mu.Lock()
	e := s.files[p]
	var fl *file
	var v exportkit.Vendor
	var modified time.Time
	if e != nil && e.servable(now) {
		fl, v, modified = e.file, e.vendor, e.doneAt
	}
	s.mu.Unlock()
	if fl == nil {
		fail(http.StatusNotFound, "", "")
		return
	}
	if f != nil {
		if f.redirects > 0 {
			w.Header().Set("Location", s.redirectURL(f.redirects, s.storageURL+r.URL.RequestURI()))
			w.WriteHeader(http.StatusFound)
			return
		}
		w, r = s.withFault(w, r, f)
	}
	s.serveFile(w, r, v, fl, modified)
}

// serveRedirect is a hop of a redirect chain: /redirect/{n}?to=URL sends to
// the next hop, or to URL when n is 0.
func (s *Server) serveRedirect(w http.ResponseWriter, r *http.Request, rest string) {
	n, err := strconv.Atoi(rest)
	to := r.URL.Query().Get("to")
	if err != nil || n < 0 || !strings.HasPrefix(to, s.storageURL+"/") {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Location", s.redirectURL(n, to))
	w.WriteHeader(http.StatusFound)
}

// serveFile sends f (or the part Range asks for) with the headers of the
// vendor's storage. modified is the Last-Modified time.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, v exportkit.Vendor, f *file, modified time.Time) {
	flt := faultOf(r)
	etag := f.etag()
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Disposition", `attachment; filename="`+f.name+`"`)
	lastMod := modified.UTC().Truncate(time.Second)
	if !lastMod.IsZero() {
		h.Set("Last-Modified", lastMod.Format(http.TimeFormat))
	}
	if v == exportkit.Orbit {
		h.Set("X-Bz-Content-Sha1", f.sha1())
		h.Set("X-Bz-File-Name", strings.TrimPrefix(f.path, b2Prefix+orbitBucket+"/"))
		h.Set("X-Bz-File-Id", "4_z"+fmt.Sprintf("%016x", f.seed))
	}
	b2 := strings.HasPrefix(f.path, b2Prefix)
	if im := r.Header.Get("If-Match"); im != "" && !etagListHas(im, etag) {
		storageError(w, b2, http.StatusPreconditionFailed, "", "At least one of the pre-conditions you specified did not hold")
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagListHas(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	start, length, code := int64(0), f.size, http.StatusOK
	if rng := r.Header.Get("Range"); rng != "" && (flt == nil || !flt.ignoreRange) && ifRangeHolds(r, etag, lastMod) {
		first, last, ok, satisfiable := parseRange(rng, f.size)
		switch {
		case ok && !satisfiable:
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(f.size, 10))
			storageError(w, b2, http.StatusRequestedRangeNotSatisfiable, "", "The requested range is not satisfiable")
			return
		case ok:
			start, length, code = first, last-first+1, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, f.size))
		}
	}
	extra := int64(0)
	if flt != nil {
		extra = flt.extraLength
	}
	h.Set("Content-Length", strconv.FormatInt(length+extra, 10))
	w.WriteHeader(code)
	if r.Method == http.MethodHead {
		return
	}
	var body io.Reader = io.NewSectionReader(f, start, length)
	if flt != nil && flt.corrupt {
		body = &corrupter{r: body, pos: start, at: flt.corruptAt}
	}
	buf := make([]byte, 32<<10)
	_, _ = io.CopyBuffer(writerOnly{w}, body, buf)
}

// writerOnly hides ReadFrom so that every byte goes through Write, where
// faults count them.
type writerOnly struct{ io.Writer }

// corrupter flips the bits of the byte at file offset at.
type corrupter struct {
	r   io.Reader
	pos int64 // file offset of the next byte read
	at  int64
}

func (c *corrupter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if i := c.at - c.pos; i >= 0 && i < int64(n) {
		p[i] ^= 0xff
	}
	c.pos += int64(n)
	return n, err
}

// parseRange reads a single "bytes=" range against size. ok is false when
// the header is to be ignored (malformed or several ranges, which S3 does
// not serve); satisfiable is false for a range that starts past the end.
func parseRange(h string, size int64) (first, last int64, ok, satisfiable bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, false
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, false, false
		}
		if n == 0 || size == 0 {
			return 0, 0, true, false
		}
		return max(size-n, 0), size - 1, true, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, false, false
	}
	last = size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, false, false
		}
		last = min(last, size-1)
	}
	if first >= size {
		return 0, 0, true, false
	}
	return first, last, true, true
}

// etagListHas reports whether an If-Match / If-None-Match list names etag
// (strong comparison) or is "*".
func etagListHas(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// ifRangeHolds reports whether Range applies: no If-Range, or an If-Range
// naming the current ETag or Last-Modified.
func ifRangeHolds(r *http.Request, etag string, lastMod time.Time) bool {
	ir := r.Header.Get("If-Range")
	if ir == "" {
		return true
	}
	if strings.HasPrefix(ir, `"`) || strings.HasPrefix(ir, "W/") {
		return ir == etag
	}
	t, err := http.ParseTime(ir)
	return err == nil && !lastMod.IsZero() && t.Equal(lastMod)
}

// storageError answers like the storage does: an S3-style XML <Error> (also
// what CloudFront and Kore's store send), or B2's JSON for Orbit files.
func storageError(w http.ResponseWriter, b2 bool, code int, errCode, msg string) {
	if msg == "" {
		msg = http.StatusText(code)
	}
	if b2 {
		if errCode == "" {
			errCode = strings.ToLower(strings.ReplaceAll(http.StatusText(code), " ", "_"))
		}
		writeJSON(w, code, obj{"status": code, "code": errCode, "message": msg})
		return
	}
	if errCode == "" {
		errCode = map[int]string{
			http.StatusForbidden: "AccessDenied", http.StatusNotFound: "NoSuchKey",
			http.StatusPreconditionFailed: "PreconditionFailed", http.StatusRequestedRangeNotSatisfiable: "InvalidRange",
			http.StatusServiceUnavailable: "SlowDown", http.StatusTooManyRequests: "SlowDown",
			http.StatusMethodNotAllowed: "MethodNotAllowed",
		}[code]
		if errCode == "" {
			errCode = strings.ReplaceAll(http.StatusText(code), " ", "")
		}
	}
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>" + xmlEscape(errCode) + "</Code><Message>" +
		xmlEscape(msg) + "</Message><RequestId>" + strings.ToUpper(randHex(8)) + "</RequestId></Error>"
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
