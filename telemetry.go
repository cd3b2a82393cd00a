package exportkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/exportkit/exportkit/internal/httpx"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// OpenTelemetry instrumentation. Everything here is off unless
// WithTracerProvider or WithMeterProvider is given: then the hot paths (an
// API request attempt, a download chunk) take the same allocations as
// without this file, and the only remaining work is one context lookup per
// API attempt for a trace context to propagate.
//
// Nothing that can hold a secret becomes an attribute: URLs go through
// httpx.RedactURL (every query value and userinfo replaced), and every
// text (statuses, error descriptions) through the client's scrubber.

// instrumentationName is the name of the tracer and meter, and the
// instrumentation scope of every span and metric.
const instrumentationName = "github.com/exportkit/exportkit"

// Attribute keys. The HTTP ones are the OpenTelemetry semantic conventions';
// the exportkit ones are this package's own.
const (
	attrHTTPMethod      = "http.request.method"
	attrHTTPStatus      = "http.response.status_code"
	attrHTTPResend      = "http.request.resend_count"
	attrHTTPRange       = "http.request.header.range"
	attrHTTPBodySize    = "http.response.body.size"
	attrServerAddress   = "server.address"
	attrServerPort      = "server.port"
	attrURLFull         = "url.full"
	attrErrorType       = "error.type"
	attrVendor          = "exportkit.vendor"
	attrExportID        = "exportkit.export.id"
	attrExportState     = "exportkit.export.state"
	attrExportStatus    = "exportkit.export.status"
	attrRequestID       = "exportkit.request_id"
	attrWaitPolls       = "exportkit.wait.polls"
	attrPollAttempt     = "exportkit.poll.attempt"
	attrDownloadBytes   = "exportkit.download.bytes"
	attrDownloadParts   = "exportkit.download.parts"
	attrDownloadResumes = "exportkit.download.resumes"
	attrDownloadVerify  = "exportkit.download.verified"
	attrDownloadReused  = "exportkit.download.reused_bytes"
	attrDownloadReqs    = "exportkit.download.requests"
)

// Span names.
const (
	spanWait     = "exportkit.wait"
	spanDownload = "exportkit.download"
	eventPoll    = "exportkit.poll"
)

// telemetryConfig is what the options set.
type telemetryConfig struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// WithTracerProvider makes the client record spans with tp: an
// "exportkit.wait" span around every wait (an event per status read), an
// HTTP client span per API request attempt (retries and redirects
// included), and an "exportkit.download" span around every download with
// an HTTP client span per storage request (each resume). The caller's
// context is the parent. Span attributes never hold a credential or a
// signed URL's query: url.full keeps the query keys with REDACTED values.
//
// Without it (or with nil, which counts as not given) no span is recorded
// and nothing is allocated for tracing. Whatever the provider, the W3C
// trace context of the request's context is propagated to vendor API calls
// (never to storage hosts) through the global propagator,
// otel.GetTextMapPropagator. A typed nil (a nil *sdktrace.TracerProvider)
// is an error matching [ErrInvalidInput].
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) error {
		if isTypedNil(tp) {
			return errors.New("exportkit: WithTracerProvider: nil tracer provider")
		}
		c.tel.tp = tp
		return nil
	}
}

// WithMeterProvider makes the client record metrics with mp:
// exportkit.wait.duration (histogram, s; vendor, final state),
// exportkit.wait.polls (counter; vendor), exportkit.download.bytes (counter,
// By; vendor), exportkit.download.resumes (counter; vendor) and
// http.client.request.duration (histogram, s; method, status code, server
// address and port, error type) for API and storage requests alike. No
// metric attribute holds an id, a URL or a credential.
//
// Without it (or with nil, which counts as not given) nothing is measured.
// A typed nil is an error matching [ErrInvalidInput].
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) error {
		if isTypedNil(mp) {
			return errors.New("exportkit: WithMeterProvider: nil meter provider")
		}
		c.tel.mp = mp
		return nil
	}
}

// noSpan is the no-op span: what is "recorded" when no tracer is set.
var noSpan = trace.SpanFromContext(context.Background())

// telemetry is a client's tracer and instruments; the zero value is off.
type telemetry struct {
	tracer  trace.Tracer // nil: no spans
	metrics *instruments // nil: no metrics
	scrub   func(string) string
}

type instruments struct {
	waitDuration    metric.Float64Histogram
	waitPolls       metric.Int64Counter
	downloadBytes   metric.Int64Counter
	downloadResumes metric.Int64Counter
	requestDuration metric.Float64Histogram
}

