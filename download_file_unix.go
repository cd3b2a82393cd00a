//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package exportkit

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// renameOpenFiles: POSIX renames and removes open files.
const renameOpenFiles = true

// createPartial opens name for writing under an exclusive advisory lock,
// truncated. A partial file left by a crashed run is taken over; one that
// another download holds is an error. The lock is taken on the open file
// and the name checked again after, because the previous holder may have
// renamed or removed the file between our open and our lock.
func createPartial(name string) (*os.File, error) {
	for range 3 {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s is being written by another download to the same path", name)
			}
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		held, err1 := f.Stat()
		named, err2 := os.Lstat(name)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			if err := f.Truncate(0); err != nil {
				os.Remove(name)
				f.Close()
				return nil, err
			}
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("%s keeps changing: another download to the same path is running", name)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
