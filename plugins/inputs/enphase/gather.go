package enphase

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// poller reads one gateway: it holds the client, what the gathers remember
// (state) and when each tier is due, and turns the endpoints table into
// requests and metrics. The Telegraf adapter (Enphase) builds it in Init.
type poller struct {
	log    telegraf.Logger
	now    func() time.Time
	ctx    context.Context // the plugin's: cancelled by Stop
	host   string          // as configured, for messages before /info
	serial string          // the configured serial, "" when not set
	every  intervals
	// base is what every client is built from; its Auth is the token's, and
	// switchAuth builds the digest one for firmware before 7.
	base           envoy.Config
	legacyUser     string
	legacyPassword *config.Secret
	tokens         *tokenManager // nil without a token (an http:// url)
	// stateFile is the lifetime counters' state file of the gateway with
	// this serial, "" for none; nil keeps them in memory (tests).
	stateFile func(serial string) string

	cur    atomic.Pointer[envoy.Client] // swapped by switchAuth, read by renewals
	legacy bool                         // the gateway runs firmware before 7

	stateMu sync.Mutex // guards state.info, read by name from other goroutines
	state   state
}

// intervals are the tiers' settings.
type intervals struct {
	info, reprobe, ensemble, tariff, inverters config.Duration
}

// client is the current client of the gateway.
func (p *poller) client() *envoy.Client { return p.cur.Load() }

// setClient replaces the client, closing the old one's idle connections.
func (p *poller) setClient(c *envoy.Client) {
	if old := p.cur.Swap(c); old != nil {
		old.Close()
	}
}

// CheckToken validates t on the gateway, for the renewer: whatever client
// the firmware needs at the time (renew.Checker).
func (p *poller) CheckToken(ctx context.Context, t token.Token) error {
	if err := p.confirmSerial(ctx, t.Serial); err != nil {
		return err
	}
	return p.client().CheckToken(ctx, t)
}

// name identifies the gateway in messages: its serial once known, else its address.
func (p *poller) name() string {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if p.state.info != nil {
		return "envoy " + p.state.info.Serial
	}
	return "envoy at " + p.host
}

// state is what a gateway's gathers remember between runs.
type state struct {
	lock     gatewayLock // this process's hold on the gateway (gatewaylock.go)
	info     *envoy.Info
	infoNext time.Time // when /info is due again
	next     map[tier]time.Time
	meters   []envoy.Meter
	// enabledMeters are the CTs of meters that are configured, by eid: the
	// readings of every gather are joined to them (set with setMeters).
	enabledMeters map[int64]envoy.Meter

	lastReport map[string]envoy.Epoch // inverter or AC Battery serial → last emitted report time
	batteries  bool                   // IQ Batteries or AC Batteries seen: the tariff matters
	// Configuration read with /info, not every ensemble read.
	contactSettings envoy.DryContactSettings
	generatorCfg    envoy.GeneratorConfig
	// metadataNext is when each source's enphase_device points are due again.
	metadataNext map[string]time.Time

	dropped map[string]time.Time // endpoint → when to probe it again

	skewWarned bool // report times out of their window: warned (reporttime.go)

	// summaryLifetime is the gateway's own lifetime production and when it
	// was read, the reference of the inverters' 32-bit total.
	summaryLifetime struct {
		wh float64
		at time.Time
	}
	counters counters // lifetime counters, kept monotonic across gathers and restarts

	// reportChanged: when each lastReport entry last changed (pruning, R9).
	reportChanged map[string]reportChange

	// body is the buffer every endpoint's body is read into, one after the
	// other, kept between gathers: a body a request was the largest
	// allocation of a steady gather.
	body []byte
}

// maxKeptBody is the largest body buffer kept for the next gather: room
// for the steady bodies of any real gateway (18 KB at most seen), while a
// large slow-tier answer, or a hostile one, gets a buffer of its own and
// does not pin it for good, 200 times over in a fleet.
const maxKeptBody = 64 << 10

