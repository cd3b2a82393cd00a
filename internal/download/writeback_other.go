//go:build !linux

package download

// writebackHint: early writeback (sync_file_range) is Linux only.
func writebackHint(fileHandle, int64, int64) {}

// preallocate sets f's length to size.
func preallocate(f fileHandle, size int64) error {
	_ = f.Truncate(size)
	return nil
}

func datasync(f fileHandle) error { return f.Sync() }
