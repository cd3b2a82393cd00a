package exportkit_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"sort"
	"strings"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Tracing a wait and a download: the caller's span is the parent of the
// API attempts, the wait and the download, whose storage request shows its
// signed query with every value REDACTED. A real program passes the
// providers its OpenTelemetry setup built, with an exporter.
func ExampleWithTracerProvider() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(0), exporttest.FileSize(4096))
	defer srv.Close()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c, err := srv.ClientE(exportkit.WithTracerProvider(tp))
	if err != nil {
		log.Fatal(err)
	}

	ctx, span := tp.Tracer("example").Start(context.Background(), "nightly-export")
	e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		log.Fatal(err)
	}
	if e, err = c.Exports.Wait(ctx, e.ID); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Download(ctx, e, io.Discard); err != nil {
		log.Fatal(err)
	}
	span.End()

	printSpans(rec.Ended(), trace.SpanID{}, 0)
	// Output:
	// nightly-export
	//   POST http.response.status_code=201
	//   exportkit.wait exportkit.wait.polls=1 exportkit.export.state=ready
	//     GET http.response.status_code=200
	//   exportkit.download exportkit.download.bytes=4096 exportkit.download.resumes=0 exportkit.download.verified=true
	//     GET http.response.status_code=200 query: X-Amz-Algorithm=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Date=REDACTED&X-Amz-Expires=REDACTED&X-Amz-Signature=REDACTED&X-Amz-SignedHeaders=REDACTED
}

// printSpans prints the spans under parent in the order they started.
func printSpans(spans []sdktrace.ReadOnlySpan, parent trace.SpanID, depth int) {
	var kids []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == parent {
			kids = append(kids, s)
		}
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].StartTime().Before(kids[j].StartTime()) })
	for _, s := range kids {
		line := strings.Repeat("  ", depth) + s.Name()
		for _, kv := range s.Attributes() {
			switch kv.Key {
			case "http.response.status_code", "exportkit.wait.polls", "exportkit.export.state",
				"exportkit.download.bytes", "exportkit.download.resumes", "exportkit.download.verified":
				line += fmt.Sprintf(" %s=%s", kv.Key, kv.Value.String())
			}
		}
		for _, kv := range s.Attributes() {
			if _, q, ok := strings.Cut(kv.Value.String(), "?"); ok && kv.Key == "url.full" {
				line += " query: " + q
			}
		}
		fmt.Println(line)
		printSpans(spans, s.SpanContext().SpanID(), depth+1)
	}
}

// Measuring waits, downloads and requests: read the metrics with the
// reader of your choice (a periodic OTLP exporter in production).
func ExampleWithMeterProvider() {
	srv := exporttest.NewServer(exporttest.ReadyAfter(2), exporttest.FileSize(4096))
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c, err := srv.ClientE(exportkit.WithMeterProvider(mp), exportkit.WithDefaultWait(exportkit.WithPollInterval(1, 1)))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
	if err != nil {
		log.Fatal(err)
	}
	if e, err = c.Exports.Wait(ctx, e.ID); err != nil {
		log.Fatal(err)
	}
	if _, err := c.Download(ctx, e, io.Discard); err != nil {
		log.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				fmt.Printf("%s = %d %s\n", m.Name, d.DataPoints[0].Value, m.Unit)
			case metricdata.Histogram[float64]:
				var n uint64
				for _, dp := range d.DataPoints {
					n += dp.Count
				}
				fmt.Printf("%s: %d recorded\n", m.Name, n)
			}
		}
	}
	// Unordered output:
	// http.client.request.duration: 5 recorded
	// exportkit.wait.polls = 3 {poll}
	// exportkit.wait.duration: 1 recorded
	// exportkit.download.bytes = 4096 By
}
