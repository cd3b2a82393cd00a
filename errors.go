package exportkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/exportkit/exportkit/internal/errkind"
	"github.com/exportkit/exportkit/internal/httpx"
)

// Sentinel errors. Test for them with [errors.Is]; the errors this package
// returns wrap them or match them through an Is method.
var (
	// ErrNotFound: the export (or bot, audience, run) does not exist (HTTP 404).
	ErrNotFound = errors.New("exportkit: not found")
	// ErrUnauthorized: the credential is missing or wrong (HTTP 401, Kore code 4002).
	ErrUnauthorized = errors.New("exportkit: unauthorized")
	// ErrForbidden: the credential lacks a permission, or a signed URL expired (HTTP 403).
	ErrForbidden = errors.New("exportkit: forbidden")
	// ErrRateLimited: the server asked the client to slow down (HTTP 429, or a
	// Retry-After longer than the client may wait). [APIError.RetryAfter]
	// says for how long.
	ErrRateLimited = errors.New("exportkit: rate limited")
	// ErrNotReady: the export exists but its file is not ready yet (HTTP 409).
	ErrNotReady = errors.New("exportkit: export not ready")
	// ErrExportFailed: the export job failed on the vendor's side.
	ErrExportFailed = errors.New("exportkit: export failed")
	// ErrExportExpired: the export's file is no longer available (a terminal
	// EXPIRED status, or HTTP 410).
	ErrExportExpired = errors.New("exportkit: export expired")
	// ErrExportCanceled: the export job (or Orbit run) was canceled.
	ErrExportCanceled = errors.New("exportkit: export canceled")
	// ErrExportSuperseded: a Kore bot's latest export is no longer the one
	// this client started; another export replaced it.
	ErrExportSuperseded = errors.New("exportkit: export superseded")
	// ErrWaitTimeout: the time given with WithMaxWait ran out before the
	// export reached a terminal state.
	ErrWaitTimeout = errors.New("exportkit: wait timed out")
	// ErrChecksumMismatch: the downloaded bytes do not match the expected checksum.
	ErrChecksumMismatch = errors.New("exportkit: checksum mismatch")
	// ErrSizeMismatch: the downloaded byte count does not match the expected size.
	ErrSizeMismatch = errors.New("exportkit: size mismatch")
	// ErrFileChanged: the file on the server changed during a download (a
	// new ETag or size, 412 Precondition Failed), so the bytes already
	// received cannot be continued. Download it again from the start.
	ErrFileChanged = errors.New("exportkit: the file changed on the server during the download")
	// ErrUnsafeURL: a download URL or redirect target was refused (plain
	// http to a non-loopback host, userinfo, or an unparsable URL).
	ErrUnsafeURL = errors.New("exportkit: unsafe URL")
	// ErrInvalidInput: the SDK refused what the caller passed before sending
	// any request: a malformed or empty id, a bad option, an unknown format.
	// The command-line tool exits 2 for it.
	ErrInvalidInput = errors.New("exportkit: invalid input")
)

// maxErrorBody caps how much of an error response is read: a 5 GiB error
// body costs at most this much.
const maxErrorBody = 64 << 10

// APIError is an error response from a vendor API. It matches the sentinels
// with [errors.Is] by status code and vendor code: 401 [ErrUnauthorized], 403
// [ErrForbidden], 404 [ErrNotFound], 409 [ErrNotReady], 410
// [ErrExportExpired], 429 [ErrRateLimited].
type APIError struct {
	Vendor     Vendor
	StatusCode int
	Code       string // vendor error code: EXPORT_NOT_READY, 4002, …
	Message    string
	RequestID  string
	RetryAfter time.Duration // the server's Retry-After, 0 when absent

	// Op is the operation that failed, such as "get export".
	Op string
	// ID is the id the operation was about, when there is one. It is kept
	// whole; Error shows at most its first 64 bytes.
	ID string
}

