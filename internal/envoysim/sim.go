// Package envoysim simulates a firmware 7/8 Enphase Envoy / IQ Gateway: it
// serves a capture folder (pyenphase fixture layout, see package capture) over
// HTTPS, with the gateway's JWT check, sessionId cookies and 401 pages, so the
// plugin can be tested end to end without hardware. The same listener also
// plays Enphase's cloud (Enlighten login + Entrez /tokens, see cloud.go), so
// token renewal can be tested against one trusted certificate.
//
// A capture whose /info firmware is before 7 is served as a legacy gateway
// instead (see legacy.go): plain HTTP and HTTP Digest, no tokens.
package envoysim

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value serves the embedded demo capture.
type Options struct {
	Captures      fs.FS             // nil → the embedded demo capture
	TokenLifetime time.Duration     // lifetime of tokens minted by Token(); default 365*24h
	Role          string            // enphaseUser claim; default "owner"
	SessionTTL    time.Duration     // sessionId cookie idle timeout (sliding); default 10m
	SessionMaxAge time.Duration     // sessionId ends this long after check_jwt whatever its use; 0 = no limit
	LatencyScale  float64           // multiplies captured duration_seconds; 0 = answer at once
	Now           func() time.Time  // default time.Now; used for exp/iat/session expiry
	Accounts      map[string]string // cloud accounts: e-mail → password (see cloud.go)
	Live          bool              // move the capture's timestamps to the time New runs (see live.go)
	Scenario      *Scenario         // faults to play (scenario.go); its Start defaults to Now() at New
	// Serial replaces the capture's serial (/info's <sn>, the tokens' aud),
	// so that simulators of one capture are distinct gateways (bench/fleet).
	Serial string
}

// Stats counts the requests the simulator answered (not /__sim/*).
type Stats struct {
	Requests     map[string]int `json:"requests"` // by path as requested, with query
	CheckJWT     int            `json:"check_jwt"`
	Unauthorized int            `json:"unauthorized"` // 401s from the sim's own auth check, not captured 401s
	Total        int            `json:"total"`
	CloudLogin   int            `json:"cloud_login"`  // /login/login.json calls, failed ones included
	CloudTokens  int            `json:"cloud_tokens"` // /tokens calls, failed ones included
	// Faults counts the requests each scenario fault kind acted on, and the
	// occurrences of instant kinds.
	Faults map[string]int `json:"faults"`
	// MaxInFlight is the most gateway requests (not cloud ones) that were
	// ever in progress at once: a client that queues or overlaps shows > 1.
	MaxInFlight int `json:"max_in_flight"`
}

// Server is one simulated gateway. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	fsys     fs.FS
	shift    time.Duration // live mode: added to the capture's timestamps
	serial   string
	firmware string
	legacy   bool // firmware before 7: HTTP + digest (legacy.go)

	key   *ecdsa.PrivateKey
	kid   string
	token string

	cert    tls.Certificate
	certPEM []byte

	mu       sync.Mutex
	sessions map[string]session     // by sessionId
	nonces   map[string]*nonceState // legacy mode: digest nonces issued
	stats    Stats
	srv      *http.Server
	closed   bool

	// Revocation: every token MintToken signs gets the next sequence number;
	// RevokeTokens refuses all numbers up to the current one. Tracking by jti
	// rather than iat keeps tokens minted in the same second apart.
	mintSeq        uint64
	minted         map[string]uint64 // jti → sequence number
	revokedThrough uint64

	cloud  Cloud
	logins map[string]string // cloud session_id → account e-mail

	faultCursor time.Time                    // instant faults up to here have acted
	inFlight    map[context.Context]struct{} // gateway requests in progress
}