// newTelemetry builds the tracer and instruments the options asked for.
func newTelemetry(cfg telemetryConfig, scrub func(string) string) (telemetry, error) {
	t := telemetry{scrub: scrub}
	if cfg.tp != nil {
		t.tracer = cfg.tp.Tracer(instrumentationName, trace.WithInstrumentationVersion(Version))
	}
	if cfg.mp == nil {
		return t, nil
	}
	m := cfg.mp.Meter(instrumentationName, metric.WithInstrumentationVersion(Version))
	var ins instruments
	var errs [5]error
	ins.waitDuration, errs[0] = m.Float64Histogram("exportkit.wait.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of waits for an export to reach a terminal state."),
		metric.WithExplicitBucketBoundaries(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200))
	ins.waitPolls, errs[1] = m.Int64Counter("exportkit.wait.polls",
		metric.WithUnit("{poll}"), metric.WithDescription("Status reads made by waits."))
	ins.downloadBytes, errs[2] = m.Int64Counter("exportkit.download.bytes",
		metric.WithUnit("By"), metric.WithDescription("Bytes downloaded."))
	ins.downloadResumes, errs[3] = m.Int64Counter("exportkit.download.resumes",
		metric.WithUnit("{resume}"), metric.WithDescription("Downloads resumed after a failed read."))
	ins.requestDuration, errs[4] = m.Float64Histogram("http.client.request.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of HTTP client requests."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	if err := errors.Join(errs[:]...); err != nil {
		return t, &inputError{fmt.Errorf("exportkit: WithMeterProvider: %w", err)}
	}
	t.metrics = &ins
	return t, nil
}

// on reports whether anything is recorded.
func (t *telemetry) on() bool { return t.tracer != nil || t.metrics != nil }

// text makes a text safe for an attribute: URLs redacted, credentials
// scrubbed, control characters removed, at most n bytes.
func (t *telemetry) text(s string, n int) string {
	s = httpx.RedactText(s)
	if t.scrub != nil {
		s = t.scrub(s)
	}
	return excerpt(s, n)
}

// fail marks span as failed with err's type and its redacted text.
func (t *telemetry) fail(span trace.Span, err error) {
	span.SetAttributes(attribute.String(attrErrorType, errorType(err)))
	span.SetStatus(codes.Error, t.text(err.Error(), 512))
}

// errorTypes names the errors exportkit returns, for error.type: low
// cardinality, and never a message.
var errorTypes = [...]struct {
	err  error
	name string
}{
	{ErrWaitTimeout, "wait_timeout"},
	{ErrExportFailed, "export_failed"},
	{ErrExportExpired, "export_expired"},
	{ErrExportCanceled, "export_canceled"},
	{ErrExportSuperseded, "export_superseded"},
	{ErrRateLimited, "rate_limited"},
	{ErrUnauthorized, "unauthorized"},
	{ErrForbidden, "forbidden"},
	{ErrNotFound, "not_found"},
	{ErrNotReady, "not_ready"},
	{ErrChecksumMismatch, "checksum_mismatch"},
	{ErrSizeMismatch, "size_mismatch"},
	{ErrFileChanged, "file_changed"},
	{ErrUnsafeURL, "unsafe_url"},
	{ErrInvalidInput, "invalid_input"},
	{context.Canceled, "canceled"},
	{context.DeadlineExceeded, "timeout"},
	{io.ErrUnexpectedEOF, "unexpected_eof"},
	{errClosedEarly, "closed"},
}

// errorType is the error.type of err: a name for the errors exportkit
// knows, the status code of an other API error, else "_OTHER".
func errorType(err error) string {
	for _, et := range errorTypes {
		if errors.Is(err, et.err) {
			return et.name
		}
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return strconv.Itoa(ae.StatusCode)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "connection_error"
	}
	return "_OTHER"
}

// ---- HTTP requests ----

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

// storageTransport instruments storage requests: an HTTP client span per
// request, ended when its body is read or closed, and a duration. It never
// adds a header: a signed URL request goes out exactly as the download
// core made it.
type storageTransport struct {
	next http.RoundTripper
	tel  *telemetry
}

// wrapStorage instruments the storage client's transport when anything is
// recorded; otherwise hc is returned as it is.
func (t *telemetry) wrapStorage(hc *http.Client) *http.Client {
	if !t.on() {
		return hc
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	own := *hc
	own.Transport = &storageTransport{next: next, tel: t}
	return &own
}

func (s *storageTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t := s.tel
	ctx := req.Context()
	dl, _ := ctx.Value(downloadKey{}).(*downloadTel)
	if dl != nil {
		dl.requests.Add(1)
	}
	span := t.startHTTP(&ctx, req, "")
	if span.IsRecording() {
		if dl != nil {
			span.SetAttributes(attribute.String(attrVendor, string(dl.vendor)))
		}
		if r := req.Header.Get("Range"); r != "" {
			span.SetAttributes(attribute.StringSlice(attrHTTPRange, []string{excerpt(r, 64)}))
		}
	}
	start := time.Now()
	resp, err := s.next.RoundTrip(req)
	t.finishHTTP(ctx, span, req, resp, err, start)
	if err != nil || resp.Body == nil || (!span.IsRecording() && dl == nil) {
		span.End()
		return resp, err
	}
	resp.Body = &storageBody{ReadCloser: resp.Body, span: span, tel: t, dl: dl}
	return resp, nil
}

// storageBody ends a storage request's span when its body ends, with the
// bytes read and the error that cut it, if any.
type storageBody struct {
	io.ReadCloser
	span trace.Span
	tel  *telemetry
	dl   *downloadTel
	n    atomic.Int64
	once sync.Once
}

func (b *storageBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.n.Add(int64(n))
		if b.dl != nil {
			b.dl.storageBytes.Add(int64(n))
		}
	}
	if err != nil {
		b.end(err)
	}
	return n, err
}

func (b *storageBody) Close() error {
	err := b.ReadCloser.Close()
	b.end(nil)
	return err
}

func (b *storageBody) end(err error) {
	b.once.Do(func() {
		if b.span.IsRecording() {
			b.span.SetAttributes(attribute.Int64(attrHTTPBodySize, b.n.Load()))
			if err != nil && err != io.EOF {
				b.tel.fail(b.span, err)
			}
		}
		b.span.End()
	})
}

// ---- waits ----

// poll is the polling core (pollLoop) inside an "exportkit.wait" span, with
// an event per status read, and measured.
func (c *Client) poll(ctx context.Context, t *pollTarget, cfg waitConfig) (Export, error) {
	if !c.tel.on() {
		return c.pollLoop(ctx, t, cfg)
	}
	w := c.tel.startWait(ctx, t)
	e, err := c.pollLoop(w.ctx, w.target(t), cfg)
	w.end(e, err)
	return e, err
}

// waitTel is one instrumented wait.
type waitTel struct {
	tel    *telemetry
	ctx    context.Context
	span   trace.Span
	start  time.Time
	polls  atomic.Int64
	vendor Vendor
	attrs  attribute.Set // vendor: for the polls counter
}

func (t *telemetry) startWait(ctx context.Context, pt *pollTarget) *waitTel {
	w := &waitTel{tel: t, ctx: ctx, start: time.Now(), vendor: pt.vendor}
	w.attrs = attribute.NewSet(attribute.String(attrVendor, string(pt.vendor)))
	if t.tracer != nil {
		w.ctx, w.span = t.tracer.Start(ctx, spanWait, trace.WithAttributes(
			attribute.String(attrVendor, string(pt.vendor)),
			attribute.String(attrExportID, t.text(pt.id, 256)),
		))
	} else {
		w.span = noSpan
	}
	return w
}

// target returns a copy of pt whose status reads are counted and recorded.
func (w *waitTel) target(pt *pollTarget) *pollTarget {
	cp := *pt
	read := pt.read
	cp.read = func(ctx context.Context) (Export, time.Duration, error) {
		e, ra, err := read(ctx)
		w.polled(ctx, e, err)
		return e, ra, err
	}
	return &cp
}

// polled records one status read.
func (w *waitTel) polled(ctx context.Context, e Export, err error) {
	n := w.polls.Add(1)
	if m := w.tel.metrics; m != nil {
		m.waitPolls.Add(ctx, 1, metric.WithAttributeSet(w.attrs))
	}
	if !w.span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{attribute.Int64(attrPollAttempt, n)}
	if isNil(e) {
		attrs = append(attrs, attribute.String(attrExportState, "none"))
	} else {
		attrs = append(attrs,
			attribute.String(attrExportID, w.tel.text(e.ExportID(), 256)),
			attribute.String(attrExportStatus, w.tel.text(e.RawStatus(), 64)),
			attribute.String(attrExportState, string(e.State())))
	}
	if err != nil {
		attrs = append(attrs, attribute.String(attrErrorType, errorType(err)))
	}
	w.span.AddEvent(eventPoll, trace.WithAttributes(attrs...))
}

// end closes the wait's span and measures it.
func (w *waitTel) end(e Export, err error) {
	state := "none"
	if !isNil(e) {
		state = string(e.State())
	}
	if w.span.IsRecording() {
		w.span.SetAttributes(
			attribute.Int64(attrWaitPolls, w.polls.Load()),
			attribute.String(attrExportState, state))
		if err != nil {
			w.tel.fail(w.span, err)
		}
	}
	w.span.End()
	if m := w.tel.metrics; m != nil {
		attrs := []attribute.KeyValue{attribute.String(attrVendor, string(w.vendor)), attribute.String(attrExportState, state)}
		if err != nil {
			attrs = append(attrs, attribute.String(attrErrorType, errorType(err)))
		}
		m.waitDuration.Record(w.ctx, time.Since(w.start).Seconds(), metric.WithAttributes(attrs...))
	}
}

