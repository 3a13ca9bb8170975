//go:build linux || darwin || freebsd

package main

import "syscall"

// diskFree returns the bytes free to an unprivileged user on the file
// system holding dir, or -1 if it cannot tell.
func diskFree(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
