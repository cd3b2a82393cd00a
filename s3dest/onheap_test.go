//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package s3dest_test

// offHeap: the parts' buffers are on the Go heap here.
const offHeap = false