// New reads the capture's info file and prepares keys, token and certificate.
func New(opts Options) (*Server, error) {
	if opts.Captures == nil {
		demo, err := demoFS()
		if err != nil {
			return nil, err
		}
		opts.Captures = demo
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 365 * 24 * time.Hour
	}
	if opts.Role == "" {
		opts.Role = "owner"
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 10 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TokenLifetime < 0 || opts.SessionTTL < 0 || opts.SessionMaxAge < 0 || opts.LatencyScale < 0 {
		return nil, errors.New("envoysim: TokenLifetime, SessionTTL, SessionMaxAge and LatencyScale must not be negative")
	}
	// Copy so a caller changing its map later does not race with the handler.
	accounts := make(map[string]string, len(opts.Accounts))
	for email, pw := range opts.Accounts {
		if email == "" {
			return nil, errors.New("envoysim: Accounts has an empty e-mail")
		}
		accounts[email] = pw
	}
	opts.Accounts = accounts
	if opts.Scenario != nil {
		sc := *opts.Scenario // the caller's copy may be reused for another simulator
		sc.Faults = append([]Fault(nil), sc.Faults...)
		if sc.Start.IsZero() {
			sc.Start = opts.Now()
		}
		if err := sc.validate(); err != nil {
			return nil, err
		}
		opts.Scenario = &sc
	}
	var shift time.Duration
	if opts.Live {
		shift = liveOffset(opts.Captures, opts.Now())
	}

	s := &Server{
		opts:     opts,
		fsys:     opts.Captures,
		shift:    shift,
		sessions: make(map[string]session),
		nonces:   make(map[string]*nonceState),
		stats:    Stats{Requests: make(map[string]int), Faults: make(map[string]int)},
		minted:   make(map[string]uint64),
		logins:   make(map[string]string),
		inFlight: make(map[context.Context]struct{}),
	}
	var err error
	if s.serial, s.firmware, err = readInfo(s.fsys); err != nil {
		return nil, err
	}
	if opts.Serial != "" && opts.Serial != s.serial {
		if s.fsys, err = withSerial(s.fsys, s.serial, opts.Serial); err != nil {
			return nil, err
		}
		s.serial = opts.Serial
	}
	s.legacy = legacyFirmware(s.firmware)
	if opts.Scenario != nil {
		// An instant fault at the very start acts on the first request.
		s.faultCursor = opts.Scenario.Start.Add(-time.Nanosecond)
	}
	if err := s.initKeys(); err != nil {
		return nil, err
	}
	if err := s.initCert(); err != nil {
		return nil, err
	}
	now := opts.Now()
	s.token = s.MintToken(s.serial, opts.Role, now, now.Add(opts.TokenLifetime))
	return s, nil
}

func readInfo(fsys fs.FS) (serial, firmware string, err error) {
	data, err := fs.ReadFile(fsys, "info")
	if err != nil {
		return "", "", fmt.Errorf("envoysim: capture has no info file: %w", err)
	}
	var info struct {
		Device struct {
			SN       string `xml:"sn"`
			Software string `xml:"software"`
		} `xml:"device"`
	}
	if err := xml.Unmarshal(data, &info); err != nil {
		return "", "", fmt.Errorf("envoysim: info is not valid XML: %w", err)
	}
	serial = strings.TrimSpace(info.Device.SN)
	if serial == "" {
		return "", "", errors.New("envoysim: info has no <envoy_info><device><sn>")
	}
	return serial, strings.TrimSpace(info.Device.Software), nil
}

// withSerial is fsys with /info's serial old replaced by serial.
func withSerial(fsys fs.FS, old, serial string) (fs.FS, error) {
	if strings.ContainsAny(serial, "<>&") {
		return nil, fmt.Errorf("envoysim: serial %q: not XML text", serial)
	}
	data, err := fs.ReadFile(fsys, "info")
	if err != nil {
		return nil, err
	}
	sn := []byte("<sn>" + old + "</sn>")
	if !bytes.Contains(data, sn) {
		return nil, fmt.Errorf("envoysim: serial %q: the capture's info does not hold %s as such", serial, sn)
	}
	data = bytes.Replace(data, sn, []byte("<sn>"+serial+"</sn>"), 1)
	return infoFS{FS: fsys, info: data}, nil
}

// infoFS is an FS whose "info" file is info.
type infoFS struct {
	fs.FS
	info []byte
}

func (f infoFS) Open(name string) (fs.File, error) {
	if name != "info" {
		return f.FS.Open(name)
	}
	return memFile{Reader: bytes.NewReader(f.info), size: int64(len(f.info))}, nil
}

// memFile is the info file of infoFS.
type memFile struct {
	*bytes.Reader
	size int64
}

func (f memFile) Stat() (fs.FileInfo, error) { return f, nil }
func (memFile) Close() error                 { return nil }
func (memFile) Name() string                 { return "info" }
func (f memFile) Size() int64                { return f.size }
func (memFile) Mode() fs.FileMode            { return 0o444 }
func (memFile) ModTime() time.Time           { return time.Time{} }
func (memFile) IsDir() bool                  { return false }
func (memFile) Sys() any                     { return nil }

// Serial is the gateway serial from info (<sn>), the aud of valid tokens.
func (s *Server) Serial() string { return s.serial }

// Firmware is <software> from info, e.g. "D8.2.4345".
func (s *Server) Firmware() string { return s.firmware }

// Token is a JWT for this gateway minted at New; valid until it expires or
// RevokeTokens is called.
func (s *Server) Token() string { return s.token }

// Start listens with TLS on addr and serves in the background. It returns the
// base URL, e.g. https://127.0.0.1:PORT; in legacy mode (firmware before 7)
// it serves plain HTTP and returns http://127.0.0.1:PORT.
func (s *Server) Start(addr string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", errors.New("envoysim: server closed")
	}
	if s.srv != nil {
		return "", errors.New("envoysim: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		// Resets and hangs make clients drop handshakes; that is the point.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	s.srv = srv
	scheme := "https"
	if s.legacy {
		scheme = "http"
		go func() { _ = srv.Serve(ln) }()
	} else {
		go func() { _ = srv.Serve(tls.NewListener(ln, s.TLSConfig())) }()
	}

	tcp := ln.Addr().(*net.TCPAddr)
	host := tcp.IP
	if host.IsUnspecified() {
		// Listening on all interfaces: hand out an address the cert covers.
		host = net.IPv4(127, 0, 0, 1)
	}
	return scheme + "://" + net.JoinHostPort(host.String(), fmt.Sprint(tcp.Port)), nil
}

// Close stops the listener and drops open connections.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.closed = true
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = maps.Clone(s.stats.Requests)
	st.Faults = maps.Clone(s.stats.Faults)
	return st
}

// ExpireSessions drops every sessionId (in legacy mode every digest nonce),
// as a gateway reboot does.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.sessions)
	clear(s.nonces)
}

// RevokeTokens makes the gateway refuse every token minted so far (on
// check_jwt and as Bearer) and ends all sessions, as when Enphase revokes a
// gateway's tokens. Tokens minted afterwards, by MintToken or the cloud, work.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokedThrough = s.mintSeq
	clear(s.sessions)
}
