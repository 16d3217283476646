// Command envoy-sim serves a capture folder as a simulated firmware 7/8
// Enphase Envoy over HTTPS, for tests and demos without a real gateway. The
// same listener plays Enphase's cloud (POST /login/login.json, POST /tokens)
// for the accounts given with --account. A capture whose /info firmware is
// before 7 is served as such a gateway: plain HTTP with digest
// authentication (users envoy and installer), so the URL printed is http://.
//
//	envoy-sim [--captures DIR] [--listen 127.0.0.1:0] [--token-out FILE]
//	          [--latency-scale 1] [--live] [--token-lifetime 8760h] [--role owner] [--session-ttl 10m]
//	          [--session-max-age 0] [--account EMAIL:PASSWORD ...]
//	          [--scenario NAME|FILE] [--fault SPEC ...] [--timezone ZONE]
//	          [--clock-speed 1] [--clock-start RFC3339]
//
// Control endpoints (no auth) are listed in the usage text below.
//
// The first (and only) line on stdout is the base URL, so a parent process can
// read it; the token file is written before that line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoysim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: envoy-sim [flags]

Serves a capture folder as a simulated Enphase Envoy over HTTPS, and Enphase's
cloud (POST /login/login.json, POST /tokens) for the --account accounts.
A capture of firmware before 7 is served over plain HTTP with digest auth
(user envoy: last 6 digits of the serial; user installer: derived password).
Prints the base URL on stdout. Control endpoints, without auth:
  GET /__sim/stats                  request counters (JSON)
  POST /__sim/expire_sessions       end every sessionId (a reboot)
  POST /__sim/revoke_tokens         refuse every token minted so far
  POST /__sim/rotate_cert           serve a new key and certificate to new
                                    connections (the yearly renewal)
  GET|POST /__sim/cloud             cloud behaviour, JSON {"login","tokens","form",
                                    "role","lifetime","expired","other_serial"}
  GET /__sim/faults                 the simulator's clock and the faults in force

Faults (--scenario, --fault) are played on the simulator's clock, which
--clock-speed can run faster than real time (5760: a day in 15 s). A fault is
{"kind", "path", "at"|"every"|"daily", "for", and per kind "delay", "status",
"firmware", "remove", "offset", "mode"}; the --fault form is key=value pairs,
e.g. --fault kind=hang,path=/ivp/pdm/device_data,daily=23:00,for=3m
Kinds: %s.
Built-in scenarios: %s.

