//go:build race

package download

// killSizes are the file sizes of the SIGKILL test. Under the race
// detector the six 1 GiB cases take about 80 s (13 s each, measured on a
// loaded 2-core machine): .ci/run runs them without it, and their logic
// runs under it at the smaller sizes.
func killSizes() []int64 { return []int64{4 << 20, 64 << 20} }
