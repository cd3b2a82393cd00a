// Package download is exportkit's download engine: it moves the bytes of a
// file from a storage host (or a vendor endpoint that answers with the
// bytes or a redirect) to a writer, a reader or a file, resuming after
// failures, refreshing expired URLs, fetching ranged parts in parallel and
// verifying what it received. It knows nothing about vendors: a vendor
// plugs in through a [Source].
//
// Parts are planned from the size and the connections: ceil(size /
// Connections) bytes, at least 1 MiB (or PartSize when smaller) and at
// most PartSize, so that a file is never fetched over fewer connections
// than it can use; the first response's body is part 0. To a file, a
// connection with no part left to start splits the largest range still
// being fetched and takes its upper half, so the tail is never one slow
// part. While parts run, File syncs the partial file (fdatasync) and then
// saves the ranges each part has written, every checkpointEvery (1 s): a
// SIGKILL loses at most that long of transfer.
//
// Memory: File writes parts in place and holds one 256 KiB copy buffer per
// connection plus the hasher's; Copy and Open hold at most Connections ×
// PartSize bytes of parts (16 × 2 MiB = 32 MiB at their defaults), since
// they deliver in order and never split.
package download

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Engine errors. The caller's package maps them to its own sentinels.
var (
	ErrFileChanged      = errors.New("the file changed on the server during the download")
	ErrSizeMismatch     = errors.New("size mismatch")
	ErrChecksumMismatch = errors.New("checksum mismatch")
	ErrUnsafeURL        = errors.New("unsafe URL")
	// ErrClosed is what a read from a closed reader returns.
	ErrClosed = errors.New("read from a closed download")
	// ErrBusy: another download is writing the same partial file.
	ErrBusy = errors.New("another download to the same path is running")
	// ErrNoSpace: the disk is full.
	ErrNoSpace = errors.New("no space left on the device")
)

// kindError matches a sentinel with errors.Is but reads as its own
// message, so that a wrapped message does not repeat the sentinel.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

func sizeError(format string, args ...any) error {
	return &kindError{ErrSizeMismatch, "size mismatch: " + fmt.Sprintf(format, args...)}
}

// Location says where a file is and what to expect of it.
type Location struct {
	// URL is a signed storage URL, fetched without credentials.
	URL string
	// Open, when set instead of URL, sends the request for the file itself
	// (an authenticated vendor request) with the engine's headers (Range,
	// If-Match, Accept-Encoding). It answers with the bytes, or with a
	// redirect to storage that the engine follows without credentials.
	// Its errors end the download as they are, unless they are network
	// errors.
	Open func(ctx context.Context, h http.Header) (*http.Response, error)
	// Size is the size the vendor reports, -1 when unknown.
	Size int64
	// SHA1 is the hex SHA-1 the vendor reports, "" when unknown.
	SHA1 string
	// Name is the vendor's file name, "" when none.
	Name string
}

// Source is what a vendor plugs into the engine.
type Source struct {
	// Key names the file in a resume state file: the vendor and the
	// export's id, never a URL or a credential.
	Key string
	// Known is the location of an export the caller already holds, used
	// before any call to Locate.
	Known *Location
	// Locate reads the export's status and returns a fresh location.
	Locate func(ctx context.Context) (*Location, error)
}

// Checksum is a digest the caller expects: algo is "sha1", "sha256" or
// "md5", hex its lower-case hex digest.
type Checksum struct{ Algo, Hex string }

// Defaults.
const (
	// DefaultConnections is how many parallel ranged requests a download
	// that holds its parts in memory (Open, Copy, a Ranger) makes at most
	// when the server allows them: 16 × its part size is its memory.
	DefaultConnections = 16
	// DefaultFileConnections is the same for File, which writes each part
	// in place and holds one copy buffer per connection (256 KiB), so that
	// more connections cost little memory. 32 is what measurement showed
	// best on a link that caps each connection (nginx behind Toxiproxy,
	// 40 ms, 20 MB/s per connection, quiet machine: at 64 MiB, 256 MiB and
	// 1 GiB 0.72×, 0.85× and 0.55× the time of aria2c -x16 -s16 -k1M at
	// 32, against 1.08×, 0.97× and 0.85× at 16; see internal/cmd/linkbench).
	DefaultFileConnections = 32
	// DefaultPartSize is the size of a ranged part written to a file.
	DefaultPartSize = 8 << 20
	// DefaultBufferedPartSize is the size of a ranged part that Open and
	// Copy hold in memory until its turn: with DefaultConnections, at most
	// 32 MiB buffered.
	DefaultBufferedPartSize = 2 << 20
	// MinPartSize is the smallest part size accepted.
	MinPartSize = 64 << 10
	// DefaultIdleTimeout cuts a read that makes no progress.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxResumes is how many failures in a row without progress a
	// download survives.
	DefaultMaxResumes = 5
	// ProgressInterval is the shortest time between progress reports.
	ProgressInterval = 100 * time.Millisecond
	// copyBufferSize is the size of the pooled copy buffers: large enough
	// that a loopback or datacenter transfer is not bound by read calls.
	copyBufferSize = 256 << 10
)

