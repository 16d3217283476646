package enphase

import (
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strings"

	"github.com/telegraf-enphase/telegraf-enphase/internal/fileperm"
)

// warnAddress warns of a link-local gateway address (case E1): mDNS
// sometimes reports one, and the gateway picks a new one when it restarts,
// so the plugin would lose it.
func (e *Enphase) warnAddress(u *url.URL) {
	ip, err := netip.ParseAddr(u.Hostname())
	if err != nil || !ip.Unmap().IsLinkLocalUnicast() {
		return
	}
	e.Log.Warnf(
		"url: %s is a link-local address (169.254.x.x or fe80::), which the gateway picks anew when it restarts: "+
			"use the address your router reserves for it by DHCP, or envoy.local",
		ip.WithZone(""),
	)
}

// warnPermissions warns when a file holding a secret, or the pin, can be
// read or changed by other users, or sits in a directory any user can write.
// It only looks: the person may have reasons, so it is not an error.
func (e *Enphase) warnPermissions() {
	paths := []fileperm.Path{{Key: "token_file", Path: e.TokenFile}, {Key: "password_file", Path: e.PasswordFile}}
	if e.pin != nil && e.pin.File != "" {
		paths = append(paths, fileperm.Path{Key: "tls_pin_file", Path: e.pin.File})
	}
	for _, w := range fileperm.Warnings(paths...) {
		e.Log.Warnf("%s", w)
	}
}

// warnInlineSecrets warns when the configuration file holds a password or
// token inline and every user on the host can read it. A value taken from
// the environment (key = "${NAME}") is not in the file, so not counted.
func (e *Enphase) warnInlineSecrets() {
	if e.configFile == "" || runtime.GOOS == "windows" {
		return
	}
	fi, err := os.Stat(e.configFile)
	if err != nil || fi.Mode().Perm()&0o004 == 0 {
		return
	}
	data, err := os.ReadFile(e.configFile)
	if err != nil {
		return
	}
	var inline []string
	for _, k := range []struct {
		key string
		set bool
	}{{"password", !e.Password.Empty()}, {"token", !e.Token.Empty()}, {"legacy_password", !e.LegacyPassword.Empty()}} {
		if k.set && !fromEnvironment(data, k.key) {
			inline = append(inline, k.key)
		}
	}
	if len(inline) == 0 {
		return
	}
	e.Log.Warnf(
		"%s has mode %04o: every user on this host can read the %s it holds; "+
			"fix: chmod 640 %s (and chgrp telegraf), or move it out of the file (password_file, token_file)",
		e.configFile,
		fi.Mode().Perm(),
		strings.Join(inline, " and "),
		e.configFile,
	)
}

// fromEnvironment reports whether every value of key in the file is a
// "${NAME}" reference to the environment.
func fromEnvironment(data []byte, key string) bool {
	re := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key) + `\s*=\s*(.*)$`)
	all := re.FindAllSubmatch(data, -1)
	for _, m := range all {
		v := strings.TrimSpace(string(m[1]))
		if !regexp.MustCompile(`^"\$\{[^}]+\}"\s*(#.*)?$`).MatchString(v) {
			return false
		}
	}
	return len(all) > 0
}
