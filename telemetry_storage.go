package exportkit

import (
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

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
