package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/telegraf-enphase/telegraf-enphase/internal/certpin"
	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
	"github.com/telegraf-enphase/telegraf-enphase/internal/execdlog"
	"github.com/telegraf-enphase/telegraf-enphase/internal/fileperm"
	"github.com/telegraf-enphase/telegraf-enphase/plugins/inputs/enphase"
)

// Clock differences between the gateway and this host: beyond clockWarn a
// warning, beyond clockFail (the skew the plugin tolerates on a token's
// expiry) a failure.
const (
	clockWarn = 2 * time.Minute
	clockFail = time.Hour
)

// Telegraf's configuration, where doctor looks for the execd block.
var defaultTelegrafConfig = []string{"/etc/telegraf/telegraf.conf", "/etc/telegraf/telegraf.d"}

// Check statuses: a warning is advice (the plugin works), so only a failure
// makes doctor exit 1.
const (
	statusOK   = "ok"
	statusWarn = "WARN"
	statusFail = "FAIL"
)

// report prints one line per check. It is given only what is safe to paste
// into a bug report: no token, password, cookie or e-mail address.
type report struct {
	w      io.Writer
	failed bool
	prefix string
}

func (r *report) add(status, check, format string, args ...any) {
	if status == statusFail {
		r.failed = true
	}
	fmt.Fprintf(r.w, "%-4s  %-9s %s%s\n", status, check, r.prefix, fmt.Sprintf(format, args...))
}

// checkUser is the user whose access to the files doctor checks.
type checkUser struct {
	name string
	uid  uint32
	gids map[uint32]bool
}

