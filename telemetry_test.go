package exportkit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// QUALITY.md 25: no span attribute, span event or metric attribute holds a
// signed URL's query value, an API key, a JWT or a bearer token; url.full
// keeps the query keys with REDACTED values; storage requests carry no
// propagated header.
//
// These tests run waits and downloads against exporttest (in memory, on
// synctest's fake clock) with a span recorder and a manual metric reader,
// and check the span tree, the attributes, the metric sums, and that no
// secret the test used appears anywhere in what was recorded.

// telemetry is what one test recorded.
type telemetry struct {
	tp     *sdktrace.TracerProvider
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func newTelemetry() *telemetry {
	sr := tracetest.NewSpanRecorder()
	return &telemetry{
		tp:     sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr)),
		spans:  sr,
		reader: sdkmetric.NewManualReader(),
	}
}

// client is srv's client recording into tel.
func (tel *telemetry) client(t *testing.T, srv *exporttest.Server, extra ...exportkit.Option) *exportkit.Client {
	t.Helper()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	c, err := srv.ClientE(append([]exportkit.Option{exportkit.WithTracerProvider(tel.tp), exportkit.WithMeterProvider(mp)}, extra...)...)
	require.NoError(t, err)
	return c
}

// root starts the caller's span, the parent of everything the SDK records.
func (tel *telemetry) root(ctx context.Context) (context.Context, trace.Span) {
	return tel.tp.Tracer("test").Start(ctx, "root")
}

func (tel *telemetry) ended() []sdktrace.ReadOnlySpan { return tel.spans.Ended() }

func (tel *telemetry) metrics(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tel.reader.Collect(context.Background(), &rm))
	return rm
}

// named returns the ended spans called name, in the order they ended.
func named(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// childrenOf returns the spans whose parent is p, in the order they started.
func childrenOf(spans []sdktrace.ReadOnlySpan, p sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == p.SpanContext().SpanID() {
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	return out
}

func attrOf(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func attrInt(t *testing.T, s sdktrace.ReadOnlySpan, key string) int64 {
	t.Helper()
	v, ok := attrOf(s, key)
	require.True(t, ok, "span %s has no %s: %v", s.Name(), key, s.Attributes())
	return v.AsInt64()
}

func attrStr(t *testing.T, s sdktrace.ReadOnlySpan, key string) string {
	t.Helper()
	v, ok := attrOf(s, key)
	require.True(t, ok, "span %s has no %s: %v", s.Name(), key, s.Attributes())
	return v.AsString()
}

// isHTTP reports whether s is an HTTP client span.
func isHTTP(s sdktrace.ReadOnlySpan) bool {
	_, ok := attrOf(s, "http.request.method")
	return ok && s.SpanKind() == trace.SpanKindClient
}

// sumOf returns the sum of an int64 counter's data points matching attrs.
func sumOf(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	require.True(t, ok, "no metric %s", name)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	var n int64
	for _, dp := range sum.DataPoints {
		if hasAll(dp.Attributes, attrs) {
			n += dp.Value
		}
	}
	return n
}

// countOf returns how many values a float64 histogram recorded with attrs.
func countOf(t *testing.T, rm metricdata.ResourceMetrics, name string, attrs ...attribute.KeyValue) uint64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	require.True(t, ok, "no metric %s", name)
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	var n uint64
	for _, dp := range h.DataPoints {
		if hasAll(dp.Attributes, attrs) {
			n += dp.Count
		}
	}
	return n
}

func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

func hasAll(set attribute.Set, attrs []attribute.KeyValue) bool {
	for _, kv := range attrs {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// secretsOf returns every secret a test against srv used: the vendors'
// keys, the Kore app secret and every JWT minted from it, and the value of
// every signing query parameter of the storage URLs requested.
func secretsOf(srv *exporttest.Server) []string {
	secrets := []string{exporttest.BrainbaseAPIKey, exporttest.MemsolusAPIKey, exporttest.OrbitAPIKey, exporttest.KoreClientSecret}
	signing := map[string]bool{
		"x-amz-signature": true, "x-amz-credential": true, "x-amz-security-token": true,
		"signature": true, "sig": true, "authorization": true, "key-pair-id": true, "policy": true,
	}
	for _, r := range srv.Requests() {
		for _, h := range []string{"Auth", "Authorization"} {
			if v := r.Header.Get(h); v != "" {
				secrets = append(secrets, strings.TrimPrefix(v, "Bearer "))
			}
		}
		q, _ := url.ParseQuery(r.RawQuery)
		for k, vs := range q {
			for _, v := range vs {
				if signing[strings.ToLower(k)] || len(v) >= 20 {
					secrets = append(secrets, v, url.QueryEscape(v))
				}
			}
		}
	}
	return secrets
}

// assertNoSecretRecorded scans every span (name, status, attributes, events,
// links) and every metric data point's attributes for each secret.
func assertNoSecretRecorded(t *testing.T, tel *telemetry, secrets []string) {
	t.Helper()
	var texts []string
	addAttrs := func(where string, kvs []attribute.KeyValue) {
		for _, kv := range kvs {
			texts = append(texts, where+" "+string(kv.Key)+"="+kv.Value.String())
		}
	}
	spans := tel.ended()
	require.NotEmpty(t, spans)
	for _, s := range spans {
		texts = append(texts, "span name "+s.Name(), "span status "+s.Status().Description)
		addAttrs("span "+s.Name(), s.Attributes())
		for _, e := range s.Events() {
			texts = append(texts, "event name "+e.Name)
			addAttrs("event "+e.Name, e.Attributes)
		}
		for _, l := range s.Links() {
			addAttrs("link", l.Attributes)
		}
	}
	rm := tel.metrics(t)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var sets []attribute.Set
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					sets = append(sets, dp.Attributes)
				}
			default:
				t.Errorf("metric %s of unexpected type %T", m.Name, m.Data)
			}
			for _, set := range sets {
				addAttrs("metric "+m.Name, set.ToSlice())
			}
		}
	}
	require.GreaterOrEqual(t, len(secrets), 4, "the keys at least")
	for _, s := range secrets {
		require.GreaterOrEqual(t, len(s), 8, "a secret too short to search for: %q", s)
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("secret %q recorded: %s", s, text)
			}
		}
	}
}

