package envoysim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

const (
	testSerial = "122301234567"
	testInfo   = `<?xml version="1.0" encoding="UTF-8"?>
<envoy_info><time>1700000000</time><device><sn>122301234567</sn><pn>800-00654-r08</pn><software>D8.2.4345</software>` +
		`<imeter>true</imeter></device><web-tokens>true</web-tokens></envoy_info>
`
	nginx401 = "<html><head><title>401 Authorization Required</title></head></html>"
)

func testCaptures() fstest.MapFS {
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	return fstest.MapFS{
		"info":                            f(testInfo),
		"production.json":                 f(`{"production": [], "consumption": []}`),
		"ivp_meters_readings":             f(`[{"eid": 1}]`),
		"ivp_meters_readings_log.json":    f(`{"headers": {"Content-Type": "application/json; charset=utf-8"}, "code": 200}`),
		"ivp_ensemble_inventory":          f(nginx401),
		"ivp_ensemble_inventory_log.json": f(`{"headers": {"content-type": "text/html"}, "code": 401}`),
		"ivp_ss_pel_settings":             f(`{ "error" : "404 - Not Found" }`),
		"ivp_ss_pel_settings_log.json":    f(`{"code": 404}`),
		"ivp_meters":                      f("Error: 401"),
		"api_v1_production":               f(`{"wattHoursToday": 1}`),
		"api_v1_production_inverters":     f(`{"status": 401, "error": "", "info": "Authentication required", "moreInfo": ""}`),
		"home":                            f("  <html>home</html>"),
		"ivp_pdm_energy":                  f(`{"production": {}}`),
		"ivp_pdm_energy_log.json":         f(`{"code": 200, "duration_seconds": 0.2}`),
		"inventory.json_deleted_1":        f(`[]`),
	}
}

// startSim runs a real TLS server and a client that trusts only its certificate.
func startSim(t *testing.T, opts Options) (*Server, *http.Client, string) {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	base, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, trustingClient(t, s), base
}

func trustingClient(t *testing.T, s *Server) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CertificatePEM()) {
		t.Fatal("CertificatePEM did not parse")
	}
	return &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		// Prove the sim never redirects: a 3xx would come back as is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

type result struct {
	code   int
	header http.Header
	body   string
	resp   *http.Response
}

func do(t *testing.T, c *http.Client, method, url string, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{code: resp.StatusCode, header: resp.Header, body: string(b), resp: resp}
}

