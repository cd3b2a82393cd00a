//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
)

// PeakRSS is a finished process's maximum resident set size in bytes, or
// -1 where the platform does not say.
func PeakRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return -1
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) // bytes there
	}
	return int64(ru.Maxrss) << 10 // KiB on Linux and the BSDs
}
