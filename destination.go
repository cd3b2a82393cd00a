package exportkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/exportkit/exportkit/internal/download"
)

// Destination is where [Client.DownloadTo] delivers an export's file: an
// object in a store, say (package s3dest). The destination decides how
// the file is stored; the [Transfer] it is given says what the file is,
// reads any byte range of it, and verifies what the destination hashed.
// This package imports no store's SDK: a destination lives in its own
// package.
type Destination interface {
	// Deliver stores the file t reads and returns what it stored. It
	// must make the file visible only once it is complete and t.Verify
	// passed, and leave nothing behind when it fails.
	Deliver(ctx context.Context, t *Transfer) (*Delivery, error)
}

// Delivery is what a [Destination] stored.
type Delivery struct {
	Location  string // where the file is now, such as "s3://bucket/key"
	Bytes     int64  // the size of what was stored
	CRC64NVME string // the store's full-object CRC-64/NVME, base64 as S3 spells it; "" when none
	Parts     int    // parts stored
	Reused    int64  // bytes an earlier interrupted delivery had stored already
}

// Part is a byte range of the file, [Start, End), numbered from 1.
type Part struct {
	Number     int
	Start, End int64
}

// Size is the part's length.
func (p Part) Size() int64 { return p.End - p.Start }

// Transfer is one export's file on its way to a [Destination]. Its
// methods may be called from several goroutines; Hash must be called in
// file order.
type Transfer struct {
	c    *Client
	src  *fileSource
	r    *download.Ranger
	info download.Info
	cfg  download.Config
}

// Key names the export in a resume state: the vendor and the export's id,
// never a URL or a credential.
func (t *Transfer) Key() string { return string(t.src.vendor) + ":" + t.src.id }

// Size is the file's size in bytes, -1 when unknown.
func (t *Transfer) Size() int64 { return t.info.Size }

// ContentType is the storage host's Content-Type, "" when none.
func (t *Transfer) ContentType() string { return t.info.ContentType }

// FileName is the server's suggested file name, sanitized; "" when none.
func (t *Transfer) FileName() string { return t.info.FileName }

// SHA1 is the hex SHA-1 the vendor (or its storage host) gives for the
// file, "" when none.
func (t *Transfer) SHA1() string { return t.info.SHA1 }

// ETag is the storage host's strong ETag of the file: a state saved by an
// earlier delivery describes the same file only when its ETag is this one.
func (t *Transfer) ETag() string { return t.info.ETag }

// Ranged reports whether any range can be read, in any order, by several
// goroutines at once. Without it the file is read once, in order, from
// byte 0, and a failed read cannot be resumed.
func (t *Transfer) Ranged() bool { return t.info.Ranged }

// Connections is how many ranges may be read at once ([WithConnections];
// 1 when the file is not Ranged).
func (t *Transfer) Connections() int {
	if !t.info.Ranged {
		return 1
	}
	return t.cfg.Connections
}

