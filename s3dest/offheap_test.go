//go:build (linux || darwin || freebsd || netbsd || openbsd || dragonfly) && !race

package s3dest_test

// offHeap: the parts' buffers are mapped outside the Go heap here.
const offHeap = true
