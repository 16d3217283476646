package enphase

import (
	"context"
	"errors"
	"io/fs"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/renew"
)

// Info reads the gateway's public /info (serial, firmware, clock): no token
// is sent. It checks nothing against the configuration.
func (s *Service) Info(ctx context.Context) (envoy.Info, error) {
	return s.e.gw.client().Info(ctx)
}

// FetchMissingToken does what the first gather's renewal does, and waits
// for it: with Enlighten credentials and no usable stored token (none, not
// a token, expired, or for another configured serial) it fetches one, checks
// it on the gateway and stores it, within renewTimeout. fetched is false
// when nothing needed fetching or nothing could fetch it (no credentials, a
// token file this user may not read: the gather says why).
func (s *Service) FetchMissingToken(ctx context.Context) (res renew.Result, fetched bool, err error) {
	m := s.e.tokens
	if m == nil || m.renewer == nil {
		return renew.Result{}, false, nil
	}
	tok, err := m.source.Token()
	switch {
	case errors.Is(err, fs.ErrPermission):
		return renew.Result{}, false, nil
	case err == nil && !tok.Expired(s.e.clock()) && (s.e.Serial == "" || tok.Serial == s.e.Serial):
		return renew.Result{}, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	res, err = s.RenewToken(ctx, false)
	return res, err == nil && res.Renewed, err
}
