//go:build (linux || darwin || freebsd || netbsd || openbsd || dragonfly) && !race

package s3dest

import "syscall"

// allocParts maps n bytes (n > 0, an int) of anonymous memory outside the
// Go heap. A refusal (ENOMEM) is an error, not the Go runtime's fatal out
// of memory.
func allocParts(n int64) ([]byte, func(), error) {
	mem, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil, err
	}
	return mem, func() { syscall.Munmap(mem) }, nil
}