func bearerHdr(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func TestHTTP(t *testing.T) {
	s, c, base := startSim(t, Options{Captures: testCaptures()})
	other, err := New(Options{Captures: testCaptures()})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := s.Token()
	tokens := map[string]string{
		"good":        good,
		"expired":     s.MintToken(testSerial, "owner", now.Add(-2*time.Hour), now.Add(-time.Hour)),
		"otherSerial": s.MintToken("999999999999", "owner", now, now.Add(time.Hour)),
		"otherKey":    other.Token(), // same serial, signed by another gateway
		"garbage":     "not.a.jwt",
		"installer":   s.MintToken(testSerial, "installer", now, now.Add(12*time.Hour)),
	}
	tests := []struct {
		name     string
		method   string
		path     string
		token    string // key in tokens; "" = no Authorization
		wantCode int
		wantCT   string
		wantBody string // exact when set
		contains string
	}{
		{name: "info without auth", path: "/info", wantCode: 200, wantCT: "text/xml", contains: "<sn>122301234567</sn>"},
		{name: "info.xml without auth", path: "/info.xml", wantCode: 200, wantCT: "text/xml", contains: "<sn>122301234567</sn>"},
		{name: "info HEAD", method: http.MethodHead, path: "/info", wantCode: 200, wantCT: "text/xml"},
		{name: "data without auth", path: "/production.json", wantCode: 401, wantCT: "text/html", wantBody: page401},
		{name: "missing without auth is 401", path: "/nope", wantCode: 401, wantCT: "text/html"},
		{
			name:     "check_jwt good GET",
			path:     "/auth/check_jwt",
			token:    "good",
			wantCode: 200,
			wantCT:   "text/html",
			wantBody: "<!DOCTYPE html><h2>Valid token.</h2>\n",
		},
		{name: "check_jwt good POST", method: http.MethodPost, path: "/auth/check_jwt", token: "good", wantCode: 200, wantBody: validTokenMsg},
		{name: "check_jwt installer", path: "/auth/check_jwt", token: "installer", wantCode: 200, wantBody: validTokenMsg},
		{name: "check_jwt no token", path: "/auth/check_jwt", wantCode: 401, wantCT: "text/html", contains: "401 Authorization Required"},
		{name: "check_jwt expired", path: "/auth/check_jwt", token: "expired", wantCode: 401, wantCT: "text/html", contains: "401 Authorization Required"},
		{name: "check_jwt other serial", path: "/auth/check_jwt", token: "otherSerial", wantCode: 401, contains: "401 Authorization Required"},
		{name: "check_jwt other key", path: "/auth/check_jwt", token: "otherKey", wantCode: 401, contains: "401 Authorization Required"},
		{name: "check_jwt garbage", path: "/auth/check_jwt", token: "garbage", wantCode: 401, contains: "401 Authorization Required"},
		{name: "check_jwt PUT", method: http.MethodPut, path: "/auth/check_jwt", token: "good", wantCode: 405},
		{
			name:     "data good bearer",
			path:     "/production.json",
			token:    "good",
			wantCode: 200,
			wantCT:   "application/json",
			wantBody: `{"production": [], "consumption": []}`,
		},
		{name: "data expired", path: "/production.json", token: "expired", wantCode: 401, wantBody: page401},
		{name: "data other serial", path: "/production.json", token: "otherSerial", wantCode: 401, wantBody: page401},
		{name: "data garbage", path: "/production.json", token: "garbage", wantCode: 401, wantBody: page401},
		{
			name:     "details=1 falls back to production.json",
			path:     "/production.json?details=1",
			token:    "good",
			wantCode: 200,
			wantCT:   "application/json",
			wantBody: `{"production": [], "consumption": []}`,
		},
		{
			name:     "log content-type",
			path:     "/ivp/meters/readings",
			token:    "good",
			wantCode: 200,
			wantCT:   "application/json; charset=utf-8",
			wantBody: `[{"eid": 1}]`,
		},
		{name: "log code 401 served with body", path: "/ivp/ensemble/inventory", token: "good", wantCode: 401, wantCT: "text/html", wantBody: nginx401},
		{name: "log code 404", path: "/ivp/ss/pel_settings", token: "good", wantCode: 404, wantCT: "application/json"},
		{name: "harness ivp_meters not JSON", path: "/ivp/meters", token: "good", wantCode: 401, wantCT: "text/html", wantBody: "Error: 401"},
		{name: "harness api_v1 status 401", path: "/api/v1/production/inverters", token: "good", wantCode: 401, wantCT: "application/json"},
		{name: "api_v1 ok", path: "/api/v1/production", token: "good", wantCode: 200, wantCT: "application/json"},
		{name: "query in name", path: "/inventory.json?deleted=1", token: "good", wantCode: 200, wantBody: `[]`},
		{name: "html sniff", path: "/home", token: "good", wantCode: 200, wantCT: "text/html"},
		{
			name:     "missing file",
			path:     "/ivp/livedata/status",
			token:    "good",
			wantCode: 404,
			wantCT:   "application/json",
			wantBody: `{ "error" : "404 - Not Found" }`,
		},
		{name: "log files are not endpoints", path: "/info_log.json", token: "good", wantCode: 404},
		{name: "root", path: "/", token: "good", wantCode: 404},
		{name: "POST data", method: http.MethodPost, path: "/production.json", token: "good", wantCode: 405},
		{name: "DELETE info", method: http.MethodDelete, path: "/info", wantCode: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			var hdr map[string]string
			if tt.token != "" {
				hdr = bearerHdr(tokens[tt.token])
			}
			r := do(t, c, method, base+tt.path, hdr)
			if r.code != tt.wantCode {
				t.Fatalf("status = %d, want %d (body %q)", r.code, tt.wantCode, r.body)
			}
			if got := r.header.Get("Server"); got != "openresty/1.17.8.1" {
				t.Errorf("Server = %q", got)
			}
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("unexpected Location %q", loc)
			}
			if tt.wantCT != "" && r.header.Get("Content-Type") != tt.wantCT {
				t.Errorf("Content-Type = %q, want %q", r.header.Get("Content-Type"), tt.wantCT)
			}
			if tt.wantBody != "" && r.body != tt.wantBody {
				t.Errorf("body = %q, want %q", r.body, tt.wantBody)
			}
			if !strings.Contains(r.body, tt.contains) {
				t.Errorf("body %q does not contain %q", r.body, tt.contains)
			}
			gotCookie := sessionFrom(r.resp) != nil
			wantCookie := strings.HasPrefix(tt.path, "/auth/check_jwt") && r.code == 200
			if gotCookie != wantCookie {
				t.Errorf("sessionId cookie set = %v, want %v", gotCookie, wantCookie)
			}
		})
	}
}

