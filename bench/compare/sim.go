//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// simStats is envoy-sim's GET /__sim/stats.
type simStats struct {
	Requests     map[string]int `json:"requests"` // by path, with query
	CheckJWT     int            `json:"check_jwt"`
	Unauthorized int            `json:"unauthorized"`
	Total        int            `json:"total"`
}

// sub is s - before, path by path.
func (s simStats) sub(before simStats) simStats {
	d := simStats{Requests: map[string]int{}, CheckJWT: s.CheckJWT - before.CheckJWT,
		Unauthorized: s.Unauthorized - before.Unauthorized, Total: s.Total - before.Total}
	for p, n := range s.Requests {
		if n -= before.Requests[p]; n != 0 {
			d.Requests[p] = n
		}
	}
	return d
}

// sim is one fresh envoy-sim serving the embedded demo capture.
type sim struct {
	p      *proc
	url    string
	token  string // the token file it wrote
	client *http.Client
}

// startSim starts envoy-sim with no latency and a token file in dir, and
// reads the URL it prints first.
func startSim(ctx context.Context, bin, dir string) (*sim, error) {
	tokenFile := filepath.Join(dir, "envoy.token")
	urlFile := filepath.Join(dir, "sim.url")
	p, err := startGroup("envoy-sim", dir,
		[]string{bin, "--listen", "127.0.0.1:0", "--latency-scale", "0", "--token-out", tokenFile},
		urlFile, filepath.Join(dir, "sim.log"))
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		b, _ := os.ReadFile(urlFile)
		if line, _, ok := strings.Cut(string(b), "\n"); ok && line != "" {
			s := &sim{p: p, url: strings.TrimSpace(line), token: tokenFile, client: &http.Client{
				Timeout: 5 * time.Second,
				// The simulator's certificate is self-signed, like a gateway's.
				Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
			}}
			if _, err := s.stats(ctx); err != nil {
				s.stop()
				return nil, fmt.Errorf("envoy-sim at %s: %w", s.url, err)
			}
			return s, nil
		}
		if p.exited() {
			return nil, fmt.Errorf("envoy-sim exited before printing its URL (%v):\n%s", p.err, p.logTail(20))
		}
		if time.Now().After(deadline) {
			p.stop(time.Second)
			return nil, fmt.Errorf("envoy-sim printed no URL within 15s:\n%s", p.logTail(20))
		}
		select {
		case <-ctx.Done():
			p.stop(time.Second)
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (s *sim) stats(ctx context.Context) (simStats, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/__sim/stats", nil)
	if err != nil {
		return simStats{}, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return simStats{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return simStats{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return simStats{}, fmt.Errorf("/__sim/stats: %s: %s", resp.Status, b)
	}
	var st simStats
	if err := json.Unmarshal(b, &st); err != nil {
		return simStats{}, fmt.Errorf("/__sim/stats: %w", err)
	}
	if st.Requests == nil {
		st.Requests = map[string]int{}
	}
	return st, nil
}

func (s *sim) stop() {
	s.client.CloseIdleConnections()
	s.p.stop(5 * time.Second)
}