// isNil reports whether e is nil or a typed nil pointer inside an Export.
func isNil(e Export) bool { return e == nil || isTypedNil(e) }

// ---- downloads ----

// downloadKey holds the *downloadTel of a download in its context, for
// the storage requests made under it.
type downloadKey struct{}

// downloadTel is one instrumented download.
type downloadTel struct {
	tel          *telemetry
	ctx          context.Context
	span         trace.Span
	vendor       Vendor
	requests     atomic.Int64 // storage requests
	storageBytes atomic.Int64 // body bytes read from storage, for a failed download
	once         sync.Once
}

// startDownload starts an "exportkit.download" span for src, unless
// nothing is recorded or ctx is already inside a download (a context that
// a download's own requests carry): then it returns ctx and nil, whose end
// does nothing, so that one download is never counted twice.
func (t *telemetry) startDownload(ctx context.Context, src *fileSource) (context.Context, *downloadTel) {
	if !t.on() {
		return ctx, nil
	}
	if d, _ := ctx.Value(downloadKey{}).(*downloadTel); d != nil {
		return ctx, nil
	}
	d := &downloadTel{tel: t, vendor: src.vendor}
	if t.tracer != nil {
		ctx, d.span = t.tracer.Start(ctx, spanDownload, trace.WithAttributes(
			attribute.String(attrVendor, string(src.vendor)),
			attribute.String(attrExportID, t.text(src.id, 256)),
		))
	} else {
		d.span = noSpan
	}
	d.ctx = context.WithValue(ctx, downloadKey{}, d)
	return d.ctx, d
}

// end closes the download's span and measures it: from res when it
// succeeded; after a failure, the bytes read from storage.
func (d *downloadTel) end(res *DownloadResult, err error) {
	if d == nil {
		return
	}
	d.once.Do(func() { d.finish(res, err) })
}

func (d *downloadTel) finish(res *DownloadResult, err error) {
	var bytes, resumes int64
	attrs := make([]attribute.KeyValue, 0, 12)
	if err == nil && res != nil {
		parts, reused := resultParts(res)
		bytes, resumes = res.Bytes-reused, int64(res.Resumes)
		attrs = append(attrs,
			attribute.Int64(attrDownloadBytes, res.Bytes),
			attribute.Int(attrDownloadParts, parts),
			attribute.Int(attrDownloadResumes, res.Resumes),
			attribute.Bool(attrDownloadVerify, res.Verified),
			attribute.Int64(attrDownloadReused, reused),
			attribute.Int("exportkit.download.connections", res.Connections),
			attribute.Float64("exportkit.download.peak_part_throughput", res.PeakPartThroughput),
			attribute.Float64("exportkit.download.mean_part_throughput", res.MeanPartThroughput),
			attribute.Int64("exportkit.download.first_byte_wait_ms", res.FirstByteWait.Milliseconds()))
	} else {
		bytes = d.storageBytes.Load()
		attrs = append(attrs, attribute.Int64(attrDownloadBytes, bytes))
	}
	attrs = append(attrs, attribute.Int64(attrDownloadReqs, d.requests.Load()))
	if d.span.IsRecording() {
		d.span.SetAttributes(attrs...)
		if err != nil {
			d.tel.fail(d.span, err)
		}
	}
	d.span.End()
	if m := d.tel.metrics; m != nil {
		set := metric.WithAttributes(attribute.String(attrVendor, string(d.vendor)))
		if bytes > 0 {
			m.downloadBytes.Add(d.ctx, bytes, set)
		}
		if resumes > 0 {
			m.downloadResumes.Add(d.ctx, resumes, set)
		}
	}
}

// resultParts returns the ranged parts a download fetched and the bytes it
// reused from an earlier run.
func resultParts(res *DownloadResult) (parts int, reused int64) {
	return max(res.Parts, 1), res.Reused
}

// reader returns rc, whose reads end the download's span and measure it:
// at the end of the file, on an error, or at Close.
func (d *downloadTel) reader(rc io.ReadCloser) io.ReadCloser {
	if d == nil {
		return rc
	}
	return &downloadReader{rc: rc, d: d}
}

type downloadReader struct {
	rc io.ReadCloser
	d  *downloadTel
	n  int64 // bytes delivered to the caller
}

var errClosedEarly = errors.New("closed before the end of the file")

func (r *downloadReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.n += int64(n)
	switch {
	case err == io.EOF:
		res := &DownloadResult{Bytes: r.n} // when the reader cannot say more
		if rr, ok := r.rc.(interface{ result() *DownloadResult }); ok {
			if got := rr.result(); got != nil {
				res = got
			}
		}
		r.d.end(res, nil)
	case err != nil:
		r.d.end(nil, err)
	}
	return n, err
}

func (r *downloadReader) Close() error {
	err := r.rc.Close()
	r.d.end(nil, errClosedEarly)
	return err
}