// assertNoStorageTraceparent checks that no storage request carried a
// propagated header.
func assertNoStorageTraceparent(t *testing.T, srv *exporttest.Server) {
	t.Helper()
	for _, r := range srv.Requests() {
		if r.Storage {
			for _, h := range []string{"Traceparent", "Tracestate", "Baggage"} {
				assert.Empty(t, r.Header.Get(h), "storage request %s %s carried %s", r.Method, r.Path, h)
			}
		}
	}
}

// TestTelemetryWaitAndDownload runs a Brainbase export end to end under a
// caller's span: a 503 then 200 on the first status read, and a download
// cut mid-body that resumes.
func TestTelemetryWaitAndDownload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const size = 64 << 10
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(2), exporttest.FileSize(size))
		defer srv.Close()
		tel := newTelemetry()
		c := tel.client(t, srv)
		require.NoError(t, srv.Inject(
			exporttest.On(exportkit.Brainbase).Method("GET").Status(http.StatusServiceUnavailable),
			exporttest.OnStorage().ResetAfter(10<<10),
		))

		ctx, root := tel.root(context.Background())
		e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
		require.NoError(t, err)
		e, err = c.Exports.Wait(ctx, e.ID)
		require.NoError(t, err)
		var buf bytes.Buffer
		res, err := c.Download(ctx, e, &buf)
		require.NoError(t, err)
		root.End()
		require.Equal(t, 1, res.Resumes)
		require.EqualValues(t, size, buf.Len())

		spans := tel.ended()
		rootSpan := named(spans, "root")[0]
		top := childrenOf(spans, rootSpan)
		require.Len(t, top, 3, "create, wait, download: %v", names(top))
		assert.Equal(t, "POST", top[0].Name())
		assert.Equal(t, "exportkit.wait", top[1].Name())
		assert.Equal(t, "exportkit.download", top[2].Name())

		// The create: an API attempt, URL redacted, under the caller's span.
		create := top[0]
		assert.True(t, isHTTP(create))
		assert.Equal(t, "POST", attrStr(t, create, "http.request.method"))
		assert.Equal(t, "localhost", attrStr(t, create, "server.address"))
		assert.EqualValues(t, 48080, attrInt(t, create, "server.port"))
		assert.Equal(t, srv.URL()+"/api/team/exports", attrStr(t, create, "url.full"))
		assert.EqualValues(t, 201, attrInt(t, create, "http.response.status_code"))
		_, resent := attrOf(create, "http.request.resend_count")
		assert.False(t, resent, "a first attempt has no resend count")

		// The wait: three status reads, the first one sent twice.
		wait := top[1]
		assert.Equal(t, "brainbase", attrStr(t, wait, "exportkit.vendor"))
		assert.Equal(t, e.ID, attrStr(t, wait, "exportkit.export.id"))
		assert.EqualValues(t, 3, attrInt(t, wait, "exportkit.wait.polls"))
		assert.Equal(t, "ready", attrStr(t, wait, "exportkit.export.state"))
		assert.NotEqual(t, codes.Error, wait.Status().Code)
		var statuses []string
		for _, ev := range wait.Events() {
			require.Equal(t, "exportkit.poll", ev.Name)
			for _, kv := range ev.Attributes {
				if kv.Key == "exportkit.export.status" {
					statuses = append(statuses, kv.Value.AsString())
				}
			}
		}
		assert.Equal(t, []string{"PENDING", "PROCESSING", "COMPLETED"}, statuses, "an event per poll with the raw status")
		gets := childrenOf(spans, wait)
		require.Len(t, gets, 4, "%v", names(gets))
		assert.EqualValues(t, 503, attrInt(t, gets[0], "http.response.status_code"))
		assert.Equal(t, "503", attrStr(t, gets[0], "error.type"))
		assert.Equal(t, codes.Error, gets[0].Status().Code)
		assert.EqualValues(t, 200, attrInt(t, gets[1], "http.response.status_code"))
		assert.EqualValues(t, 1, attrInt(t, gets[1], "http.request.resend_count"), "the retry of the 503")
		for _, g := range gets {
			assert.Equal(t, "GET", g.Name())
			assert.Equal(t, srv.URL()+"/api/team/exports/"+e.ID, attrStr(t, g, "url.full"))
		}
		for _, g := range gets[2:] {
			_, resent := attrOf(g, "http.request.resend_count")
			assert.False(t, resent)
		}

		// The download: two storage requests, the second a resume.
		dl := top[2]
		assert.Equal(t, "brainbase", attrStr(t, dl, "exportkit.vendor"))
		assert.Equal(t, e.ID, attrStr(t, dl, "exportkit.export.id"))
		assert.EqualValues(t, size, attrInt(t, dl, "exportkit.download.bytes"))
		assert.EqualValues(t, 1, attrInt(t, dl, "exportkit.download.parts"))
		assert.EqualValues(t, 1, attrInt(t, dl, "exportkit.download.resumes"))
		assert.EqualValues(t, 0, attrInt(t, dl, "exportkit.download.reused_bytes"))
		verified, _ := attrOf(dl, "exportkit.download.verified")
		assert.True(t, verified.AsBool())
		parts := childrenOf(spans, dl)
		require.Len(t, parts, 2, "%v", names(parts))
		first, resume := parts[0], parts[1]
		for _, p := range parts {
			assert.True(t, isHTTP(p))
			assert.Equal(t, "GET", p.Name())
			full := attrStr(t, p, "url.full")
			assert.True(t, strings.HasPrefix(full, srv.StorageURL()+"/s3/"), full)
			assert.Contains(t, full, "X-Amz-Signature=REDACTED", "the key stays, the value goes")
			assert.Contains(t, full, "X-Amz-Credential=REDACTED")
		}
		assert.Equal(t, codes.Error, first.Status().Code, "the cut request failed")
		assert.EqualValues(t, 10<<10, attrInt(t, first, "http.response.body.size"))
		_, ranged := attrOf(first, "http.request.header.range")
		assert.False(t, ranged)
		assert.EqualValues(t, 206, attrInt(t, resume, "http.response.status_code"))
		rng, _ := attrOf(resume, "http.request.header.range")
		assert.Equal(t, []string{"bytes=10240-"}, rng.AsStringSlice())
		assert.EqualValues(t, size-10<<10, attrInt(t, resume, "http.response.body.size"))
		assert.NotEqual(t, codes.Error, resume.Status().Code)

		// Metrics.
		rm := tel.metrics(t)
		bb := attribute.String("exportkit.vendor", "brainbase")
		assert.EqualValues(t, size, sumOf(t, rm, "exportkit.download.bytes", bb), "download bytes are the file size")
		assert.EqualValues(t, 1, sumOf(t, rm, "exportkit.download.resumes", bb))
		assert.EqualValues(t, 3, sumOf(t, rm, "exportkit.wait.polls", bb))
		assert.EqualValues(t, 1, countOf(t, rm, "exportkit.wait.duration", bb, attribute.String("exportkit.export.state", "ready")))
		assert.EqualValues(t, 1+4+2, countOf(t, rm, "http.client.request.duration"), "every API attempt and storage request")
		assert.EqualValues(t, 1, countOf(t, rm, "http.client.request.duration",
			attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 503),
			attribute.String("server.address", "localhost"), attribute.String("error.type", "503")))
		assert.EqualValues(t, 2, countOf(t, rm, "http.client.request.duration", attribute.String("server.address", "127.0.0.1")))

		secrets := secretsOf(srv)
		require.Greater(t, len(secrets), 10, "keys, and the signature and credential of two storage requests")
		assertNoSecretRecorded(t, tel, secrets)
		assertNoStorageTraceparent(t, srv)
	})
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

