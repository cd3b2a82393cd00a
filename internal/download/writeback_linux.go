package download

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// writebackHint asks the kernel to start writing [off, off+n) of f back
// to disk (sync_file_range with SYNC_FILE_RANGE_WRITE starts the I/O and
// does not wait for it). Only a hint: an error (an old kernel, a file
// system that does not support it) changes nothing but the timing.
func writebackHint(f fileHandle, off, n int64) {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		_ = unix.SyncFileRange(int(fd.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
	}
}

// preallocate reserves size bytes for f, so that parts written out of
// order do not fragment it and a full disk shows before the transfer. Where
// the file system cannot, the file is only extended; its length is size
// either way. The error is ENOSPC's, or nil.
func preallocate(f fileHandle, size int64) error {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		err := unix.Fallocate(int(fd.Fd()), 0, 0, size)
		if err == nil {
			return nil
		}
		if errors.Is(err, unix.ENOSPC) {
			return &os.PathError{Op: "fallocate", Path: "partial file", Err: err}
		}
	}
	_ = f.Truncate(size)
	return nil
}

// datasync flushes f's data (and the metadata needed to read it back) to
// disk: fdatasync, which skips the times a full fsync also writes.
func datasync(f fileHandle) error {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		for {
			err := unix.Fdatasync(int(fd.Fd()))
			if err != unix.EINTR {
				return err
			}
		}
	}
	return f.Sync()
}
