package exportkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/exportkit/exportkit/internal/download"
	"github.com/exportkit/exportkit/internal/errkind"
)

// DownloadResult describes a finished download.
type DownloadResult struct {
	Bytes       int64  // bytes written
	SHA1        string // hex SHA-1 of the bytes written; "" when nothing needed it and WithSHA1 was not given
	Verified    bool   // a size or checksum from the vendor (or WithChecksum) was compared and matched
	Resumes     int    // how many times the transfer resumed after a failure
	ContentType string
	FileName    string // the server's suggested file name, sanitized; "" when none
	Reused      int64  // bytes kept from an earlier interrupted DownloadFile to the same path
	Parts       int    // ranged parts fetched, splits included; 1 for one stream

	// What limited the speed.

	// Connections is how many connections carried the file; 1 for one stream.
	Connections int
	// PeakPartThroughput is the rate, in bytes per second, of the fastest
	// connection over the time it ran (its requests' round trips included).
	PeakPartThroughput float64
	// MeanPartThroughput is the rate of an average connection: the bytes
	// all connections moved over the sum of the times they ran, in bytes
	// per second. Well below the link's per-connection cap, the round trips
	// or the machine limited the download; near it, the cap did.
	MeanPartThroughput float64
	// FirstByteWait is the time the storage requests waited for their
	// response headers, summed over the requests.
	FirstByteWait time.Duration
	// Where DownloadTo put the file.

	// Location is where the destination stored the file, such as
	// "s3://bucket/key"; "" for DownloadFile and Download.
	Location string
	// CRC64NVME is the store's full-object CRC-64/NVME (base64) after
	// DownloadTo; "" when the destination keeps none.
	CRC64NVME string
}

// Progress is a download's progress: bytes done and the total, -1 when unknown.
type Progress struct {
	Done, Total int64
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
	key    string // names the file in a resume state file; vendor:id when ""
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
		return opError(e.Vendor(), "download", e.ExportID(), kinded(ErrNotReady, "not ready: state %s (%s)", s, e.RawStatus()))
	}
}

