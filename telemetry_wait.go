package exportkit

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

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
