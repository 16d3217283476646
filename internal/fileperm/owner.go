package fileperm

import (
	"fmt"
	"os"
	"os/user"
)

// ChownHint is the command that gives path to the user this process runs as,
// for a permission error: "sudo chown telegraf: /etc/telegraf/enphase/envoy.token".
func ChownHint(path string) string {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return ""
	}
	return fmt.Sprintf("sudo chown %s: %s (or run this as the user owning it)", u.Username, path)
}

// AdoptDirOwner gives a file this process just created, before it is renamed
// into place, to the owner of the directory it is in, when the process runs
// as root: a 'token fetch' run with sudo must not leave a token that
// telegraf's user cannot read (issue 14). It returns a warning for the log
// whenever root created the file, empty otherwise.
func AdoptDirOwner(f *os.File, name, dir string) (warning string, err error) {
	uid, gid, ok := dirOwner(dir)
	if !ok || os.Geteuid() != 0 {
		return "", nil
	}
	const advice = "run telegraf-enphase as the user Telegraf runs as, e.g. sudo -u telegraf telegraf-enphase token fetch --config FILE"
	if uid == 0 {
		return fmt.Sprintf("running as root: %s is owned by root, as is its directory %s, so Telegraf's user may not read it; %s", name, dir, advice), nil
	}
	if err := f.Chown(uid, gid); err != nil {
		return "", fmt.Errorf("giving %s to the owner of %s (uid %d): %w", name, dir, uid, err)
	}
	return fmt.Sprintf("running as root: %s was given to uid %d, the owner of %s; %s", name, uid, dir, advice), nil
}
