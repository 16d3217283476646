//go:build !race

package enphase

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
)

// The soak: a simulated week at Telegraf's 15 s cadence against the
// simulator playing its "field-week" scenario (the nightly stall, resets,
// 5xx, HTML and broken bodies, session expiry, a revocation, reboots, a
// firmware update, a wrong gateway clock, a slow /home, cloud lockouts and
// MFA), with 12-hour installer tokens so the token is renewed about twice a
// day through those cloud faults. The plugin and the simulator share one
// manual clock; requests are real HTTPS on loopback.
//
// SOAK_DAYS lengthens it (never below 7); SOAK_REPORT=FILE writes the report.

const (
	soakTick      = 15 * time.Second
	soakMinDays   = 7
	soakStart     = "2026-03-23T00:00:00Z" // a week that holds Europe's spring DST change
	soakPassword  = "soak-pa$$word"
	soakGatherCap = 5 * time.Second // real time a gather may take before the next tick overlaps it
)

// soakFaultKinds are the faults that cost a gather its production data when
// they cover /production.json: those gathers are "hit by a fault". Every
// other fault (latency, session expiry, firmware, clock, cloud, faults on
// other endpoints) must cost nothing.
var soakFaultKinds = map[string]bool{
	envoysim.FaultHang: true, envoysim.FaultReset: true, envoysim.FaultReboot: true,
	envoysim.FaultStatus: true, envoysim.FaultUnauthorized: true, envoysim.FaultHTML: true,
	envoysim.FaultEmpty: true, envoysim.FaultTruncated: true,
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs a simulated week; -short skips it")
	}
	days := soakMinDays
	if v := os.Getenv("SOAK_DAYS"); v != "" {
		_, err := fmt.Sscan(v, &days)
		require.NoError(t, err, "SOAK_DAYS")
		days = max(days, soakMinDays)
	}
	start, _ := time.Parse(time.RFC3339, soakStart)
	clk := envoysim.NewClock(start)
	sc, err := envoysim.LoadScenario("field-week")
	require.NoError(t, err)
	sc.Start = start

	sim, err := envoysim.New(envoysim.Options{
		Now: clk.Now, Scenario: sc, Role: "installer", TokenLifetime: 12 * time.Hour,
		Accounts: map[string]string{account: soakPassword},
	})
	require.NoError(t, err)
	url, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer sim.Close()

	dir := t.TempDir()
	ca := filepath.Join(dir, "envoy.pem")
	require.NoError(t, os.WriteFile(ca, sim.CertificatePEM(), 0o600))
	log := newSoakLog(soakPassword)
	e := New()
	e.URL = url
	e.TLSCA = ca
	e.TokenFile = filepath.Join(dir, "envoy.token")
	require.NoError(t, os.WriteFile(e.TokenFile, []byte(sim.Token()+"\n"), 0o600))
	e.Username, e.Password = account, config.NewSecret([]byte(soakPassword))
	e.EnlightenURL, e.EntrezURL, e.CloudTLSCA = url, url, ca
	// Short real-time timeouts: a hang costs its timeout in real time.
	e.Timeout = config.Duration(300 * time.Millisecond)
	e.GatherTimeout = config.Duration(700 * time.Millisecond)
	e.Log = log
	e.now = clk.Now
	require.NoError(t, e.Init())
	defer e.Stop()

	ticks := days * 24 * int(time.Hour/soakTick)
	perDay := int(24 * time.Hour / soakTick)
	acc := newSoakAcc(start, ticks)
	var (
		hit, unhitWithData, unhit, overruns, tokenRefused int
		heap, goroutines                                  []uint64
		expiredAt                                         []time.Time
		revokes                                           []time.Time
	)
	for i := range sc.Faults {
		if sc.Faults[i].Kind == envoysim.FaultRevoke {
			revokes = append(revokes, start.Add(sc.Faults[i].At))
		}
	}
	for i := 1; i <= ticks; i++ {
		now := clk.Advance(soakTick)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := e.Gather(acc); err != nil {
				acc.AddError(err)
			}
		}()
		select {
		case <-done:
			e.tokens.wait() // a renewal the gather started: the next tick sees its outcome
		case <-time.After(soakGatherCap):
			overruns++
		}

		// The stored token: always there, whole, and unexpired.
		tok, err := token.ReadFile(e.TokenFile)
		require.NoError(t, err, "tick %d (%s): the token file", i, now)
		if tok.Expired(now) {
			expiredAt = append(expiredAt, now)
		}
		// A revoked token stays refused until a renewal gets through the
		// cloud: the gathers meanwhile are hit by the revocation.
		faulted := false
		if !sim.Accepts(tok.Raw) {
			if revokedBefore(revokes, now) {
				faulted = true
			} else {
				tokenRefused++
			}
		}
		for j := range sc.Faults {
			f := &sc.Faults[j]
			if soakFaultKinds[f.Kind] && f.Matches("/production.json") && sc.Active(f, now) {
				faulted = true
			}
		}
		if faulted {
			hit++
		} else {
			unhit++
			if acc.hasData(i) {
				unhitWithData++
			} else if len(acc.lost) < 30 {
				acc.lost = append(acc.lost, fmt.Sprintf("%s (%v)", now.Format("Mon 15:04:05"), acc.lastErrors()[max(0, len(acc.lastErrors())-1):]))
			}
		}

		if i%perDay == 0 {
			h, g := quiescentMemory()
			heap, goroutines = append(heap, h), append(goroutines, g)
		}
	}

	st := sim.Stats()
	rs := e.tokens.renewer.Stats()
	ratio := float64(unhitWithData) / float64(unhit)
	report := soakReport(days, ticks, hit, unhit, unhitWithData, ratio, st, rs.Renewals, rs.Failures, heap, goroutines, log, acc)
	t.Log("\n" + report)
	if p := os.Getenv("SOAK_REPORT"); p != "" {
		require.NoError(t, os.WriteFile(p, []byte(report), 0o644))
	}

	// Data: at least 99.9% of the gathers no fault hit yield production.
	require.GreaterOrEqual(t, ratio, 0.999, "gathers not hit by a fault that wrote no production; first ones: %v; last errors: %v", acc.lost, acc.lastErrors())
	require.NotZero(t, hit, "the scenario hit no gather: it proves nothing")
	// No overlapping gathers, and one request at a time (E5).
	require.Zero(t, overruns, "gathers that outran the tick")
	require.Zero(t, log.count("previous gather still running"), "overlapping gathers")
	require.Equal(t, 1, st.MaxInFlight, "gateway requests in flight at once")
	// The token: renewed before expiry, through the cloud's faults, never lost.
	require.Empty(t, expiredAt, "ticks at which the stored token had expired")
	require.Zero(t, tokenRefused, "ticks at which the gateway refused the stored token outside a revocation")
	require.GreaterOrEqual(t, rs.Renewals, int64(days*24/12), "12-hour tokens renewed")
	require.NotZero(t, rs.Failures, "no renewal met a cloud fault: the scenario proves nothing about renewal")
	for _, kind := range []string{envoysim.FaultCloudLogin, envoysim.FaultCloudTokens, envoysim.FaultRevoke, envoysim.FaultReboot, envoysim.FaultSessionExpiry} {
		require.NotZero(t, st.Faults[kind], "fault %s never acted", kind)
	}
	// Memory flat and no goroutine growth: the end within 20% of day 1.
	require.LessOrEqual(t, float64(heap[len(heap)-1]), 1.2*float64(heap[0]), "heap after day 1 %d B, at the end %d B", heap[0], heap[len(heap)-1])
	require.LessOrEqual(
		t,
		goroutines[len(goroutines)-1],
		goroutines[0]+2,
		"goroutines after day 1 %d, at the end %d",
		goroutines[0],
		goroutines[len(goroutines)-1],
	)
	// Nothing secret in any log line; every field kept its type all week.
	require.Empty(t, log.secrets, "log lines with a secret")
	require.Empty(t, acc.badValues, "NaN, Inf or a field that changed type")
	// The firmware update was noticed and the endpoints probed again.
	require.NotZero(t, log.count("firmware changed"), "firmware update not noticed")
	// T12: /home is slow on real gateways; the plugin never asks for it.
	// E6: the livedata stream is never used, so it cannot freeze values.
	for path := range st.Requests {
		require.False(t, path == "/home" || strings.HasPrefix(path, "/ivp/livedata"), "requested %s", path)
	}
}