// Error returns "exportkit: <vendor>: <op> "<id>": <status>: <code>: <message>",
// with an id longer than 64 bytes cut.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("exportkit: ")
	b.WriteString(string(e.Vendor))
	if e.Op != "" {
		b.WriteString(": ")
		b.WriteString(e.Op)
		if e.ID != "" {
			b.WriteString(" " + quoteID(e.ID))
		}
	}
	b.WriteString(": ")
	b.WriteString(e.status())
	return b.String()
}

// status is the error's text after its vendor, operation and id:
// "<status>: <code>: <message> (retry after …) (request id …)".
func (e *APIError) status() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Code != "" && e.Code != strconv.Itoa(e.StatusCode) {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// Is matches the sentinel errors by status code and vendor code.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized || e.Code == "4002"
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound || strings.HasSuffix(e.Code, "_NOT_FOUND")
	case ErrNotReady:
		return e.StatusCode == http.StatusConflict || e.Code == "EXPORT_NOT_READY"
	case ErrExportExpired:
		return e.StatusCode == http.StatusGone || e.Code == "EXPORT_EXPIRED"
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests ||
			(e.StatusCode == http.StatusServiceUnavailable && e.RetryAfter > 0)
	}
	return false
}

// temporary reports whether the request may succeed if sent again later.
func (e *APIError) temporary() bool {
	return httpx.RetryableStatus(e.StatusCode)
}

// ExportError reports an export job that ended without a file: failed,
// expired or canceled. It matches [ErrExportFailed], [ErrExportExpired] or
// [ErrExportCanceled] with [errors.Is], by State.
type ExportError struct {
	Vendor  Vendor
	ID      string
	State   State
	Code    string
	Message string
}