// TestTelemetryRateLimited: a 429 whose Retry-After is longer than the
// request retries may wait is slept by the wait, and shows on the attempt's
// span and the poll's event.
func TestTelemetryRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(1))
		defer srv.Close()
		tel := newTelemetry()
		c := tel.client(t, srv)
		ctx, root := tel.root(context.Background())
		_, err := c.Bots.StartExport(ctx, "st-bot-1", nil)
		require.NoError(t, err)
		require.NoError(t, srv.Inject(exporttest.On(exportkit.Kore).Method("GET").Path("/status").Status(http.StatusTooManyRequests).RetryAfter("45")))
		start := time.Now()
		e, err := c.Bots.WaitExport(ctx, "st-bot-1")
		require.NoError(t, err)
		root.End()
		assert.GreaterOrEqual(t, time.Since(start), 45*time.Second, "Retry-After is a floor")
		assert.Equal(t, exportkit.StateReady, e.State())

		spans := tel.ended()
		wait := named(spans, "exportkit.wait")
		require.Len(t, wait, 1)
		assert.Equal(t, named(spans, "root")[0].SpanContext().SpanID(), wait[0].Parent().SpanID())
		assert.Equal(t, "kore", attrStr(t, wait[0], "exportkit.vendor"))
		gets := childrenOf(spans, wait[0])
		require.GreaterOrEqual(t, len(gets), 3, "%v", names(gets))
		assert.EqualValues(t, 429, attrInt(t, gets[0], "http.response.status_code"))
		assert.Equal(t, "429", attrStr(t, gets[0], "error.type"))
		var limited bool
		for _, ev := range wait[0].Events() {
			for _, kv := range ev.Attributes {
				limited = limited || (kv.Key == "error.type" && kv.Value.AsString() == "rate_limited")
			}
		}
		assert.True(t, limited, "the poll that got the 429 says so")
		assert.EqualValues(t, len(gets), attrInt(t, wait[0], "exportkit.wait.polls"))
		assert.NotEqual(t, codes.Error, wait[0].Status().Code, "the wait ended well")

		rm := tel.metrics(t)
		assert.EqualValues(t, 1, countOf(t, rm, "http.client.request.duration", attribute.Int("http.response.status_code", 429), attribute.String("error.type", "429")))
		assertNoSecretRecorded(t, tel, secretsOf(srv))
	})
}

