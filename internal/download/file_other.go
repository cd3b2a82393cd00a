//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package download

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// renameOpenFiles: Windows cannot rename or remove a file that is open.
const renameOpenFiles = false

// createPartial creates name exclusively: without advisory locks, an
// existing partial file may belong to a download still running, so it is
// never taken over (and an interrupted download is not resumed here).
func createPartial(name string) (fileHandle, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w, or %s was left behind (remove it if no other download runs)", ErrBusy, name)
	}
	if err != nil {
		return nil, fmt.Errorf("save file: %w", err)
	}
	return f, nil
}

// syncDir is a no-op where directories cannot be synced.
func syncDir(string) {}

func isNoSpace(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "not enough space")
}