// Error returns "exportkit: <vendor>: export "<id>" <state>: <code>: <message>",
// with an id longer than 64 bytes cut.
func (e *ExportError) Error() string {
	s := fmt.Sprintf("exportkit: %s: export %s %s", e.Vendor, quoteID(e.ID), e.State)
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is matches the sentinel for the export's terminal state.
func (e *ExportError) Is(target error) bool {
	switch target {
	case ErrExportFailed:
		return e.State == StateFailed
	case ErrExportExpired:
		return e.State == StateExpired
	case ErrExportCanceled:
		return e.State == StateCanceled
	}
	return false
}

// checkContext refuses a nil context, as net/http does, instead of
// panicking on it.
func checkContext(ctx context.Context) error {
	if ctx == nil {
		return &inputError{errors.New("exportkit: nil context")}
	}
	return nil
}

// opError wraps err with the vendor, the operation and the id, the way every
// error of this package reads: "exportkit: vendor: op "id": cause". err
// must not carry the prefix itself: build it with plain text or [kinded].
func opError(v Vendor, op, id string, err error) error {
	if id != "" {
		return fmt.Errorf("exportkit: %s: %s %s: %w", v, op, quoteID(id), err)
	}
	return fmt.Errorf("exportkit: %s: %s: %w", v, op, err)
}

// contextError is the cause of a call whose context ended, in the same
// words for every call: "timed out" for a deadline (as a wait's maximum
// reads "timed out after 30s"), "context canceled" for a cancel, followed
// by the context's cause when it has its own. It matches the context's
// error (and cause) with errors.Is.
func contextError(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	wrapped := err
	if cause != nil && cause != err {
		wrapped = fmt.Errorf("%w: %w", err, cause)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return wrapped
	}
	msg := "timed out"
	if wrapped != err {
		msg += ": " + cause.Error()
	}
	return &errkind.Error{Msg: msg, Cause: wrapped}
}

// maxIDInMessage is how much of an id an error message shows: a 100 KB id
// must not make a 100 KB error line.
const maxIDInMessage = 64

// quoteID quotes an id for a message. An id longer than maxIDInMessage
// bytes is cut on a UTF-8 boundary and marked with its length:
// "abc…" (100000 bytes).
func quoteID(id string) string {
	if len(id) <= maxIDInMessage {
		return strconv.Quote(id)
	}
	return fmt.Sprintf("%s (%d bytes)", strconv.Quote(cutUTF8(id, maxIDInMessage)+"…"), len(id))
}

// kinded returns an error reading as the formatted text, without prefix,
// that matches kind with errors.Is.
func kinded(kind error, format string, args ...any) error {
	return &errkind.Error{Msg: fmt.Sprintf(format, args...), Kinds: []error{kind}}
}

// newAPIError builds an *APIError from a non-2xx response, reading at most
// maxErrorBody bytes of its body. It understands every vendor's error shape:
// Orbit's {error:{code,message,details},meta:{request_id}}, Memsolus' flat
// {error,message}, Kore's {errors:[{msg,code}]} or flat {msg,code}, and
// anything else as a short, sanitized excerpt.
func newAPIError(v Vendor, op, id string, resp *http.Response, scrub func(string) string) *APIError {
	e := &APIError{Vendor: v, Op: op, ID: id, StatusCode: resp.StatusCode}
	e.RetryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	e.RequestID = firstHeader(resp.Header, "X-Request-Id", "Request-Id", "X-Amzn-Requestid")
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	decodeErrorBody(e, resp.Header.Get("Content-Type"), body)
	if scrub != nil {
		e.Message = scrub(e.Message)
		e.Code = scrub(e.Code)
	}
	e.Message = excerpt(redactText(e.Message), 300)
	e.Code = excerpt(e.Code, 64)
	e.RequestID = excerpt(e.RequestID, 128)
	return e
}

// decodeErrorBody fills e's Code, Message and RequestID from an error body
// of any vendor's shape. It never fails: what it cannot read becomes an
// excerpt of the body.
func decodeErrorBody(e *APIError, contentType string, body []byte) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return
	}
	var m map[string]json.RawMessage
	if body[0] == '{' && json.Unmarshal(body, &m) == nil {
		if raw, ok := m["error"]; ok {
			var nested map[string]json.RawMessage
			if json.Unmarshal(raw, &nested) == nil {
				e.Code = jsonText(nested["code"])
				e.Message = firstText(nested, "message", "msg", "detail")
			} else {
				e.Code = jsonText(raw) // Memsolus: {"error":"EXPORT_NOT_FOUND","message":…}
			}
		}
		var list []map[string]json.RawMessage
		if raw, ok := m["errors"]; ok && json.Unmarshal(raw, &list) == nil && len(list) > 0 {
			if e.Code == "" {
				e.Code = jsonText(list[0]["code"])
			}
			if e.Message == "" {
				e.Message = firstText(list[0], "msg", "message", "detail")
			}
		}
		if e.Code == "" {
			e.Code = jsonText(m["code"])
		}
		if e.Message == "" {
			e.Message = firstText(m, "message", "msg", "detail", "title")
		}
		var meta map[string]json.RawMessage
		if json.Unmarshal(m["meta"], &meta) == nil {
			if id := jsonText(meta["request_id"]); id != "" {
				e.RequestID = id
			}
		}
		if id := jsonText(m["request_id"]); id != "" && e.RequestID == "" {
			e.RequestID = id
		}
		if e.Code != "" || e.Message != "" {
			return
		}
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "text/html" || bytes.HasPrefix(body, []byte("<")) {
		e.Message = "unexpected non-JSON error body (" + orDefault(mt, "unknown type") + ")"
		return
	}
	e.Message = string(body)
}

// jsonText returns a JSON string's value or a JSON number's text, and "" for
// anything else.
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// firstText returns the first of keys in m that holds a string or a number.
func firstText(m map[string]json.RawMessage, keys ...string) string {
	for _, k := range keys {
		if s := jsonText(m[k]); s != "" {
			return s
		}
	}
	return ""
}

// excerpt shortens s to at most n bytes on a rune boundary, and replaces
// control characters, so that a hostile body cannot forge log lines.
func excerpt(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return cutUTF8(s, n) + "…"
}

// cutUTF8 returns s's first n bytes (n < len(s)), fewer where the n-th
// byte is inside a character, so that no character is cut in two.
func cutUTF8(s string, n int) string {
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
