package exportkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// DownloadResult describes a finished download.
type DownloadResult struct {
	Bytes       int64  // bytes written
	SHA1        string // hex SHA-1 of the bytes written
	Verified    bool   // a size or checksum from the vendor (or WithChecksum) was compared and matched
	Resumes     int    // how many times the transfer resumed after a failure
	ContentType string
	FileName    string // the server's suggested file name, sanitized; "" when none
}

// Progress is a download's progress: bytes done and the total, -1 when unknown.
type Progress struct {
	Done, Total int64
}

// DownloadOption configures a download.
type DownloadOption func(*downloadConfig)

type downloadConfig struct {
	progress    func(Progress)
	idleTimeout time.Duration
	maxResumes  int
	checksums   []checksum
	allowHTTP   bool
}

type checksum struct{ algo, hex string }

// WithProgress calls f with the bytes done and the total at most every
// 100 ms, and once at the end.
func WithProgress(f func(Progress)) DownloadOption {
	return func(c *downloadConfig) { c.progress = f }
}

// WithIdleTimeout fails and resumes a read that makes no progress for d
// (default 60 s). A slow transfer that keeps moving is never cut.
func WithIdleTimeout(d time.Duration) DownloadOption {
	return func(c *downloadConfig) {
		if d > 0 {
			c.idleTimeout = d
		}
	}
}

// WithMaxResumes sets how many resumes in a row without progress are tried
// before a download fails (default 5).
func WithMaxResumes(n int) DownloadOption {
	return func(c *downloadConfig) {
		if n >= 0 {
			c.maxResumes = n
		}
	}
}

// WithChecksum verifies the download against a hex digest computed in the
// same pass. algo is "sha1", "sha256" or "md5".
func WithChecksum(algo, hex string) DownloadOption {
	return func(c *downloadConfig) { c.checksums = append(c.checksums, checksum{algo, hex}) }
}

// WithAllowHTTP allows plain http download URLs to non-loopback hosts.
// Loopback http is always allowed.
func WithAllowHTTP() DownloadOption {
	return func(c *downloadConfig) { c.allowHTTP = true }
}

// fileLocation says where an export's file is and what to expect of it.
type fileLocation struct {
	url    string        // a signed storage URL, fetched without credentials
	api    *vendorClient // or an authenticated API request that answers with
	apiReq *request      // the bytes or a redirect to storage (Memsolus)
	size   int64         // expected size, -1 when unknown
	sha1   string        // expected hex SHA-1, "" when unknown
	name   string        // the vendor's file name, when it gives one
}

// fileSource is what a vendor plugs into the download core.
type fileSource struct {
	vendor Vendor
	id     string
	// locate reads the status and returns a fresh location.
	locate func(ctx context.Context) (*fileLocation, error)
	// known is the location of an export the caller already holds, used
	// before any status read; knownErr why it cannot be used.
	known    *fileLocation
	knownErr error
}

var errNoDownloadURL = errors.New("export is ready but has no download URL")

// readyForDownload returns nil when e's file can be fetched: an error
// matching ErrNotReady while the export runs, or the export's own error.
func readyForDownload(e Export) error {
	switch s := e.State(); {
	case s == StateReady:
		return nil
	case s.Terminal():
		return e.Err()
	default:
		return opError(e.Vendor(), "download", e.ExportID(), fmt.Errorf("state %s (%s): %w", s, e.RawStatus(), ErrNotReady))
	}
}

// newStorageClient returns the client for storage hosts.
func newStorageClient(hc *http.Client) *http.Client {
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableCompression = true
		hc = &http.Client{Transport: t}
	}
	own := *hc
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &own
}

// Download streams any export's file to w. The export's own download URL is
// used first, and a fresh one read from the vendor when it has expired.
func (c *Client) Download(ctx context.Context, e Export, w io.Writer, opts ...DownloadOption) (*DownloadResult, error) {
	src, err := c.sourceFor(e)
	if err != nil {
		return nil, err
	}
	return c.download(ctx, src, w, opts)
}

func (c *Client) download(ctx context.Context, src *fileSource, w io.Writer, opts []DownloadOption) (*DownloadResult, error) {
	return nil, errors.New("exportkit: download: not implemented yet")
}

func (c *Client) downloadFile(ctx context.Context, src *fileSource, path string, opts []DownloadOption) (*DownloadResult, error) {
	return nil, errors.New("exportkit: download: not implemented yet")
}

func (c *Client) open(ctx context.Context, src *fileSource, opts []DownloadOption) (io.ReadCloser, error) {
	return nil, errors.New("exportkit: download: not implemented yet")
}
