package envoysim

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"time"
)

// How the simulator plays a Scenario: instant faults act when the first
// request after their time arrives (the gateway is only observable through
// requests), window faults act on each request they cover.

const (
	// maxHang bounds a hang without a delay when the client never gives up.
	maxHang = 2 * time.Minute
	// pageLogin is what the gateway serves instead of JSON when it wants a
	// browser login (case T2).
	pageLogin = `<!DOCTYPE html><html><head><title>Envoy</title></head><body><form action="/auth/login" method="post"><input name="username"><input ` +
		`type="password" name="password"><input type="submit" value="Log in"></form></body></html>` + "\n"
)

// faultMods are the changes window faults make to a captured answer.
type faultMods struct {
	truncate bool
	offset   time.Duration // clock fault
	firmware string        // firmware fault: <software> in /info
	removed  bool          // firmware fault: this path is gone (404)
}

// activeFaults applies the instant faults that came due and returns the
// window faults in force for a gateway request to path.
func (s *Server) activeFaults(path string) []*Fault {
	sc := s.opts.Scenario
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	after := s.faultCursor
	if now.After(after) {
		s.faultCursor = now
	}
	var active []*Fault
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if cloudKind(f.Kind) {
			continue
		}
		if (instant(f.Kind) || f.Kind == FaultReboot) && sc.fired(f, after, now) {
			if instant(f.Kind) {
				s.stats.Faults[f.Kind]++
			}
			switch f.Kind {
			case FaultSessionExpiry, FaultReboot:
				clear(s.sessions)
				clear(s.nonces)
			case FaultRevoke:
				s.revokedThrough = s.mintSeq
				clear(s.sessions)
			}
		}
		if !instant(f.Kind) && f.Matches(path) && sc.Active(f, now) {
			active = append(active, f)
		}
	}
	return active
}

// injectFault plays the window faults in force on one gateway request. It
// returns true when it answered (or dropped) the request itself; otherwise
// mods says how to change the captured answer.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) (mods faultMods, answered bool) {
	for _, f := range s.activeFaults(r.URL.Path) {
		if f.Kind != FaultFirmware || (f.Firmware != "" && (r.URL.Path == "/info" || r.URL.Path == "/info.xml")) || slices.Contains(f.Remove, r.URL.Path) {
			s.countFault(f.Kind) // a firmware change acts only where it shows
		}
		switch f.Kind {
		case FaultReboot, FaultReset:
			resetConn(w)
			return mods, true
		case FaultHang:
			d := f.Delay
			if d == 0 {
				d = maxHang
			}
			wait(r, d) // then answer as usual: late, like the real one
		case FaultLatency:
			wait(r, f.Delay)
		case FaultStatus:
			write(w, f.Status, "text/html", []byte(errorPage(f.Status)))
			return mods, true
		case FaultUnauthorized:
			write(w, http.StatusUnauthorized, "text/html", []byte(page401))
			return mods, true
		case FaultHTML:
			write(w, http.StatusOK, "text/html", []byte(pageLogin))
			return mods, true
		case FaultEmpty:
			write(w, http.StatusOK, "application/json", nil)
			return mods, true
		case FaultTruncated:
			mods.truncate = true
		case FaultClock:
			mods.offset += f.Offset
		case FaultFirmware:
			if f.Firmware != "" {
				mods.firmware = f.Firmware
			}
			mods.removed = mods.removed || slices.Contains(f.Remove, r.URL.Path)
		}
	}
	return mods, false
}

func (s *Server) countFault(kind string) {
	s.mu.Lock()
	s.stats.Faults[kind]++
	s.mu.Unlock()
}

// cloudFaults changes the cloud's behaviour by the cloud faults in force.
func (s *Server) cloudFaults(c Cloud) Cloud {
	sc := s.opts.Scenario
	if sc == nil {
		return c
	}
	now := s.opts.Now()
	for i := range sc.Faults {
		f := &sc.Faults[i]
		if !cloudKind(f.Kind) || !sc.Active(f, now) {
			continue
		}
		s.countFault(f.Kind)
		if f.Kind == FaultCloudLogin {
			c.Login = f.Mode
		} else {
			c.Tokens = f.Mode
		}
	}
	return c
}

// wait delays the answer by d of real time, dropping it if the client gives up.
func wait(r *http.Request, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		// Client gone: abort rather than send an answer nobody reads.
		panic(http.ErrAbortHandler)
	}
}

// resetConn drops the connection with a TCP reset, as a rebooting gateway
// or a flaky Wi-Fi link does (case T11).
func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn() // close under TLS: no close_notify, just the reset
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}

// errorPage is the gateway's openresty error page for a status.
func errorPage(code int) string {
	text := fmt.Sprintf("%d %s", code, http.StatusText(code))
	return "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
		"</h1></center>\r\n<hr><center>" + serverHeader + "</center>\r\n</body>\r\n</html>\r\n"
}

var softwareTag = regexp.MustCompile(`<software>[^<]*</software>`)

// apply changes a captured answer by the faults in force.
func (m faultMods) apply(rep reply) reply {
	if m.removed {
		return reply{code: http.StatusNotFound, contentType: "application/json", body: []byte(body404)}
	}
	if m.offset != 0 {
		rep.body = shiftTimes(rep.name, rep.body, m.offset)
	}
	if m.firmware != "" && rep.name == "info" {
		rep.body = softwareTag.ReplaceAll(rep.body, []byte("<software>"+m.firmware+"</software>"))
	}
	if m.truncate && len(rep.body) > 1 {
		rep.body = rep.body[:len(rep.body)/2]
	}
	return rep
}

// FaultState is the simulator's clock and the faults in force, for
// GET /__sim/faults.
type FaultState struct {
	Now      time.Time `json:"now"`
	Active   []Fault   `json:"active"`
	Scenario *Scenario `json:"scenario,omitempty"`
}

// FaultState reports the simulator's clock and the window faults in force.
func (s *Server) FaultState() FaultState {
	st := FaultState{Now: s.opts.Now(), Active: []Fault{}, Scenario: s.opts.Scenario}
	if sc := s.opts.Scenario; sc != nil {
		for i := range sc.Faults {
			if sc.Active(&sc.Faults[i], st.Now) {
				st.Active = append(st.Active, sc.Faults[i])
			}
		}
	}
	return st
}
