package exporttest_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
)

// BenchmarkStorageDownload measures how fast the storage host serves a file,
// with sockets and in memory: the ceiling of any client measured against it.
func BenchmarkStorageDownload(b *testing.B) {
	const size = 64 << 20
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			srv := exporttest.NewServer(append(m.opts, exporttest.FileSize(size))...)
			defer srv.Close()
			_, u := readyURL(b, srv, exportkit.Orbit)
			c := srv.HTTPClient()
			buf := make([]byte, 32<<10)
			b.SetBytes(size)
			for b.Loop() {
				resp, err := c.Get(u)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("GET: %v", err)
				}
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, buf); err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
