package exportkit

import (
	"bytes"
	"context"
	"encoding/json"
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
	"time"

	"github.com/exportkit/exportkit/internal/errkind"
	"github.com/exportkit/exportkit/internal/httpx"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"
)

// maxStatusBody caps a JSON response read into memory.
const maxStatusBody = 1 << 20

// retryPolicy is how API requests are retried.
type retryPolicy struct {
	max              int
	minWait, maxWait time.Duration
}

var defaultRetry = retryPolicy{max: 4, minWait: 500 * time.Millisecond, maxWait: 30 * time.Second}

// koreBotRate paces Kore requests per bot under the documented design-time
// limit of 60 requests a minute per bot.
const koreBotRate = rate.Limit(59.0 / 60.0)

// vendorClient is one vendor's API endpoint: base URL, credential, retries
// and pacing. Every service method goes through its call helper.
type vendorClient struct {
	c       *Client
	vendor  Vendor
	base    *url.URL
	auth    authFunc
	retry   retryPolicy
	rc      *retryablehttp.Client
	limiter *rate.Limiter // for the whole vendor; nil when unpaced

	keyedRate rate.Limit // per-key pacing (Kore: per bot) when limiter is nil
	mu        sync.Mutex
	keyed     map[string]*rate.Limiter
}

func newVendorClient(c *Client, v Vendor, base *url.URL, auth authFunc, hc *http.Client, cfg *config) *vendorClient {
	vc := &vendorClient{c: c, vendor: v, base: base, auth: auth, retry: cfg.retry}
	if rs, ok := cfg.rateLimits[v]; ok {
		if rs.perSecond > 0 { // 0: pacing off
			vc.limiter = rate.NewLimiter(rate.Limit(rs.perSecond), rs.burst)
		}
	} else if v == Kore {
		vc.keyedRate = koreBotRate
		vc.keyed = map[string]*rate.Limiter{}
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	own := *hc
	own.Transport = &apiTransport{next: next, vc: vc}
	own.CheckRedirect = sameOriginRedirects
	vc.rc = &retryablehttp.Client{
		HTTPClient:   &own,
		Logger:       nil, // its default logger prints whole URLs to stderr
		RetryWaitMin: vc.retry.minWait,
		RetryWaitMax: vc.retry.maxWait,
		RetryMax:     vc.retry.max,
		CheckRetry:   vc.checkRetry,
		Backoff:      vc.backoff,
		// The response or error of the last attempt, as it is, with the
		// number of attempts made when there was no response at all.
		ErrorHandler: func(resp *http.Response, err error, tries int) (*http.Response, error) {
			if err != nil && tries > 1 {
				err = &triesError{err: err, tries: tries}
			}
			return resp, err
		},
		// Credentials are set per attempt: a Kore JWT carries a jti that
		// must never be sent twice. The header map is cloned because the
		// previous attempt's request shares it.
		PrepareRetry: func(req *http.Request) error {
			req.Header = req.Header.Clone()
			return vc.auth(req.Header)
		},
	}
	return vc
}

// newAPITransport is the default transport for API calls: the standard
// one, with a bound on waiting for response headers (Render-hosted APIs can
// be slow to wake, so it is generous) and a larger idle pool for many
// concurrent waits.
func newAPITransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 90 * time.Second
	t.MaxIdleConnsPerHost = 32
	return t
}

// sameOriginRedirects follows an API redirect only to the same scheme and
// host, so that a credential header (which net/http forwards to any host
// when it is not Authorization) never leaves the vendor. A redirect
// elsewhere is handed back to the caller as a 3xx response.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || !strings.EqualFold(req.URL.Host, first.Host) {
		return http.ErrUseLastResponse
	}
	return nil
}

// apiTransport paces and logs every attempt, retries included.
type apiTransport struct {
	next http.RoundTripper
	vc   *vendorClient
}

type paceKey struct{}

