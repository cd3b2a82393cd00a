//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package s3dest

import "syscall"

// allocParts maps n bytes of anonymous memory outside the Go heap, or
// falls back to the heap when the system refuses.
func allocParts(n int64) ([]byte, func()) {
	if n <= 0 || int64(int(n)) != n {
		return make([]byte, n), nil
	}
	mem, err := syscall.Mmap(-1, 0, int(n), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n), nil
	}
	return mem, func() { syscall.Munmap(mem) }
}
