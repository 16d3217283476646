package enphase

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// state is what a gateway's gathers remember between runs.
type state struct {
	info     *envoy.Info
	infoNext time.Time // when /info is due again
	meters   []envoy.Meter
	metersAt time.Time // when /ivp/meters is due again

	invertersNext time.Time
	lastReport    map[string]envoy.Epoch // inverter serial → last emitted lastReportDate

	ensembleNext time.Time
	tariffNext   time.Time
	batteries    bool // IQ Batteries or AC Batteries seen: the tariff matters
	// Configuration read with /info, not every ensemble read.
	ensembleCfgAt   time.Time
	contactSettings envoy.DryContactSettings
	generatorCfg    envoy.GeneratorConfig

	dropped map[string]time.Time // endpoint → when to probe it again

	counters counters // lifetime counters repaired across gathers
}

// optional endpoints are dropped for reprobe_interval when the gateway lacks
// them (404) or refuses them to this token (401 after a fresh check_jwt).
var optional = map[string]bool{
	envoy.PathMeters:              true,
	envoy.PathMeterReadings:       true,
	envoy.PathInverters:           true,
	envoy.PathDeviceData:          true,
	envoy.PathEnsembleInventory:   true,
	envoy.PathEnsemblePower:       true,
	envoy.PathEnsembleSecCtrl:     true,
	envoy.PathEnsembleDryContacts: true,
	envoy.PathDryContactSettings:  true,
	envoy.PathEnsembleGenerator:   true,
	envoy.PathGeneratorConfig:     true,
	envoy.PathTariff:              true,
	envoy.PathSummary:             true,
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
	requestsBefore := e.client.Requests()
	st := &e.state
	if st.counters == nil {
		st.counters = counters{}
	}
	var stats gatherStats

	info, err := e.refreshInfo(ctx, now)
	if err != nil {
		if certpin.Refusal(err) != nil && st.info != nil {
			// The gateway is known: its health point still says it failed.
			return e.fatal(acc, *st.info, now, requestsBefore, &stats, err)
		}
		return fmt.Errorf("%w: %s: %w", ErrUnreadable, e.Name(), err)
	}
	// Firmware 7 and later want a token, which never travels over plain
	// http: every gather says so, with the fix, rather than one log line.
	if !e.legacy && e.base.URL.Scheme == "http" {
		err := fmt.Errorf("the gateway runs firmware %s, which needs a token over https: set url = %q and token_file (see the README, 'Getting a token')", info.Firmware, httpsURL(e.base.URL))
		return e.fatal(acc, info, now, requestsBefore, &stats, err)
	}
	if !e.legacy {
		if _, err := e.currentToken(acc, info.Serial, now); err != nil {
			return e.fatal(acc, info, now, requestsBefore, &stats, err)
		}
	}

	// step fetches one endpoint; it returns false when nothing was decoded, and
	// an error only when the rest of the gather is futile.
	step := func(path string, v any) (bool, error) {
		err := e.fetch(ctx, path, now, v)
		switch {
		case err == nil:
			stats.ok++
			return true, nil
		case errors.Is(err, errDropped):
			return false, nil
		}
		if fatal := futile(ctx, err); fatal != nil {
			return false, fatal
		}
		stats.fail(err)
		return false, nil
	}

	// Before firmware 7 the summary is where production lives, and is read
	// first: until one request has passed the digest check, a 401 cannot tell
	// a wrong password from an endpoint this firmware refuses. Later firmware
	// mirrors the CT there, or stalls (case P8), so it is not read.
	if e.legacy {
		var sum envoy.Summary
		ok, err := step(envoy.PathSummary, &sum)
		if err != nil {
			return e.fatal(acc, info, now, requestsBefore, &stats, err)
		}
		if ok {
			addSummary(acc, info.Serial, sum, now)
		}
	}

	// CT configuration changes rarely: read it with /info, not every gather.
	if !now.Before(st.metersAt) {
		var meters []envoy.Meter
		ok, err := step(envoy.PathMeters, &meters)
		if err != nil {
			return e.fatal(acc, info, now, requestsBefore, &stats, err)
		}
		switch {
		case ok:
			st.meters = meters
			st.metersAt = now.Add(time.Duration(e.InfoInterval))
		case e.isDropped(envoy.PathMeters, now):
			st.meters = nil
			st.metersAt = now.Add(time.Duration(e.ReprobeInterval))
		}
	}

	var prod envoy.Production
	ok, err := step(envoy.PathProduction, &prod)
	if err != nil {
		return e.fatal(acc, info, now, requestsBefore, &stats, err)
	}
	if ok {
		e.addProduction(acc, info.Serial, prod, phaseCount(st.meters), now)
		addACBatteries(acc, info.Serial, prod.Storage, now)
		for _, sto := range prod.Storage {
			if sto.ActiveCount.Valid && sto.ActiveCount.V > 0 {
				st.batteries = true
			}
		}
	}

	// Readings are joined to meters by eid, so without the CT list they are useless.
	if enabled := enabledMeters(st.meters); len(enabled) > 0 {
		var readings []envoy.MeterReading
		ok, err := step(envoy.PathMeterReadings, &readings)
		if err != nil {
			return e.fatal(acc, info, now, requestsBefore, &stats, err)
		}
		if ok {
			addMeterReadings(acc, info.Serial, enabled, readings, now)
		}
	}

	if !now.Before(st.ensembleNext) {
		ok, err := e.gatherEnsemble(acc, info.Serial, now, step)
		if err != nil {
			return e.fatal(acc, info, now, requestsBefore, &stats, err)
		}
		if ok {
			st.ensembleNext = now.Add(time.Duration(e.EnsembleInterval))
		}
	}
	if st.batteries && !now.Before(st.tariffNext) {
		var t envoy.Tariff
		ok, err := step(envoy.PathTariff, &t)
		if err != nil {
			return e.fatal(acc, info, now, requestsBefore, &stats, err)
		}
		if ok {
			addTariff(acc, info.Serial, t, now)
			st.tariffNext = now.Add(time.Duration(e.TariffInterval))
		}
	}

	if !now.Before(st.invertersNext) {
		if st.lastReport == nil {
			st.lastReport = make(map[string]envoy.Epoch)
		}
		// Detailed data first (firmware 8.2.4345 and later); the summary list
		// where it is missing, and for the inverters beyond its 50-device cap.
		var detail envoy.DeviceData
		ok, err := step(envoy.PathDeviceData, &detail)
		if err != nil {
			return e.fatal(acc, info, now, requestsBefore, &stats, err)
		}
		var covered map[string]bool
		if ok && (detail.DeviceCount.Valid || len(detail.Devices) > 0) {
			covered = addDeviceData(acc, info.Serial, detail, st.lastReport, now)
		}
		done := covered != nil && !detail.Capped()
		if !done {
			var invs []envoy.Inverter
			ok, err = step(envoy.PathInverters, &invs)
			if err != nil {
				return e.fatal(acc, info, now, requestsBefore, &stats, err)
			}
			if ok {
				addInverters(acc, info.Serial, invs, covered, st.lastReport, now)
				done = true
			}
		}
		// On failure, try again next gather rather than a whole interval later.
		if done {
			st.invertersNext = now.Add(time.Duration(e.InvertersInterval))
		}
	}

	e.emitGateway(acc, info, now, e.client.Requests()-requestsBefore, stats)
	for _, err := range stats.errs {
		acc.AddError(fmt.Errorf("%s: %w", e.Name(), err))
	}
	if stats.ok == 0 && stats.failed > 0 {
		return fmt.Errorf("%w: %s: every endpoint failed", ErrUnreadable, e.Name())
	}
	return nil
}

