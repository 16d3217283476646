package envoysim

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

const legacySerial = "121400000042"

func legacyCaptures() fstest.MapFS {
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	return fstest.MapFS{
		"info": f(
			`<?xml version='1.0' encoding='UTF-8'?><envoy_info><time>1700000000</time><device><sn>` + legacySerial +
				`</sn><pn>800-00069-r05</pn><software>R3.9.36</software></device></envoy_info>`,
		),
		"api_v1_production":               f(`{"wattHoursToday": 1, "wattsNow": 2}`),
		"api_v1_production_inverters":     f(`[{"serialNumber": "1", "lastReportWatts": 3}]`),
		"ivp_meters":                      f("Error: 401"),
		"ivp_meters_log.json":             f(`{"headers": {"content-type": "text/plain"}, "code": 401}`),
		"ivp_ensemble_inventory":          f(`{ "error" : "404 - Not Found" }`),
		"ivp_ensemble_inventory_log.json": f(`{"code": 404}`),
	}
}

// challengeRE reads a WWW-Authenticate value written by the simulator.
var challengeRE = regexp.MustCompile(`(\w+)=(?:"([^"]*)"|([^,\s]+))`)

type testChallenge map[string]string

func parseTestChallenge(t *testing.T, h string) testChallenge {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "Digest ")
	if !ok {
		t.Fatalf("WWW-Authenticate = %q, want a Digest challenge", h)
	}
	c := testChallenge{}
	for _, m := range challengeRE.FindAllStringSubmatch(rest, -1) {
		c[m[1]] = m[2] + m[3]
	}
	return c
}

func md5s(s string) string { x := md5.Sum([]byte(s)); return hex.EncodeToString(x[:]) }

// answer computes a qop=auth Authorization for the challenge; realm and uri
// may be overridden to build bad answers.
func (c testChallenge) answer(user, password, method, uri string, nc int, cnonce string) string {
	ha1 := md5s(user + ":" + c["realm"] + ":" + password)
	ha2 := md5s(method + ":" + uri)
	ncs := fmt.Sprintf("%08x", nc)
	resp := md5s(ha1 + ":" + c["nonce"] + ":" + ncs + ":" + cnonce + ":auth:" + ha2)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", qop=auth, nc=%s, cnonce="%s", response="%s"`,
		user, c["realm"], c["nonce"], uri, ncs, cnonce, resp)
}

