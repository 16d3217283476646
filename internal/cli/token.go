package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/execdlog"
	"github.com/telegraf-enphase/telegraf-enphase/internal/token"
	"github.com/telegraf-enphase/telegraf-enphase/plugins/inputs/enphase"
)

// tokenTimeout bounds one token command: cloud login, token, check_jwt.
const tokenTimeout = 3 * time.Minute

// tokenCmd is the 'token' family: what the old token script, JWT decoder and
// epoch converter did.
func tokenCmd(args []string, env Env) int {
	if len(args) == 0 {
		return usageError(env, errors.New("token needs a command: fetch, renew, show or check"))
	}
	switch args[0] {
	case "fetch":
		return tokenRenew(args[1:], env, true)
	case "renew":
		return tokenRenew(args[1:], env, false)
	case "show":
		return tokenShow(args[1:], env)
	case "check":
		return tokenCheck(args[1:], env)
	}
	return usageError(env, fmt.Errorf("unknown token command %q: use fetch, renew, show or check", args[0]))
}

// loadSelected loads the configuration and returns the gateways a command
// acts on: all, or the one --gateway names. On failure it has logged why.
func (c common) loadSelected(env Env) (*enphase.Gateways, []*enphase.Enphase, *execdlog.Logger, bool) {
	set, log, ok := c.load(env)
	if !ok {
		return nil, nil, log, false
	}
	if c.gateway == "" {
		return set, set.List, log, true
	}
	e, err := pick(set, c.gateway)
	if err != nil {
		log.Errorf("%v", err)
		set.Stop()
		return nil, nil, log, false
	}
	return set, []*enphase.Enphase{e}, log, true
}

