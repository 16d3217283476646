// Package cli is the command line of telegraf-enphase: the execd shim (the
// default), 'dump' (one gather as line protocol), 'get' (raw endpoint
// bodies, or a whole capture for a bug report), 'token' and 'pin'.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/logger"

	telegrafenphase "github.com/telegraf-enphase/telegraf-enphase"
	"github.com/telegraf-enphase/telegraf-enphase/internal/execdlog"
	"github.com/telegraf-enphase/telegraf-enphase/plugins/inputs/enphase"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the job failed (a gateway could not be read, a request failed)
	exitUsage = 2 // bad flags or configuration
	// exitRenewFailed: 'token renew --force' failed, but the stored token
	// still works (R17), so cron can tell a failed renewal from lost data.
	exitRenewFailed = 3
	// exitHelp is a command's status after --help: Main turns it into
	// exitOK, and the callers of a flag parse stop on it as on an error.
	exitHelp = -1
)

const usage = `telegraf-enphase reads Enphase Envoy / IQ Gateways for Telegraf.

Usage:
  telegraf-enphase --config FILE [--poll-interval D] [--debug]
      run under Telegraf's [[inputs.execd]] (signal = "STDIN"): one gather per
      line on stdin, line protocol on stdout, logs on stderr
  telegraf-enphase dump --config FILE
      gather every gateway once and print line protocol
  telegraf-enphase get --config FILE [--gateway SERIAL|N] PATH
      print the raw body of one endpoint, e.g. /production.json?details=1
  telegraf-enphase get --config FILE [--gateway SERIAL|N] --all DIR
      save every endpoint the plugin knows into DIR, for a bug report
  telegraf-enphase token fetch --config FILE [--gateway G]
      mint a token from Enphase's cloud, validate it on the gateway, store it
  telegraf-enphase token renew --config FILE [--force] [--gateway G]
      for cron: renew when due; exit 0 when the stored token is good afterwards,
      3 when a --force renewal failed but the stored token still works, 1 when
      no token the gateway accepts is left
  telegraf-enphase token show [FILE | --config FILE] | token show --epoch N
      decode a token (header, claims, times) or convert a Unix time
  telegraf-enphase token check --config FILE [--gateway G]
      ask the gateway whether it accepts the stored token; exit 0 only if so
  telegraf-enphase pin --config FILE [--gateway G] [--accept]
      show the certificate the gateway presents beside the pinned one (tls_pin);
      exit 1 when they differ or the gateway cannot be reached, 0 otherwise
      (also when nothing is pinned yet). --accept pins the presented one, after
      the gateway renewed its certificate. Sends no request and no token
  telegraf-enphase doctor --config FILE [--gateway G] [--user NAME] [--telegraf-config FILE|DIR]
      check everything the plugin needs, as the user Telegraf runs as (telegraf
      when run as root): one line per check with its fix; exit 0 when none
      failed (warnings allowed), 1 otherwise. Prints no secret: safe to paste
  telegraf-enphase version
`

// Env is what a command reads and writes; tests substitute it.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Main runs the command line and returns the exit status.
func Main(args []string, env Env) int {
	if code := dispatch(args, env); code != exitHelp {
		return code
	}
	return exitOK
}

func dispatch(args []string, env Env) int {
	if len(args) > 0 {
		switch args[0] {
		case "dump":
			return dump(args[1:], env)
		case "get":
			return get(args[1:], env)
		case "token":
			return tokenCmd(args[1:], env)
		case "pin":
			return pinCmd(args[1:], env)
		case "doctor":
			return doctor(args[1:], env)
		case "version", "--version", "-version":
			fmt.Fprintln(env.Stdout, "telegraf-enphase", telegrafenphase.String())
			return exitOK
		case "help", "--help", "-help", "-h":
			fmt.Fprint(env.Stdout, usage)
			return exitOK
		}
	}
	return run(args, env)
}

// common holds the flags every command takes.
type common struct {
	config  string
	debug   bool
	gateway string // --gateway, for the commands that take it
}

// newFlags returns a flag set with the common flags; errors are reported by
// the caller as one prefixed line.
func newFlags(name string, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&c.config, "config", "", "configuration file")
	fs.BoolVar(&c.debug, "debug", false, "log debug messages")
	return fs
}

// newGatewayFlags is newFlags plus --gateway, for commands that act on the
// gateways of the file or on one of them.
func newGatewayFlags(name string, c *common) *flag.FlagSet {
	fs := newFlags(name, c)
	fs.StringVar(&c.gateway, "gateway", "", "only this gateway: its serial, or its position in the file (1, 2, ...)")
	return fs
}

// load sets up logging and reads the gateways; on error it has logged why.
func (c common) load(env Env) (*enphase.Gateways, *execdlog.Logger, bool) {
	setupTelegrafLogging(c.debug)
	log := execdlog.New(env.Stderr, logLevel(c.debug))
	set, err := loadGateways(c.config, log)
	if err != nil {
		log.Errorf("%v", err)
		return nil, log, false
	}
	return set, log, true
}

// usageError reports bad flags or arguments; --help (-h) is no error: the
// usage goes to stdout (status 0, by way of exitHelp).
func usageError(env Env, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(env.Stdout, usage)
		return exitHelp
	}
	fmt.Fprintf(env.Stderr, "E! %v (run 'telegraf-enphase help' for usage)\n", err)
	return exitUsage
}

// loadGateways reads and validates the configuration. Every problem names the
// file, line and key, because the shim alone would ignore typos silently.
func loadGateways(path string, log *execdlog.Logger) (*enphase.Gateways, error) {
	if path == "" {
		return nil, errors.New("--config FILE is required: the file with one [[inputs.enphase]] table per gateway (see sample.conf)")
	}
	return enphase.LoadFile(path, log)
}

// setupTelegrafLogging stops Telegraf's "early logging" buffer, which grows
// without bound in a process that never calls SetupLogging.
func setupTelegrafLogging(debug bool) {
	_ = logger.SetupLogging(&logger.Config{Debug: debug})
}

func logLevel(debug bool) telegraf.LogLevel {
	if debug {
		return telegraf.Debug
	}
	return telegraf.Info
}

// Run is Main with the process's standard streams.
func Run() int {
	return Main(os.Args[1:], Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}
