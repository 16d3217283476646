package enphase

import (
	"net/netip"
	"net/url"

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
	e.Log.Warnf("url: %s is a link-local address (169.254.x.x or fe80::), which the gateway picks anew when it restarts: use the address your router reserves for it by DHCP, or envoy.local", ip.WithZone(""))
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