// answer2069 is the form without qop.
func (c testChallenge) answer2069(user, password, method, uri string) string {
	resp := md5s(md5s(user+":"+c["realm"]+":"+password) + ":" + c["nonce"] + ":" + md5s(method+":"+uri))
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`, user, c["realm"], c["nonce"], uri, resp)
}

// challengeFor GETs url without credentials and returns the 401's challenge.
func challengeFor(t *testing.T, c *http.Client, url string) testChallenge {
	t.Helper()
	r := do(t, c, http.MethodGet, url, nil)
	if r.code != http.StatusUnauthorized {
		t.Fatalf("GET %s without credentials: %d, want 401", url, r.code)
	}
	return parseTestChallenge(t, r.header.Get("WWW-Authenticate"))
}

// digestGet is what a digest client does: a GET and, if it draws a
// challenge, the GET again with the answer.
func digestGet(t *testing.T, c *http.Client, base, uri, user, password string) result {
	t.Helper()
	r := do(t, c, http.MethodGet, base+uri, nil)
	if r.code != http.StatusUnauthorized {
		return r
	}
	ch := parseTestChallenge(t, r.header.Get("WWW-Authenticate"))
	return do(t, c, http.MethodGet, base+uri, map[string]string{"Authorization": ch.answer(user, password, http.MethodGet, uri, 1, "abcdef0123456789")})
}

func TestLegacyFirmware(t *testing.T) {
	for fw, want := range map[string]bool{
		"R3.9.36": true, "D3.7.0": true, "D3.18.10 (f0855e)": true, "M4.2.33": true, "R4.10.35": true, "D5.0.62": true,
		"D7.0.88": false, "D7.6.175": false, "D8.2.4345": false, "D10.1.1": false, "": false, "unknown": false,
	} {
		if got := legacyFirmware(fw); got != want {
			t.Errorf("legacyFirmware(%q) = %v, want %v", fw, got, want)
		}
	}
}

func TestLegacyPasswords(t *testing.T) {
	s, err := New(Options{Captures: legacyCaptures()})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.LegacyPassword("envoy"); got != "000042" {
		t.Errorf("envoy password %q", got)
	}
	if got := s.LegacyPassword("admin"); got != "" {
		t.Errorf("admin password %q, want none", got)
	}
	// 121426016034 is 3.9.36's serial; the value comes from a Python
	// transliteration of docs/envoy-api-notes.md section 4.
	if got := installerPassword("121426016034"); got != "B285db82" {
		t.Errorf("installer password for 121426016034 = %q", got)
	}
	// The simulator's derivation and the client's agree.
	for i := range 2000 {
		serial := fmt.Sprintf("12%010d", i*7919+i*i)
		if a, b := installerPassword(serial), envoy.LegacyPassword(serial, "installer"); a != b {
			t.Fatalf("%s: sim %q, client %q", serial, a, b)
		}
	}
}

func TestLegacySim(t *testing.T) {
	clock := NewClock(time.Date(2023, 8, 9, 12, 0, 0, 0, time.UTC))
	s, c, base := startSim(t, Options{Captures: legacyCaptures(), Now: clock.Now, SessionTTL: time.Minute})
	if !s.Legacy() {
		t.Fatal("Legacy() = false for R3.9.36")
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base = %q, want plain http", base)
	}
	// No TLS on the port.
	if _, err := c.Get("https" + strings.TrimPrefix(base, "http") + "/info"); err == nil {
		t.Error("https:// worked on a legacy gateway")
	}
	envoyPW, installerPW := s.LegacyPassword("envoy"), s.LegacyPassword("installer")
	const data = "/api/v1/production"
	get := func(uri string, auth string) result {
		hdr := map[string]string{}
		if auth != "" {
			hdr["Authorization"] = auth
		}
		return do(t, c, http.MethodGet, base+uri, hdr)
	}

	t.Run("public and missing", func(t *testing.T) {
		for _, p := range []string{"/info", "/info.xml"} {
			if r := get(p, ""); r.code != 200 || !strings.Contains(r.body, legacySerial) {
				t.Errorf("%s = %d", p, r.code)
			}
		}
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			r := do(t, c, m, base+"/auth/check_jwt", bearerHdr(s.Token()))
			if r.code != http.StatusNotFound || r.header.Get("Set-Cookie") != "" {
				t.Errorf("%s /auth/check_jwt = %d, want 404 without cookie", m, r.code)
			}
		}
		if r := get("/__sim/stats", ""); r.code != 200 {
			t.Errorf("/__sim/stats = %d", r.code)
		}
	})

	t.Run("challenge", func(t *testing.T) {
		r := get(data, "")
		if r.code != http.StatusUnauthorized || r.body != legacy401Page {
			t.Fatalf("no credentials: %d %q", r.code, r.body)
		}
		h := r.header.Get("WWW-Authenticate")
		if !regexp.MustCompile(`^Digest qop="auth", realm="enphaseenergy.com", nonce="[A-Za-z0-9+/=]{20,}"$`).MatchString(h) {
			t.Errorf("WWW-Authenticate = %q", h)
		}
		if r := get(data, "Bearer "+s.Token()); r.code != http.StatusUnauthorized {
			t.Errorf("Bearer token: %d, want 401", r.code)
		}
		if r := get(data, "Basic ZW52b3k6MDAwMDQy"); r.code != http.StatusUnauthorized {
			t.Errorf("Basic: %d, want 401", r.code)
		}
	})

	t.Run("both users", func(t *testing.T) {
		for user, pw := range map[string]string{"envoy": envoyPW, "installer": installerPW} {
			ch := challengeFor(t, c, base+data)
			for nc := 1; nc <= 3; nc++ {
				r := get(data, ch.answer(user, pw, http.MethodGet, data, nc, fmt.Sprint("cn", nc)))
				if r.code != 200 || r.body != `{"wattHoursToday": 1, "wattsNow": 2}` {
					t.Errorf("%s nc=%d: %d %q", user, nc, r.code, r.body)
				}
			}
			// Other URIs, HEAD and the RFC 2069 form, under the same nonce.
			uri := "/api/v1/production/inverters"
			if r := get(uri, ch.answer(user, pw, http.MethodGet, uri, 4, "x")); r.code != 200 {
				t.Errorf("%s %s: %d", user, uri, r.code)
			}
			h := map[string]string{"Authorization": ch.answer(user, pw, http.MethodHead, data, 5, "y")}
			if r := do(t, c, http.MethodHead, base+data, h); r.code != 200 {
				t.Errorf("%s HEAD: %d", user, r.code)
			}
			if r := get(data, ch.answer2069(user, pw, http.MethodGet, data)); r.code != 200 {
				t.Errorf("%s RFC 2069: %d", user, r.code)
			}
		}
	})

	t.Run("refusals", func(t *testing.T) {
		ch := challengeFor(t, c, base+data)
		bad := map[string]string{
			"wrong password":                ch.answer("envoy", "123456", http.MethodGet, data, 1, "a"),
			"installer with envoy's":        ch.answer("installer", envoyPW, http.MethodGet, data, 1, "a"),
			"unknown user":                  ch.answer("admin", envoyPW, http.MethodGet, data, 1, "a"),
			"other uri":                     ch.answer("envoy", envoyPW, http.MethodGet, "/info", 1, "a"),
			"other method":                  ch.answer("envoy", envoyPW, http.MethodPost, data, 1, "a"),
			"other realm":                   testChallenge{"realm": "other", "nonce": ch["nonce"]}.answer("envoy", envoyPW, http.MethodGet, data, 1, "a"),
			"unknown nonce, wrong password": testChallenge{"realm": legacyRealm, "nonce": "made-up"}.answer("envoy", "x", http.MethodGet, data, 1, "a"),
			"short nc":                      strings.Replace(ch.answer("envoy", envoyPW, http.MethodGet, data, 1, "a"), "nc=00000001", "nc=1", 1),
			"qop auth-int":                  strings.Replace(ch.answer("envoy", envoyPW, http.MethodGet, data, 1, "a"), "qop=auth", "qop=auth-int", 1),
			"sha-256": strings.Replace(
				ch.answer("envoy", envoyPW, http.MethodGet, data, 1, "a"),
				"qop=auth",
				"algorithm=SHA-256, qop=auth",
				1,
			),
			"garbage": `Digest username="envoy", realm="enphaseenergy.com", nonce="`,
		}
		for name, auth := range bad {
			r := get(data, auth)
			h := r.header.Get("WWW-Authenticate")
			if r.code != http.StatusUnauthorized || strings.Contains(h, "stale") || !strings.HasPrefix(h, "Digest ") {
				t.Errorf("%s: %d, WWW-Authenticate %q; want 401 with a fresh, not stale, challenge", name, r.code, h)
			}
		}
		// The nonce still works after the refusals.
		if r := get(data, ch.answer("envoy", envoyPW, http.MethodGet, data, 1, "a")); r.code != 200 {
			t.Errorf("after refusals: %d", r.code)
		}
	})

	t.Run("stale", func(t *testing.T) {
		ch := challengeFor(t, c, base+data)
		ok := ch.answer("envoy", envoyPW, http.MethodGet, data, 1, "a")
		if r := get(data, ok); r.code != 200 {
			t.Fatalf("first use: %d", r.code)
		}
		isStale := func(name string, r result) {
			t.Helper()
			h := r.header.Get("WWW-Authenticate")
			if r.code != http.StatusUnauthorized || !strings.HasSuffix(h, ", stale=true") {
				t.Errorf("%s: %d %q, want 401 stale=true", name, r.code, h)
			}
			if next := parseTestChallenge(t, h); next["nonce"] == ch["nonce"] {
				t.Errorf("%s: same nonce again", name)
			}
		}
		isStale("replayed nc", get(data, ok))
		isStale("lower nc", get(data, ch.answer("envoy", envoyPW, http.MethodGet, data, 0, "b")))
		isStale("unknown nonce", get(data, testChallenge{"realm": legacyRealm, "nonce": "made-up"}.answer("envoy", envoyPW, http.MethodGet, data, 1, "a")))

		// Idle past SessionTTL: stale; used within it: kept alive (sliding).
		clock.Advance(50 * time.Second)
		if r := get(data, ch.answer("envoy", envoyPW, http.MethodGet, data, 2, "c")); r.code != 200 {
			t.Errorf("within TTL: %d", r.code)
		}
		clock.Advance(50 * time.Second)
		if r := get(data, ch.answer("envoy", envoyPW, http.MethodGet, data, 3, "c")); r.code != 200 {
			t.Errorf("within sliding TTL: %d", r.code)
		}
		clock.Advance(61 * time.Second)
		isStale("expired", get(data, ch.answer("envoy", envoyPW, http.MethodGet, data, 4, "d")))

		ch = challengeFor(t, c, base+data)
		s.ExpireSessions()
		isStale("after ExpireSessions", get(data, ch.answer("installer", installerPW, http.MethodGet, data, 1, "e")))
	})

	t.Run("captured status wins", func(t *testing.T) {
		before := s.Stats().Unauthorized
		r := digestGet(t, c, base, "/ivp/meters", "envoy", envoyPW)
		if r.code != http.StatusUnauthorized || r.body != "Error: 401" || r.header.Get("Content-Type") != "text/plain" {
			t.Errorf("/ivp/meters with good credentials: %d %q %q", r.code, r.body, r.header.Get("Content-Type"))
		}
		parseTestChallenge(t, r.header.Get("WWW-Authenticate")) // a challenge, as the captures show
		if got := s.Stats().Unauthorized - before; got != 1 {
			t.Errorf("Unauthorized grew by %d, want 1 (the sim's own, not the captured one)", got)
		}
		if r := digestGet(t, c, base, "/ivp/ensemble/inventory", "installer", installerPW); r.code != http.StatusNotFound {
			t.Errorf("captured 404: %d", r.code)
		}
		if r := digestGet(t, c, base, "/ivp/not/captured", "envoy", envoyPW); r.code != http.StatusNotFound || r.body != body404 {
			t.Errorf("missing file: %d %q", r.code, r.body)
		}
	})
}

