//go:build !unix

package bench

import "os"

// maxRSS is -1: this platform's process usage has no maximum resident set.
func maxRSS(*os.ProcessState) int64 { return -1 }
