// Package hostile is an adversarial Envoy for tests: a TLS server on loopback
// that answers from a real capture folder on most paths and, on the paths a
// test chooses, with whatever that test's handler does (a huge body, an
// endless one, a 431, a redirect, an absurd cookie...). It is kept apart from
// envoysim on purpose: the simulator plays the faults it was taught, this
// server plays what a test thinks of, and neither shapes the other.
//
// Authentication is the gateway's, minimally: /auth/check_jwt accepts a
// Bearer JWT whose aud is the capture's serial (see Token) and sets a
// sessionId cookie; every other path but /info and /info.xml wants that
// cookie or the Bearer token.
package hostile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

const (
	sessionCookie = "sessionId"
	validToken    = "<!DOCTYPE html><h2>Valid token.</h2>\n"
	body404       = `{ "error" : "404 - Not Found" }`
	body401       = "<!DOCTYPE html><html><body><h1>401 - Unauthorized</h1></body></html>\n"
)

// Gateway is a running hostile gateway.
type Gateway struct {
	URL    string // https://127.0.0.1:PORT
	Serial string // the capture's serial: the aud a token needs

	srv      *httptest.Server
	fsys     fs.FS
	handlers map[string]http.Handler
	key      []byte // signs tokens; the gateway checks aud and exp only

	mu       sync.Mutex
	sessions map[string]bool
	requests map[string]int
}

// New starts a gateway serving the capture folder captureDir, with handlers
// answering instead on their paths. A handler's key is a request path with
// its query ("/production.json?details=1") or without it ("/info"), the
// first that matches wins; a handler is called without any authentication
// check, /auth/check_jwt included. The server stops when the test ends.
func New(t testing.TB, captureDir string, handlers map[string]http.Handler) *Gateway {
	t.Helper()
	g := &Gateway{
		fsys:     os.DirFS(captureDir),
		handlers: handlers,
		sessions: map[string]bool{},
		requests: map[string]int{},
		key:      make([]byte, 32),
	}
	_, _ = rand.Read(g.key)
	infoBody, err := fs.ReadFile(g.fsys, "info")
	if err != nil {
		t.Fatalf("hostile: capture %s has no /info: %v", captureDir, err)
	}
	info, err := envoy.ParseInfo(infoBody)
	if err != nil {
		t.Fatalf("hostile: capture %s: %v", captureDir, err)
	}
	g.Serial = info.Serial
	g.srv = httptest.NewTLSServer(http.HandlerFunc(g.serve))
	// Endless and slow handlers must not hold the test's end forever.
	t.Cleanup(func() {
		g.srv.CloseClientConnections()
		g.srv.Close()
	})
	g.URL = g.srv.URL
	return g
}

// Token mints a token the gateway accepts, for its serial, valid for a year:
// an owner token as Enphase's cloud mints it (the plugin reads its claims
// without checking the signature; this gateway checks the signature).
func (g *Gateway) Token() string {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"aud":         g.Serial,
		"iss":         "Entrez",
		"enphaseUser": "owner",
		"username":    "hostile@example.com",
		"iat":         now.Unix(),
		"exp":         now.Add(365 * 24 * time.Hour).Unix(),
	})
	s, err := tok.SignedString(g.key)
	if err != nil {
		panic(fmt.Sprintf("hostile: signing token: %v", err)) // HS256 with a key cannot fail
	}
	return s
}

// CertificatePEM is the server's certificate, for tls_ca.
func (g *Gateway) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: g.srv.Certificate().Raw})
}