// TestTelemetryFailedExport: a failed export ends the wait span in error.
func TestTelemetryFailedExport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(1), exporttest.FailWith("E_QUOTA", "quota exceeded"))
		defer srv.Close()
		tel := newTelemetry()
		c := tel.client(t, srv)
		e, err := c.Memories.Create(context.Background(), &exportkit.MemoryExportRequest{Format: "csv"})
		require.NoError(t, err)
		_, err = c.Memories.Wait(context.Background(), e.ID)
		require.ErrorIs(t, err, exportkit.ErrExportFailed)

		wait := named(tel.ended(), "exportkit.wait")
		require.Len(t, wait, 1)
		w := wait[0]
		assert.False(t, w.Parent().IsValid(), "no caller span: a root")
		assert.Equal(t, codes.Error, w.Status().Code)
		assert.Contains(t, w.Status().Description, "failed")
		assert.Equal(t, "export_failed", attrStr(t, w, "error.type"))
		assert.Equal(t, "failed", attrStr(t, w, "exportkit.export.state"))
		assert.EqualValues(t, 2, attrInt(t, w, "exportkit.wait.polls"))

		rm := tel.metrics(t)
		assert.EqualValues(t, 1, countOf(t, rm, "exportkit.wait.duration",
			attribute.String("exportkit.vendor", "memsolus"), attribute.String("exportkit.export.state", "failed"),
			attribute.String("error.type", "export_failed")))
		assertNoSecretRecorded(t, tel, secretsOf(srv))
	})
}

