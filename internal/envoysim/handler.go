package envoysim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	serverHeader  = "openresty/1.17.8.1"
	validTokenMsg = "<!DOCTYPE html><h2>Valid token.</h2>\n"
	page401       = `<html><head><title>401 Authorization Required</title></head><body><center><h1>401 Authorization ` +
		`Required</h1></center><hr><center>openresty/1.17.8.1</center><script>window.location.href="/home";</script></body></html>` + "\n"
	page405 = `<html><head><title>405 Not Allowed</title></head><body><center><h1>405 Not ` +
		`Allowed</h1></center><hr><center>openresty/1.17.8.1</center></body></html>` + "\n"
	body404 = `{ "error" : "404 - Not Found" }`
)

// Handler serves the simulated gateway. It never redirects.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Server", serverHeader)
	path := r.URL.Path
	if strings.HasPrefix(path, "/__sim/") {
		s.serveSim(w, r)
		return
	}
	key := path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.RawQuery
	}
	s.mu.Lock()
	s.stats.Requests[key]++
	s.stats.Total++
	switch path {
	case cloudLoginPath:
		s.stats.CloudLogin++
	case cloudTokensPath:
		s.stats.CloudTokens++
	}
	s.mu.Unlock()
	gateway := path != cloudLoginPath && path != cloudTokensPath
	if gateway {
		s.enter(r)
		defer s.leave(r)
	}

	var mods faultMods
	if gateway && s.opts.Scenario != nil {
		var answered bool
		if mods, answered = s.injectFault(w, r); answered {
			return
		}
	}

	switch path {
	case "/auth/check_jwt":
		if s.legacy { // firmware before 7 has no tokens
			write(w, http.StatusNotFound, "application/json", []byte(body404))
			return
		}
		s.serveCheckJWT(w, r)
		return
	case cloudLoginPath:
		s.serveCloudLogin(w, r)
		return
	case cloudTokensPath:
		s.serveCloudTokens(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		notAllowed(w, "GET, HEAD")
		return
	}
	if path != "/info" && path != "/info.xml" {
		if s.legacy {
			if ok, stale := s.digestAuthorized(r); !ok {
				s.legacyUnauthorized(w, stale)
				return
			}
		} else if !s.authorized(r) {
			s.unauthorized(w)
			return
		}
	}
	s.serveCapture(w, r, key, mods)
}

// inFlightGrace bounds how long a request that finds others in progress
// waits for them to be abandoned before it counts as concurrent: a client
// that gave up on a request has closed its connection, but the server
// cancels that request's context a moment later.
const inFlightGrace = 20 * time.Millisecond

// enter counts a gateway request in progress, for Stats.MaxInFlight. Only
// requests whose client is still there count.
func (s *Server) enter(r *http.Request) {
	deadline := time.Now().Add(inFlightGrace)
	for {
		s.mu.Lock()
		n := 1
		for ctx := range s.inFlight {
			if ctx.Err() == nil {
				n++
			}
		}
		if n == 1 || !time.Now().Before(deadline) {
			s.inFlight[r.Context()] = struct{}{}
			s.stats.MaxInFlight = max(s.stats.MaxInFlight, n)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
}

func (s *Server) leave(r *http.Request) {
	s.mu.Lock()
	delete(s.inFlight, r.Context())
	s.mu.Unlock()
}

func (s *Server) serveCheckJWT(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats.CheckJWT++
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		notAllowed(w, "GET, HEAD, POST")
		return
	}
	tok, ok := bearer(r)
	if !ok || !s.validToken(tok) {
		s.unauthorized(w)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.newSession(), Path: "/", Secure: true, HttpOnly: true})
	write(w, http.StatusOK, "text/html", []byte(validTokenMsg))
}

func (s *Server) serveCapture(w http.ResponseWriter, r *http.Request, key string, mods faultMods) {
	rep, found, err := s.lookup(key)
	if err != nil {
		write(w, http.StatusInternalServerError, "text/plain", []byte("envoysim: "+err.Error()+"\n"))
		return
	}
	if found {
		rep = mods.apply(rep)
	}
	if !found {
		write(w, http.StatusNotFound, "application/json", []byte(body404))
		return
	}
	if d := time.Duration(float64(rep.delay) * s.opts.LatencyScale); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			// Client gone: abort rather than return, which would send an
			// empty 200 that a client still closing its side may read.
			panic(http.ErrAbortHandler)
		}
	}
	if s.legacy && rep.code == http.StatusUnauthorized {
		// Captured 401s of fw < 7 carry a challenge whatever the credentials.
		s.setChallenge(w.Header(), false)
	}
	write(w, rep.code, rep.contentType, rep.body)
}

// serveSim answers the simulator's own control endpoints, without auth or counting.
func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/__sim/stats":
		simGet(w, r, func() any { return s.Stats() })
	case "/__sim/faults":
		simGet(w, r, func() any { return s.FaultState() })
	case "/__sim/expire_sessions":
		simPost(w, r, func() error { s.ExpireSessions(); return nil })
	case "/__sim/revoke_tokens":
		simPost(w, r, func() error { s.RevokeTokens(); return nil })
	case "/__sim/rotate_cert":
		simPost(w, r, s.RotateCertificate)
	case "/__sim/cloud":
		s.serveSimCloud(w, r)
	default:
		write(w, http.StatusNotFound, "application/json", []byte(body404))
	}
}

// simGet answers a control endpoint that reports state as JSON.
func simGet(w http.ResponseWriter, r *http.Request, state func() any) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		notAllowed(w, "GET, HEAD")
		return
	}
	body, err := json.Marshal(state())
	if err != nil {
		write(w, http.StatusInternalServerError, "text/plain", []byte(err.Error()))
		return
	}
	write(w, http.StatusOK, "application/json", append(body, '\n'))
}

// simPost answers a control endpoint that acts.
func simPost(w http.ResponseWriter, r *http.Request, act func() error) {
	if r.Method != http.MethodPost {
		notAllowed(w, "POST")
		return
	}
	if err := act(); err != nil {
		write(w, http.StatusInternalServerError, "text/plain", []byte(err.Error()))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) unauthorized(w http.ResponseWriter) {
	s.mu.Lock()
	s.stats.Unauthorized++
	s.mu.Unlock()
	write(w, http.StatusUnauthorized, "text/html", []byte(page401))
}

func notAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	write(w, http.StatusMethodNotAllowed, "text/html", []byte(page405))
}

func write(w http.ResponseWriter, code int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
