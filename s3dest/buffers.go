package s3dest

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/exportkit/exportkit"
	"github.com/exportkit/exportkit/internal/errkind"
)

// partPool is the memory of a multipart delivery's parts: n buffers of
// one part size each, allocated once when the upload starts, reused part
// after part, and freed when it ends. Where the system allows it
// (mmap.go) they are an anonymous mapping outside the Go heap, so that the
// garbage collector neither scans them nor lets the heap grow by their
// size before it collects: the process holds the parts plus a small heap,
// not twice the parts. A page of the mapping takes memory only once a part
// is read into it.
type partPool struct {
	bufs [][]byte
	free func() // releases the memory; nil when the GC does
}

// newPartPool allocates n buffers of size bytes; more than the address
// space holds (a 32-bit system) is an error, not a panic.
func newPartPool(n int, size int64) (*partPool, error) {
	total := int64(n) * size
	if n <= 0 || size <= 0 || total/size != int64(n) || int64(int(total)) != total {
		return nil, &errkind.Error{Msg: fmt.Sprintf("exportkit: s3: %d parts of %d bytes do not fit in memory here (WithMemoryLimit lowers it)", n, size),
			Kinds: []error{exportkit.ErrInvalidInput}}
	}
	mem, free, err := allocParts(total)
	if err != nil {
		return nil, fmt.Errorf("exportkit: s3: %d parts of %d bytes: %w (WithMemoryLimit lowers it)", n, size, err)
	}
	p := &partPool{free: free}
	for i := range n {
		off := int64(i) * size
		p.bufs = append(p.bufs, mem[off:off+size:off+size])
	}
	return p, nil
}

// release frees the buffers. Nothing may use them afterwards: every part
// body over them must have been closed (partBody.close).
func (p *partPool) release() {
	p.bufs = nil
	if p.free != nil {
		p.free()
		p.free = nil
	}
}

// errBodyClosed: the HTTP transport read a part's body after its request
// had returned.
var errBodyClosed = errors.New("exportkit: s3: the part's body was read after its request ended")

// partBody is the body of one UploadPart request over a pooled buffer: an
// io.ReadSeeker, so that the SDK neither buffers nor hashes it (the
// CRC-64/NVME goes in a header, the payload is unsigned) and rewinds it to
// retry. net/http may still read a request's body after the response has
// come (a store that answers before it has read everything); close cuts
// the body off from the buffer first, so that a buffer is reused, or
// unmapped, only once no read of it is under way or can follow.
type partBody struct {
	mu  sync.Mutex
	b   []byte // nil once closed
	off int64
}

func newPartBody(b []byte) *partBody { return &partBody{b: b} }

// Read copies the next bytes; it never writes from the buffer to the
// network itself (no WriterTo), so close never waits on a slow peer.
func (r *partBody) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return 0, errBodyClosed
	}
	if r.off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += int64(n)
	return n, nil
}

// Seek sets the offset of the next Read.
func (r *partBody) Seek(offset int64, whence int) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		return 0, errBodyClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += int64(len(r.b))
	default:
		return 0, errors.New("exportkit: s3: part body: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("exportkit: s3: part body: negative position")
	}
	r.off = offset
	return offset, nil
}

// close cuts the body off from its buffer, once any Read under way ends.
func (r *partBody) close() {
	r.mu.Lock()
	r.b = nil
	r.mu.Unlock()
}