// TestTelemetryAllVendors runs each vendor's flow end to end, with the
// W3C trace context propagator set globally: API requests carry a
// traceparent of their attempt's span, storage requests (S3, B2, Kore's
// store, and Memsolus' redirect target) none, and no secret is recorded.
// Not parallel: it sets the global propagator.
func TestTelemetryAllVendors(t *testing.T) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator()) })
	for _, v := range allVendors {
		t.Run(string(v), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := exporttest.NewServer(exporttest.InMemory(), exporttest.MemsolusDownloadRedirect(1))
				defer srv.Close()
				tel := newTelemetry()
				c := tel.client(t, srv)
				ctx, root := tel.root(context.Background())
				_, wait := startExportCtx(t, ctx, c, v)
				e, err := wait(ctx)
				require.NoError(t, err)
				path := filepath.Join(t.TempDir(), "export")
				res, err := c.DownloadFile(ctx, e, path)
				require.NoError(t, err)
				root.End()

				spans := tel.ended()
				dls := named(spans, "exportkit.download")
				require.Len(t, dls, 1, "DownloadFile is one download span")
				assert.Equal(t, res.Bytes, attrInt(t, dls[0], "exportkit.download.bytes"))
				storage := 0
				for _, s := range childrenOf(spans, dls[0]) {
					if strings.HasPrefix(attrStr(t, s, "url.full"), srv.StorageURL()) {
						storage++
					}
				}
				assert.GreaterOrEqual(t, storage, 1, "storage requests are children of the download span")

				// Every API request carries the traceparent of an HTTP span.
				httpSpans := map[string]bool{}
				for _, s := range spans {
					if isHTTP(s) {
						httpSpans[s.SpanContext().SpanID().String()] = true
					}
				}
				api := 0
				for _, r := range srv.Requests() {
					if r.Storage {
						continue
					}
					api++
					tp := r.Header.Get("Traceparent")
					require.NotEmpty(t, tp, "API request %s %s without traceparent", r.Method, r.Path)
					parts := strings.Split(tp, "-")
					require.Len(t, parts, 4)
					assert.Equal(t, root.SpanContext().TraceID().String(), parts[1])
					assert.True(t, httpSpans[parts[2]], "the parent is the attempt's span")
				}
				assert.Greater(t, api, 2)
				assertNoStorageTraceparent(t, srv)
				assertNoSecretRecorded(t, tel, secretsOf(srv))
				rm := tel.metrics(t)
				assert.Equal(t, res.Bytes, sumOf(t, rm, "exportkit.download.bytes", attribute.String("exportkit.vendor", string(v))))
			})
		})
	}
}

// TestTelemetryPropagationWithoutTracer: with no tracer provider the SDK
// records nothing, but the caller's trace context still reaches the
// vendor's API, and still not storage. Not parallel: it sets the global
// propagator.
func TestTelemetryPropagationWithoutTracer(t *testing.T) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator()) })
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(0))
		defer srv.Close()
		c := srv.Client()
		tel := newTelemetry()
		ctx, root := tel.root(context.Background())
		e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
		require.NoError(t, err)
		e, err = c.Exports.Wait(ctx, e.ID)
		require.NoError(t, err)
		_, err = c.Download(ctx, e, io.Discard)
		require.NoError(t, err)
		root.End()
		require.Len(t, tel.ended(), 1, "only the caller's span")
		want := "00-" + root.SpanContext().TraceID().String() + "-" + root.SpanContext().SpanID().String() + "-01"
		for _, r := range srv.Requests() {
			if !r.Storage {
				assert.Equal(t, want, r.Header.Get("Traceparent"), "%s %s", r.Method, r.Path)
			}
		}
		assertNoStorageTraceparent(t, srv)
	})
}

