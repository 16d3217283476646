//go:build unix

package cli

import (
	"os"
	"syscall"
)

// owner is the uid and gid owning fi.
func owner(fi os.FileInfo) (uid, gid uint32, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return st.Uid, st.Gid, true
}