// Plan cuts the file into parts for a store that takes parts of at least
// minPart bytes (the last may be smaller) and at most maxParts of them:
// [WithPartSize]'s size (default 8 MiB), raised to minPart, then to what
// maxParts needs, in whole MiB. A file of unknown size has no plan.
func (t *Transfer) Plan(minPart int64, maxParts int) []Part {
	size := t.info.Size
	if size < 0 {
		return nil
	}
	ps := t.cfg.PartSize
	if ps <= 0 {
		ps = download.DefaultPartSize
	}
	ps = max(ps, minPart)
	if maxParts > 0 && size > ps*int64(maxParts) {
		need := (size + int64(maxParts) - 1) / int64(maxParts)
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	if size == 0 {
		return []Part{{Number: 1}}
	}
	parts := make([]Part, 0, (size+ps-1)/ps)
	for off := int64(0); off < size; off += ps {
		parts = append(parts, Part{Number: len(parts) + 1, Start: off, End: min(off+ps, size)})
	}
	return parts
}

// ReadAt fills p with the file's bytes from off, resuming inside the range
// after a failure and reading a fresh signed URL from the vendor when the
// one in use expired. Every request after the first carries If-Match with
// the first response's ETag: a file replaced on the server is
// [ErrFileChanged].
func (t *Transfer) ReadAt(ctx context.Context, p []byte, off int64) error {
	return t.c.downloadError(t.src, t.r.ReadRange(ctx, off, p))
}

// Hashing reports whether the bytes must be passed to Hash: the vendor
// gives a checksum, or one was asked for ([WithChecksum], [WithSHA1]).
// Without it Hash does nothing and Verify checks the size alone.
func (t *Transfer) Hashing() bool { return t.r.Hashing() }

// Hash hashes the file's next bytes; it must be given every byte in order.
func (t *Transfer) Hash(p []byte) { t.r.Hash(p) }

// Hashed is how many bytes Hash was given, counting those of a restored
// HashState.
func (t *Transfer) Hashed() int64 { return t.r.Hashed() }

// HashState is the state of the hashes now, to save with a resume state
// (no URL, no credential).
func (t *Transfer) HashState() ([]byte, error) { return t.r.HashState() }

// RestoreHash takes up a HashState saved earlier for the same file: the
// next Hash continues after Hashed bytes. A state that does not fit (from
// other checksums, say) is an error and the file must be hashed from 0.
func (t *Transfer) RestoreHash(state []byte) error { return t.r.RestoreHash(state) }

// Reused records n bytes that an earlier interrupted delivery stored
// already: they count as progress and in the result.
func (t *Transfer) Reused(n int64) { t.r.Reused(n) }

// Verify checks the n bytes hashed against every size and checksum known:
// an error matching [ErrSizeMismatch] or [ErrChecksumMismatch] when they
// disagree. A destination calls it before the file becomes visible.
func (t *Transfer) Verify(n int64) error {
	return t.c.downloadError(t.src, t.r.Verify(n))
}

// DownloadTo delivers any export's file to d, such as an S3 object
// (package s3dest): d reads the file in ranges through a [Transfer] and
// stores it, verified, before it becomes visible. [WithConnections] and
// [WithPartSize] say how many ranges are read at once and how large they
// are; [WithProgress], [WithChecksum], [WithSHA1] and the other download
// options apply as they do to [Client.DownloadFile]. Vendor credentials
// never reach d: it sees only the bytes and what they should be.
func (c *Client) DownloadTo(ctx context.Context, e Export, d Destination, opts ...DownloadOption) (res *DownloadResult, err error) {
	if d == nil || isTypedNil(d) {
		return nil, &inputError{errors.New("exportkit: download: nil destination")}
	}
	src, err := c.sourceFor(e)
	if err != nil {
		return nil, err
	}
	ctx, dt := c.tel.startDownload(ctx, src)
	defer func() { dt.end(res, err) }()
	cfg, esrc, err := c.engine(src, opts)
	if err != nil {
		return nil, err
	}
	first := cfg.PartSize
	if first <= 0 {
		first = download.DefaultPartSize
	}
	r, err := download.OpenRanger(ctx, cfg, esrc, first)
	if err != nil {
		return nil, c.downloadError(src, err)
	}
	defer r.Close()
	t := &Transfer{c: c, src: src, r: r, info: r.Info(), cfg: cfg}
	if t.cfg.Connections <= 0 {
		t.cfg.Connections = download.DefaultConnections
	}
	dl, err := d.Deliver(ctx, t)
	if err != nil {
		return nil, err
	}
	if dl == nil {
		return nil, fmt.Errorf("exportkit: download: the destination returned no delivery")
	}
	out := result(r.Result(dl.Bytes, dl.Parts))
	out.Location, out.CRC64NVME = dl.Location, dl.CRC64NVME
	out.Reused = dl.Reused
	return out, nil
}