func revokedBefore(revokes []time.Time, now time.Time) bool {
	for _, r := range revokes {
		if !now.Before(r) {
			return true
		}
	}
	return false
}

// quiescentMemory is the live heap and goroutine count after a full GC.
func quiescentMemory() (heap, goroutines uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, uint64(runtime.NumGoroutine())
}

func soakReport(days, ticks, hit, unhit, withData int, ratio float64, st envoysim.Stats, renewals, failures int64,
	heap, goroutines []uint64, log *soakLog, acc *soakAcc) string {
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d simulated days, %d gathers at 15 s\n", days, ticks)
	fmt.Fprintf(&b, "  gathers hit by a fault:           %d\n", hit)
	fmt.Fprintf(&b, "  gathers not hit, with data:       %d of %d (%.4f%%)\n", withData, unhit, 100*ratio)
	fmt.Fprintf(&b, "  gateway requests:                 %d (at most %d at once)\n", st.Total-st.CloudLogin-st.CloudTokens, st.MaxInFlight)
	fmt.Fprintf(&b, "  faults injected (requests/events): %v\n", st.Faults)
	fmt.Fprintf(&b, "  token renewals:                   %d (%d failed attempts, cloud logins %d)\n", renewals, failures, st.CloudLogin)
	fmt.Fprintf(&b, "  check_jwt calls:                  %d\n", st.CheckJWT)
	fmt.Fprintf(&b, "  heap after each day (B):          %v\n", heap)
	fmt.Fprintf(&b, "  goroutines after each day:        %v\n", goroutines)
	fmt.Fprintf(&b, "  log lines by level:               %v\n", log.levels())
	fmt.Fprintf(&b, "  points written:                   %d\n", acc.points)
	for _, l := range acc.lost {
		fmt.Fprintf(&b, "  lost: %s\n", l)
	}
	for _, line := range log.errors {
		fmt.Fprintf(&b, "  error logged: %s\n", line)
	}
	return b.String()
}

