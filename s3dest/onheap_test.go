//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly) || race

package s3dest_test

// offHeap: the parts' buffers are on the Go heap here (under the race
// detector too, which watches only the heap).
const offHeap = false
