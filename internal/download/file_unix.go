//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package download

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// renameOpenFiles: POSIX renames and removes open files.
const renameOpenFiles = true

// createPartial opens name for reading and writing under an exclusive
// advisory lock, keeping what it holds (an earlier run's bytes, which the
// state file may let this run keep). One that another download holds is
// ErrBusy. The lock is taken on the open file and the name checked again
// after, because the previous holder may have renamed or removed the file
// between our open and our lock.
func createPartial(name string) (fileHandle, error) {
	for range 3 {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return nil, fmt.Errorf("save file: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("%w (it holds %s)", ErrBusy, name)
			}
			return nil, fmt.Errorf("save file: lock %s: %w", name, err)
		}
		held, err1 := f.Stat()
		named, err2 := os.Lstat(name)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("%w: %s keeps changing", ErrBusy, name)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }
