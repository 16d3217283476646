package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer lets the test read output while run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBadFlags(t *testing.T) {
	tests := [][]string{
		{"--nope"},
		{"--latency-scale", "x"},
		{"--latency-scale", "-1"},
		{"--token-lifetime", "0s"},
		{"--session-ttl", "-1m"},
		{"--role", ""},
		{"--session-max-age", "-1s"},
		{"--account", "no-colon"},
		{"--account", ":pw"},
		{"--account", "a@example.com:"},
		{"--captures", filepath.Join(t.TempDir(), "missing")},
		{"extra"},
		{"--fault", "kind=explode"},
		{"--fault", "kind=hang,every=1h"},
		{"--scenario", "no-such-scenario"},
		{"--clock-speed", "0"},
		{"--clock-start", "yesterday"},
	}
	for _, args := range tests {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if out.Len() != 0 || errOut.Len() == 0 {
			t.Errorf("%v: stdout %q, stderr %q", args, out.String(), errOut.String())
		}
	}
}

func TestRun(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"--token-out", tokenFile, "--latency-scale", "0"}, &out, &errOut) }()

	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no URL on stdout; stderr %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d; stderr %q", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "https://127.0.0.1:") {
		t.Errorf("stdout = %q", out.String())
	}
	if !strings.Contains(errOut.String(), "embedded demo") {
		t.Errorf("stderr = %q", errOut.String())
	}
	fi, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v", fi.Mode().Perm())
	}
	tok, _ := os.ReadFile(tokenFile)
	if strings.Count(string(tok), ".") != 2 || !strings.HasSuffix(string(tok), "\n") {
		t.Errorf("token file = %q", tok)
	}
}

func TestHelpListsControlEndpoints(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"--help"}, &out, &errOut))
	for _, want := range []string{"/__sim/revoke_tokens", "/__sim/rotate_cert", "/__sim/cloud", "-account EMAIL:PASSWORD", "-session-max-age"} {
		require.Contains(t, errOut.String(), want)
	}
}

func TestRunCloudAccounts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	args := []string{"--latency-scale", "0", "--account", "a@example.com:pw:with:colons", "--account", "b@example.com:pw2", "--session-max-age", "1h"}
	go func() { done <- run(ctx, args, &out, &errOut) }()
	defer func() {
		cancel()
		require.Equal(t, 0, <-done, errOut.String())
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "\n") }, 10*time.Second, 10*time.Millisecond, "no URL; stderr %q", errOut.String())
	base := strings.TrimSpace(out.String())
	require.Contains(t, errOut.String(), "2 cloud account(s)")

	// The certificate is made per run and not written out; this test only
	// checks that the flags reach the server.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	login := func(email, password string) int {
		req, err := http.NewRequest(http.MethodPost, base+"/login/login.json",
			strings.NewReader(url.Values{"user[email]": {email}, "user[password]": {password}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := c.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusOK, login("a@example.com", "pw:with:colons"))
	require.Equal(t, http.StatusOK, login("b@example.com", "pw2"))
	require.Equal(t, http.StatusUnauthorized, login("a@example.com", "pw"))

	resp, err := c.Get(base + "/__sim/stats")
	require.NoError(t, err)
	defer resp.Body.Close()
	var st struct {
		CloudLogin int `json:"cloud_login"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	require.Equal(t, 3, st.CloudLogin)
}

// TestRunLegacy: a capture of firmware before 7 is served over plain HTTP
// with digest auth, and the printed URL says http://.
func TestRunLegacy(t *testing.T) {
	dir := t.TempDir()
	info := "<envoy_info><device><sn>121400000042</sn><software>R3.9.36</software></device></envoy_info>"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "info"), []byte(info), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "api_v1_production"), []byte(`{"wattsNow": 1}`), 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"--captures", dir, "--latency-scale", "0"}, &out, &errOut) }()
	defer func() {
		cancel()
		require.Equal(t, 0, <-done, errOut.String())
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "\n") }, 10*time.Second, 10*time.Millisecond, "no URL; stderr %q", errOut.String())
	base := strings.TrimSpace(out.String())
	require.True(t, strings.HasPrefix(base, "http://127.0.0.1:"), base)
	require.Contains(t, errOut.String(), "firmware R3.9.36")
	require.Contains(t, errOut.String(), "user envoy (password 000042)")

	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(base + "/info")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = c.Get(base + "/api/v1/production")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Digest "), resp.Header.Get("WWW-Authenticate"))
}

// TestRunScenario: a fault from the flags is played on a fast clock that
// starts where --clock-start says, and /__sim/faults shows it in force.
func TestRunScenario(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	args := []string{"--latency-scale", "0", "--scenario", "field-week", "--clock-speed", "60",
		"--clock-start", "2026-03-23T12:00:00Z", "--fault", "kind=status,status=503,at=0s,for=1000h"}
	go func() { done <- run(ctx, args, &out, &errOut) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "\n") {
		if time.Now().After(deadline) {
			t.Fatalf("no URL on stdout; stderr %q", errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	base := strings.TrimSpace(out.String())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the simulator's own certificate
	resp, err := c.Get(base + "/__sim/faults")
	require.NoError(t, err)
	var st struct {
		Now    time.Time `json:"now"`
		Active []struct {
			Kind string `json:"kind"`
		} `json:"active"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
	resp.Body.Close()
	start := time.Date(2026, 3, 23, 12, 0, 0, 0, time.UTC)
	require.False(t, st.Now.Before(start), "clock at %s, before its start", st.Now)
	var kinds []string
	for _, f := range st.Active {
		kinds = append(kinds, f.Kind)
	}
	require.Contains(t, kinds, "status", "the --fault added to the scenario is in force")
	resp, err = c.Get(base + "/production.json")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, errOut.String(), "playing ")
	cancel()
	require.Equal(t, 0, <-done)
}