Flags:
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("envoy-sim", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fmt.Fprintf(stderr, usage, strings.Join(envoysim.FaultKinds(), " "), strings.Join(envoysim.BuiltinScenarios(), ", "))
		fl.PrintDefaults()
	}
	captures := fl.String("captures", "", "capture folder to serve (default: the embedded demo)")
	listen := fl.String("listen", "127.0.0.1:0", "listen address (TLS, or plain HTTP for firmware before 7)")
	tokenOut := fl.String("token-out", "", "write a valid token to this file (mode 0600)")
	latency := fl.Float64("latency-scale", 1, "multiplier for captured duration_seconds (0 = no delay)")
	live := fl.Bool("live", false, "move the capture's timestamps to now, so its data lands in today's graphs")
	lifetime := fl.Duration("token-lifetime", 365*24*time.Hour, "lifetime of the minted token")
	role := fl.String("role", "owner", "enphaseUser claim of the minted token")
	ttl := fl.Duration("session-ttl", 10*time.Minute, "sessionId idle timeout")
	maxAge := fl.Duration("session-max-age", 0, "sessionId ends this long after check_jwt whatever its use (0 = no limit)")
	accounts := map[string]string{}
	fl.Func("account", "cloud account `EMAIL:PASSWORD` for /login/login.json (repeatable)", func(v string) error {
		// Split at the first colon: e-mails have none, passwords may.
		email, password, ok := strings.Cut(v, ":")
		if !ok || email == "" || password == "" {
			return errors.New("want EMAIL:PASSWORD")
		}
		accounts[email] = password
		return nil
	})
	scenarioName := fl.String("scenario", "", "play this fault scenario: a JSON file or a built-in name")
	var faults []envoysim.Fault
	fl.Func("fault", "add a fault `SPEC` (key=value,...) to the scenario (repeatable)", func(v string) error {
		f, err := envoysim.ParseFault(v)
		if err != nil {
			return err
		}
		faults = append(faults, f)
		return nil
	})
	timezone := fl.String("timezone", "", "the gateway's local time zone for daily faults (default: the scenario's, else UTC)")
	speed := fl.Float64("clock-speed", 1, "run the simulator's clock this many times faster than real time")
	clockStart := fl.String("clock-start", "", "the simulator's clock starts at this RFC 3339 time (default: now)")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "envoy-sim: "+format+"\n", a...)
		fl.Usage()
		return 2
	}
	switch {
	case fl.NArg() > 0:
		return usageErr("unexpected argument %q", fl.Arg(0))
	case *latency < 0:
		return usageErr("--latency-scale must not be negative")
	case *lifetime <= 0:
		return usageErr("--token-lifetime must be positive")
	case *ttl <= 0:
		return usageErr("--session-ttl must be positive")
	case *maxAge < 0:
		return usageErr("--session-max-age must not be negative")
	case *role == "":
		return usageErr("--role must not be empty")
	case *speed <= 0:
		return usageErr("--clock-speed must be positive")
	}
	start := time.Now()
	if *clockStart != "" {
		t, err := time.Parse(time.RFC3339, *clockStart)
		if err != nil {
			return usageErr("--clock-start: %v", err)
		}
		start = t
	}
	var scenario *envoysim.Scenario
	if *scenarioName != "" {
		sc, err := envoysim.LoadScenario(*scenarioName)
		if err != nil {
			return usageErr("--scenario: %v", err)
		}
		scenario = sc
	}
	if len(faults) > 0 || (*timezone != "" && scenario != nil) {
		if scenario == nil {
			scenario = &envoysim.Scenario{}
		}
		scenario.Faults = append(scenario.Faults, faults...)
		if *timezone != "" {
			scenario.Timezone = *timezone
		}
	}

	opts := envoysim.Options{Live: *live,
		TokenLifetime: *lifetime, Role: *role, SessionTTL: *ttl, SessionMaxAge: *maxAge,
		LatencyScale: *latency, Accounts: accounts, Scenario: scenario,
	}
	if *speed != 1 || *clockStart != "" {
		opts.Now = envoysim.FastClock(start, *speed)
	}
	source := "embedded demo"
	if *captures != "" {
		fi, err := os.Stat(*captures)
		if err != nil || !fi.IsDir() {
			return usageErr("--captures %q is not a directory", *captures)
		}
		opts.Captures = os.DirFS(*captures)
		source = *captures
	}

	sim, err := envoysim.New(opts)
	if err != nil {
		fmt.Fprintln(stderr, "envoy-sim:", err)
		return 1
	}
	if *tokenOut != "" {
		if err := writeToken(*tokenOut, sim.Token()); err != nil {
			fmt.Fprintln(stderr, "envoy-sim:", err)
			return 1
		}
	}
	base, err := sim.Start(*listen)
	if err != nil {
		fmt.Fprintln(stderr, "envoy-sim:", err)
		return 1
	}
	defer sim.Close()
	fmt.Fprintln(stdout, base)
	fmt.Fprintf(stderr, "envoy-sim: serial %s, firmware %s, captures %s, %d cloud account(s), listening on %s\n",
		sim.Serial(), sim.Firmware(), source, len(accounts), base)
	if scenario != nil {
		fmt.Fprintf(stderr, "envoy-sim: playing %d fault(s) on a clock at %gx from %s; GET %s/__sim/faults shows those in force\n",
			len(scenario.Faults), *speed, start.Format(time.RFC3339), base)
	}
	if sim.Legacy() {
		fmt.Fprintf(stderr, "envoy-sim: firmware before 7: plain HTTP, digest auth as user envoy (password %s) or installer (password %s)\n",
			sim.LegacyPassword("envoy"), sim.LegacyPassword("installer"))
	}

	<-ctx.Done()
	return 0
}

// writeToken writes the token with mode 0600 even if the file already exists.
func writeToken(path, token string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