// gatherRun is one gather: what the endpoints read so far tells the later
// ones whether they are wanted.
type gatherRun struct {
	p      *poller
	st     *state
	acc    telegraf.Accumulator
	now    time.Time
	info   envoy.Info
	serial string
	stats  gatherStats
	// requests is the client's count when the gather began.
	requests int64
	// next holds the tiers' next reads, each applied once the tier's last
	// row has run: a tier cut short by a fatal error is tried again at the
	// next gather, one read whole keeps its time.
	next map[tier]time.Time

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

func (p *poller) gather(ctx context.Context, acc telegraf.Accumulator, now time.Time) error {
	st := &p.state
	if st.lastReport == nil {
		st.lastReport = make(map[string]envoy.Epoch)
	}
	if st.next == nil {
		st.next = make(map[tier]time.Time)
	}
	// Every lifetime counter passes through counterAcc (counters.go).
	g := &gatherRun{p: p, st: st, acc: counterAcc{Accumulator: acc, p: p, now: now}, now: now, requests: p.client().Requests(), next: make(map[tier]time.Time)}

	info, err := p.refreshInfo(ctx, now)
	if err != nil {
		// The health point still says the gateway failed, under the serial
		// last read, else the configured one, else "unknown" (emitGateway).
		g.info = envoy.Info{Serial: p.serial}
		if st.info != nil {
			g.info = *st.info
		}
		g.serial = g.info.Serial
		return p.finish(g, err)
	}
	g.info, g.serial = info, info.Serial
	p.loadCounters(info.Serial)
	if err := p.holdGateway(); err != nil {
		// Nothing is written, not even the health point: the other
		// process writes this gateway's series. Said once an episode.
		if errors.Is(err, ErrBusy) && p.state.lock.busy {
			return nil
		}
		p.state.lock.busy = errors.Is(err, ErrBusy)
		return fmt.Errorf("%w: %s: %w", ErrUnreadable, p.name(), err)
	}
	// Firmware 7 and later want a token, which never travels over plain
	// http: every gather says so, with the fix, rather than one log line.
	if !p.legacy && p.base.URL.Scheme == "http" {
		return p.finish(
			g,
			fmt.Errorf("the gateway runs firmware %s, which needs a token over https: set url = %q and token_file (see the README, 'Getting a token')",
				envoy.Quote(info.Firmware), httpsURL(p.base.URL)),
		)
	}
	if !p.legacy {
		tok, err := p.tokens.current(acc, info.Serial, now)
		if err != nil {
			return p.finish(g, err)
		}
		ctx = envoy.WithToken(ctx, tok) // the token file is read once a gather
	}

	for i := range endpoints {
		ep := &endpoints[i]
		if g.due(ep) {
			v := ep.target()
			err := p.fetch(ctx, ep, now, v)
			switch {
			case err == nil:
				g.stats.ok++
			case errors.Is(err, errDropped):
			case futile(ctx, err) != nil:
				return p.finish(g, err)
			default:
				g.stats.fail(err)
			}
			ep.use(g, v, err == nil)
		}
		if at, ok := g.next[ep.tier]; ok && lastOfTier[ep.tier] == i {
			st.next[ep.tier] = at
		}
	}
	st.pruneLastReports(now)
	return p.finish(g, nil)
}

// due reports whether ep is read in this gather: its firmware, its tier's
// schedule and what the endpoints before it read.
func (g *gatherRun) due(ep *endpoint) bool {
	if ep.firmware == before7 && !g.p.legacy {
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
func (p *poller) finish(g *gatherRun, fatal error) error {
	var auth *envoy.AuthError
	if fatal != nil {
		if p.ctx.Err() != nil {
			// Stopping: not an error worth a line in Telegraf's log.
			return fmt.Errorf("%s: %w", p.name(), context.Canceled)
		}
		if errors.As(fatal, &auth) {
			p.tokens.onAuthRejected(g.serial)
		}
		g.stats.fail(fatal)
	}
	p.emitGateway(g.acc, g.info, g.now, p.client().Requests()-g.requests, g.stats)
	if g.stats.ok == 0 && g.stats.failed > 0 && !p.legacy {
		// Nothing worked: the session may be one the gateway refuses with
		// something else than a 401 (400, 431): start a new one (case R5).
		p.client().ResetSession()
	}
	p.saveCounters(g.now, false)
	if fatal != nil && (g.stats.ok == 0 || auth != nil || certpin.Refusal(fatal) != nil) {
		return fmt.Errorf("%w: %s: %w", ErrUnreadable, p.name(), fatal)
	}
	for _, err := range g.stats.errs {
		g.acc.AddError(fmt.Errorf("%s: %w", p.name(), err))
	}
	if g.stats.ok == 0 && g.stats.failed > 0 {
		return fmt.Errorf("%w: %s: every endpoint failed", ErrUnreadable, p.name())
	}
	return nil
}

// futile returns the error if it means no further request can succeed:
// the token or the certificate is refused, check_jwt fails, or the gather
// ran out of time or was stopped.
func futile(ctx context.Context, err error) error {
	var auth *envoy.AuthError
	if errors.As(err, &auth) || certpin.Refusal(err) != nil {
		return err
	}
	// check_jwt failing (a 5xx) fails every request after it the same way:
	// one error for the gather, not one per endpoint (R17).
	var se *envoy.StatusError
	if errors.As(err, &se) && se.Path == envoy.PathCheckJWT {
		return err
	}
	if err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// refreshInfo reads /info when it is due: at start, every info_interval, and
// after errors, to catch reboots and firmware pushes.
func (p *poller) refreshInfo(ctx context.Context, now time.Time) (envoy.Info, error) {
	st := &p.state
	if st.info != nil && now.Before(st.infoNext) {
		return *st.info, nil
	}
	info, err := p.client().Info(ctx)
	if err != nil {
		return envoy.Info{}, err
	}
	if err := p.checkSerial(info); err != nil {
		return envoy.Info{}, err
	}
	if info.Legacy() != p.legacy {
		p.switchAuth(info)
	}
	if st.info != nil && st.info.Firmware != info.Firmware {
		p.log.Infof("envoy %s: firmware changed from %s to %s; probing endpoints again", info.Serial, envoy.Quote(st.info.Firmware), envoy.Quote(info.Firmware))
		st.dropped = nil
		// Every tier but the inverters' is read again at once.
		st.next = map[tier]time.Time{tierInverters: st.next[tierInverters]}
		st.metadataNext = nil // the devices' firmware may have changed too
		p.client().ResetSession()
	}
	p.stateMu.Lock()
	st.info = &info
	p.stateMu.Unlock()
	st.infoNext = now.Add(time.Duration(p.every.info))
	return info, nil
}

func (p *poller) isDropped(path string, now time.Time) bool {
	until, ok := p.state.dropped[path]
	return ok && now.Before(until)
}

// checkSerial refuses a gateway other than the configured one (case E4).
func (p *poller) checkSerial(info envoy.Info) error {
	if p.serial != "" && info.Serial != p.serial {
		return fmt.Errorf(
			"the gateway at %s has serial %s, not the configured serial %s: check url (a DHCP change?) or serial",
			p.client().Host(),
			info.Serial,
			p.serial,
		)
	}
	return p.sameGateway(info)
}

// switchAuth gives the gateway a client for its firmware: digest
// authentication over plain http before 7, the token over https from 7 on.
func (p *poller) switchAuth(info envoy.Info) {
	cfg := p.base
	p.legacy = info.Legacy()
	if p.legacy {
		auth := envoy.NewLegacyAuth(info.Serial, p.legacyUser)
		if !p.legacyPassword.Empty() {
			// Init checked that it reads.
			auth.Password, _ = secret(p.legacyPassword)
		}
		cfg.Auth = auth
		p.log.Infof("envoy %s: firmware %s is before 7: reading it over http with the %s user", info.Serial, envoy.Quote(info.Firmware), auth.User)
	}
	// From firmware 7 over an http:// url, every gather fails saying what to
	// change (see gather).
	p.setClient(envoy.New(cfg))
}

// errDropped marks an endpoint skipped because the gateway lacks it.
var errDropped = errors.New("endpoint dropped")

// fetch gets and decodes one endpoint, dropping optional ones the gateway
// lacks until reprobe_interval has passed.
func (p *poller) fetch(ctx context.Context, ep *endpoint, now time.Time, v any) error {
	st := &p.state
	path := ep.path
	if p.isDropped(path, now) {
		return errDropped
	}
	r, err := p.client().GetInto(ctx, path, ep.maxBody, st.body)
	if err == nil {
		err = envoy.DecodeLimit(r, v, ep.maxValues) // copies what it keeps
	}
	if cap(r.Body) <= maxKeptBody && cap(r.Body) > cap(st.body) {
		st.body = r.Body[:0]
	}
	if err == nil {
		if len(st.dropped) > 0 {
			delete(st.dropped, path)
		}
		return nil
	}
	var se *envoy.StatusError
	if errors.As(err, &se) {
		missing := se.Status == http.StatusNotFound
		refused := se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden
		if missing || (refused && (ep.optional || p.legacy)) {
			return p.drop(path, now, err)
		}
		if se.Status >= 500 {
			p.state.infoNext = time.Time{} // a reboot or update may be under way
		}
		return err
	}
	var te *envoy.TransportError
	if errors.As(err, &te) {
		p.state.infoNext = time.Time{}
	}
	// Firmware before 7 answers unknown JSON paths with an HTML page and a
	// 200 (captures 3.7.0, 3.8.10): the endpoint is missing there.
	var be *envoy.BodyError
	if p.legacy && errors.As(err, &be) && be.HTML {
		return p.drop(path, now, err)
	}
	return err
}

// drop stops asking for path until reprobe_interval has passed.
func (p *poller) drop(path string, now time.Time, why error) error {
	st := &p.state
	if st.dropped == nil {
		st.dropped = make(map[string]time.Time)
	}
	st.dropped[path] = now.Add(time.Duration(p.every.reprobe))
	p.log.Infof("%s: %s; not asking again for %s", p.name(), why, time.Duration(p.every.reprobe))
	return errDropped
}

// setMeters keeps the CT list the slow tier read, and which of its CTs are
// enabled, worked out once rather than every gather.
func (st *state) setMeters(m []envoy.Meter) {
	st.meters = m
	st.enabledMeters = enabledMeters(m)
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