func sessionFrom(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "sessionId" {
			return c
		}
	}
	return nil
}

func checkJWT(t *testing.T, c *http.Client, base, tok string) *http.Cookie {
	t.Helper()
	r := do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(tok))
	if r.code != 200 {
		t.Fatalf("check_jwt = %d", r.code)
	}
	ck := sessionFrom(r.resp)
	if ck == nil {
		t.Fatal("no sessionId cookie")
	}
	return ck
}

func cookieHdr(ck *http.Cookie) map[string]string {
	return map[string]string{"Cookie": "sessionId=" + ck.Value}
}

func TestSessionCookie(t *testing.T) {
	s, c, base := startSim(t, Options{Captures: testCaptures()})
	r := do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(s.Token()))
	raw := r.header.Get("Set-Cookie")
	if !regexp.MustCompile(`^sessionId=[0-9a-f]{32}; Path=/; (HttpOnly; Secure|Secure; HttpOnly)$`).MatchString(raw) {
		t.Errorf("Set-Cookie = %q", raw)
	}
	ck := sessionFrom(r.resp)
	second := checkJWT(t, c, base, s.Token())
	if second.Value == ck.Value {
		t.Error("two check_jwt calls returned the same sessionId")
	}

	steps := []struct {
		name     string
		hdr      map[string]string
		expire   bool
		wantCode int
	}{
		{name: "cookie alone", hdr: cookieHdr(ck), wantCode: 200},
		{name: "cookie again", hdr: cookieHdr(ck), wantCode: 200},
		{name: "unknown cookie", hdr: map[string]string{"Cookie": "sessionId=0123456789abcdef0123456789abcdef"}, wantCode: 401},
		{name: "after reboot", hdr: cookieHdr(ck), expire: true, wantCode: 401},
		{name: "other session gone too", hdr: cookieHdr(second), wantCode: 401},
		{name: "bearer still works", hdr: bearerHdr(s.Token()), wantCode: 200},
		{name: "dead cookie plus bearer", hdr: map[string]string{"Cookie": "sessionId=" + ck.Value, "Authorization": "Bearer " + s.Token()}, wantCode: 200},
	}
	for _, st := range steps {
		if st.expire {
			s.ExpireSessions()
		}
		if r := do(t, c, http.MethodGet, base+"/production.json", st.hdr); r.code != st.wantCode {
			t.Errorf("%s: status = %d, want %d", st.name, r.code, st.wantCode)
		}
	}
	// check_jwt wants the JWT itself, not a cookie.
	fresh := checkJWT(t, c, base, s.Token())
	if r := do(t, c, http.MethodGet, base+"/auth/check_jwt", cookieHdr(fresh)); r.code != 401 {
		t.Errorf("check_jwt with cookie only = %d, want 401", r.code)
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	clock := NewClock(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC))
	s, c, base := startSim(t, Options{Captures: testCaptures(), Now: clock.Now, SessionTTL: 10 * time.Minute})
	ck := checkJWT(t, c, base, s.Token())
	steps := []struct {
		advance  time.Duration
		wantCode int
	}{
		{9 * time.Minute, 200},  // within TTL of issue
		{9 * time.Minute, 200},  // 18 min after issue, 9 after last use: sliding
		{9 * time.Minute, 200},  // still sliding
		{11 * time.Minute, 401}, // idle too long
		{0, 401},                // and it stays dead
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		if r := do(t, c, http.MethodGet, base+"/production.json", cookieHdr(ck)); r.code != st.wantCode {
			t.Errorf("step %d (+%v): status = %d, want %d", i, st.advance, r.code, st.wantCode)
		}
	}
	// The token follows the fake clock too: past its lifetime check_jwt fails.
	clock.Advance(366 * 24 * time.Hour)
	if r := do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(s.Token())); r.code != 401 {
		t.Errorf("check_jwt after token expiry = %d, want 401", r.code)
	}
}

