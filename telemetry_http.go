package exportkit

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/exportkit/exportkit/internal/httpx"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// attemptKey holds the attempt counter of one API call in its context, so
// that each attempt's span knows its http.request.resend_count.
type attemptKey struct{}

// countAttempts returns ctx with a fresh attempt counter when spans are
// recorded; ctx itself otherwise.
func (t *telemetry) countAttempts(ctx context.Context) context.Context {
	if t.tracer == nil {
		return ctx
	}
	return context.WithValue(ctx, attemptKey{}, new(atomic.Int32))
}

// roundTripAPI sends one API request attempt through next as an HTTP
// client span, measures it, and propagates the trace context of the
// request's context (the attempt's span when there is one) through the
// global propagator.
func (t *telemetry) roundTripAPI(next http.RoundTripper, req *http.Request, v Vendor) (*http.Response, error) {
	ctx := req.Context()
	if !t.on() {
		if trace.SpanContextFromContext(ctx).IsValid() {
			req = propagate(ctx, req)
		}
		return next.RoundTrip(req)
	}
	span := t.startHTTP(&ctx, req, v)
	if n, ok := ctx.Value(attemptKey{}).(*atomic.Int32); ok {
		// Counted whether or not this attempt is sampled.
		if resend := n.Add(1) - 1; resend > 0 && span.IsRecording() {
			span.SetAttributes(attribute.Int(attrHTTPResend, int(resend)))
		}
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		req = propagate(ctx, req)
	}
	start := time.Now()
	resp, err := next.RoundTrip(req)
	t.finishHTTP(ctx, span, req, resp, err, start)
	if span.IsRecording() && resp != nil {
		if id := firstHeader(resp.Header, "X-Request-Id", "Request-Id", "X-Amzn-Requestid"); id != "" {
			span.SetAttributes(attribute.String(attrRequestID, t.text(id, 128)))
		}
	}
	span.End()
	return resp, err
}

// startHTTP starts the client span of one request, a child of *ctx, and
// makes *ctx its context. With no tracer it returns a non-recording span.
func (t *telemetry) startHTTP(ctx *context.Context, req *http.Request, v Vendor) trace.Span {
	if t.tracer == nil {
		return noSpan
	}
	var span trace.Span
	*ctx, span = t.tracer.Start(*ctx, spanName(req.Method), trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(httpAttrs(req)...)
		span.SetAttributes(attribute.String(attrURLFull, t.text(httpx.RedactURL(req.URL), 2048)))
		if v != "" {
			span.SetAttributes(attribute.String(attrVendor, string(v)))
		}
	}
	return span
}

// finishHTTP records a request's outcome on its span and its duration.
func (t *telemetry) finishHTTP(ctx context.Context, span trace.Span, req *http.Request, resp *http.Response, err error, start time.Time) {
	var errType string
	switch {
	case err != nil:
		errType = errorType(err)
	case resp.StatusCode >= 400:
		errType = strconv.Itoa(resp.StatusCode)
	}
	if span.IsRecording() {
		if resp != nil {
			span.SetAttributes(attribute.Int(attrHTTPStatus, resp.StatusCode))
		}
		if errType != "" {
			span.SetAttributes(attribute.String(attrErrorType, errType))
			desc := errType
			if err != nil {
				desc = t.text(err.Error(), 512)
			}
			span.SetStatus(codes.Error, desc)
		}
	}
	if t.metrics != nil {
		attrs := httpAttrs(req)
		if resp != nil {
			attrs = append(attrs, attribute.Int(attrHTTPStatus, resp.StatusCode))
		}
		if errType != "" {
			attrs = append(attrs, attribute.String(attrErrorType, errType))
		}
		t.metrics.requestDuration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attrs...))
	}
}

// httpAttrs are a request's method, server address and port: safe for
// spans and metrics alike.
func httpAttrs(req *http.Request) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 3, 6)
	attrs[0] = attribute.String(attrHTTPMethod, methodName(req.Method))
	attrs[1] = attribute.String(attrServerAddress, req.URL.Hostname())
	port, _ := strconv.Atoi(req.URL.Port())
	if port == 0 {
		port = 443
		if req.URL.Scheme == "http" {
			port = 80
		}
	}
	attrs[2] = attribute.Int(attrServerPort, port)
	return attrs
}

// methodName is the method as the semantic conventions want it: a known
// method as is, anything else _OTHER.
func methodName(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// spanName is an HTTP client span's name: its method, or "HTTP".
func spanName(m string) string {
	if m = methodName(m); m == "_OTHER" {
		return "HTTP"
	}
	return m
}

// propagate returns req with the trace context of ctx injected by the
// global propagator. req itself is not changed (a RoundTripper must not):
// the first header the propagator sets makes a clone.
func propagate(ctx context.Context, req *http.Request) *http.Request {
	c := &cloneOnSet{orig: req}
	otel.GetTextMapPropagator().Inject(ctx, c)
	if c.req == nil {
		return req
	}
	return c.req
}

// cloneOnSet is a propagation carrier over a request's header that clones
// the request before its first change.
type cloneOnSet struct{ orig, req *http.Request }

func (c *cloneOnSet) cur() *http.Request {
	if c.req != nil {
		return c.req
	}
	return c.orig
}

func (c *cloneOnSet) Get(key string) string { return c.cur().Header.Get(key) }

func (c *cloneOnSet) Set(key, value string) {
	if c.req == nil {
		c.req = c.orig.Clone(c.orig.Context())
		if c.req.Header == nil {
			c.req.Header = http.Header{}
		}
	}
	c.req.Header.Set(key, value)
}

func (c *cloneOnSet) Keys() []string {
	h := c.cur().Header
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}