// parseSelected parses the flags of a command that takes no argument and
// loads the gateways it acts on; code is nonzero when that failed, and the
// reason has been reported.
func (c *common) parseSelected(fs *flag.FlagSet, args []string, env Env) (*enphase.Gateways, []*enphase.Enphase, *execdlog.Logger, int) {
	if err := fs.Parse(args); err != nil {
		return nil, nil, nil, usageError(env, err)
	}
	if fs.NArg() > 0 {
		return nil, nil, nil, usageError(env, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	set, list, log, ok := c.loadSelected(env)
	if !ok {
		return nil, nil, nil, exitUsage
	}
	return set, list, log, exitOK
}

// tokenRenew is 'token fetch' (always mint) and 'token renew' (for cron: only
// when due, unless --force). It exits 0 only if every selected gateway holds a
// token the gateway accepts afterwards.
func tokenRenew(args []string, env Env, fetch bool) int {
	var c common
	name := "token renew"
	if fetch {
		name = "token fetch"
	}
	fs := newGatewayFlags(name, &c)
	force := fs.Bool("force", false, "renew even if the token is not due")
	set, list, log, code := c.parseSelected(fs, args, env)
	if code != exitOK {
		return code
	}
	defer set.Stop()
	for _, e := range list {
		ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
		// The worst status wins: no working token, then a failed forced renewal.
		if c := renewOne(ctx, e, fetch || *force, fetch, env, log); c == exitFail || code == exitOK {
			code = c
		}
		cancel()
	}
	return code
}

// renewOne renews one gateway's token. For 'fetch' (strict) a failure is a
// failure; for cron's 'renew' what counts is a good stored token afterwards.
//
// Its status (R17): exitOK when the stored token works and nothing asked
// for failed (renewed, not due, or a due renewal failed while the stored
// token still works: cron's mail says so); exitRenewFailed when a forced
// renewal failed but the stored token still works; exitFail when no token
// the gateway accepts is left, or 'fetch' got none.
func renewOne(ctx context.Context, e *enphase.Enphase, force, strict bool, env Env, log *execdlog.Logger) int {
	svc := enphase.NewService(e)
	res, err := svc.RenewToken(ctx, force)
	svc.NotifyRenewal(ctx, res, err)
	if err != nil {
		log.Errorf("%s: %v", e.Name(), err)
		if strict {
			return exitFail
		}
		if tok, cerr := svc.CheckToken(ctx); cerr == nil {
			fmt.Fprintf(env.Stdout, "%s: renewal failed, the stored %s is still accepted (%s)\n", e.Name(), tok, tok.Left(time.Now()))
			if force {
				return exitRenewFailed
			}
			return exitOK
		}
		return exitFail
	}
	if res.Renewed {
		fmt.Fprintf(env.Stdout, "%s: stored a new %s (%s); the gateway accepted it\n", e.Name(), res.Token, res.Reason)
		return exitOK
	}
	// Not due, and the gateway accepted the stored token (Verify).
	fmt.Fprintf(env.Stdout, "%s: %s; the gateway accepts the stored %s\n", e.Name(), res.Reason, res.Token)
	return exitOK
}

// tokenCheck asks the gateway whether it accepts the stored token.
func tokenCheck(args []string, env Env) int {
	var c common
	fs := newGatewayFlags("token check", &c)
	set, list, log, code := c.parseSelected(fs, args, env)
	if code != exitOK {
		return code
	}
	defer set.Stop()
	for _, e := range list {
		ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
		tok, err := enphase.NewService(e).CheckToken(ctx)
		cancel()
		if err != nil {
			log.Errorf("%s: %v", e.Name(), err)
			code = exitFail
			continue
		}
		fmt.Fprintf(env.Stdout, "%s: valid (%s, %s)\n", e.Name(), tok, tok.Left(time.Now()))
	}
	return code
}

// tokenShow decodes a token (no signature check) or converts an epoch.
func tokenShow(args []string, env Env) int {
	var c common
	fs := newFlags("token show", &c)
	epoch := fs.String("epoch", "", "convert this Unix time instead")
	gateway := fs.String("gateway", "", "with --config: this gateway's token")
	// Accept the file before or after the flags.
	var file string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return usageError(env, err)
	}
	if fs.NArg() > 0 && file == "" {
		file = fs.Arg(0)
	}
	now := time.Now()
	switch {
	case *epoch != "":
		n, err := strconv.ParseInt(*epoch, 10, 64)
		if err != nil {
			return usageError(env, fmt.Errorf("--epoch %q is not a Unix time in seconds", *epoch))
		}
		return printJSON(env, humanTime(time.Unix(n, 0), now))
	case file == "" && c.config == "":
		return usageError(env, errors.New("token show takes a token FILE, --config FILE or --epoch N"))
	case file == "":
		set, log, ok := c.load(env)
		if !ok {
			return exitUsage
		}
		defer set.Stop()
		e, err := pick(set, *gateway)
		if err != nil {
			log.Errorf("%v", err)
			return exitUsage
		}
		if e.TokenFile == "" {
			log.Errorf("%s has no token_file", e.Name())
			return exitUsage
		}
		file = e.TokenFile
	}
	t, err := token.ReadFile(file)
	if err != nil {
		fmt.Fprintf(env.Stderr, "E! %v\n", err)
		return exitFail
	}
	out := map[string]any{
		"file":       file,
		"header":     t.Header,
		"claims":     t.Claims,
		"serial":     t.Serial,
		"role":       t.Role,
		"expires_at": humanTime(t.Expires, now),
		"expired":    t.Expired(now),
		"time_left":  t.Left(now),
	}
	if !t.IssuedAt.IsZero() {
		out["issued_at"] = humanTime(t.IssuedAt, now)
	}
	return printJSON(env, out)
}

// humanTime is a Unix time in the forms the old epoch converter printed.
func humanTime(t, now time.Time) map[string]any {
	if !token.RealTime(t) {
		// exp = 1e300 is no date: say so rather than a saturated duration (R17).
		return map[string]any{"unix": t.Unix(), "utc": token.FormatTime(t), "relative": token.FormatTime(t)}
	}
	return map[string]any{
		"unix":     t.Unix(),
		"utc":      t.UTC().Format(time.RFC3339),
		"local":    t.Local().Format("2006-01-02 15:04:05 MST"),
		"relative": token.Relative(t, now),
	}
}

func printJSON(env Env, v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(env.Stderr, "E! %v\n", err)
		return exitFail
	}
	fmt.Fprintln(env.Stdout, string(b))
	return exitOK
}
