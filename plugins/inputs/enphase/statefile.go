package enphase

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// stateFileFor returns where the lifetime counters of this table's gateway
// are kept, by serial: state_file when set; else enphase-SERIAL.state.json
// beside token_file, whose directory Telegraf's user must write already
// (renewals replace the token there); else beside the configuration file,
// the one place a token-less gateway (firmware before 7) has. nil keeps the
// counters in memory only (a table built without a file, in tests).
func (e *Enphase) stateFileFor() (func(serial string) string, error) {
	if e.StateFile != "" {
		path := e.StateFile
		if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
			return nil, &ConfigError{
				Key:    "state_file",
				Reason: fmt.Sprintf("%s is not a regular file: give the path of a file the plugin may create and replace", path),
			}
		}
		if fi, err := os.Stat(filepath.Dir(path)); err != nil || !fi.IsDir() {
			return nil, &ConfigError{Key: "state_file", Reason: fmt.Sprintf("the directory of %s does not exist: create it, writable by Telegraf's user", path)}
		}
		return func(string) string { return path }, nil
	}
	dir := ""
	switch {
	case e.TokenFile != "":
		dir = filepath.Dir(e.TokenFile)
	case e.configFile != "":
		dir = filepath.Dir(e.configFile)
	default:
		return nil, nil
	}
	return func(serial string) string {
		// The serial is the gateway's text: only a plain one names a file.
		if serial == "" || len(serial) > 64 || strings.IndexFunc(serial, notSerialRune) >= 0 {
			return ""
		}
		return filepath.Join(dir, "enphase-"+serial+".state.json")
	}, nil
}

func notSerialRune(r rune) bool {
	return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-' || r == '_')
}
