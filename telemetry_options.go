package exportkit

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
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
