//go:build !unix

package bench

import "os"

// PeakRSS is -1: this platform's process usage has no maximum resident set.
func PeakRSS(*os.ProcessState) int64 { return -1 }