// PluginConfig writes a token file and the certificate into dir and returns
// an [[inputs.enphase]] table that reads this gateway, with extra lines
// (other keys, indented as the caller likes) appended.
func (g *Gateway) PluginConfig(t testing.TB, dir string, extra ...string) string {
	t.Helper()
	tokenFile := filepath.Join(dir, "hostile.token")
	ca := filepath.Join(dir, "hostile.pem")
	if err := os.WriteFile(tokenFile, []byte(g.Token()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ca, g.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("[[inputs.enphase]]\n  url = %q\n  token_file = %q\n  tls_ca = %q\n", g.URL, tokenFile, ca)
	for _, e := range extra {
		conf += "  " + e + "\n"
	}
	return conf
}

// Requests is how many requests reached path (with its query, if any).
func (g *Gateway) Requests(path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests[path]
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) {
	key := r.URL.RequestURI()
	g.mu.Lock()
	g.requests[key]++
	g.mu.Unlock()
	if h, ok := g.handlers[key]; ok {
		h.ServeHTTP(w, r)
		return
	}
	if h, ok := g.handlers[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	switch {
	case r.URL.Path == envoy.PathCheckJWT:
		g.checkJWT(w, r)
	case r.URL.Path == "/info" || r.URL.Path == "/info.xml":
		g.serveCapture(w, "/info")
	case !g.authorized(r):
		write(w, http.StatusUnauthorized, "text/html", []byte(body401))
	default:
		g.serveCapture(w, key)
	}
}

func (g *Gateway) checkJWT(w http.ResponseWriter, r *http.Request) {
	if !g.validBearer(r) {
		write(w, http.StatusUnauthorized, "text/html", []byte(body401))
		return
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	g.mu.Lock()
	g.sessions[id] = true
	g.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", Secure: true, HttpOnly: true})
	write(w, http.StatusOK, "text/html", []byte(validToken))
}

func (g *Gateway) validBearer(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	_, err := jwt.Parse(strings.TrimSpace(h[7:]), func(*jwt.Token) (any, error) { return g.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(g.Serial),
		jwt.WithExpirationRequired())
	return err == nil
}

func (g *Gateway) authorized(r *http.Request) bool {
	if c, err := r.Cookie(sessionCookie); err == nil {
		g.mu.Lock()
		ok := g.sessions[c.Value]
		g.mu.Unlock()
		if ok {
			return true
		}
	}
	return g.validBearer(r)
}

func (g *Gateway) serveCapture(w http.ResponseWriter, pathAndQuery string) {
	code, ctype, body, err := readCapture(g.fsys, pathAndQuery)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		write(w, http.StatusNotFound, "application/json", []byte(body404))
	case err != nil:
		write(w, http.StatusInternalServerError, "text/plain", []byte("hostile: "+err.Error()+"\n"))
	default:
		write(w, code, ctype, body)
	}
}

// readCapture is the captured answer to pathAndQuery: status, content type
// and body, from the body file and its _log.json.
func readCapture(fsys fs.FS, pathAndQuery string) (code int, ctype string, body []byte, err error) {
	name := capture.Name(pathAndQuery)
	if name == "production.json_details_1" {
		if _, err := fs.Stat(fsys, name); err != nil {
			name = "production.json" // older folders keep one file for both URLs
		}
	}
	if name == "" || strings.HasSuffix(name, capture.LogSuffix) || !fs.ValidPath(name) {
		return 0, "", nil, fs.ErrNotExist
	}
	body, err = fs.ReadFile(fsys, name)
	if err != nil {
		return 0, "", nil, err
	}
	code = http.StatusOK
	log, ok, err := capture.ReadLog(fsys, name)
	if err != nil {
		return 0, "", nil, err
	}
	if ok {
		if log.Code != 0 {
			code = log.Code
		}
		ctype, _ = log.Header("content-type")
	}
	if ctype == "" {
		switch {
		case name == "info":
			ctype = "text/xml"
		case len(body) > 0 && (body[0] == '{' || body[0] == '['):
			ctype = "application/json"
		default:
			ctype = "text/html"
		}
	}
	return code, ctype, body, nil
}

// CaptureBody is the captured body of pathAndQuery in captureDir, for a
// handler that answers with a twisted copy of it.
func CaptureBody(t testing.TB, captureDir, pathAndQuery string) []byte {
	t.Helper()
	_, _, body, err := readCapture(os.DirFS(captureDir), pathAndQuery)
	if err != nil {
		t.Fatalf("hostile: %s in %s: %v", pathAndQuery, captureDir, err)
	}
	return body
}

func write(w http.ResponseWriter, code int, ctype string, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