// fatal ends a gather on an error that makes every further request futile:
// the token is refused, the certificate is not the pinned one, or the gather
// ran out of time. What was read before it is kept; only a gather that read
// nothing is "could not be read", except that a refused token or
// certificate always fails the gather.
func (e *Enphase) fatal(acc telegraf.Accumulator, info envoy.Info, now time.Time, requestsBefore int64, stats *gatherStats, err error) error {
	if e.ctx.Err() != nil {
		// Stopping: not an error worth a line in Telegraf's log.
		return fmt.Errorf("%s: %w", e.Name(), context.Canceled)
	}
	var auth *envoy.AuthError
	if errors.As(err, &auth) {
		e.onAuthRejected(info.Serial)
	}
	stats.fail(err)
	e.emitGateway(acc, info, now, e.client.Requests()-requestsBefore, *stats)
	if stats.ok > 0 && auth == nil && certpin.Refusal(err) == nil {
		for _, err := range stats.errs {
			acc.AddError(fmt.Errorf("%s: %w", e.Name(), err))
		}
		return nil
	}
	return fmt.Errorf("%w: %s: %w", ErrUnreadable, e.Name(), err)
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
		st.metersAt, st.ensembleNext, st.ensembleCfgAt, st.tariffNext = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		e.client.ResetSession()
	}
	e.stateMu.Lock()
	st.info = &info
	e.stateMu.Unlock()
	st.infoNext = now.Add(time.Duration(e.InfoInterval))
	return info, nil
}

