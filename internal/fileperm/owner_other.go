//go:build !unix

package fileperm

// dirOwner has no meaning without Unix owners.
func dirOwner(string) (uid, gid int, ok bool) { return 0, 0, false }
