package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/s3dest"
)

// Destinations other than a local path: -o s3://BUCKET/KEY?endpoint=…
// delivers the export into a bucket (package s3dest); -o file://PATH is
// the local PATH. Any other scheme is refused (exit 2).

// checkTimeout bounds the checks of a destination before any waiting.
const checkTimeout = 30 * time.Second

// localOutput turns -o file://PATH into PATH; anything else is returned
// as it is.
func localOutput(out string) string {
	if !strings.HasPrefix(strings.ToLower(out), "file://") {
		return out
	}
	u, err := url.Parse(out)
	if err != nil || (u.Host != "" && u.Host != "localhost") {
		return out // checkURLOutput refuses it
	}
	return u.Path
}

// checkURLOutput checks an output that is a URL: handled is false for a
// local path. An s3:// destination is parsed, its AWS configuration read,
// and the object looked up, so that a bad URL, bad credentials or an
// existing object (without --force) fail in a second, not after the wait;
// the destination is kept in o.dest for the delivery.
func checkURLOutput(o *cmdOpts) (handled bool, err error) {
	out, force := o.output, o.force
	scheme, _, ok := strings.Cut(out, "://")
	if !ok || strings.ContainsAny(scheme, `/\.`) || scheme == "" {
		return false, nil
	}
	if !strings.EqualFold(scheme, "s3") {
		return true, usageErrorf("download: -o %s: unknown scheme %q (want a path, file://PATH or s3://BUCKET/KEY)",
			redactOutput(out), scheme)
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	d, err := newS3Dest(ctx, out, force, o.noResume)
	if err != nil {
		return true, err
	}
	if err := d.CheckAbsent(ctx); err != nil {
		if errors.Is(err, s3dest.ErrExists) {
			return true, usageErrorf("download: %s exists (use --force to overwrite it)", d.URL())
		}
		return true, err
	}
	o.dest = d
	return true, nil
}

// redactOutput is an output URL for a message: without its query.
func redactOutput(out string) string {
	if i := strings.IndexAny(out, "?#"); i >= 0 {
		return out[:i]
	}
	return out
}

// newS3Dest is the destination an -o s3:// URL names, its resume state in
// the user's cache directory (see s3StatePath).
func newS3Dest(ctx context.Context, out string, force, noResume bool) (*s3dest.Destination, error) {
	return s3Dest(ctx, out, s3dest.WithStateFile(s3StatePath(out)), force, noResume)
}

// s3Dest is the destination an s3:// URL names, with its resume state
// where state says (a state file, or sync's store).
func s3Dest(ctx context.Context, out string, state s3dest.Option, force, noResume bool, extra ...s3dest.Option) (*s3dest.Destination, error) {
	opts := append([]s3dest.Option{state}, extra...)
	if force {
		opts = append(opts, s3dest.WithForce())
	}
	if noResume {
		opts = append(opts, s3dest.WithoutResume())
	}
	return s3dest.New(ctx, out, opts...)
}

// s3StatePath is where the resume state of a delivery to an s3:// URL is
// kept while it runs: $EXPORTKIT_STATE_DIR, or the user's cache directory,
// under exportkit/s3/, named after the bucket and key (never a
// credential), as the URL spells them once parsed, so that clean finds
// the state file of an object however download was given its URL.
func s3StatePath(out string) string {
	dir := os.Getenv("EXPORTKIT_STATE_DIR")
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "exportkit")
	}
	name := redactOutput(out)
	if t, err := s3dest.Parse(out, false); err == nil {
		name = t.String()
	}
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(dir, "s3", hex.EncodeToString(sum[:12])+".state")
}

// s3View is what a delivery to S3 prints: --json or one line.
type s3View struct {
	Vendor    exportkit.Vendor `json:"vendor"`
	ID        string           `json:"id"`
	Location  string           `json:"location"`
	Bytes     int64            `json:"bytes"`
	SHA1      string           `json:"sha1,omitempty"`
	CRC64NVME string           `json:"crc64nvme"`
	Verified  bool             `json:"verified"`
	Parts     int              `json:"parts"`
	Reused    int64            `json:"reused"`
	Resumes   int              `json:"resumes"`
}

// downloadTo delivers e to the s3:// output.
func (r *runner) downloadTo(ctx context.Context, t target, e exportkit.Export, tk task, opts []exportkit.DownloadOption) error {
	d := r.o.dest
	if d == nil {
		var err error
		if d, err = newS3Dest(ctx, r.o.output, r.o.force, r.o.noResume); err != nil {
			tk.finish("download failed", true)
			return err
		}
	}
	res, err := r.c.DownloadTo(ctx, e, d, opts...)
	if err != nil {
		tk.finish("download failed", true)
		return err
	}
	done := "stored " + formatBytes(res.Bytes) + " in " + res.Location
	if res.Verified {
		done += ", verified"
	}
	tk.finish(done, false)
	v := s3View{Vendor: t.vendor, ID: cliID(e), Location: res.Location, Bytes: res.Bytes, SHA1: res.SHA1,
		CRC64NVME: res.CRC64NVME, Verified: res.Verified, Parts: res.Parts, Reused: res.Reused, Resumes: res.Resumes}
	return printS3(r.stdout, v, r.o.json)
}

func printS3(w io.Writer, v s3View, asJSON bool) error {
	if asJSON {
		return writeJSON(w, v)
	}
	verified := "size and CRC-64/NVME verified by the store"
	if v.SHA1 != "" && v.Verified {
		verified = "size, SHA-1 and CRC-64/NVME verified"
	}
	sum := ""
	if v.SHA1 != "" {
		sum = "sha1 " + v.SHA1 + ", "
	}
	_, err := fmt.Fprintf(w, "%s: %s (%d bytes), %scrc64nvme %s, %s%s\n", v.Location, formatBytes(v.Bytes), v.Bytes,
		sum, v.CRC64NVME, verified, plural(int(v.Reused>>20), ", reused %d MiB of an earlier run", ", reused %d MiB of an earlier run"))
	return err
}