// gatherEnsemble reads batteries, the IQ System Controller, dry contacts and
// the generator, asking only for what the inventory says exists. It returns
// false when the tier should be tried again next gather.
func (e *Enphase) gatherEnsemble(acc telegraf.Accumulator, serial string, now time.Time, step func(string, any) (bool, error)) (bool, error) {
	st := &e.state
	var inv envoy.EnsembleInventory
	ok, err := step(envoy.PathEnsembleInventory, &inv)
	if err != nil || !ok {
		// A gateway without an ensemble (404) is done until the next probe.
		return e.isDropped(envoy.PathEnsembleInventory, now), err
	}
	if len(inv) == 0 {
		// No ensemble devices: ask again at the next probe, not every minute.
		st.ensembleNext = now.Add(time.Duration(e.ReprobeInterval))
		return false, nil
	}
	batteries := inv.BatteryCount() > 0
	if batteries {
		st.batteries = true
		var power envoy.EnsemblePower
		if _, err := step(envoy.PathEnsemblePower, &power); err != nil {
			return false, err
		}
		addBatteries(acc, serial, inv, power, now)
		var sec envoy.SecCtrl
		ok, err := step(envoy.PathEnsembleSecCtrl, &sec)
		if err != nil {
			return false, err
		}
		if ok {
			addBatterySystem(acc, serial, sec, &inv, now)
		}
	}
	addSystemControllers(acc, serial, inv, now)
	if !inv.Has(envoy.DeviceEnpower) {
		return true, nil
	}
	// Every gateway answers these, with or without a controller: they are
	// read only where one exists, and their configuration only with /info.
	if !now.Before(st.ensembleCfgAt) {
		var settings envoy.DryContactSettings
		if ok, err := step(envoy.PathDryContactSettings, &settings); err != nil {
			return false, err
		} else if ok {
			st.contactSettings = settings
		}
		var gen envoy.GeneratorConfig
		if ok, err := step(envoy.PathGeneratorConfig, &gen); err != nil {
			return false, err
		} else if ok {
			st.generatorCfg = gen
		}
		st.ensembleCfgAt = now.Add(time.Duration(e.InfoInterval))
	}
	var contacts envoy.DryContacts
	if ok, err := step(envoy.PathEnsembleDryContacts, &contacts); err != nil {
		return false, err
	} else if ok {
		addDryContacts(acc, serial, contacts, st.contactSettings, now)
	}
	if st.generatorCfg.Configured() {
		var g envoy.Generator
		if ok, err := step(envoy.PathEnsembleGenerator, &g); err != nil {
			return false, err
		} else if ok {
			addGenerator(acc, serial, g, now)
		}
	}
	return true, nil
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
func (e *Enphase) fetch(ctx context.Context, path string, now time.Time, v any) error {
	st := &e.state
	if e.isDropped(path, now) {
		return errDropped
	}
	r, err := e.client.Get(ctx, path)
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
		if missing || (refused && (optional[path] || e.legacy)) {
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
