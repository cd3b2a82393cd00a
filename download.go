package exportkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DownloadResult describes a finished download.
type DownloadResult struct {
	Bytes       int64  // bytes written
	SHA1        string // hex SHA-1 of the bytes written; "" under WithoutSHA1 when nothing needed it
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
	noSHA1      bool
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

// WithoutSHA1 skips hashing the download when no SHA-1 is to be
// verified, for the last bit of throughput on fast links: SHA-1 costs about
// a gigabyte a second of one core. A SHA-1 the vendor gives (Orbit's
// contentSha1, B2's X-Bz-Content-Sha1) or one passed to WithChecksum is
// still computed and verified; otherwise DownloadResult.SHA1 is empty.
func WithoutSHA1() DownloadOption {
	return func(c *downloadConfig) { c.noSHA1 = true }
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

// located adapts a vendor's typed status read to the download core.
func located[T interface{ location() (*fileLocation, error) }](e T, _ respInfo, err error) (*fileLocation, error) {
	if err != nil {
		return nil, err
	}
	return e.location()
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

// Download defaults.
const (
	defaultIdleTimeout = 60 * time.Second
	defaultMaxResumes  = 5
	progressInterval   = 100 * time.Millisecond
	// copyBufferSize is the size of the pooled copy buffers: large enough
	// that a loopback or datacenter transfer is not bound by read calls.
	copyBufferSize = 256 << 10
)

// copyBuffers holds the buffers of Download and DownloadFile, so that a
// download allocates nothing per chunk and little per call.
var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

// newDownloadConfig applies opts over the defaults and checks them, so that
// a bad option fails before any request.
func newDownloadConfig(opts []DownloadOption) (downloadConfig, error) {
	cfg := downloadConfig{idleTimeout: defaultIdleTimeout, maxResumes: defaultMaxResumes}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	for i, cs := range cfg.checksums {
		algo, err := normalizeChecksum(cs.algo, cs.hex)
		if err != nil {
			return cfg, &inputError{fmt.Errorf("exportkit: WithChecksum: %w", err)}
		}
		cfg.checksums[i] = checksum{algo: algo, hex: strings.ToLower(strings.TrimSpace(cs.hex))}
	}
	return cfg, nil
}

// newStorageClient returns the client for storage hosts: hc (or a client
// with compression off) with its redirects handed back to the download
// core, which follows them by hand after checking each target, and with no
// cookie jar and no whole-request timeout (an idle timeout per read takes
// its place, so a slow transfer that keeps moving is never cut).
func newStorageClient(hc *http.Client) *http.Client {
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableCompression = true
		hc = &http.Client{Transport: t}
	}
	own := *hc
	own.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	own.Jar = nil
	own.Timeout = 0
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

// DownloadFile downloads any export's file to path, atomically: the bytes
// go to path + ".partial", which is synced and renamed over path only once
// the download is complete and verified. The export's own download URL is
// used first, without another status read, and a fresh one read from the
// vendor when it has expired.
func (c *Client) DownloadFile(ctx context.Context, e Export, path string, opts ...DownloadOption) (*DownloadResult, error) {
	src, err := c.sourceFor(e)
	if err != nil {
		return nil, err
	}
	return c.downloadFile(ctx, src, path, opts)
}

// Open returns a reader of any export's file. It resumes under the
// caller's reads and, at the end, returns a verification failure instead
// of [io.EOF]. The caller must close it.
func (c *Client) Open(ctx context.Context, e Export, opts ...DownloadOption) (io.ReadCloser, error) {
	src, err := c.sourceFor(e)
	if err != nil {
		return nil, err
	}
	return c.open(ctx, src, opts)
}

// download copies the file to w through a transfer, which resumes and
// verifies under the copy loop.
func (c *Client) download(ctx context.Context, src *fileSource, w io.Writer, opts []DownloadOption) (res *DownloadResult, err error) {
	ctx, dt := c.tel.startDownload(ctx, src)
	defer func() { dt.end(res, err) }()
	if w == nil {
		return nil, &inputError{errors.New("exportkit: download: nil writer")}
	}
	t, err := c.startTransfer(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := t.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return nil, opError(src.vendor, "download", src.id, fmt.Errorf("write: %w", werr))
			}
		}
		if rerr == io.EOF {
			return t.result(), nil
		}
		if rerr != nil {
			return nil, rerr
		}
	}
}

// open returns the transfer itself as the reader: it resumes under the
// caller's reads and reports a verification failure instead of io.EOF.
func (c *Client) open(ctx context.Context, src *fileSource, opts []DownloadOption) (io.ReadCloser, error) {
	ctx, dt := c.tel.startDownload(ctx, src)
	t, err := c.startTransfer(ctx, src, opts)
	if err != nil {
		dt.end(nil, err)
		return nil, err
	}
	return dt.reader(t), nil
}