// newStorageClient returns the client for storage hosts: hc (or a client
// with compression off) with its redirects handed back to the download
// engine, which follows them by hand after checking each target, and with
// no cookie jar and no whole-request timeout (an idle timeout per read
// takes its place, so a slow transfer that keeps moving is never cut).
func newStorageClient(hc *http.Client) *http.Client {
	if hc == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableCompression = true
		// Parallel parts open several connections to one host.
		t.MaxIdleConnsPerHost = 2 * download.DefaultFileConnections
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
// With parallel parts (see [WithConnections]) the bytes still reach w in
// order, and at most connections × part size bytes are buffered.
//
// A completed Orbit [*AudienceRun] has no file of its own: Download,
// DownloadFile and Open go on to its stored CSV export, created or reused
// (Orbit's create is idempotent) and waited for with the client's
// [WithDefaultWait] options if it is not completed yet.
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
//
// A DownloadFile that is cancelled or killed keeps path + ".partial" and a
// small state file beside it (path + ".partial.state": the export, the
// size, the ETag, the ranges done and the hash state; no URL, no
// credential), and the next DownloadFile of the same export to the same
// path goes on from there ([DownloadResult].Reused) unless the file
// changed on the server or [WithoutResume] is given. A download that fails
// verification or finds the file changed removes both.
func (c *Client) DownloadFile(ctx context.Context, e Export, path string, opts ...DownloadOption) (*DownloadResult, error) {
	src, err := c.sourceFor(e)
	if err != nil {
		return nil, err
	}
	return c.downloadFile(ctx, src, path, opts)
}

// Open returns a reader of any export's file. It resumes under the
// caller's reads and, at the end, returns a verification failure instead
// of [io.EOF]. The caller must close it. With parallel parts it buffers at
// most connections × part size bytes.
func (c *Client) Open(ctx context.Context, e Export, opts ...DownloadOption) (io.ReadCloser, error) {
	src, err := c.sourceFor(e)
	if err != nil {
		return nil, err
	}
	return c.open(ctx, src, opts)
}

// download copies the file to w.
func (c *Client) download(ctx context.Context, src *fileSource, w io.Writer, opts []DownloadOption) (res *DownloadResult, err error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	ctx, dt := c.tel.startDownload(ctx, src)
	defer func() { dt.end(res, err) }()
	if w == nil {
		return nil, &inputError{errors.New("exportkit: download: nil writer")}
	}
	cfg, esrc, err := c.engine(src, opts)
	if err != nil {
		return nil, err
	}
	defer quietAfter(&cfg)()
	r, err := download.Copy(ctx, cfg, esrc, w)
	return result(r), c.downloadError(src, err)
}

// downloadFile downloads to path atomically, resuming an earlier run's
// partial file (see DownloadFile).
func (c *Client) downloadFile(ctx context.Context, src *fileSource, path string, opts []DownloadOption) (res *DownloadResult, err error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	ctx, dt := c.tel.startDownload(ctx, src)
	defer func() { dt.end(res, err) }()
	if path == "" {
		return nil, &inputError{errors.New("exportkit: download: empty path")}
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		// Refused before any request: the rename at the end would fail.
		return nil, opError(src.vendor, "download", src.id, &inputError{fmt.Errorf("%q is a directory", path)})
	}
	cfg, esrc, err := c.engine(src, opts)
	if err != nil {
		return nil, err
	}
	defer quietAfter(&cfg)()
	r, err := download.File(ctx, cfg, esrc, path)
	return result(r), c.downloadError(src, err)
}

// open returns the engine's reader: it resumes under the caller's reads
// and reports a verification failure instead of io.EOF.
func (c *Client) open(ctx context.Context, src *fileSource, opts []DownloadOption) (io.ReadCloser, error) {
	if err := checkContext(ctx); err != nil {
		return nil, err
	}
	ctx, dt := c.tel.startDownload(ctx, src)
	cfg, esrc, err := c.engine(src, opts)
	if err != nil {
		dt.end(nil, err)
		return nil, err
	}
	quiet := quietAfter(&cfg)
	r, err := download.Open(ctx, cfg, esrc)
	if err != nil {
		quiet()
		err = c.downloadError(src, err)
		dt.end(nil, err)
		return nil, err
	}
	return dt.reader(&openReader{r: r, c: c, src: src, quiet: quiet}), nil
}

// quietAfter makes cfg's progress callback silent once the function it
// returns has been called: no report reaches the caller after its call
// returned (or its reader was closed).
func quietAfter(cfg *download.Config) func() {
	f := cfg.Progress
	if f == nil {
		return func() {}
	}
	var (
		mu   sync.Mutex
		done bool
	)
	cfg.Progress = func(d, t int64) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			f(d, t)
		}
	}
	return func() {
		mu.Lock()
		done = true
		mu.Unlock()
	}
}

// openReader is Open's reader: the engine's, its errors adapted.
type openReader struct {
	r     io.ReadCloser
	c     *Client
	src   *fileSource
	quiet func() // ends progress reports
}

func (o *openReader) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if err != nil && err != io.EOF {
		err = o.c.downloadError(o.src, err)
	}
	return n, err
}

func (o *openReader) Close() error {
	o.quiet()
	return o.r.Close()
}

// result is what the engine's reader says about the finished download.
func (o *openReader) result() *DownloadResult {
	if r, ok := o.r.(interface{ Result() *download.Result }); ok {
		return result(r.Result())
	}
	return nil
}

func result(r *download.Result) *DownloadResult {
	if r == nil {
		return nil
	}
	return &DownloadResult{Bytes: r.Bytes, SHA1: r.SHA1, Verified: r.Verified, Resumes: r.Resumes,
		ContentType: r.ContentType, FileName: r.FileName, Reused: r.Reused, Parts: r.Parts,
		Connections: r.Connections, PeakPartThroughput: r.PeakPartThroughput, MeanPartThroughput: r.MeanPartThroughput,
		FirstByteWait: r.FirstByteWait}
}

