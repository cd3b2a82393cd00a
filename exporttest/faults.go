package exporttest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
)

// Fault is a misbehaviour the Server shows on the next matching requests.
// Build one with [On] (API requests) or [OnStorage] (storage requests), narrow
// it with Method and Path, say what goes wrong, and how often with Times
// (default once) or Always; then hand it to [Server.Inject]:
//
//	srv.Inject(exporttest.On(exportkit.Kore).Method("GET").Path("/status").Status(429).RetryAfter("3").Times(2))
//	srv.Inject(exporttest.OnStorage().ResetAfter(1 << 20))
//	srv.Inject(exporttest.On(exportkit.Brainbase).ProxyErrorPage())
//
// What goes wrong is one of two kinds. A replacing fault answers instead of
// the Server: Status (with the vendor's error body), Body, ProxyErrorPage,
// EmptyBody, MalformedJSON, HugeBody, ExpiredURL, Hangup, Redirects. A
// stream fault lets the real answer through and spoils it: ResetAfter,
// StallAfter, CorruptAt, IgnoreRange, LongContentLength (the last three act
// on file downloads only). API faults apply after the credential check, so
// a request refused with 401 does not use one up.
//
// Fault methods return a modified copy, so a Fault can serve as a template.
type Fault struct {
	storage      bool
	vendor       exportkit.Vendor
	method, path string
	times        int // 0: once; < 0: always

	status      int
	retryAfter  string
	errCode     string
	errMessage  string
	body        []byte
	bodySet     bool
	contentType string
	huge        int64
	hangup      bool
	expired     bool
	redirects   int

	resetAfter  int64 // < 0: none
	stallAfter  int64 // < 0: none
	stallFor    time.Duration
	corrupt     bool
	corruptAt   int64
	ignoreRange bool
	extraLength int64
}

// On starts a fault on API requests to vendor v; "" means every vendor.
func On(v exportkit.Vendor) Fault {
	return Fault{vendor: v, resetAfter: -1, stallAfter: -1}
}

// OnStorage starts a fault on storage-host requests for a file (the hops of
// a redirect chain do not count).
func OnStorage() Fault {
	return Fault{storage: true, resetAfter: -1, stallAfter: -1}
}

// Method narrows the fault to requests with this HTTP method.
func (f Fault) Method(m string) Fault { f.method = strings.ToUpper(m); return f }

// Path narrows the fault to requests whose (unescaped) path contains sub.
func (f Fault) Path(sub string) Fault { f.path = sub; return f }

// Times applies the fault to the next n matching requests (default 1).
// n <= 0 counts as 1.
func (f Fault) Times(n int) Fault { f.times = max(n, 1); return f }

// Always applies the fault to every matching request until
// [Server.ClearFaults].
func (f Fault) Always() Fault { f.times = -1; return f }

// Status answers with HTTP status code and the vendor's error body (S3 XML
// or B2 JSON on storage).
func (f Fault) Status(code int) Fault { f.status = code; return f }

// RetryAfter adds a Retry-After header, in seconds ("3") or as an HTTP date.
// Without Status, the status is 429.
func (f Fault) RetryAfter(v string) Fault { f.retryAfter = v; return f }

// VendorError sets the code and message of the vendor error body that
// Status sends (for Kore a numeric code is sent as a number).
func (f Fault) VendorError(code, message string) Fault {
	f.errCode, f.errMessage = code, message
	return f
}

// Body answers with this body and Content-Type instead of the vendor's
// error body; the status is Status, or 200.
func (f Fault) Body(contentType, body string) Fault {
	f.contentType, f.body, f.bodySet = contentType, []byte(body), true
	return f
}