// TestLegacyFixtureFolders: every pre-7 pyenphase folder is served as a
// legacy gateway and every 7+ one is not; 3.9.36 answers both users;
// 3.9.36_bad_auth's captured 401s stay 401 whatever the credentials.
func TestLegacyFixtureFolders(t *testing.T) {
	root := os.Getenv("ENPHASE_FIXTURES")
	if root == "" {
		t.Skip("ENPHASE_FIXTURES not set")
	}
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		s, err := New(Options{Captures: os.DirFS(filepath.Join(root, d.Name()))})
		if err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		major, err := strconv.Atoi(strings.SplitN(d.Name(), ".", 2)[0]) // folders are named by firmware
		if err != nil {
			t.Fatalf("folder %s: %v", d.Name(), err)
		}
		want := major < 7
		if s.Legacy() != want {
			t.Errorf("%s (%s): Legacy() = %v", d.Name(), s.Firmware(), s.Legacy())
		}
	}

	t.Run("3.9.36", func(t *testing.T) {
		s, c, base := startSim(t, Options{Captures: os.DirFS(filepath.Join(root, "3.9.36"))})
		if !strings.HasPrefix(base, "http://") {
			t.Fatalf("base %q", base)
		}
		for _, user := range []string{"envoy", "installer"} {
			for _, uri := range []string{"/api/v1/production", "/api/v1/production/inverters"} {
				if r := digestGet(t, c, base, uri, user, s.LegacyPassword(user)); r.code != 200 || !strings.Contains(r.body, "atts") {
					t.Errorf("%s %s: %d", user, uri, r.code)
				}
			}
		}
		if r := do(t, c, http.MethodGet, base+"/auth/check_jwt", bearerHdr(s.Token())); r.code != 404 {
			t.Errorf("check_jwt: %d", r.code)
		}
	})

	t.Run("3.9.36_bad_auth", func(t *testing.T) {
		s, c, base := startSim(t, Options{Captures: os.DirFS(filepath.Join(root, "3.9.36_bad_auth"))})
		for _, user := range []string{"envoy", "installer"} {
			pw := s.LegacyPassword(user)
			for uri, want := range map[string]int{
				"/api/v1/production":           200,
				"/api/v1/production/inverters": 401,
				"/admin/lib/tariff":            401,
				"/ivp/meters":                  404,
			} {
				r := digestGet(t, c, base, uri, user, pw)
				if r.code != want {
					t.Errorf("%s %s: %d, want %d", user, uri, r.code, want)
				}
				if want == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Digest ") {
					t.Errorf("%s %s: captured 401 without a challenge", user, uri)
				}
			}
			if r := digestGet(t, c, base, "/api/v1/production/inverters", user, pw); !strings.Contains(r.body, "Authentication required") {
				t.Errorf("inverters body %q", r.body)
			}
		}
	})
}
