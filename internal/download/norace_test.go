//go:build !race

package download

// killSizes are the file sizes of the SIGKILL test: 1 GiB too, without
// the race detector.
func killSizes() []int64 { return []int64{4 << 20, 64 << 20, 1 << 30} }