func TestStats(t *testing.T) {
	s, c, base := startSim(t, Options{Captures: testCaptures()})
	tok := s.Token()
	reqs := []struct {
		path string
		hdr  map[string]string
	}{
		{"/info", nil},
		{"/production.json", nil}, // 401
		{"/auth/check_jwt", bearerHdr(tok)},
		{"/auth/check_jwt", bearerHdr("garbage")}, // 401
		{"/production.json?details=1", bearerHdr(tok)},
		{"/production.json?details=1", bearerHdr(tok)},
		{"/ivp/ensemble/inventory", bearerHdr(tok)}, // captured 401: not "unauthorized"
		{"/missing", bearerHdr(tok)},
		{"/__sim/stats", nil}, // not counted
	}
	for _, r := range reqs {
		do(t, c, http.MethodGet, base+r.path, r.hdr)
	}
	want := Stats{
		Requests: map[string]int{
			"/info":                      1,
			"/production.json":           1,
			"/auth/check_jwt":            2,
			"/production.json?details=1": 2,
			"/ivp/ensemble/inventory":    1,
			"/missing":                   1,
		},
		CheckJWT:     2,
		Unauthorized: 2,
		Total:        8,
		Faults:       map[string]int{},
		MaxInFlight:  1, // one client, one request at a time
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(s.Stats())
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("Stats() = %s\nwant      %s", gotJSON, wantJSON)
	}
	r := do(t, c, http.MethodGet, base+"/__sim/stats", nil)
	if r.code != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("/__sim/stats = %d %q", r.code, r.header.Get("Content-Type"))
	}
	var viaHTTP Stats
	if err := json.Unmarshal([]byte(r.body), &viaHTTP); err != nil {
		t.Fatal(err)
	}
	gotJSON, _ = json.Marshal(viaHTTP)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("/__sim/stats = %s\nwant          %s", gotJSON, wantJSON)
	}
	for _, key := range []string{`"requests"`, `"check_jwt"`, `"unauthorized"`, `"total"`} {
		if !strings.Contains(r.body, key) {
			t.Errorf("/__sim/stats lacks %s: %s", key, r.body)
		}
	}

	// Stats returns a copy.
	st := s.Stats()
	st.Requests["/info"] = 99
	if s.Stats().Requests["/info"] != 1 {
		t.Error("Stats() shares its map")
	}

	// /__sim/expire_sessions ends sessions and is not counted either.
	ck := checkJWT(t, c, base, tok)
	if r := do(t, c, http.MethodPost, base+"/__sim/expire_sessions", nil); r.code != http.StatusNoContent {
		t.Errorf("expire_sessions = %d", r.code)
	}
	if r := do(t, c, http.MethodGet, base+"/info", cookieHdr(ck)); r.code != 200 {
		t.Errorf("/info = %d", r.code)
	}
	if r := do(t, c, http.MethodGet, base+"/production.json", cookieHdr(ck)); r.code != 401 {
		t.Errorf("cookie after expire_sessions = %d, want 401", r.code)
	}
	if got := s.Stats().Total; got != 11 {
		t.Errorf("Total = %d, want 11", got)
	}
}