func (t *apiTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if l := t.vc.limiterFor(ctx); l != nil {
		if err := l.Wait(ctx); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			// The limiter refuses a wait that would outlast the deadline.
			return nil, &errkind.Error{Msg: "client-side rate limit: " + err.Error(), Kinds: []error{ErrRateLimited}, Cause: err}
		}
	}
	start := time.Now()
	resp, err := t.vc.c.tel.roundTripAPI(t.next, req, t.vc.vendor)
	log := t.vc.c.log
	if log.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.String("vendor", string(t.vc.vendor)),
			slog.String("method", req.Method),
			slog.String("url", httpx.RedactURL(req.URL)),
			slog.Duration("elapsed", time.Since(start)),
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", t.vc.c.scrub(redactText(err.Error()))))
		} else {
			attrs = append(attrs, slog.Int("status", resp.StatusCode))
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				attrs = append(attrs, slog.String("retry_after", excerpt(ra, 64)))
			}
		}
		log.LogAttrs(ctx, slog.LevelDebug, "exportkit: api request", attrs...)
	}
	return resp, err
}

// limiterFor returns the limiter that paces a request, or nil.
func (vc *vendorClient) limiterFor(ctx context.Context) *rate.Limiter {
	if vc.limiter != nil {
		return vc.limiter
	}
	if vc.keyed == nil {
		return nil
	}
	key, _ := ctx.Value(paceKey{}).(string)
	vc.mu.Lock()
	defer vc.mu.Unlock()
	l := vc.keyed[key]
	if l == nil {
		l = rate.NewLimiter(vc.keyedRate, 1)
		vc.keyed[key] = l
	}
	return l
}

type noReplayKey struct{}

// checkRetry decides whether an attempt is sent again: connection errors,
// 408, 429 and 5xx other than 501. A request that must not be replayed
// (a create without an idempotency key) is sent again only when it never
// left the client (a dial error). A Retry-After longer than the retry
// maximum, or than the context has left, is not slept here: the response
// goes back to the caller, who reports ErrRateLimited.
func (vc *vendorClient) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	noReplay, _ := ctx.Value(noReplayKey{}).(bool)
	if err != nil {
		if !retryableTransportError(err) {
			return false, nil // an unknown host, a TLS mismatch: another attempt gets the same
		}
		if isDialError(err) {
			return true, nil
		}
		if noReplay {
			return false, nil
		}
		return true, nil
	}
	if !httpx.RetryableStatus(resp.StatusCode) || noReplay {
		return false, nil
	}
	if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		if ra > vc.retry.maxWait {
			return false, nil
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < ra {
			return false, nil
		}
	}
	return true, nil
}

// backoff is capped exponential backoff with equal jitter (half fixed, half
// random, so that clients drift apart without ever retrying at once), with
// the server's Retry-After as a floor. checkRetry has already refused a
// Retry-After above the maximum.
func (vc *vendorClient) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	d := maxWait
	if attempt < 30 {
		if e := minWait << attempt; e > 0 && e < maxWait {
			d = e
		}
	}
	if d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	if resp != nil {
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && ra > d {
			d = ra
		}
	}
	return d
}

// triesError is the transport error of a request's last attempt, and how
// many attempts were made.
type triesError struct {
	err   error
	tries int
}

func (e *triesError) Error() string { return e.err.Error() }
func (e *triesError) Unwrap() error { return e.err }

// isDialError reports a connection that was never made, so the request
// never reached the server.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// retryableTransportError is false for errors that another attempt cannot
// fix: bad certificates, bad URLs, refused redirects.
func retryableTransportError(err error) bool {
	return !errors.Is(err, ErrUnsafeURL) && httpx.RetryableTransportError(err)
}

// request describes one API call.
type request struct {
	op, id   string // for errors: "get export", "e1"
	method   string
	path     string // escaped, relative to the vendor base URL
	query    url.Values
	body     any         // sent as JSON when not nil
	header   http.Header // extra headers
	noReplay bool        // a create that must not be sent twice
	paceKey  string      // per-key pacing (Kore bot id)
}

// respInfo is what a caller may need from a response besides its body.
type respInfo struct {
	status     int
	retryAfter time.Duration
	requestID  string
}

