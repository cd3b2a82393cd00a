package exportkit

import (
	"errors"
	"fmt"
	"time"

	"github.com/exportkit/exportkit/internal/download"
)

// DownloadOption configures a download.
type DownloadOption func(*downloadConfig)

// downloadConfig is what the options set: the engine's own settings, and
// the progress callback in this package's terms.
type downloadConfig struct {
	download.Config
	progress func(Progress)
	errs     []error // bad options, reported by the call
}

func (c *downloadConfig) bad(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// WithProgress calls f with the bytes done and the total at most every
// 100 ms, and once at the end. With parallel parts, Done counts the bytes
// received in every part.
func WithProgress(f func(Progress)) DownloadOption {
	return func(c *downloadConfig) { c.progress = f }
}

// WithIdleTimeout fails and resumes a read that makes no progress for d
// (default 60 s; d must be positive). A slow transfer that keeps moving is
// never cut.
func WithIdleTimeout(d time.Duration) DownloadOption {
	return func(c *downloadConfig) {
		if d <= 0 {
			c.bad("WithIdleTimeout(%s): must be positive", d)
			return
		}
		c.IdleTimeout = d
	}
}

// WithMaxResumes sets how many resumes in a row without progress are tried
// before a download fails (default 5; 0 means none). With parallel parts
// the count is per part.
func WithMaxResumes(n int) DownloadOption {
	return func(c *downloadConfig) {
		if n < 0 {
			c.bad("WithMaxResumes(%d): must not be negative", n)
			return
		}
		c.MaxResumes = n
	}
}

// WithChecksum verifies the download against a hex digest computed in the
// same pass. algo is "sha1", "sha256" or "md5".
func WithChecksum(algo, hex string) DownloadOption {
	return func(c *downloadConfig) { c.Checksums = append(c.Checksums, download.Checksum{Algo: algo, Hex: hex}) }
}

// WithSHA1 computes the file's SHA-1 (DownloadResult.SHA1) even when none
// is to be verified. By default SHA-1 is computed only where it is
// compared: with a vendor's SHA-1 (Orbit's contentSha1, B2's
// X-Bz-Content-Sha1) or a WithChecksum("sha1", …).
func WithSHA1() DownloadOption {
	return func(c *downloadConfig) { c.SHA1 = true }
}

// WithoutSHA1 does nothing: SHA-1 is now computed only where it is
// verified or asked for with [WithSHA1].
//
// Deprecated: SHA-1 is no longer computed by default; drop this option.
func WithoutSHA1() DownloadOption {
	return func(*downloadConfig) {}
}

// WithConnections fetches a file in at most n parallel range requests
// when the storage host allows it: a known size, a strong ETag and byte
// ranges. The default is 32 for DownloadFile, which writes parts in place
// (one 256 KiB buffer per connection), and 16 for Download, Open and
// DownloadTo, which hold their parts in memory. 1 is one stream. n must
// be at least 1.
func WithConnections(n int) DownloadOption {
	return func(c *downloadConfig) {
		if n < 1 {
			c.bad("WithConnections(%d): must be at least 1", n)
			return
		}
		c.Connections = n
	}
}

// WithPartSize sets the bytes per ranged part (at least 64 KiB; default
// 8 MiB for DownloadFile, 2 MiB for Download and Open). A file smaller than
// two parts is fetched in one stream. Download and Open buffer at most
// connections × part size bytes (32 MiB at the defaults).
func WithPartSize(n int64) DownloadOption {
	return func(c *downloadConfig) {
		if n < download.MinPartSize {
			c.bad("WithPartSize(%d): must be at least %d", n, download.MinPartSize)
			return
		}
		c.PartSize = n
	}
}

// WithoutResume makes DownloadFile start afresh, discarding the partial
// file and state an earlier interrupted run to the same path left.
func WithoutResume() DownloadOption {
	return func(c *downloadConfig) { c.NoResume = true }
}

// WithAllowHTTP allows plain http download URLs to non-loopback hosts.
// Loopback http is always allowed.
func WithAllowHTTP() DownloadOption {
	return func(c *downloadConfig) { c.AllowHTTP = true }
}

// newDownloadConfig applies opts over the defaults and checks them, so that
// a bad option fails before any request.
func newDownloadConfig(opts []DownloadOption) (downloadConfig, error) {
	cfg := downloadConfig{Config: download.Config{
		IdleTimeout: download.DefaultIdleTimeout, MaxResumes: download.DefaultMaxResumes,
		// Connections and PartSize 0: the engine's defaults for the mode.
	}}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	for i, cs := range cfg.Checksums {
		n, err := download.NormalizeChecksum(cs.Algo, cs.Hex)
		if err != nil {
			cfg.bad("WithChecksum: %w", err)
			continue
		}
		cfg.Checksums[i] = n
	}
	if len(cfg.errs) > 0 {
		return cfg, &inputError{fmt.Errorf("exportkit: download option: %w", errors.Join(cfg.errs...))}
	}
	return cfg, nil
}
