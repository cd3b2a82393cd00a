// Command otel runs one Brainbase export end to end against an embedded
// exporttest server with OpenTelemetry tracing and metrics on, and prints
// every span with the stdout exporter, then the metric totals.
//
//	go run ./examples/otel
//
// The fake answers the first status read with a 503 and cuts the download
// midway, so the trace shows an API attempt sent again
// (http.request.resend_count) and a storage request that resumes (a second
// child of exportkit.download with a Range header). Signed URLs appear with
// their query values REDACTED; no key or token appears anywhere.
//
// In a real program, hand WithTracerProvider and WithMeterProvider the
// providers your OpenTelemetry setup builds (with an OTLP exporter, say).
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"sort"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	fmt.Fprintln(out, "using an embedded exporttest server: one Brainbase export, its spans printed by the stdout exporter")
	srv := exporttest.NewServer(exporttest.ReadyAfter(1), exporttest.FileSize(256<<10))
	defer srv.Close()
	if err := srv.Inject(
		exporttest.On(exportkit.Brainbase).Method("GET").Status(503),
		exporttest.OnStorage().ResetAfter(100<<10),
	); err != nil {
		return err
	}

	// Spans go to stdout as each one ends (a syncer, for the demo; use a
	// batcher in production). The W3C propagator sends the trace context to
	// the vendor's API; exportkit never sends it to storage hosts.
	exp, err := stdouttrace.New(stdouttrace.WithWriter(out), stdouttrace.WithPrettyPrint())
	if err != nil {
		return err
	}
	rec := tracetest.NewSpanRecorder() // for the summary at the end
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	otel.SetTextMapPropagator(propagation.TraceContext{})

	c, err := srv.ClientE(
		exportkit.WithTracerProvider(tp),
		exportkit.WithMeterProvider(mp),
		exportkit.WithRetry(3, 50*time.Millisecond, time.Second),
		exportkit.WithDefaultWait(exportkit.WithPollInterval(20*time.Millisecond, 100*time.Millisecond)),
	)
	if err != nil {
		return err
	}

	// The caller's span is the parent of everything exportkit records.
	ctx, span := tp.Tracer("examples/otel").Start(ctx, "export-team-logs")
	e, err := c.Exports.Create(ctx, &exportkit.LogExportRequest{Format: "CSV"})
	if err == nil {
		e, err = c.Exports.Wait(ctx, e.ID)
	}
	var res *exportkit.DownloadResult
	if err == nil {
		res, err = c.Download(ctx, e, io.Discard)
	}
	span.End()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ndownloaded %d bytes with %d resume(s), verified %v\n", res.Bytes, res.Resumes, res.Verified)
	fmt.Fprintln(out, "\nspan tree:")
	printTree(out, rec.Ended(), trace.SpanID{}, 1)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nmetrics:")
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("  %s %v = %d %s", m.Name, dp.Attributes.ToSlice(), dp.Value, m.Unit))
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("  %s %v: %d × %.3f %s total", m.Name, dp.Attributes.ToSlice(), dp.Count, dp.Sum, m.Unit))
				}
			}
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
	return nil
}

// printTree prints the spans under parent, in the order they started, one a
// line with the attributes that tell them apart.
func printTree(out io.Writer, spans []sdktrace.ReadOnlySpan, parent trace.SpanID, depth int) {
	var kids []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Parent().SpanID() == parent {
			kids = append(kids, s)
		}
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].StartTime().Before(kids[j].StartTime()) })
	show := map[string]bool{
		"http.response.status_code": true, "http.request.resend_count": true, "http.request.header.range": true,
		"error.type": true, "url.full": true, "exportkit.wait.polls": true, "exportkit.export.state": true,
		"exportkit.download.bytes": true, "exportkit.download.resumes": true, "exportkit.download.verified": true,
	}
	for _, s := range kids {
		line := fmt.Sprintf("%*s%s", 2*depth, "", s.Name())
		for _, kv := range s.Attributes() {
			if show[string(kv.Key)] {
				line += fmt.Sprintf(" %s=%s", kv.Key, kv.Value.String())
			}
		}
		if s.Status().Code == codes.Error {
			line += " [error]"
		}
		fmt.Fprintln(out, line)
		printTree(out, spans, s.SpanContext().SpanID(), depth+1)
	}
}
