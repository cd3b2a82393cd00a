package exporttemporal

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/exporttest"
	"go.temporal.io/sdk/log"
)

// quietLogger keeps the SDK's debug lines out of the test output.
var quietLogger = log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

var allVendors = []exportkit.Vendor{exportkit.Brainbase, exportkit.Memsolus, exportkit.Orbit, exportkit.Kore}

// createFor returns a create request of vendor v that exporttest accepts.
func createFor(v exportkit.Vendor) CreateRequest {
	switch v {
	case exportkit.Brainbase:
		return CreateRequest{Brainbase: &exportkit.LogExportRequest{Format: "CSV"}}
	case exportkit.Memsolus:
		return CreateRequest{Memsolus: &exportkit.MemoryExportRequest{Format: "csv"}}
	case exportkit.Orbit:
		return CreateRequest{Orbit: &OrbitRunRequest{AudienceID: "aud-1"}}
	default:
		return CreateRequest{Kore: &KoreExportRequest{BotID: "st-bot-1"}}
	}
}

// newServer starts exporttest with opts and returns it and a client.
func newServer(t *testing.T, opts ...exporttest.Option) (*exporttest.Server, *exportkit.Client) {
	t.Helper()
	srv := exporttest.NewServer(opts...)
	t.Cleanup(srv.Close)
	c, err := srv.ClientE()
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// requestLog sorts what the fake server received.
type requestLog struct {
	creates      int // POSTs that create an export job (Orbit: a run)
	orbitExports int // Orbit POST …/exports: idempotent
	statusReads  int // GETs of the vendor APIs
	storage      int // requests for the file's bytes
}

func logOf(srv *exporttest.Server) requestLog {
	var l requestLog
	for _, r := range srv.Requests() {
		switch {
		case r.Storage, strings.HasSuffix(r.Path, "/download"): // Memsolus serves its bytes from the API
			l.storage++
		case r.Method == http.MethodPost && r.Vendor == exportkit.Orbit && strings.HasSuffix(r.Path, "/exports"):
			l.orbitExports++
		case r.Method == http.MethodPost:
			l.creates++
		case r.Method == http.MethodGet:
			l.statusReads++
		}
	}
	return l
}