// TestTelemetryOpen: Open's span ends at the end of the file, or at Close.
func TestTelemetryOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(0), exporttest.FileSize(100<<10))
		defer srv.Close()
		tel := newTelemetry()
		c := tel.client(t, srv)
		ctx := context.Background()
		e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
		require.NoError(t, err)
		e, err = c.Exports.Wait(ctx, e.ID)
		require.NoError(t, err)

		rc, err := c.Open(ctx, e)
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, rc)
		require.NoError(t, err)
		require.EqualValues(t, 100<<10, n)
		dls := named(tel.ended(), "exportkit.download")
		require.Len(t, dls, 1, "ended at the end of the file, before Close")
		assert.EqualValues(t, n, attrInt(t, dls[0], "exportkit.download.bytes"))
		assert.NotEqual(t, codes.Error, dls[0].Status().Code)
		require.NoError(t, rc.Close())
		require.Len(t, named(tel.ended(), "exportkit.download"), 1, "Close after the end adds nothing")

		rc, err = c.Open(ctx, e)
		require.NoError(t, err)
		_, err = io.ReadFull(rc, make([]byte, 1000))
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		dls = named(tel.ended(), "exportkit.download")
		require.Len(t, dls, 2)
		assert.Equal(t, codes.Error, dls[1].Status().Code, "closed before the end")
		assert.Equal(t, "closed", attrStr(t, dls[1], "error.type"))
		for _, s := range childrenOf(tel.ended(), dls[1]) {
			assert.True(t, isHTTP(s))
		}

		rm := tel.metrics(t)
		assert.GreaterOrEqual(t, sumOf(t, rm, "exportkit.download.bytes"), int64(100<<10+1000))
		assertNoSecretRecorded(t, tel, secretsOf(srv))
	})
}

// TestTelemetryDownloadFailure: a download that fails records its error
// and the bytes it received.
func TestTelemetryDownloadFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := exporttest.NewServer(exporttest.InMemory(), exporttest.ReadyAfter(0))
		defer srv.Close()
		tel := newTelemetry()
		c := tel.client(t, srv)
		ctx := context.Background()
		e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
		require.NoError(t, err)
		e, err = c.Exports.Wait(ctx, e.ID)
		require.NoError(t, err)
		require.NoError(t, srv.Inject(exporttest.OnStorage().CorruptAt(100)))
		_, err = c.Download(ctx, e, io.Discard, exportkit.WithChecksum("sha256", strings.Repeat("0", 64)))
		require.ErrorIs(t, err, exportkit.ErrChecksumMismatch)
		dls := named(tel.ended(), "exportkit.download")
		require.Len(t, dls, 1)
		assert.Equal(t, codes.Error, dls[0].Status().Code)
		assert.Equal(t, "checksum_mismatch", attrStr(t, dls[0], "error.type"))
		assert.EqualValues(t, 64<<10, attrInt(t, dls[0], "exportkit.download.bytes"))
		assertNoSecretRecorded(t, tel, secretsOf(srv))
	})
}

func TestTelemetryOptions(t *testing.T) {
	var nilTP *sdktrace.TracerProvider
	var nilMP *sdkmetric.MeterProvider
	for _, tc := range []struct {
		name    string
		opt     exportkit.Option
		wantErr bool
	}{
		{"nil tracer provider is the default", exportkit.WithTracerProvider(nil), false},
		{"nil meter provider is the default", exportkit.WithMeterProvider(nil), false},
		{"typed nil tracer provider", exportkit.WithTracerProvider(nilTP), true},
		{"typed nil meter provider", exportkit.WithMeterProvider(nilMP), true},
		{"tracer provider", exportkit.WithTracerProvider(sdktrace.NewTracerProvider()), false},
		{"meter provider", exportkit.WithMeterProvider(sdkmetric.NewMeterProvider()), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := exportkit.NewClient(tc.opt)
			if tc.wantErr {
				require.Error(t, err)
				assert.True(t, errors.Is(err, exportkit.ErrInvalidInput), "%v", err)
				assert.Nil(t, c)
				return
			}
			require.NoError(t, err)
			assert.NotNil(t, c)
		})
	}
}

// BenchmarkTelemetryOn is BenchmarkNoopTelemetry with an SDK tracer and
// meter recording (into nothing): the cost of turning telemetry on.
func BenchmarkTelemetryOn(b *testing.B) {
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	on := []exportkit.Option{exportkit.WithTracerProvider(tp), exportkit.WithMeterProvider(mp)}
	b.Run("request", func(b *testing.B) { benchRequest(b, benchClient(b, 0, on...)) })
	const size = 16 << 20
	b.Run("download-16MiB", func(b *testing.B) { benchDownload(b, benchClient(b, size, on...), size) })
}
