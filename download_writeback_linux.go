package exportkit

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writebackEvery is how much written data may wait in the page cache before
// the kernel is asked to start writing it to disk.
const writebackEvery = 8 << 20

// newFileWriter returns a writer to f that asks the kernel to start writing
// back every writebackEvery bytes as they are written (sync_file_range with
// SYNC_FILE_RANGE_WRITE: it starts the I/O and does not wait for it). The
// disk then works while the network does, and the fsync before the rename
// waits only for the tail: for 1 GiB over loopback that is the difference
// between slower and faster than curl, fsync included.
func newFileWriter(f *os.File) io.Writer { return &writebackFile{f: f} }

type writebackFile struct {
	f             *os.File
	written, sent int64 // bytes written; bytes handed to writeback
}

func (w *writebackFile) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.sent >= writebackEvery {
		// Only a hint: an error here (an old kernel, a file system that
		// does not support it) changes nothing but the timing.
		_ = unix.SyncFileRange(int(w.f.Fd()), w.sent, w.written-w.sent, unix.SYNC_FILE_RANGE_WRITE)
		w.sent = w.written
	}
	return n, err
}
