package enphase

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// state is what a gateway's gathers remember between runs.
type state struct {
	info     *envoy.Info
	infoNext time.Time // when /info is due again
	next     map[tier]time.Time
	meters   []envoy.Meter

	lastReport map[string]envoy.Epoch // inverter serial → last emitted lastReportDate
	batteries  bool                   // IQ Batteries or AC Batteries seen: the tariff matters
	// Configuration read with /info, not every ensemble read.
	contactSettings envoy.DryContactSettings
	generatorCfg    envoy.GeneratorConfig

	dropped map[string]time.Time // endpoint → when to probe it again

	counters counters // lifetime counters repaired across gathers
}

// gatherRun is one gather: what the endpoints read so far tells the later
// ones whether they are wanted.
type gatherRun struct {
	e      *Enphase
	st     *state
	acc    telegraf.Accumulator
	now    time.Time
	info   envoy.Info
	serial string
	stats  gatherStats
	// requests is the client's count when the gather began.
	requests int64
	// next holds the tiers' next reads, applied when the gather ends without
	// a fatal error: a tier cut short is tried again next gather.
	next map[tier]time.Time

	enabledMeters map[int64]envoy.Meter
	inventory     *envoy.EnsembleInventory // nil unless read this gather
	covered       map[string]bool          // inverters device_data reported
	invertersDone bool
}

// reschedule sets when t is next due: d from now.
func (g *gatherRun) reschedule(t tier, d config.Duration) {
	g.next[t] = g.now.Add(time.Duration(d))
}

// gatherStats counts what one gather did, for enphase_gateway.
type gatherStats struct {
	ok, failed int64
	errs       []error
}

func (s *gatherStats) fail(err error) {
	s.failed++
	s.errs = append(s.errs, err)
}

// ErrUnreadable wraps the reason a gateway yielded no data at all.
var ErrUnreadable = errors.New("gateway could not be read")

func (e *Enphase) gather(ctx context.Context, acc telegraf.Accumulator, now time.Time) error {
	st := &e.state
	if st.counters == nil {
		st.counters = counters{}
	}
	if st.lastReport == nil {
		st.lastReport = make(map[string]envoy.Epoch)
	}
	if st.next == nil {
		st.next = make(map[tier]time.Time)
	}
	g := &gatherRun{e: e, st: st, acc: acc, now: now, requests: e.client.Requests(), next: make(map[tier]time.Time)}

	info, err := e.refreshInfo(ctx, now)
	if err != nil {
		if certpin.Refusal(err) != nil && st.info != nil {
			// The gateway is known: its health point still says it failed.
			g.info, g.serial = *st.info, st.info.Serial
			return e.finish(g, err)
		}
		return fmt.Errorf("%w: %s: %w", ErrUnreadable, e.Name(), err)
	}
	g.info, g.serial = info, info.Serial
	// Firmware 7 and later want a token, which never travels over plain
	// http: every gather says so, with the fix, rather than one log line.
	if !e.legacy && e.base.URL.Scheme == "http" {
		return e.finish(g, fmt.Errorf("the gateway runs firmware %s, which needs a token over https: set url = %q and token_file (see the README, 'Getting a token')",
			info.Firmware, httpsURL(e.base.URL)))
	}
	if !e.legacy {
		if _, err := e.currentToken(acc, info.Serial, now); err != nil {
			return e.finish(g, err)
		}
	}

	for i := range endpoints {
		ep := &endpoints[i]
		if !g.due(ep) {
			continue
		}
		v := ep.target()
		err := e.fetch(ctx, ep, now, v)
		switch {
		case err == nil:
			g.stats.ok++
		case errors.Is(err, errDropped):
		case futile(ctx, err) != nil:
			return e.finish(g, err)
		default:
			g.stats.fail(err)
		}
		ep.use(g, v, err == nil)
	}
	for t, at := range g.next {
		st.next[t] = at
	}
	return e.finish(g, nil)
}

// due reports whether ep is read in this gather: its firmware, its tier's
// schedule and what the endpoints before it read.
func (g *gatherRun) due(ep *endpoint) bool {
	if ep.firmware == before7 && !g.e.legacy {
		return false
	}
	if ep.tier != tierGather && g.now.Before(g.st.next[ep.tier]) {
		return false
	}
	return ep.wanted == nil || ep.wanted(g)
}

// finish ends a gather: it writes enphase_gateway and turns the errors into
// the gather's result. fatal, when set, is an error that made every further
// request futile: the token is refused, the certificate is not the pinned
// one, or the gather ran out of time. What was read before it is kept; only
// a gather that read nothing is "could not be read", except that a refused
// token or certificate always fails the gather.
func (e *Enphase) finish(g *gatherRun, fatal error) error {
	var auth *envoy.AuthError
	if fatal != nil {
		if e.ctx.Err() != nil {
			// Stopping: not an error worth a line in Telegraf's log.
			return fmt.Errorf("%s: %w", e.Name(), context.Canceled)
		}
		if errors.As(fatal, &auth) {
			e.onAuthRejected(g.serial)
		}
		g.stats.fail(fatal)
	}
	e.emitGateway(g.acc, g.info, g.now, e.client.Requests()-g.requests, g.stats)
	if fatal != nil && (g.stats.ok == 0 || auth != nil || certpin.Refusal(fatal) != nil) {
		return fmt.Errorf("%w: %s: %w", ErrUnreadable, e.Name(), fatal)
	}
	for _, err := range g.stats.errs {
		g.acc.AddError(fmt.Errorf("%s: %w", e.Name(), err))
	}
	if g.stats.ok == 0 && g.stats.failed > 0 {
		return fmt.Errorf("%w: %s: every endpoint failed", ErrUnreadable, e.Name())
	}
	return nil
}