// soakAcc is an accumulator that keeps counts, not metrics, so that a week
// of data does not weigh on the heap being measured.
type soakAcc struct {
	mu        sync.Mutex
	start     time.Time
	data      []bool // by tick: a production point was written
	points    int
	types     map[string]string // measurement.field → Go type
	badValues []string
	errs      []string // the last errors
	lost      []string // gathers no fault excuses that wrote no production
}

func newSoakAcc(start time.Time, ticks int) *soakAcc {
	return &soakAcc{start: start, data: make([]bool, ticks+1), types: map[string]string{}}
}

func (a *soakAcc) hasData(tick int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.data[tick]
}

func (a *soakAcc) lastErrors() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.errs...)
}

func (a *soakAcc) AddFields(name string, fields map[string]any, _ map[string]string, t ...time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.points++
	if name == "enphase_production" && len(t) > 0 {
		if i := int(t[0].Sub(a.start) / soakTick); i >= 0 && i < len(a.data) && t[0].Sub(a.start)%soakTick == 0 {
			a.data[i] = true
		}
	}
	for k, v := range fields {
		typ := fmt.Sprintf("%T", v)
		key := name + "." + k
		if old, ok := a.types[key]; ok && old != typ && len(a.badValues) < 20 {
			a.badValues = append(a.badValues, fmt.Sprintf("%s: %s then %s", key, old, typ))
		}
		a.types[key] = typ
		if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) && len(a.badValues) < 20 {
			a.badValues = append(a.badValues, fmt.Sprintf("%s = %v", key, f))
		}
	}
}

