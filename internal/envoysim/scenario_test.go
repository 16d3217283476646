package envoysim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

func TestParseScenarioErrors(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"unknown key", `{"faults":[{"kind":"hang","for":"1m","forr":"2m"}]}`, `unknown field "forr"`},
		{"unknown kind", `{"faults":[{"kind":"explode"}]}`, `unknown kind "explode"`},
		{"bad duration", `{"faults":[{"kind":"hang","for":"3 minutes"}]}`, "for: want a Go duration"},
		{"daily with at", `{"faults":[{"kind":"hang","daily":"23:00","at":"1h","for":"1m"}]}`, "daily cannot be combined"},
		{"bad daily", `{"faults":[{"kind":"hang","daily":"11pm","for":"1m"}]}`, "want the local time as HH:MM"},
		{"every without for", `{"faults":[{"kind":"reset","every":"1h"}]}`, "for is required"},
		{"for not shorter than every", `{"faults":[{"kind":"reset","every":"1h","for":"1h"}]}`, "must be shorter than the period"},
		{"instant with for", `{"faults":[{"kind":"revoke","at":"1h","for":"1m"}]}`, "an instant fault has no for"},
		{"status not an error", `{"faults":[{"kind":"status","status":200,"for":"1m"}]}`, "want an error status"},
		{"latency without delay", `{"faults":[{"kind":"latency","for":"1m"}]}`, "delay is required"},
		{"clock without offset", `{"faults":[{"kind":"clock","at":"1h"}]}`, "offset is required"},
		{"firmware without change", `{"faults":[{"kind":"firmware","at":"1h"}]}`, "firmware or remove is required"},
		{"cloud mode", `{"faults":[{"kind":"cloud_login","mode":"sleepy","for":"1m"}]}`, `mode "sleepy"`},
		{"path", `{"faults":[{"kind":"reset","path":"production.json","for":"1m"}]}`, "want a gateway path"},
		{"timezone", `{"timezone":"Mars/Olympus","faults":[]}`, "timezone"},
		{"start", `{"start":"tomorrow","faults":[]}`, "want an RFC 3339 time"},
		{"negative", `{"faults":[{"kind":"reset","at":"-1h","for":"1m"}]}`, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tt.json))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseScenario error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestBuiltinScenariosLoad(t *testing.T) {
	names := BuiltinScenarios()
	if len(names) == 0 {
		t.Fatal("no built-in scenario")
	}
	for _, name := range names {
		sc, err := LoadScenario(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// The wire form reads back the same.
		b, err := json.Marshal(sc)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseScenario(b)
		if err != nil {
			t.Fatalf("%s: re-reading its own JSON: %v\n%s", name, err, b)
		}
		b2, _ := json.Marshal(again)
		if string(b) != string(b2) {
			t.Errorf("%s: round trip changed it:\n%s\n%s", name, b, b2)
		}
	}
	if _, err := LoadScenario("no-such-scenario"); err == nil || !strings.Contains(err.Error(), "built in: ") {
		t.Errorf("unknown scenario: err = %v, want the list of built-in ones", err)
	}
}

func TestParseFaultFlagMatchesJSON(t *testing.T) {
	flag, err := ParseFault("kind=firmware,at=100h,firmware=D8.3.5433,remove=/ivp/pdm/device_data|/ivp/meters")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ParseScenario([]byte(`{"faults":[{"kind":"firmware","at":"100h","firmware":"D8.3.5433","remove":["/ivp/pdm/device_data","/ivp/meters"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(flag)
	b, _ := json.Marshal(sc.Faults[0])
	if string(a) != string(b) {
		t.Errorf("flag form %s != JSON form %s", a, b)
	}
	for _, bad := range []string{"kind=hang,every=1h", "kind=hang,for=1m,colour=red", "kind=status,status=x,for=1m", "hang"} {
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("ParseFault(%q) accepted", bad)
		}
	}
}

func TestScenarioSchedule(t *testing.T) {
	start := time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)
	sc, err := ParseScenario([]byte(`{"timezone":"Europe/Paris","faults":[
		{"kind":"hang","daily":"23:00","for":"3m"},
		{"kind":"reset","at":"1h","every":"2h","for":"10m"},
		{"kind":"firmware","at":"5h","firmware":"D8.3.5433"},
		{"kind":"status","at":"2h","for":"1m"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	sc.Start = start
	daily, every, forever, once := &sc.Faults[0], &sc.Faults[1], &sc.Faults[2], &sc.Faults[3]
	tests := []struct {
		f    *Fault
		at   time.Time
		want bool
	}{
		// 23:00 in Paris is 22:00Z before the DST change of 29 March 2026 and 21:00Z after.
		{daily, time.Date(2026, 3, 27, 22, 0, 0, 0, time.UTC), true},
		{daily, time.Date(2026, 3, 27, 22, 2, 59, 0, time.UTC), true},
		{daily, time.Date(2026, 3, 27, 22, 3, 0, 0, time.UTC), false},
		{daily, time.Date(2026, 3, 27, 21, 59, 0, 0, time.UTC), false},
		{daily, time.Date(2026, 3, 29, 21, 1, 0, 0, time.UTC), true},
		{daily, time.Date(2026, 3, 29, 22, 1, 0, 0, time.UTC), false},
		{every, start.Add(59 * time.Minute), false},
		{every, start.Add(time.Hour), true},
		{every, start.Add(70 * time.Minute), false},
		{every, start.Add(5*time.Hour + 9*time.Minute), true},
		{forever, start.Add(4 * time.Hour), false},
		{forever, start.Add(500 * time.Hour), true},
		{once, start.Add(2*time.Hour + 30*time.Second), true},
		{once, start.Add(26 * time.Hour), false},
	}
	for _, tt := range tests {
		if got := sc.Active(tt.f, tt.at); got != tt.want {
			t.Errorf("%s fault at %s: active = %v, want %v", tt.f.Kind, tt.at.Format(time.RFC3339), got, tt.want)
		}
	}
}

// scenarioCaptures adds a body with timestamps to the test captures.
func scenarioCaptures() fstest.MapFS {
	fsys := testCaptures()
	fsys["production.json"] = &fstest.MapFile{Data: []byte(`{"production":[{"type":"eim","readingTime":1700000000,"wNow":100.5}]}`)}
	return fsys
}

func startScenario(t *testing.T, clock *Clock, faults string) (*Server, *http.Client, string) {
	t.Helper()
	sc, err := ParseScenario([]byte(`{"faults":[` + faults + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	return startSim(t, Options{Captures: scenarioCaptures(), Now: clock.Now, Scenario: sc, SessionTTL: 24 * time.Hour})
}

func TestFaultKinds(t *testing.T) {
	type check func(t *testing.T, r result)
	status := func(code int, contains string) check {
		return func(t *testing.T, r result) {
			t.Helper()
			if r.code != code || !strings.Contains(r.body, contains) {
				t.Errorf("got %d %q, want %d with %q", r.code, r.body, code, contains)
			}
		}
	}
	tests := []struct {
		fault string
		path  string
		want  check
	}{
		{`{"kind":"status","at":"1h","for":"1m"}`, "/production.json", status(503, "<h1>503 Service Unavailable</h1>")},
		{`{"kind":"status","status":504,"path":"/production.json","at":"1h","for":"1m"}`, "/production.json", status(504, "openresty")},
		{`{"kind":"unauthorized","path":"/production.json","at":"1h","for":"1m"}`, "/production.json", status(401, "401 Authorization Required")},
		{`{"kind":"html","at":"1h","for":"1m"}`, "/production.json", func(t *testing.T, r result) {
			if r.code != 200 || r.header.Get("Content-Type") != "text/html" || !strings.HasPrefix(r.body, "<!DOCTYPE html>") {
				t.Errorf("got %d %s %q, want a 200 HTML page", r.code, r.header.Get("Content-Type"), r.body)
			}
		}},
		{`{"kind":"empty","at":"1h","for":"1m"}`, "/production.json", status(200, "")},
		{`{"kind":"truncated","at":"1h","for":"1m"}`, "/production.json", func(t *testing.T, r result) {
			full := `{"production":[{"type":"eim","readingTime":1700000000,"wNow":100.5}]}`
			if r.code != 200 || r.body == "" || !strings.HasPrefix(full, r.body) || json.Valid([]byte(r.body)) {
				t.Errorf("got %d %q, want a cut-off prefix of the capture", r.code, r.body)
			}
		}},
		{`{"kind":"clock","offset":"-3h","at":"1h","for":"1m"}`, "/production.json", status(200, `"readingTime":1699989200`)},
		{`{"kind":"firmware","at":"1h","firmware":"D8.3.5433","remove":["/production.json"]}`, "/production.json", status(404, "404 - Not Found")},
		{`{"kind":"firmware","at":"1h","firmware":"D8.3.5433"}`, "/info", status(200, "<software>D8.3.5433</software>")},
		{`{"kind":"latency","delay":"1ms","at":"1h","for":"1m"}`, "/production.json", status(200, `"wNow":100.5`)},
		{`{"kind":"status","path":"/ivp/*","at":"1h","for":"1m"}`, "/production.json", status(200, `"wNow":100.5`)},
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			s, c, base := startScenario(t, clock, tt.fault)
			before := do(t, c, http.MethodGet, base+tt.path, bearerHdr(s.Token()))
			if before.code != 200 {
				t.Fatalf("before the fault: %d %q", before.code, before.body)
			}
			clock.Advance(time.Hour)
			tt.want(t, do(t, c, http.MethodGet, base+tt.path, bearerHdr(s.Token())))
			var kind struct {
				Kind string `json:"kind"`
			}
			_ = json.Unmarshal([]byte(tt.fault), &kind)
			if strings.Contains(tt.fault, `"/ivp/*"`) {
				if n := s.Stats().Faults[kind.Kind]; n != 0 {
					t.Errorf("a fault on another path counted %d", n)
				}
				return
			}
			if n := s.Stats().Faults[kind.Kind]; n != 1 {
				t.Errorf("Stats().Faults[%s] = %d, want 1", kind.Kind, n)
			}
		})
	}
}

func TestFaultResetAndReboot(t *testing.T) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, c, base := startScenario(t, clock, `{"kind":"reset","path":"/production.json","at":"1h","for":"1m"},{"kind":"reboot","at":"2h","for":"5m"}`)
	session := checkJWT(t, c, base, s.Token())
	clock.Advance(time.Hour)
	_, err := c.Get(base + "/production.json")
	if !errors.Is(err, syscall.ECONNRESET) && (err == nil || !strings.Contains(err.Error(), "EOF")) {
		t.Errorf("reset: err = %v, want a connection reset", err)
	}
	clock.Advance(time.Hour)
	if _, err := c.Get(base + "/info"); err == nil {
		t.Error("during the reboot /info answered")
	}
	clock.Advance(5 * time.Minute)
	if r := do(t, c, http.MethodGet, base+"/production.json", cookieHdr(session)); r.code != 401 {
		t.Errorf("after the reboot the old session still works: %d", r.code)
	}
	if r := do(t, c, http.MethodGet, base+"/production.json", bearerHdr(s.Token())); r.code != 200 {
		t.Errorf("after the reboot the token does not: %d", r.code)
	}
}

func TestFaultInstants(t *testing.T) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, c, base := startScenario(t, clock, `{"kind":"session_expiry","every":"30m"},{"kind":"revoke","at":"2h"}`)
	old := s.Token()
	session := checkJWT(t, c, base, old)
	clock.Advance(29 * time.Minute)
	if r := do(t, c, http.MethodGet, base+"/production.json", cookieHdr(session)); r.code != 200 {
		t.Fatalf("session before expiry: %d", r.code)
	}
	clock.Advance(time.Minute)
	if r := do(t, c, http.MethodGet, base+"/production.json", cookieHdr(session)); r.code != 401 {
		t.Errorf("session after the expiry time: %d, want 401", r.code)
	}
	if r := do(t, c, http.MethodGet, base+"/production.json", bearerHdr(old)); r.code != 200 {
		t.Errorf("token before revocation: %d", r.code)
	}
	clock.Advance(90 * time.Minute)
	if r := do(t, c, http.MethodGet, base+"/production.json", bearerHdr(old)); r.code != 401 {
		t.Errorf("token after revocation: %d, want 401", r.code)
	}
	now := clock.Now()
	fresh := s.MintToken(s.Serial(), "owner", now, now.Add(time.Hour))
	if r := do(t, c, http.MethodGet, base+"/production.json", bearerHdr(fresh)); r.code != 200 {
		t.Errorf("token minted after revocation: %d", r.code)
	}
	st := s.Stats()
	if st.Faults[FaultSessionExpiry] < 1 || st.Faults[FaultRevoke] != 1 {
		t.Errorf("Stats().Faults = %v", st.Faults)
	}
}

func TestFaultHangEndsWithTheClient(t *testing.T) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, c, base := startScenario(t, clock, `{"kind":"hang","path":"/production.json","at":"1h","for":"3m"}`)
	clock.Advance(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/production.json", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a hung endpoint answered %d", resp.StatusCode)
	}
	clock.Advance(3 * time.Minute)
	if r := do(t, c, http.MethodGet, base+"/production.json", bearerHdr(s.Token())); r.code != 200 {
		t.Errorf("after the hang: %d", r.code)
	}
	if st := s.Stats(); st.MaxInFlight != 1 {
		t.Errorf("MaxInFlight = %d, want 1 for one client asking in turn", st.MaxInFlight)
	}
}

func TestCloudFaults(t *testing.T) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	sc, err := ParseScenario(
		[]byte(`{"faults":[{"kind":"cloud_login","mode":"mfa","at":"1h","for":"1h"},{"kind":"cloud_tokens","mode":"down","at":"3h","for":"1h"}]}`),
	)
	if err != nil {
		t.Fatal(err)
	}
	s, c, base := startSim(t, cloudOpts(Options{Captures: testCaptures(), Now: clock.Now, Scenario: sc}))
	session := login(t, c, base, cloudEmail, cloudPassword)
	clock.Advance(time.Hour)
	r := post(
		t,
		c,
		base+cloudLoginPath,
		"application/x-www-form-urlencoded",
		loginForm(cloudEmail, cloudPassword),
		map[string]string{"Accept": "application/json"},
	)
	if !strings.Contains(r.body, `"isBlocked":false`) || strings.Contains(r.body, "session_id") {
		t.Errorf("login with MFA on: %d %q", r.code, r.body)
	}
	clock.Advance(2 * time.Hour)
	r = post(t, c, base+cloudTokensPath, "application/json", tokensBody(session, s.Serial(), cloudEmail), nil)
	if r.code != http.StatusServiceUnavailable {
		t.Errorf("/tokens while down: %d", r.code)
	}
	if st := s.FaultState(); len(st.Active) != 1 || st.Active[0].Kind != FaultCloudTokens {
		t.Errorf("FaultState().Active = %+v", st.Active)
	}
}

// TestMaxInFlightSeesOverlap: two clients asking at once are counted as
// such, so an assertion of one request at a time can fail.
func TestMaxInFlightSeesOverlap(t *testing.T) {
	s, c, base := startSim(t, Options{Captures: testCaptures(), LatencyScale: 1}) // ivp_pdm_energy takes 0.2 s
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, base+"/ivp/pdm/energy", nil)
			req.Header.Set("Authorization", "Bearer "+s.Token())
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.MaxInFlight != 2 {
		t.Errorf("MaxInFlight = %d, want 2", st.MaxInFlight)
	}
}
