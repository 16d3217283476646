package enphase

import (
	"context"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// Info reads the gateway's public /info (serial, firmware, clock): no token
// is sent. It checks nothing against the configuration.
func (s *Service) Info(ctx context.Context) (envoy.Info, error) {
	return s.e.gw.client().Info(ctx)
}
