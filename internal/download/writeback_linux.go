package download

import "golang.org/x/sys/unix"

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
// order do not fragment it and a full disk shows early. Only where the
// file system supports it; the file's length is size either way.
func preallocate(f fileHandle, size int64) {
	if fd, ok := f.(interface{ Fd() uintptr }); ok {
		if unix.Fallocate(int(fd.Fd()), 0, 0, size) == nil {
			return
		}
	}
	_ = f.Truncate(size)
}