func (a *soakAcc) AddGauge(n string, f map[string]any, tg map[string]string, t ...time.Time) {
	a.AddFields(n, f, tg, t...)
}

func (a *soakAcc) AddCounter(n string, f map[string]any, tg map[string]string, t ...time.Time) {
	a.AddFields(n, f, tg, t...)
}

func (a *soakAcc) AddSummary(n string, f map[string]any, tg map[string]string, t ...time.Time) {
	a.AddFields(n, f, tg, t...)
}

func (a *soakAcc) AddHistogram(n string, f map[string]any, tg map[string]string, t ...time.Time) {
	a.AddFields(n, f, tg, t...)
}

func (a *soakAcc) AddMetric(m telegraf.Metric) {
	a.AddFields(m.Name(), m.Fields(), m.Tags(), m.Time())
}

func (*soakAcc) SetPrecision(time.Duration) {}

func (a *soakAcc) AddError(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err.Error())
	if len(a.errs) > 10 {
		a.errs = a.errs[1:]
	}
}

func (*soakAcc) WithTracking(int) telegraf.TrackingAccumulator { panic("not used") }

// soakLog is a telegraf.Logger that checks every line for secrets as it
// comes and keeps counts, not lines.
type soakLog struct {
	mu       sync.Mutex
	password string
	byLevel  map[string]int
	phrases  map[string]int
	secrets  []string
	errors   []string // the first error lines, for the report
}

func newSoakLog(password string) *soakLog {
	return &soakLog{password: password, byLevel: map[string]int{}, phrases: map[string]int{}}
}

// watched are the phrases the soak counts.
var watched = []string{"previous gather still running", "firmware changed", "token renewed"}

func (l *soakLog) line(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byLevel[level]++
	if level == "E" && len(l.errors) < 5 {
		l.errors = append(l.errors, msg)
	}
	for _, p := range watched {
		if strings.Contains(msg, p) {
			l.phrases[p]++
		}
	}
	// A JWT starts with base64url '{"' (eyJ); cookies and passwords by name.
	if (strings.Contains(msg, "eyJ") || strings.Contains(msg, l.password) || strings.Contains(msg, "sessionId=")) && len(l.secrets) < 10 {
		l.secrets = append(l.secrets, msg)
	}
}

func (l *soakLog) count(phrase string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.phrases[phrase]
}

func (l *soakLog) levels() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.byLevel))
	for k, v := range l.byLevel {
		out[k] = v
	}
	return out
}

func (*soakLog) Level() telegraf.LogLevel            { return telegraf.Debug }
func (*soakLog) AddAttribute(string, interface{})    {}
func (l *soakLog) Errorf(f string, a ...interface{}) { l.line("E", fmt.Sprintf(f, a...)) }
func (l *soakLog) Error(a ...interface{})            { l.line("E", fmt.Sprint(a...)) }
func (l *soakLog) Warnf(f string, a ...interface{})  { l.line("W", fmt.Sprintf(f, a...)) }
func (l *soakLog) Warn(a ...interface{})             { l.line("W", fmt.Sprint(a...)) }
func (l *soakLog) Infof(f string, a ...interface{})  { l.line("I", fmt.Sprintf(f, a...)) }
func (l *soakLog) Info(a ...interface{})             { l.line("I", fmt.Sprint(a...)) }
func (l *soakLog) Debugf(f string, a ...interface{}) { l.line("D", fmt.Sprintf(f, a...)) }
func (l *soakLog) Debug(a ...interface{})            { l.line("D", fmt.Sprint(a...)) }
func (l *soakLog) Tracef(f string, a ...interface{}) { l.line("T", fmt.Sprintf(f, a...)) }
func (l *soakLog) Trace(a ...interface{})            { l.line("T", fmt.Sprint(a...)) }
