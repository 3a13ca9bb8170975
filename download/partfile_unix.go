//go:build unix

package download

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// oNoFollow makes an open fail on a symbolic link.
const oNoFollow = syscall.O_NOFOLLOW

// checkOwner refuses a file another user owns or that has other links.
func checkOwner(fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int64(st.Uid) != int64(uid) {
		return fmt.Errorf("belongs to user %d, not to this process's %d", st.Uid, uid)
	}
	if st.Nlink > 1 {
		return fmt.Errorf("has %d links", st.Nlink)
	}
	return nil
}
