//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package download

import "syscall"

var errNoSpaceErrno error = syscall.ENOSPC