func TestStatsConcurrent(t *testing.T) {
	s, c, base := startSim(t, Options{Captures: testCaptures()})
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, base+"/production.json", nil)
			req.Header.Set("Authorization", "Bearer "+s.Token())
			resp, err := c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			_ = s.Stats()
		})
	}
	wg.Wait()
	if got := s.Stats().Requests["/production.json"]; got != n {
		t.Errorf("count = %d, want %d", got, n)
	}
}

func TestLatency(t *testing.T) {
	// ivp_pdm_energy was captured taking 0.2 s; scaled by 0.25 that is 50 ms.
	s, c, base := startSim(t, Options{Captures: testCaptures(), LatencyScale: 0.25})
	hdr := bearerHdr(s.Token())
	start := time.Now()
	if r := do(t, c, http.MethodGet, base+"/ivp/pdm/energy", hdr); r.code != 200 {
		t.Fatalf("status = %d", r.code)
	}
	if elapsed := time.Since(start); elapsed < 50*time.Millisecond {
		t.Errorf("answered after %v, want ≥ 50ms", elapsed)
	}

	// A client that gives up ends the wait instead of leaving it running.
	slow, c2, base2 := startSim(t, Options{Captures: testCaptures(), LatencyScale: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base2+"/ivp/pdm/energy", nil)
	req.Header.Set("Authorization", "Bearer "+slow.Token())
	resp, err := c2.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("expected the request to time out")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no info", Options{Captures: fstest.MapFS{"production.json": {Data: []byte(`{}`)}}}},
		{"info not XML", Options{Captures: fstest.MapFS{"info": {Data: []byte(`<envoy_info><device>`)}}}},
		{
			"info without sn",
			Options{Captures: fstest.MapFS{"info": {Data: []byte(`<envoy_info><device><software>D8.2.4345</software></device></envoy_info>`)}}},
		},
		{"negative latency", Options{Captures: testCaptures(), LatencyScale: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.opts); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestTokenClaims(t *testing.T) {
	clock := NewClock(time.Unix(1700000000, 0))
	s, err := New(Options{Captures: testCaptures(), Now: clock.Now, TokenLifetime: 12 * time.Hour, Role: "installer"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Serial() != testSerial || s.Firmware() != "D8.2.4345" {
		t.Errorf("Serial, Firmware = %q, %q", s.Serial(), s.Firmware())
	}
	parts := strings.Split(s.Token(), ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	h := decodeSegment(t, parts[0])
	if h["alg"] != "ES256" || h["typ"] != "JWT" || !uuidRE.MatchString(h["kid"].(string)) || len(h) != 3 {
		t.Errorf("header = %v", h)
	}
	c := decodeSegment(t, parts[1])
	want := map[string]any{
		"aud": testSerial, "iss": "Entrez", "enphaseUser": "installer",
		"iat": float64(1700000000), "exp": float64(1700000000 + 12*3600), "username": "demo@example.com",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if jti, _ := c["jti"].(string); !uuidRE.MatchString(jti) {
		t.Errorf("jti = %v", c["jti"])
	}
	if len(c) != 7 {
		t.Errorf("claims = %v, want exactly 7", c)
	}
	if !s.validToken(s.Token()) {
		t.Error("Token() does not verify")
	}

	d, err := New(Options{Captures: testCaptures()})
	if err != nil {
		t.Fatal(err)
	}
	dc := decodeSegment(t, strings.Split(d.Token(), ".")[1])
	if dc["enphaseUser"] != "owner" || dc["exp"].(float64)-dc["iat"].(float64) != 365*24*3600 {
		t.Errorf("default claims = %v", dc)
	}
}

func TestCertificate(t *testing.T) {
	s, err := New(Options{Captures: testCaptures()})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(s.CertificatePEM())
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatal("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "envoy-"+testSerial {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if len(cert.DNSNames) != 1 || cert.DNSNames[0] != "envoy-"+testSerial {
		t.Errorf("DNSNames = %v", cert.DNSNames)
	}
	ips := map[string]bool{}
	for _, ip := range cert.IPAddresses {
		ips[ip.String()] = true
	}
	if !ips["127.0.0.1"] || !ips["::1"] {
		t.Errorf("IPAddresses = %v", cert.IPAddresses)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key = %T, want ECDSA P-256", cert.PublicKey)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d < 365*24*time.Hour || d > 367*24*time.Hour {
		t.Errorf("validity = %v, want about a year", d)
	}
	if err := cert.VerifyHostname("envoy-" + testSerial); err != nil {
		t.Error(err)
	}

	// Reachable over ::1 with the same verification, where IPv6 exists.
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		ln.Close()
		base, err := s.Start("[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if r := do(t, trustingClient(t, s), http.MethodGet, base+"/info", nil); r.code != 200 {
			t.Errorf("/info over ::1 = %d", r.code)
		}
	}
}

func TestStartTwiceAndClose(t *testing.T) {
	s, err := New(Options{Captures: testCaptures()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("Start after Close succeeded")
	}
	s2, _, base := startSim(t, Options{Captures: testCaptures()})
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Errorf("base = %q", base)
	}
	if _, err := s2.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
}

func TestEmbeddedDemo(t *testing.T) {
	s, c, base := startSim(t, Options{})
	if s.Serial() == "" {
		t.Fatal("demo has no serial")
	}
	r := do(t, c, http.MethodGet, base+"/info", nil)
	if r.code != 200 || !strings.Contains(r.body, "<sn>"+s.Serial()+"</sn>") {
		t.Errorf("/info = %d %q", r.code, r.body)
	}
	if r := do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(s.Token())); r.code != 200 {
		t.Errorf("check_jwt = %d", r.code)
	}
}

// Options.Serial makes another gateway of the same capture (bench/fleet
// runs hundreds): /info says the serial, and the tokens are minted for it.
func TestSerialOption(t *testing.T) {
	s, c, base := startSim(t, Options{Captures: testCaptures(), Serial: "900000000042"})
	if s.Serial() != "900000000042" {
		t.Errorf("Serial = %q", s.Serial())
	}
	r := do(t, c, http.MethodGet, base+"/info", nil)
	if r.code != 200 || !strings.Contains(r.body, "<sn>900000000042</sn>") || strings.Contains(r.body, testSerial) {
		t.Errorf("/info = %d %q", r.code, r.body)
	}
	if aud := decodeSegment(t, strings.Split(s.Token(), ".")[1])["aud"]; aud != "900000000042" {
		t.Errorf("token aud = %v", aud)
	}
	if r := do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(s.Token())); r.code != 200 {
		t.Errorf("check_jwt of its own token = %d", r.code)
	}
	if _, err := New(Options{Captures: testCaptures(), Serial: "<sn>"}); err == nil {
		t.Error("a serial that is not XML text was taken")
	}
	spaced := testCaptures()
	spaced["info"] = &fstest.MapFile{Data: bytes.Replace(spaced["info"].Data, []byte("<sn>"), []byte("<sn>\n  "), 1)}
	if _, err := New(Options{Captures: spaced, Serial: "900000000042"}); err == nil {
		t.Error("a serial was set that /info would not say")
	}
}
