//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package download

import "errors"

var errNoSpaceErrno = errors.New("There is not enough space on the disk.")
