package exportkit

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

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
	attrs := make([]attribute.KeyValue, 0, 8)
	if err == nil && res != nil {
		parts, reused := resultParts(res)
		bytes, resumes = res.Bytes-reused, int64(res.Resumes)
		attrs = append(attrs,
			attribute.Int64(attrDownloadBytes, res.Bytes),
			attribute.Int(attrDownloadParts, parts),
			attribute.Int(attrDownloadResumes, res.Resumes),
			attribute.Bool(attrDownloadVerify, res.Verified),
			attribute.Int64(attrDownloadReused, reused))
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