// futile returns the error if it means no further request can succeed:
// the token or the certificate is refused, or the gather ran out of time or
// was stopped.
func futile(ctx context.Context, err error) error {
	var auth *envoy.AuthError
	if errors.As(err, &auth) || certpin.Refusal(err) != nil {
		return err
	}
	if err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// refreshInfo reads /info when it is due: at start, every info_interval, and
// after errors, to catch reboots and firmware pushes.
func (e *Enphase) refreshInfo(ctx context.Context, now time.Time) (envoy.Info, error) {
	st := &e.state
	if st.info != nil && now.Before(st.infoNext) {
		return *st.info, nil
	}
	info, err := e.client.Info(ctx)
	if err != nil {
		return envoy.Info{}, err
	}
	if err := e.checkSerial(info); err != nil {
		return envoy.Info{}, err
	}
	if info.Legacy() != e.legacy {
		e.switchAuth(info)
	}
	if st.info != nil && st.info.Firmware != info.Firmware {
		e.Log.Infof("envoy %s: firmware changed from %s to %s; probing endpoints again", info.Serial, st.info.Firmware, info.Firmware)
		st.dropped = nil
		// Every tier but the inverters' is read again at once.
		st.next = map[tier]time.Time{tierInverters: st.next[tierInverters]}
		e.client.ResetSession()
	}
	e.stateMu.Lock()
	st.info = &info
	e.stateMu.Unlock()
	st.infoNext = now.Add(time.Duration(e.InfoInterval))
	return info, nil
}

func (e *Enphase) isDropped(path string, now time.Time) bool {
	until, ok := e.state.dropped[path]
	return ok && now.Before(until)
}

// checkSerial refuses a gateway other than the configured one (case E4).
func (e *Enphase) checkSerial(info envoy.Info) error {
	if e.Serial != "" && info.Serial != e.Serial {
		return fmt.Errorf("the gateway at %s has serial %s, not the configured serial %s: check url (a DHCP change?) or serial", e.client.Host(), info.Serial, e.Serial)
	}
	return nil
}

// switchAuth rebuilds the client for the gateway's firmware: digest
// authentication over plain http before 7, the token over https from 7 on.
func (e *Enphase) switchAuth(info envoy.Info) {
	cfg := e.base
	e.legacy = info.Legacy()
	if e.legacy {
		u := *cfg.URL
		u.Scheme = "http"
		cfg.URL = &u
		auth := envoy.NewLegacyAuth(info.Serial, e.LegacyUser)
		if e.LegacyPassword != "" {
			auth.Password = e.LegacyPassword
		}
		cfg.Legacy = auth
		e.Log.Infof("envoy %s: firmware %s is before 7: reading it over http with the %s user", info.Serial, info.Firmware, auth.User)
	}
	// From firmware 7 over an http:// url, every gather fails saying what to
	// change (see gather).
	old := e.client
	e.client = envoy.New(cfg)
	old.Close()
	if e.tok.renewer != nil {
		e.tok.renewer.Check = e.client
	}
}

// errDropped marks an endpoint skipped because the gateway lacks it.
var errDropped = errors.New("endpoint dropped")

// fetch gets and decodes one endpoint, dropping optional ones the gateway
// lacks until reprobe_interval has passed.
func (e *Enphase) fetch(ctx context.Context, ep *endpoint, now time.Time, v any) error {
	st := &e.state
	path := ep.path
	if e.isDropped(path, now) {
		return errDropped
	}
	r, err := e.client.GetLimit(ctx, path, ep.maxBody)
	if err == nil {
		err = envoy.Decode(r, v)
	}
	if err == nil {
		delete(st.dropped, path)
		return nil
	}
	var se *envoy.StatusError
	if errors.As(err, &se) {
		missing := se.Status == http.StatusNotFound
		refused := se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden
		if missing || (refused && (ep.optional || e.legacy)) {
			return e.drop(path, now, err)
		}
		if se.Status >= 500 {
			e.state.infoNext = time.Time{} // a reboot or update may be under way
		}
		return err
	}
	var te *envoy.TransportError
	if errors.As(err, &te) {
		e.state.infoNext = time.Time{}
	}
	// Firmware before 7 answers unknown JSON paths with an HTML page and a
	// 200 (captures 3.7.0, 3.8.10): the endpoint is missing there.
	var be *envoy.BodyError
	if e.legacy && errors.As(err, &be) && be.HTML {
		return e.drop(path, now, err)
	}
	return err
}

// drop stops asking for path until reprobe_interval has passed.
func (e *Enphase) drop(path string, now time.Time, why error) error {
	st := &e.state
	if st.dropped == nil {
		st.dropped = make(map[string]time.Time)
	}
	st.dropped[path] = now.Add(time.Duration(e.ReprobeInterval))
	e.Log.Infof("%s: %s; not asking again for %s", e.Name(), why, time.Duration(e.ReprobeInterval))
	return errDropped
}

// enabledMeters returns the CTs that are configured.
func enabledMeters(meters []envoy.Meter) map[int64]envoy.Meter {
	out := make(map[int64]envoy.Meter, len(meters))
	for _, m := range meters {
		if m.Enabled() {
			out[m.EID] = m
		}
	}
	return out
}

// phaseCount is the number of phases the CTs measure, 0 when unknown; it is
// the authority over production.json's lines, which always come in threes on
// recent firmware (case P3).
func phaseCount(meters []envoy.Meter) int {
	n := 0
	for _, m := range meters {
		if m.Enabled() && m.PhaseCount.Valid && int(m.PhaseCount.V) > n {
			n = int(m.PhaseCount.V)
		}
	}
	return n
}
