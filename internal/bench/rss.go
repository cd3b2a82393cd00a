package bench

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"
)

// RunPeakRSS runs cmd and returns the peak resident set of its process in
// bytes (-1 when the platform does not say), and cmd.Run's error.
//
// On Linux the peak is VmHWM of /proc/PID/status, read every 5 ms while
// the process runs: the ru_maxrss that wait4 reports for a child counts the
// memory of the parent that started it, since Go starts children with
// vfork and the kernel carries the shared memory's high-water mark through
// exec, so a child of a large process would look as large. Elsewhere it is
// ru_maxrss.
func RunPeakRSS(cmd *exec.Cmd) (int64, error) {
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	if runtime.GOOS != "linux" {
		err := cmd.Wait()
		return maxRSS(cmd.ProcessState), err
	}
	status := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status"
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	peak := vmHWM(status)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return peak, err
		case <-t.C:
			peak = max(peak, vmHWM(status))
		}
	}
}

// vmHWM reads VmHWM (kB) from a /proc/PID/status, in bytes, or -1.
func vmHWM(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				if n, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return n << 10
				}
			}
		}
	}
	return -1
}
