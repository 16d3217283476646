package envoy

import (
	"context"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

// legacyCaptures is the pyenphase 3.9.36 folder when ENPHASE_FIXTURES is
// set, else the small hand-written capture in testdata/legacy.
func legacyCaptures(t *testing.T) fs.FS {
	t.Helper()
	if root := os.Getenv("ENPHASE_FIXTURES"); root != "" {
		t.Logf("serving %s", filepath.Join(root, "3.9.36"))
		return os.DirFS(filepath.Join(root, "3.9.36"))
	}
	return os.DirFS("testdata/legacy")
}

// connCounter serves the simulator's handler on a test server of our own,
// counting the TCP connections it accepts.
type connCounter struct {
	*httptest.Server
	mu    sync.Mutex
	conns int
}

func (cc *connCounter) count() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.conns
}

func startLegacySim(t *testing.T, fsys fs.FS) (*envoysim.Server, *connCounter) {
	t.Helper()
	sim, err := envoysim.New(envoysim.Options{Captures: fsys})
	require.NoError(t, err)
	require.True(t, sim.Legacy(), "firmware %s", sim.Firmware())
	cc := &connCounter{Server: httptest.NewUnstartedServer(sim.Handler())}
	cc.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			cc.mu.Lock()
			cc.conns++
			cc.mu.Unlock()
		}
	}
	cc.Start() // plain HTTP, as the sim's own Start in legacy mode
	t.Cleanup(cc.Close)
	return sim, cc
}

func TestLegacyClientAgainstSim(t *testing.T) {
	for _, user := range []string{"envoy", "installer"} {
		t.Run(user, func(t *testing.T) {
			sim, srv := startLegacySim(t, legacyCaptures(t))
			auth := NewLegacyAuth(sim.Serial(), user)
			// The client's password derivation agrees with the simulator's own.
			require.Equal(t, sim.LegacyPassword(user), auth.Password)
			c := legacyClient(t, srv.URL, auth)
			ctx := context.Background()

			info, err := c.Info(ctx)
			require.NoError(t, err)
			require.Equal(t, sim.Serial(), info.Serial)
			require.True(t, info.Legacy())

			r, err := c.Get(ctx, "/api/v1/production")
			require.NoError(t, err)
			var prod struct {
				WattsNow          *int64 `json:"wattsNow"`
				WattHoursLifetime *int64 `json:"wattHoursLifetime"`
			}
			require.NoError(t, Decode(r, &prod))
			require.NotNil(t, prod.WattsNow)
			require.NotNil(t, prod.WattHoursLifetime)

			r, err = c.Get(ctx, PathInverters)
			require.NoError(t, err)
			var inv []Inverter
			require.NoError(t, Decode(r, &inv))
			require.NotEmpty(t, inv)
			require.NotEmpty(t, inv[0].SerialNumber)

			// /info, then challenge + answer, then the remembered challenge.
			require.Equal(t, int64(4), c.Requests())
			require.Zero(t, c.AuthChecks())
			st := sim.Stats()
			require.Equal(t, 1, st.Unauthorized)
			require.Zero(t, st.CheckJWT)
			require.Zero(t, st.Requests[PathCheckJWT])
			require.Equal(t, 4, st.Total)
			// No keep-alive: one TCP connection per request.
			require.Equal(t, 4, srv.count())

			// A reboot forgets the nonce: the stale challenge is answered once.
			sim.ExpireSessions()
			r, err = c.Get(ctx, "/api/v1/production")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, r.Status)
			require.Equal(t, int64(6), c.Requests())
			require.Equal(t, 6, srv.count())
		})
	}
}

// TestConnCounterSeesReuse shows the counter notices a reused connection, so
// the equalities above do prove keep-alive is off.
func TestConnCounterSeesReuse(t *testing.T) {
	_, srv := startLegacySim(t, os.DirFS("testdata/legacy"))
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for range 3 {
		resp, err := hc.Get(srv.URL + "/info")
		require.NoError(t, err)
		_, _ = resp.Body.Read(make([]byte, 1<<16))
		resp.Body.Close()
	}
	require.Equal(t, 1, srv.count())
}