// send performs r and returns the response when its status is 2xx or 3xx,
// with the body open. Other statuses become an *APIError, and transport
// errors are wrapped with the vendor and operation, their URLs redacted.
func (vc *vendorClient) send(ctx context.Context, r *request) (*http.Response, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, opError(vc.vendor, r.op, r.id, contextError(ctx))
	}
	u := vc.base.String() + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return nil, opError(vc.vendor, r.op, r.id, fmt.Errorf("encode request: %w", err))
		}
	}
	if r.noReplay {
		ctx = context.WithValue(ctx, noReplayKey{}, true)
	}
	if r.paceKey != "" {
		ctx = context.WithValue(ctx, paceKey{}, r.paceKey)
	}
	ctx = vc.c.tel.countAttempts(ctx)
	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, u, rb)
	if err != nil {
		return nil, opError(vc.vendor, r.op, r.id, cleanError(err))
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", vc.c.ua)
	if req.Header.Get("Accept") == "" {
		// A download asks for the file itself, whatever its type.
		req.Header.Set("Accept", "application/json")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := vc.auth(req.Header); err != nil {
		return nil, opError(vc.vendor, r.op, r.id, err)
	}
	resp, err := vc.rc.Do(req)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return nil, opError(vc.vendor, r.op, r.id, contextError(ctx))
		}
		var te *triesError
		if errors.As(err, &te) {
			return nil, opError(vc.vendor, r.op, r.id, fmt.Errorf("%w (%d attempts)", cleanError(te.err), te.tries))
		}
		return nil, opError(vc.vendor, r.op, r.id, cleanError(err))
	}
	if resp.StatusCode >= 400 || resp.StatusCode < 200 {
		defer resp.Body.Close()
		return nil, newAPIError(vc.vendor, r.op, r.id, resp, vc.c.scrub)
	}
	return resp, nil
}

// do performs r and decodes a JSON response into out, reading at most
// maxStatusBody bytes.
func (vc *vendorClient) do(ctx context.Context, r *request, out any) (respInfo, error) {
	resp, err := vc.send(ctx, r)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return respInfo{status: ae.StatusCode, retryAfter: ae.RetryAfter, requestID: ae.RequestID}, err
		}
		return respInfo{}, err
	}
	defer resp.Body.Close()
	info := respInfo{status: resp.StatusCode, requestID: firstHeader(resp.Header, "X-Request-Id", "Request-Id")}
	info.retryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	if resp.StatusCode >= 300 {
		return info, opError(vc.vendor, r.op, r.id, fmt.Errorf("unexpected redirect (%d) to another host", resp.StatusCode))
	}
	if err := decodeJSON(resp, out); err != nil {
		return info, opError(vc.vendor, r.op, r.id, err)
	}
	return info, nil
}

// call performs r and returns its decoded JSON body: the one helper every
// vendor method goes through.
func call[T any](ctx context.Context, vc *vendorClient, r request) (*T, respInfo, error) {
	var out T
	info, err := vc.do(ctx, &r, &out)
	if err != nil {
		return nil, info, err
	}
	return &out, info, nil
}

// decodeJSON reads a capped JSON body into out, with errors that say what
// was wrong without echoing the body.
func decodeJSON(resp *http.Response, out any) error {
	buf, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBody+1))
	if err != nil {
		return fmt.Errorf("read response: %w", cleanError(err))
	}
	if len(buf) > maxStatusBody {
		return fmt.Errorf("response body larger than %d bytes", maxStatusBody)
	}
	buf = bytes.TrimSpace(buf)
	if len(buf) == 0 {
		return fmt.Errorf("empty response body (status %d)", resp.StatusCode)
	}
	if buf[0] != '{' && buf[0] != '[' {
		ct := resp.Header.Get("Content-Type")
		return fmt.Errorf("unexpected non-JSON response (status %d, content type %q)", resp.StatusCode, excerpt(ct, 64))
	}
	if err := json.Unmarshal(buf, out); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

// segment escapes one caller-given path segment, so that no id can change
// the endpoint a request reaches. It refuses what escaping cannot make
// safe: an empty id, "." and "..", and absurd lengths.
func segment(what, id string) (string, error) {
	switch {
	case id == "":
		return "", &inputError{fmt.Errorf("empty %s", what)}
	case id == "." || id == "..":
		return "", &inputError{fmt.Errorf("invalid %s %q", what, id)}
	case len(id) > 1024:
		return "", &inputError{fmt.Errorf("%s longer than 1024 bytes", what)}
	}
	return url.PathEscape(id), nil
}

// cleanError redacts the URL in a *url.Error and keeps its cause for
// errors.Is and errors.As.
func cleanError(err error) error { return httpx.CleanError(err) }

// parseRetryAfter parses a Retry-After value (seconds or HTTP date).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	return httpx.ParseRetryAfter(v, now)
}

// redactText redacts the query of every URL in s.
func redactText(s string) string { return httpx.RedactText(s) }
