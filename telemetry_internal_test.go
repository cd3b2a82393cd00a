package exportkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func TestErrorType(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("exportkit: brainbase: wait \"e1\": %w after 1m", ErrWaitTimeout), "wait_timeout"},
		{&ExportError{Vendor: Brainbase, ID: "e1", State: StateFailed}, "export_failed"},
		{&APIError{Vendor: Kore, StatusCode: 429}, "rate_limited"},
		{&APIError{Vendor: Kore, StatusCode: 404}, "not_found"},
		{&APIError{Vendor: Kore, StatusCode: 502}, "502"},
		{&inputError{errors.New("empty id")}, "invalid_input"},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "unexpected_eof"},
		{context.Canceled, "canceled"},
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, "connection_error"},
		{errors.New("something else"), "_OTHER"},
	} {
		assert.Equal(t, tc.want, errorType(tc.err), "%v", tc.err)
	}
}

func TestHTTPAttrNames(t *testing.T) {
	for _, tc := range []struct{ method, name, attr string }{
		{"GET", "GET", "GET"}, {"POST", "POST", "POST"}, {"PROPFIND", "HTTP", "_OTHER"}, {"get", "HTTP", "_OTHER"},
	} {
		assert.Equal(t, tc.name, spanName(tc.method))
		assert.Equal(t, tc.attr, methodName(tc.method))
	}
	for raw, port := range map[string]int64{"https://a.example/x": 443, "http://127.0.0.1/x": 80, "http://localhost:8080/x": 8080} {
		req, err := http.NewRequest("GET", raw, nil)
		require.NoError(t, err)
		attrs := httpAttrs(req)
		assert.Equal(t, port, attrs[2].Value.AsInt64(), raw)
	}
}

// propagate clones the request before it sets a header, so that a
// RoundTripper never changes the request it was given, and only when the
// propagator has something to say.
func TestPropagateClones(t *testing.T) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator()) })

	req, err := http.NewRequest("GET", "https://api.example/x", nil)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", "k")
	assert.Same(t, req, propagate(context.Background(), req), "nothing to propagate: the request as is")

	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	out := propagate(ctx, req)
	require.NotSame(t, req, out)
	assert.Equal(t, "00-01000000000000000000000000000000-0200000000000000-01", out.Header.Get("Traceparent"))
	assert.Empty(t, req.Header.Get("Traceparent"), "the caller's request is unchanged")
	assert.Equal(t, "k", out.Header.Get("X-Api-Key"))

	c := &cloneOnSet{orig: req}
	assert.Equal(t, "k", c.Get("X-Api-Key"))
	assert.ElementsMatch(t, []string{"X-Api-Key"}, c.Keys())
	c.Set("A", "1")
	assert.ElementsMatch(t, []string{"X-Api-Key", "A"}, c.Keys())
	assert.Equal(t, "1", c.Get("A"))
}
