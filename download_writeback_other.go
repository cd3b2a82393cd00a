//go:build !linux

package exportkit

import (
	"io"
	"os"
)

// newFileWriter returns f: early writeback (sync_file_range) is Linux only.
func newFileWriter(f *os.File) io.Writer { return f }