// Config is one download's settings. The zero value of a field means its
// default, except Client, which is required.
type Config struct {
	// Client sends every storage request, with the caller's context. Its
	// CheckRedirect must hand redirects back (http.ErrUseLastResponse): the
	// engine follows them by hand after checking each target.
	Client    *http.Client
	UserAgent string
	Log       *slog.Logger
	LogAttrs  []slog.Attr         // added to every log line: vendor, id
	Scrub     func(string) string // removes credentials from text that is logged
	// StatusError turns a storage error response into the caller's error
	// (it may read up to 64 KiB of the body).
	StatusError func(*http.Response) error

	Progress    func(done, total int64)
	IdleTimeout time.Duration
	MaxResumes  int // < 0: none
	Checksums   []Checksum
	AllowHTTP   bool
	SHA1        bool // compute SHA-1 even when none is to be verified
	Connections int
	PartSize    int64
	NoResume    bool // DownloadFile: start over, discarding an earlier run's state

	// createFile opens the partial file (a test seam).
	createFile func(name string) (fileHandle, error)
	// noEarly sends no part request before the first response (a test
	// seam: tests that count requests in order).
	noEarly bool
	// splitFloor, when set, is the smallest half a split leaves (a test
	// seam; else min(minPlanned, PartSize)).
	splitFloor int64
}

func (c *Config) defaults() {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxResumes < 0 {
		c.MaxResumes = 0
	}
	if c.Connections <= 0 {
		c.Connections = DefaultConnections
	}
	if c.PartSize <= 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Log == nil {
		c.Log = slog.New(discardHandler{})
	}
	if c.Scrub == nil {
		c.Scrub = func(s string) string { return s }
	}
}

type discardHandler struct{}

func (discardHandler) Enabled(context.Context, slog.Level) bool  { return false }
func (discardHandler) Handle(context.Context, slog.Record) error { return nil }
func (d discardHandler) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discardHandler) WithGroup(string) slog.Handler           { return d }

// Result describes a finished download.
type Result struct {
	Bytes       int64
	SHA1        string
	Verified    bool
	Resumes     int
	Parts       int // parts fetched, splits included; 1 for one stream
	Reused      int64
	ContentType string
	FileName    string

	// What limited the speed.
	Connections        int           // connections that carried the file; 1 for one stream
	PeakPartThroughput float64       // bytes/s of the fastest connection over the time it ran
	MeanPartThroughput float64       // bytes/s of an average connection: their bytes over their summed time
	FirstByteWait      time.Duration // time the requests waited for their response headers, summed
}

// NormalizeChecksum checks a checksum algorithm and hex digest and returns
// the algorithm's canonical name and the digest in lower case.
func NormalizeChecksum(algo, digest string) (Checksum, error) {
	a := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(algo)), "-", "")
	h := newHash(a)
	if h == nil {
		return Checksum{}, fmt.Errorf("unknown algorithm %q (use sha1, sha256 or md5)", excerpt(algo, 32))
	}
	d := strings.ToLower(strings.TrimSpace(digest))
	if !isHex(d, h.Size()) {
		return Checksum{}, fmt.Errorf("%s digest must be %d hex digits", a, 2*h.Size())
	}
	return Checksum{a, d}, nil
}

func newHash(algo string) hash.Hash {
	switch algo {
	case "sha1":
		return sha1.New()
	case "sha256":
		return sha256.New()
	case "md5":
		return md5.New()
	}
	return nil
}

// isHex reports whether s is exactly 2*size lower-case hex digits.
func isHex(s string, size int) bool {
	if len(s) != 2*size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// excerpt cuts s to at most n bytes, on a rune boundary, with "…".
func excerpt(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}

// copyBuffers holds the copy buffers, so that a download allocates nothing
// per chunk and little per call.
var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}