// engine checks the options and turns them and the source into the
// download engine's: the storage client, the logger, the vendor's error
// for a storage error response.
func (c *Client) engine(src *fileSource, opts []DownloadOption) (download.Config, *download.Source, error) {
	cfg, err := newDownloadConfig(opts)
	if err != nil {
		return download.Config{}, nil, err
	}
	if ke := src.knownErr; ke != nil && !errors.Is(ke, ErrNotReady) && !errors.Is(ke, errNoDownloadURL) {
		return download.Config{}, nil, ke // the held export failed or expired: a status read cannot help
	}
	ec := cfg.Config
	ec.Client = c.storage
	ec.UserAgent = c.ua
	ec.Log = c.log
	ec.LogAttrs = []slog.Attr{slog.String("vendor", string(src.vendor)), slog.String("id", src.id)}
	ec.Scrub = c.scrub
	// The storage error's text is its status alone: downloadError gives
	// the whole message its one prefix, vendor and id.
	ec.StatusError = func(resp *http.Response) error {
		ae := newAPIError(src.vendor, "download", src.id, resp, c.scrub)
		return &errkind.Error{Msg: ae.status(), Cause: ae}
	}
	if f := cfg.progress; f != nil {
		ec.Progress = func(done, total int64) { f(Progress{Done: done, Total: total}) }
	}
	key := src.key
	if key == "" {
		key = string(src.vendor) + ":" + src.id
	}
	es := &download.Source{
		Key: key,
		Locate: func(ctx context.Context) (*download.Location, error) {
			loc, err := src.locate(ctx)
			if err != nil {
				return nil, err
			}
			return loc.engine(), nil
		},
	}
	if src.known != nil {
		es.Known = src.known.engine()
	}
	return ec, es, nil
}

// engine is the location as the download engine takes it: a Memsolus-like
// authenticated request becomes its Open.
func (l *fileLocation) engine() *download.Location {
	loc := &download.Location{URL: l.url, Size: l.size, SHA1: l.sha1, Name: l.name}
	if l.api != nil {
		api, base := l.api, *l.apiReq
		loc.Open = func(ctx context.Context, h http.Header) (*http.Response, error) {
			r := base
			r.header = base.header.Clone()
			if r.header == nil {
				r.header = make(http.Header, len(h))
			}
			for k, v := range h {
				r.header[k] = v
			}
			resp, err := api.send(ctx, &r)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode >= 300 && resp.Header.Get("Location") == "" {
				drainBody(resp)
				return nil, fmt.Errorf("%s answered %d without a Location", api.vendor, resp.StatusCode)
			}
			return resp, nil
		}
	}
	return loc
}

func drainBody(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}

// downloadError is the one adapter from the engine's errors to this
// package's: the engine's sentinels match this package's with errors.Is,
// and the message gets the vendor, operation and id once.
func (c *Client) downloadError(src *fileSource, err error) error {
	if err == nil {
		return nil
	}
	var ie *inputError
	if errors.As(err, &ie) {
		return err
	}
	ee := &engineError{err: err}
	msg := err.Error()
	// A deadline reads as every other call's does: "timed out".
	if errors.Is(err, context.DeadlineExceeded) {
		msg = strings.ReplaceAll(msg, context.DeadlineExceeded.Error(), "timed out")
		ee.msg = msg
	}
	if strings.HasPrefix(msg, "exportkit: ") {
		return ee
	}
	return opError(src.vendor, "download", src.id, ee)
}

// engineError is an engine error that matches this package's sentinels.
type engineError struct {
	err error
	msg string // when not "", the message, without a repeated prefix
}

func (e *engineError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return e.err.Error()
}
func (e *engineError) Unwrap() error { return e.err }

var engineSentinels = map[error]error{
	ErrFileChanged:      download.ErrFileChanged,
	ErrSizeMismatch:     download.ErrSizeMismatch,
	ErrChecksumMismatch: download.ErrChecksumMismatch,
	ErrUnsafeURL:        download.ErrUnsafeURL,
}

// Is matches this package's sentinel for the engine's.
func (e *engineError) Is(target error) bool {
	if k, ok := engineSentinels[target]; ok {
		return errors.Is(e.err, k)
	}
	return false
}
