package exportkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/exportkit/exportkit/internal/httpx"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// OpenTelemetry instrumentation. Everything here is off unless
// WithTracerProvider or WithMeterProvider is given: then the hot paths (an
// API request attempt, a download chunk) take the same allocations as
// without these files, and the only remaining work is one context lookup
// per API attempt for a trace context to propagate.
//
// This file holds what every part shares: names, the instruments and the
// error types. The options are in telemetry_options.go, API request spans
// and trace propagation in telemetry_http.go, storage request spans in
// telemetry_storage.go, wait spans in telemetry_wait.go (Client.poll, in
// poll.go, opens them) and download spans in telemetry_download.go.
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
