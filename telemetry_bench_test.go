package exportkit_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
)

// The hot paths with telemetry off (the default): one API request, and a
// download's chunks. These benchmarks use the public API of the first
// release only, so that they run unchanged on a branch without
// OpenTelemetry: allocs/op must be the same on both, and the download's
// must not grow with the number of chunks.
//
//	go test -run '^$' -bench 'BenchmarkNoopTelemetry' -benchmem .
//
// BenchmarkTelemetryOn (telemetry_test.go) shows the cost when it is on.

// stubTransport answers every request in-process with a fixed status and
// body, so that allocs/op count the client's work and little else.
type stubTransport struct {
	body string
	size int64 // > 0: a file of size zero bytes, streamed from zeroReader
}

func (s stubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	resp := &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Request: req}
	if s.size > 0 {
		resp.ContentLength = s.size
		resp.Header.Set("Content-Length", strconv.FormatInt(s.size, 10))
		resp.Body = &zeroReader{left: s.size}
		return resp, nil
	}
	resp.Header.Set("Content-Type", "application/json")
	resp.ContentLength = int64(len(s.body))
	resp.Body = io.NopCloser(strings.NewReader(s.body))
	return resp, nil
}

// zeroReader is a body of zero bytes read in chunks of at most 32 KiB,
// the size a network connection typically delivers.
type zeroReader struct{ left int64 }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.left, 32<<10)
	clear(p[:n])
	z.left -= n
	return int(n), nil
}

func (z *zeroReader) Close() error { return nil }

const benchExportJSON = `{"id":"e1","status":"COMPLETED","format":"CSV","logType":null,"rowCount":10,"fileSizeBytes":1024,` +
	`"downloadUrl":"https://storage.example/e1.csv?X-Amz-Signature=abc","errorMessage":null,"createdAt":"2026-01-01T00:00:00Z","expiresAt":null}`

// benchClient is a client whose API and storage requests go to stubs.
func benchClient(b *testing.B, fileSize int64, extra ...exportkit.Option) *exportkit.Client {
	b.Helper()
	opts := append([]exportkit.Option{
		exportkit.WithBrainbaseAPIKey("bb_bench_key"),
		exportkit.WithBaseURL(exportkit.Brainbase, "https://api.example"),
		exportkit.WithHTTPClient(&http.Client{Transport: stubTransport{body: benchExportJSON}}),
		exportkit.WithStorageHTTPClient(&http.Client{Transport: stubTransport{size: fileSize}}),
	}, extra...)
	c, err := exportkit.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchRequest(b *testing.B, c *exportkit.Client) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Exports.Get(ctx, "e1"); err != nil {
			b.Fatal(err)
		}
	}
}

func benchDownload(b *testing.B, c *exportkit.Client, size int64) {
	ctx := context.Background()
	url := "https://storage.example/e1.csv?X-Amz-Signature=abc"
	e := &exportkit.LogExport{ID: "e1", Status: "COMPLETED", DownloadURL: &url}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Download(ctx, e, io.Discard, exportkit.WithoutSHA1()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoopTelemetry is the default, telemetry off: one API request
// (a status read), and a download of 1 and 16 MiB (32 and 512 chunks of
// 32 KiB), whose allocs/op must be equal.
func BenchmarkNoopTelemetry(b *testing.B) {
	b.Run("request", func(b *testing.B) { benchRequest(b, benchClient(b, 0)) })
	for _, size := range []int64{1 << 20, 16 << 20} {
		b.Run("download-"+strconv.FormatInt(size>>20, 10)+"MiB", func(b *testing.B) {
			benchDownload(b, benchClient(b, size), size)
		})
	}
}
