package enphase

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/telegraf-enphase/telegraf-enphase/internal/configfile"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// checkDuplicates refuses two tables for one gateway (R2, R12): the same
// url would be read twice and every series written twice; the same
// token_file would be renewed by each for its own gateway, against the
// other, forever; the same serial is the same gateway. The error names both
// tables.
func checkDuplicates(file string, tables []configfile.Table[*Enphase]) error {
	type seen struct {
		key, value string
	}
	first := map[seen]configfile.Table[*Enphase]{}
	for _, t := range tables {
		e := t.Value
		var keys []seen
		if e.TokenFile != "" {
			p := filepath.Clean(e.TokenFile)
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			keys = append(keys, seen{"token_file", p})
		}
		if e.StateFile != "" {
			p := filepath.Clean(e.StateFile)
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			keys = append(keys, seen{"state_file", p})
		}
		if u, err := envoy.ParseURL(e.URL); err == nil {
			keys = append(keys, seen{"url", strings.ToLower(u.Host)})
		}
		if e.Serial != "" {
			keys = append(keys, seen{"serial", e.Serial})
		}
		for _, k := range keys {
			if prev, ok := first[k]; ok {
				what := map[string]string{
					"token_file": "two gateways cannot share a token file (each renewal would replace the other's token): give each its own",
					"state_file": "two gateways cannot share a state file (each would undo the other's counters, and only one can hold its lock): give each its own",
					"url":        "the same gateway would be read twice and every series written twice: remove one table",
					"serial":     "the same gateway would be read twice: remove one table, or fix the serial",
				}[k.key]
				return t.Errorf(file, "enphase", "%s %q is also the %s of [[inputs.enphase]] #%d at %s:%d: %s",
					k.key, k.value, k.key, prev.Index, file, prev.Line, what)
			}
			first[k] = t
		}
	}
	return nil
}

// sameGateway refuses an /info whose serial is not the one this process
// read before (R2): an address answering for two gateways in turn, such as
// envoy.local on a site with two. That gather fails, and no renewal starts:
// renewing for whichever gateway answered would replace the other's token.
func (p *poller) sameGateway(info envoy.Info) error {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.state.info == nil || p.state.info.Serial == info.Serial {
		return nil
	}
	return fmt.Errorf(
		"the gateway at %s answered as serial %s, but as %s before: two gateways behind one address (envoy.local on a site with two?); "+
			"set url to each gateway's own IP address, or restart if the gateway was replaced",
		p.client().Host(),
		info.Serial,
		p.state.info.Serial,
	)
}

// confirmSerial asks /info, before a token is judged on check_jwt for a
// renewal, whether the gateway answering is the token's: another gateway's
// refusal must not make us renew (R2).
func (p *poller) confirmSerial(ctx context.Context, serial string) error {
	if serial == "" {
		return nil
	}
	info, err := p.client().Info(ctx)
	if err != nil {
		return err
	}
	if info.Serial != serial {
		return fmt.Errorf(
			"the gateway at %s answered as serial %s, not %s, the token's: two gateways behind one address? no renewal was made",
			p.client().Host(),
			info.Serial,
			serial,
		)
	}
	return p.sameGateway(info)
}