func TestLegacyWrongPassword(t *testing.T) {
	sim, srv := startLegacySim(t, legacyCaptures(t))
	const bad = "not-the-pw" // never echoed
	c := legacyClient(t, srv.URL, &LegacyAuth{User: "envoy", Password: bad})
	ctx := context.Background()
	for _, path := range []string{"/api/v1/production", PathInverters} {
		_, err := c.Get(ctx, path)
		var ae *AuthError
		require.ErrorAs(t, err, &ae, path)
		require.Equal(t, http.StatusUnauthorized, ae.Status)
		require.True(t, ae.TokenRefused())
		msg := err.Error()
		require.Contains(t, msg, `user "envoy"`)
		require.Contains(t, msg, path)
		require.NotContains(t, msg, bad)
		require.NotContains(t, msg, sim.LegacyPassword("envoy"))
	}
	// Installer with the envoy password: refused too, naming installer.
	c = legacyClient(t, srv.URL, &LegacyAuth{User: "installer", Password: sim.LegacyPassword("envoy")})
	_, err := c.Get(ctx, "/api/v1/production")
	var ae *AuthError
	require.ErrorAs(t, err, &ae)
	require.Contains(t, err.Error(), `user "installer"`)
}

// TestLegacyCapturedUnauthorized: an endpoint the gateway refuses whatever
// the credentials (D3.18.10 /ivp/meters: 401 "Error: 401" with a challenge)
// is an AuthError only while the credentials have not been seen to work;
// afterwards its 401 comes back as a response, for the caller to skip.
func TestLegacyCapturedUnauthorized(t *testing.T) {
	sim, srv := startLegacySim(t, os.DirFS("testdata/legacy"))
	c := legacyClient(t, srv.URL, NewLegacyAuth(sim.Serial(), ""))
	ctx := context.Background()

	_, err := c.Get(ctx, PathMeters)
	var ae *AuthError
	require.ErrorAs(t, err, &ae, "credentials never seen to work yet")

	r, err := c.Get(ctx, "/api/v1/production")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)

	before := c.Requests()
	r, err = c.Get(ctx, PathMeters)
	require.NoError(t, err)
	require.Equal(t, http.StatusUnauthorized, r.Status)
	require.Equal(t, "Error: 401", string(r.Body))
	var se *StatusError
	require.ErrorAs(t, Decode(r, &[]Meter{}), &se)
	require.Equal(t, http.StatusUnauthorized, se.Status)
	// The remembered answer, then one answer to the 401's fresh nonce.
	require.Equal(t, before+2, c.Requests())

	// Still fine afterwards.
	r, err = c.Get(ctx, PathInverters)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)

	// ResetSession forgets that the credentials worked.
	c.ResetSession()
	_, err = c.Get(ctx, PathMeters)
	require.ErrorAs(t, err, &ae)
}

// TestLegacyBadAuthFixture replays 3.9.36_bad_auth: with good credentials
// the captured 401s stay 401 and are returned, not an AuthError.
func TestLegacyBadAuthFixture(t *testing.T) {
	root := os.Getenv("ENPHASE_FIXTURES")
	if root == "" {
		t.Skip("ENPHASE_FIXTURES not set")
	}
	sim, srv := startLegacySim(t, os.DirFS(filepath.Join(root, "3.9.36_bad_auth")))
	c := legacyClient(t, srv.URL, NewLegacyAuth(sim.Serial(), "envoy"))
	ctx := context.Background()
	r, err := c.Get(ctx, "/api/v1/production")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	for _, path := range []string{PathInverters, "/admin/lib/tariff"} {
		r, err := c.Get(ctx, path)
		require.NoError(t, err, path)
		require.Equal(t, http.StatusUnauthorized, r.Status, path)
	}
	r, err = c.Get(ctx, "/ivp/ensemble/inventory")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, r.Status)
}

// TestLegacySimStart uses the simulator's own listener: plain http://.
func TestLegacySimStart(t *testing.T) {
	sim, err := envoysim.New(envoysim.Options{Captures: os.DirFS("testdata/legacy")})
	require.NoError(t, err)
	base, err := sim.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	require.True(t, strings.HasPrefix(base, "http://"), base)

	u, err := ParseURL(base)
	require.NoError(t, err)
	c := legacyClient(t, u.String(), NewLegacyAuth(sim.Serial(), "installer"))
	r, err := c.Get(context.Background(), "/api/v1/production")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, r.Status)
	require.ErrorIs(t, c.CheckJWT(context.Background()), ErrLegacyNoJWT)
}