// doctor checks, as the user Telegraf runs as, everything the plugin needs:
// one line per check, with its fix. Exit 0 when no check failed (warnings
// allowed), 1 when one did, 2 on bad flags.
func doctor(args []string, env Env) int {
	var c common
	fs := newGatewayFlags("doctor", &c)
	userName := fs.String("user", "", "check file access as this user (default: telegraf when run as root, else yourself)")
	var telegrafConf multiFlag
	fs.Var(
		&telegrafConf,
		"telegraf-config",
		"Telegraf's configuration file or directory (repeatable; default /etc/telegraf/telegraf.conf and /etc/telegraf/telegraf.d)",
	)
	if err := fs.Parse(args); err != nil {
		return usageError(env, err)
	}
	if fs.NArg() > 0 {
		return usageError(env, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if c.config == "" {
		return usageError(env, errors.New("doctor needs --config FILE: the plugin's configuration file"))
	}
	u, err := lookupCheckUser(*userName)
	if err != nil {
		return usageError(env, err)
	}
	if len(telegrafConf) == 0 {
		telegrafConf = defaultTelegrafConfig
	}
	r := &report{w: env.Stdout}
	fmt.Fprintf(env.Stdout, "telegraf-enphase doctor: %s, file access checked as user %s (uid %d)\n", c.config, u.name, u.uid)

	checkExecd(r, c.config, telegrafConf)
	setupTelegrafLogging(c.debug)
	log := execdlog.New(env.Stderr, logLevel(c.debug))
	configAccess(r, u, c.config)
	set, err := enphase.LoadFile(c.config, log)
	if err != nil {
		r.add(statusFail, "config", "%v", err)
		return exitFail
	}
	defer set.Stop()
	list := set.List
	if c.gateway != "" {
		e, err := pick(set, c.gateway)
		if err != nil {
			r.add(statusFail, "config", "%v", err)
			return exitFail
		}
		list = []*enphase.Enphase{e}
	}
	r.add(statusOK, "config", "%s is valid: %d gateway(s)", c.config, len(set.List))
	for i, e := range list {
		if len(list) > 1 {
			r.prefix = fmt.Sprintf("gateway %d: ", i+1)
		}
		doctorGateway(r, u, e)
	}
	if r.failed {
		return exitFail
	}
	return exitOK
}

// doctorGateway runs the checks of one gateway.
func doctorGateway(r *report, u checkUser, e *enphase.Enphase) {
	svc := enphase.NewService(e)
	for _, f := range svc.Files() {
		fileAccess(r, u, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()

	// The pin first: its state before doctor's own connections.
	var pin enphase.PinState
	var pinErr error
	if !svc.Legacy() {
		pin, pinErr = svc.CheckPin(ctx, false)
		if pinErr == nil && pin.Setting != "" && pin.Pinned == nil {
			svc.PinForThisRun(pin.Presented.Fingerprint)
		}
	}
	info, infoErr := svc.Info(ctx)
	refused := certpin.Refusal(infoErr) != nil
	switch {
	case refused:
		r.add(statusWarn, "gateway", "%s: not read: its certificate is not the pinned one (see pin)", e.URL)
	case infoErr != nil:
		r.add(statusFail, "gateway", "%s: %v; fix: check url (the gateway's address, https://) and that this host reaches it", e.URL, infoErr)
	case svc.ConfiguredSerial() != "" && info.Serial != svc.ConfiguredSerial():
		r.add(statusFail, "gateway", "the gateway at %s has serial %s, not the configured serial %s; fix: correct url (a DHCP change?) or serial",
			e.URL, info.Serial, svc.ConfiguredSerial())
	default:
		metered := "not metered"
		if info.IMeter {
			metered = "metered"
		}
		hw := "CTs and batteries not read (no token accepted)"
		if st := svc.StoredToken(); !svc.Legacy() && st.Err == nil && svc.CheckStoredToken(ctx, st.Token) == nil {
			hw = hardware(svc.ReadHardware(ctx))
		}
		r.add(statusOK, "gateway", "%s: serial %s, firmware %s, part %s, %s, %s", e.URL, info.Serial, info.Firmware, info.PartNumber, metered, hw)
	}
	if infoErr == nil {
		checkClock(r, info)
	}
	checkToken(ctx, r, svc, info, infoErr)
	switch {
	case svc.Legacy():
	case infoErr == nil || refused:
		checkPin(r, svc, pin, pinErr)
	default:
		r.add(statusWarn, "pin", "not checked: the gateway is not reachable")
	}
}

func hardware(hw enphase.Hardware) string {
	cts := fmt.Sprintf("%d CT(s) enabled", hw.CTs)
	if hw.CTErr != nil {
		cts = "CTs unknown (" + envoy.Quote(hw.CTErr.Error()) + ")"
	}
	bat := fmt.Sprintf("%d IQ Battery(ies)", hw.Batteries)
	if hw.BatErr != nil {
		bat = "batteries unknown (" + envoy.Quote(hw.BatErr.Error()) + ")"
	}
	return cts + ", " + bat
}

func checkClock(r *report, info envoy.Info) {
	gw, ok := info.Time.Time()
	if !ok {
		r.add(statusWarn, "clock", "/info gives no time; the gateway's clock cannot be compared")
		return
	}
	d := gw.Sub(time.Now()).Round(time.Second)
	abs := d
	if abs < 0 {
		abs = -abs
	}
	what := fmt.Sprintf("the gateway's clock (%s) is %s %s ours", gw.UTC().Format(time.RFC3339), abs, map[bool]string{true: "behind", false: "ahead of"}[d < 0])
	switch {
	case abs > clockFail:
		r.add(
			statusFail,
			"clock",
			"%s; fix: set this host's time (timedatectl set-ntp true) or the gateway's (it syncs by NTP when it reaches the internet)",
			what,
		)
	case abs > clockWarn:
		r.add(statusWarn, "clock", "%s; fix: keep both in sync by NTP (timedatectl set-ntp true)", what)
	default:
		r.add(statusOK, "clock", "%s", what)
	}
}

func checkToken(ctx context.Context, r *report, svc *enphase.Service, info envoy.Info, infoErr error) {
	st := svc.StoredToken()
	if !st.Configured {
		r.add(statusOK, "token", "none configured: url is http://, for firmware before 7")
		return
	}
	renewFix := "fix: sudo -u telegraf " + svc.Command("token fetch")
	if !st.Renews {
		renewFix = "fix: paste a new token from https://entrez.enphaseenergy.com into " + st.File + " (README, 'Getting a token')"
	}
	tokenOK := false
	switch {
	case st.Err != nil:
		r.add(statusFail, "token", "%v; %s", st.Err, renewFix)
	case infoErr == nil && st.Token.CheckSerial(info.Serial) != nil:
		r.add(statusFail, "token", "the %s is for another gateway than serial %s; %s", st.Token, info.Serial, renewFix)
	case st.Expired:
		r.add(statusFail, "token", "the %s has expired; %s", st.Token, renewFix)
	case infoErr != nil:
		r.add(statusWarn, "token", "the %s (%s left) could not be checked on the gateway (see gateway)", st.Token, st.Left.Round(time.Minute))
	default:
		if err := svc.CheckStoredToken(ctx, st.Token); err != nil {
			r.add(statusFail, "token", "%v; %s", err, renewFix)
			break
		}
		tokenOK = true
		r.add(statusOK, "token", "the gateway accepts the %s (%s left)", st.Token, st.Left.Round(time.Minute))
	}
	if !st.Renews {
		status := statusOK
		if tokenOK && st.DueForRenew {
			status = statusWarn
		}
		r.add(
			status,
			"renewal",
			"no Enlighten credentials: the token is pasted by hand (%s left); renew it before then, or set username and password_file to have it renewed",
			st.Left.Round(time.Hour),
		)
		return
	}
	if err := svc.CheckPassword(); err != nil {
		r.add(statusFail, "renewal", "%v; fix: put the Enlighten password in password_file, readable by telegraf", err)
		return
	}
	host, err := svc.PingCloud(ctx)
	if err != nil {
		r.add(statusFail, "renewal", "Enlighten (%s) is not reachable: %v; fix: check this host's internet access, DNS and enlighten_url", host, err)
		return
	}
	r.add(statusOK, "renewal", "credentials set, Enlighten (%s) reachable: the token is renewed before it expires", host)
}

func checkPin(r *report, svc *enphase.Service, st enphase.PinState, err error) {
	switch {
	case st.Presented.Fingerprint.IsZero():
		r.add(statusFail, "pin", "no certificate read: %v", err)
	case err != nil:
		r.add(statusFail, "pin", "%v", err)
	case st.Setting == "" && svc.InsecureSkipVerify():
		r.add(
			statusWarn,
			"pin",
			"insecure_skip_verify accepts any certificate; fix: tls_pin = \"tofu\" (pins SHA256 %s on first use)",
			st.Presented.Fingerprint,
		)
	case st.Setting == "":
		r.add(statusOK, "pin", "no tls_pin: the certificate is verified by tls_ca or the system's roots")
	case st.Pinned == nil:
		r.add(
			statusOK,
			"pin",
			"tls_pin = \"tofu\", nothing pinned yet: Telegraf's first gather pins SHA256 %s in %s (doctor pins nothing)",
			st.Presented.Fingerprint,
			st.File,
		)
	case !st.Match():
		r.add(
			statusFail,
			"pin",
			"the gateway presents SHA256 %s, not the pinned %s; fix: if the gateway renewed its certificate, %s; otherwise something intercepts the connection",
			st.Presented.Fingerprint,
			st.Pinned.Fingerprint,
			svc.Command("pin --accept"),
		)
	default:
		r.add(statusOK, "pin", "the gateway presents the pinned certificate SHA256 %s", st.Presented.Fingerprint)
	}
}

// lookupCheckUser is the user named, else telegraf when run as root, else
// the current user.
func lookupCheckUser(name string) (checkUser, error) {
	var u *user.User
	var err error
	switch {
	case name != "":
		u, err = user.Lookup(name)
	case os.Geteuid() == 0:
		u, err = user.Lookup("telegraf")
		if err != nil {
			return checkUser{}, fmt.Errorf(
				"running as root, doctor checks file access as the user telegraf, which does not exist (%v): install Telegraf, or give --user NAME",
				err,
			)
		}
	default:
		u, err = user.Current()
	}
	if err != nil {
		return checkUser{}, fmt.Errorf("--user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return checkUser{}, fmt.Errorf("user %s: uid %q: %w", u.Username, u.Uid, err)
	}
	cu := checkUser{name: u.Username, uid: uint32(uid), gids: map[uint32]bool{}}
	gids, _ := u.GroupIds()
	for _, g := range append(gids, u.Gid) {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			cu.gids[uint32(n)] = true
		}
	}
	return cu, nil
}

// Permission bits asked for.
const (
	permRead  = 4
	permWrite = 2
	permExec  = 1
)

// allowed reports whether u may do want with a file of mode owned by
// uid:gid, by the Unix rules (root may do anything).
func (u checkUser) allowed(mode fs.FileMode, uid, gid uint32, want fs.FileMode) bool {
	perm := mode.Perm()
	switch {
	case u.uid == 0:
		return true
	case u.uid == uid:
		perm >>= 6
	case u.gids[gid]:
		perm >>= 3
	}
	return perm&want == want
}

// access returns why u cannot do want with path (and reach it through its
// directories), nil when it can. Where files have no Unix owner it only
// checks that the path exists.
func (u checkUser) access(path string, want fs.FileMode) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		if err := u.may(dir, permExec, "enter the directory"); err != nil {
			return err
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	return u.may(abs, want, "")
}

func (u checkUser) may(path string, want fs.FileMode, what string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	uid, gid, ok := owner(fi)
	if !ok || u.allowed(fi.Mode(), uid, gid, want) {
		return nil
	}
	if what == "" {
		what = map[fs.FileMode]string{permRead: "read", permWrite: "write", permRead | permWrite: "read and write", permWrite | permExec: "create files in"}[want]
	}
	return fmt.Errorf(
		"user %s cannot %s %s (mode %04o, owner uid %d, gid %d); fix: sudo chown %s: %s, or chmod it",
		u.name,
		what,
		path,
		fi.Mode().Perm(),
		uid,
		gid,
		u.name,
		path,
	)
}

// configAccess checks that the user can read the plugin's configuration.
func configAccess(r *report, u checkUser, path string) {
	if err := u.access(path, permRead); err != nil {
		r.add(statusFail, "files", "config: %v", err)
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		return // LoadFile says why
	}
	r.add(statusOK, "files", "config %s readable by %s (mode %04o)", path, u.name, fi.Mode().Perm())
}

// fileAccess checks one file the plugin reads (and maybe replaces): the
// user's access, and that no other user can read or change a secret.
func fileAccess(r *report, u checkUser, f enphase.FileNeed) {
	fi, err := os.Stat(f.Path)
	missing := errors.Is(err, fs.ErrNotExist)
	switch {
	case missing && !f.MayBeMissing:
		r.add(statusFail, "files", "%s %s does not exist; fix: create it (see the README)", f.Key, f.Path)
		return
	case err == nil:
		if aerr := u.access(f.Path, permRead); aerr != nil {
			r.add(statusFail, "files", "%s: %v", f.Key, aerr)
			return
		}
	case !missing:
		r.add(statusFail, "files", "%s: %v", f.Key, err)
		return
	}
	if f.Write {
		// Replaced atomically: a new file in the directory, then a rename.
		if err := u.access(filepath.Dir(f.Path), permWrite|permExec); err != nil {
			r.add(statusFail, "files", "%s: %v (the plugin writes it there)", f.Key, err)
			return
		}
	}
	if missing {
		r.add(statusOK, "files", "%s %s not there yet; its directory is writable by %s", f.Key, f.Path, u.name)
		return
	}
	mode := fi.Mode().Perm()
	if w := fileperm.Dir([]string{f.Key}, filepath.Dir(f.Path)); w != "" {
		r.add(statusFail, "files", "%s", w)
		return
	}
	switch {
	case f.Secret && mode&0o007 != 0:
		r.add(statusFail, "files", "%s %s has mode %04o: %s; fix: chmod 600 %s", f.Key, f.Path, mode, fileperm.Access(mode), f.Path)
	case f.Secret && mode&0o070 != 0:
		r.add(statusWarn, "files", "%s %s has mode %04o: %s; fix: chmod 600 %s", f.Key, f.Path, mode, fileperm.Access(mode), f.Path)
	default:
		r.add(statusOK, "files", "%s %s usable by %s (mode %04o)", f.Key, f.Path, u.name, mode)
	}
}

// execdBlock is the part of Telegraf's [[inputs.execd]] doctor reads.
type execdBlock struct {
	Command []string `toml:"command"`
	Signal  string   `toml:"signal"`
}

// checkExecd looks for an [[inputs.execd]] block running telegraf-enphase
// with this configuration and signal = "STDIN" in Telegraf's configuration.
func checkExecd(r *report, config string, places []string) {
	files, err := telegrafFiles(places)
	if len(files) == 0 {
		r.add(
			statusFail,
			"execd",
			"no Telegraf configuration found in %s (%v); fix: install Telegraf, or give --telegraf-config FILE|DIR",
			strings.Join(places, ", "),
			err,
		)
		return
	}
	self, _ := os.Executable()
	abs, _ := filepath.Abs(config)
	var found []string
	for _, f := range files {
		var conf struct {
			Inputs struct {
				Execd []execdBlock `toml:"execd"`
			} `toml:"inputs"`
		}
		if _, err := toml.DecodeFile(f, &conf); err != nil {
			r.add(statusWarn, "execd", "%s: not read (%v)", f, envoy.Quote(err.Error()))
			continue
		}
		for _, b := range conf.Inputs.Execd {
			if len(b.Command) == 0 || !isThisBinary(b.Command[0], self) {
				continue
			}
			names := namesConfig(b.Command[1:], abs)
			switch {
			case !names:
				found = append(found, fmt.Sprintf("%s runs %s with another --config", f, b.Command[0]))
			case !strings.EqualFold(b.Signal, "STDIN"):
				r.add(
					statusFail,
					"execd",
					"%s: the [[inputs.execd]] block running %s has signal = %q: the plugin would never be asked to gather; fix: signal = \"STDIN\"",
					f,
					b.Command[0],
					b.Signal,
				)
				return
			default:
				r.add(statusOK, "execd", "%s runs %s --config %s with signal = \"STDIN\"", f, b.Command[0], config)
				return
			}
		}
	}
	detail := "none runs telegraf-enphase"
	if len(found) > 0 {
		detail = strings.Join(found, "; ")
	}
	r.add(
		statusFail,
		"execd",
		"no [[inputs.execd]] block runs this configuration in %s (%s); fix: add the block of sample.conf to /etc/telegraf/telegraf.d/enphase.conf",
		strings.Join(files, ", "),
		detail,
	)
}

// telegrafFiles expands the places: a file as is, a directory to its *.conf.
func telegrafFiles(places []string) ([]string, error) {
	var files []string
	var errs []error
	for _, p := range places {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		m, _ := filepath.Glob(filepath.Join(p, "*.conf"))
		files = append(files, m...)
	}
	return files, errors.Join(errs...)
}

// isThisBinary reports whether an execd command runs telegraf-enphase.
func isThisBinary(cmd, self string) bool {
	if filepath.Base(cmd) == "telegraf-enphase" {
		return true
	}
	if self == "" {
		return false
	}
	a, err1 := filepath.EvalSymlinks(cmd)
	b, err2 := filepath.EvalSymlinks(self)
	return err1 == nil && err2 == nil && a == b
}

// namesConfig reports whether args give --config as the file abs.
func namesConfig(args []string, abs string) bool {
	for i, a := range args {
		var v string
		switch {
		case (a == "--config" || a == "-config") && i+1 < len(args):
			v = args[i+1]
		case strings.HasPrefix(a, "--config="), strings.HasPrefix(a, "-config="):
			v = a[strings.Index(a, "=")+1:]
		default:
			continue
		}
		if p, err := filepath.Abs(v); err == nil && p == abs {
			return true
		}
	}
	return false
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
