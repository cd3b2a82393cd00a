//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package exportkit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// renameOpenFiles: Windows cannot rename or remove a file that is open.
const renameOpenFiles = false

// createPartial creates name exclusively: without advisory locks, an
// existing partial file may belong to a download still running, so it is
// never taken over.
func createPartial(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists: another download to the same path may be running (remove it if not)", name)
	}
	return f, err
}

// syncDir is a no-op where directories cannot be synced.
func syncDir(string) {}