// ProxyErrorPage answers like a proxy in front of the vendor: an HTML error
// page, with status 502 unless Status says otherwise.
func (f Fault) ProxyErrorPage() Fault {
	if f.status == 0 {
		f.status = http.StatusBadGateway
	}
	return f.Body("text/html; charset=utf-8", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n"+
		"<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
}

// EmptyBody answers 200 (or Status) with a JSON Content-Type and no body.
func (f Fault) EmptyBody() Fault { return f.Body("application/json", "") }

// MalformedJSON answers 200 (or Status) with JSON cut off in the middle.
func (f Fault) MalformedJSON() Fault {
	return f.Body("application/json", `{"id":"exp_truncated","status":"PROC`)
}

// HugeBody answers 200 (or Status) with n bytes of JSON-looking junk,
// streamed without Content-Length and never held in memory.
func (f Fault) HugeBody(n int64) Fault { f.huge = max(n, 1); return f }

// Hangup closes the connection without answering (in memory: the round
// trip fails with a connection reset). Note that net/http's transport
// itself retries an idempotent request (GET, or one with an
// Idempotency-Key) once when a reused connection closes before answering,
// so such a request may use up two Hangups.
func (f Fault) Hangup() Fault { f.hangup = true; return f }

// ExpiredURL answers a storage request 403 as for an expired signed URL,
// whatever its signature. See also [Server.ExpireURLs].
func (f Fault) ExpiredURL() Fault { f.expired = true; return f }

// Redirects makes a storage request for a file answer 302 through n hops on
// the storage host, ending at the same URL.
func (f Fault) Redirects(n int) Fault { f.redirects = max(n, 1); return f }

// ResetAfter sends the headers and n bytes of the body, then cuts the
// connection (with sockets it closes it, so the client reads
// io.ErrUnexpectedEOF; in memory the body read fails with a connection
// reset). n counts bytes of this response, not file offsets.
func (f Fault) ResetAfter(n int64) Fault { f.resetAfter = max(n, 0); return f }

// StallAfter sends n bytes of the body, then sends nothing for d (or until
// the request's context or the Server ends), then the rest.
func (f Fault) StallAfter(n int64, d time.Duration) Fault {
	f.stallAfter, f.stallFor = max(n, 0), d
	return f
}

// CorruptAt flips the bits of the file byte at offset (a file offset, so a
// resumed range containing it is spoiled too); the length is unchanged.
func (f Fault) CorruptAt(offset int64) Fault { f.corrupt, f.corruptAt = true, offset; return f }

// IgnoreRange answers a Range request 200 with the whole file, as a server
// without range support does.
func (f Fault) IgnoreRange() Fault { f.ignoreRange = true; return f }

// LongContentLength announces a Content-Length extra bytes longer than the
// body sent, then ends the response.
func (f Fault) LongContentLength(extra int64) Fault { f.extraLength = max(extra, 1); return f }

func (f Fault) replaces() bool {
	return f.status != 0 || f.retryAfter != "" || f.bodySet || f.huge > 0 || f.hangup || f.expired || f.redirects > 0
}

func (f Fault) spoils() bool {
	return f.resetAfter >= 0 || f.stallAfter >= 0 || f.corrupt || f.ignoreRange || f.extraLength > 0
}

// activeFault is an injected fault and how many uses it has left.
type activeFault struct {
	f    Fault
	left int // < 0: unlimited
}

// Inject arms faults, in order: a request uses the first armed fault it
// matches. It refuses a fault that says nothing goes wrong.
func (s *Server) Inject(faults ...Fault) error {
	for _, f := range faults {
		if !f.replaces() && !f.spoils() {
			return errors.New("exporttest: fault has no effect: give it a Status, Body, ResetAfter, …")
		}
		if f.storage && f.vendor != "" {
			return errors.New("exporttest: a storage fault has no vendor")
		}
	}
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for _, f := range faults {
		left := f.times
		if left == 0 {
			left = 1
		}
		s.faults = append(s.faults, &activeFault{f: f, left: left})
	}
	return nil
}

// ClearFaults disarms every fault.
func (s *Server) ClearFaults() {
	s.faultMu.Lock()
	s.faults = nil
	s.faultMu.Unlock()
}

// FaultsPending is the number of armed faults not used up yet (an Always
// fault counts until cleared).
func (s *Server) FaultsPending() int {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	return len(s.faults)
}

// takeFault uses up the first armed fault matching the request, or nil.
func (s *Server) takeFault(storage bool, v exportkit.Vendor, r *http.Request) *Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	for i, af := range s.faults {
		f := af.f
		if f.storage != storage || (f.vendor != "" && f.vendor != v) ||
			(f.method != "" && f.method != r.Method) || !strings.Contains(r.URL.Path, f.path) {
			continue
		}
		if af.left > 0 {
			if af.left--; af.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &f
	}
	return nil
}

// respondFault answers for a replacing fault and reports whether it did.
// errBody writes the error body of the vendor or storage.
func (s *Server) respondFault(w http.ResponseWriter, r *http.Request, f *Fault, errBody func(code int, errCode, msg string)) bool {
	if f.hangup {
		hangup(w, false)
		return true
	}
	if f.status == 0 && f.retryAfter == "" && !f.bodySet && f.huge == 0 {
		return false // expired and redirects are the storage handler's
	}
	code := f.status
	if code == 0 {
		code = http.StatusOK
		if f.retryAfter != "" {
			code = http.StatusTooManyRequests
		}
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	if f.spoils() {
		w, _ = s.withFault(w, r, f)
	}
	switch {
	case f.huge > 0:
		streamJunk(w, code, f.huge)
	case f.bodySet:
		w.Header().Set("Content-Type", f.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
		w.WriteHeader(code)
		_, _ = w.Write(f.body)
	default:
		errBody(code, f.errCode, f.errMessage)
	}
	return true
}

// streamJunk sends n bytes of JSON-looking junk with no Content-Length.
func streamJunk(w http.ResponseWriter, code int, n int64) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	chunk := []byte(`{"id":"junk","status":"PENDING","padding":"` + strings.Repeat("x", 32<<10) + `"},`)
	if _, err := io.WriteString(w, `{"data":[`); err != nil {
		return
	}
	for sent := int64(9); sent < n; {
		part := chunk[:min(int64(len(chunk)), n-sent)]
		if _, err := w.Write(part); err != nil {
			return
		}
		sent += int64(len(part))
	}
}

type faultKey struct{}

// withFault arms the stream faults of f on the response and the request.
func (s *Server) withFault(w http.ResponseWriter, r *http.Request, f *Fault) (http.ResponseWriter, *http.Request) {
	r = r.WithContext(context.WithValue(r.Context(), faultKey{}, f))
	if f.resetAfter < 0 && f.stallAfter < 0 {
		return w, r
	}
	return &faultWriter{ResponseWriter: w, s: s, ctx: r.Context(), f: *f}, r
}

// faultOf is the fault a request was served under, or nil.
func faultOf(r *http.Request) *Fault {
	f, _ := r.Context().Value(faultKey{}).(*Fault)
	return f
}

// faultWriter counts body bytes and stalls or cuts the connection where the
// fault says.
type faultWriter struct {
	http.ResponseWriter
	s       *Server
	ctx     context.Context
	f       Fault
	written int64
	stalled bool
	dead    bool
}

// errCut is what a Write returns once the fault cut the connection.
var errCut = errors.New("exporttest: connection cut by fault")

func (fw *faultWriter) Write(p []byte) (int, error) {
	n := 0
	for !fw.dead {
		stall := fw.f.stallAfter >= 0 && !fw.stalled
		limit := int64(len(p))
		if stall {
			limit = min(limit, fw.f.stallAfter-fw.written)
		}
		if fw.f.resetAfter >= 0 {
			limit = min(limit, fw.f.resetAfter-fw.written)
		}
		if limit > 0 {
			m, err := fw.ResponseWriter.Write(p[:limit])
			n, fw.written, p = n+m, fw.written+int64(m), p[m:]
			if err != nil {
				return n, err
			}
		}
		switch {
		case stall && fw.written >= fw.f.stallAfter:
			fw.stalled = true
			_ = http.NewResponseController(fw.ResponseWriter).Flush()
			if !fw.s.sleep(fw.ctx, fw.f.stallFor) {
				fw.dead = true
				return n, fmt.Errorf("exporttest: stall ended early: %w", context.Canceled)
			}
		case fw.f.resetAfter >= 0 && fw.written >= fw.f.resetAfter:
			fw.dead = true
			hangup(fw.ResponseWriter, true)
		case len(p) == 0:
			return n, nil
		}
	}
	return n, errCut
}

// Unwrap lets http.ResponseController reach the real writer.
func (fw *faultWriter) Unwrap() http.ResponseWriter { return fw.ResponseWriter }

// aborter is a response that can fail like a broken connection: the
// in-memory transport's.
type aborter interface{ abort(sent bool) }

// hangup breaks the connection of w. With sent, what was written so far
// (headers included) reaches the client first.
func hangup(w http.ResponseWriter, sent bool) {
	for inner := w; ; {
		if c, ok := inner.(interface{ markCut() }); ok {
			c.markCut()
		}
		if a, ok := inner.(aborter); ok {
			a.abort(sent)
			return
		}
		u, ok := inner.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		inner = u.Unwrap()
	}
	rc := http.NewResponseController(w)
	if sent {
		_ = rc.Flush()
	}
	if conn, _, err := rc.Hijack(); err == nil {
		_ = conn.Close()
	}
}
