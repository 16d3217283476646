package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
	"github.com/telegraf-enphase/telegraf-enphase/internal/execdlog"
	"github.com/telegraf-enphase/telegraf-enphase/plugins/inputs/enphase"
)

// get prints the raw authenticated body of one endpoint, or saves every
// endpoint the plugin knows as a capture folder the simulator can replay.
func get(args []string, env Env) int {
	var c common
	fs := newGatewayFlags("get", &c)
	all := fs.String("all", "", "save every endpoint into this directory")
	if err := fs.Parse(args); err != nil {
		return usageError(env, err)
	}
	switch {
	case *all == "" && fs.NArg() != 1:
		return usageError(env, fmt.Errorf("get takes one PATH (e.g. /production.json?details=1) or --all DIR"))
	case *all != "" && fs.NArg() != 0:
		return usageError(env, fmt.Errorf("get --all DIR takes no PATH"))
	}
	set, list, log, ok := c.loadSelected(env)
	if !ok {
		return exitUsage
	}
	defer set.Stop()
	e := list[0]
	ctx := context.Background()
	if *all != "" {
		return getAll(ctx, e, *all, env, log)
	}
	path := fs.Arg(0)
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	r, err := enphase.NewService(e).Get(ctx, path)
	if err != nil {
		log.Errorf("%v", err)
		return exitFail
	}
	if _, err := env.Stdout.Write(r.Body); err != nil {
		return exitFail
	}
	if r.Status != 200 {
		log.Errorf("%s answered HTTP %d", path, r.Status)
		return exitFail
	}
	return exitOK
}

// pick selects a gateway by its serial or by its position in the file. A
// serial not set in the file is looked for in the gateways' /info, which
// needs no token: a file without serial = still answers --gateway SERIAL.
func pick(set *enphase.Gateways, which string) (*enphase.Enphase, error) {
	if which == "" {
		return set.List[0], nil
	}
	if n, err := strconv.Atoi(which); err == nil && n >= 1 && n <= len(set.List) && len(which) < 4 {
		return set.List[n-1], nil
	}
	for _, e := range set.List {
		if e.Serial == which {
			return e, nil
		}
	}
	var seen []string
	for _, e := range set.List {
		if e.Serial != "" {
			continue // a gateway with another serial is refused by the plugin anyway
		}
		ctx, cancel := context.WithTimeout(context.Background(), infoTimeout)
		info, err := enphase.NewService(e).Info(ctx)
		cancel()
		if err != nil {
			seen = append(seen, fmt.Sprintf("%s: %v", e.Name(), err))
			continue
		}
		if info.Serial == which {
			return e, nil
		}
		seen = append(seen, fmt.Sprintf("%s has serial %s", e.Name(), info.Serial))
	}
	msg := fmt.Sprintf("--gateway %q: no [[inputs.enphase]] has serial %q, set in the file or read from the gateway's /info", which, which)
	if len(seen) > 0 {
		msg += " (" + strings.Join(seen, "; ") + ")"
	}
	return nil, fmt.Errorf("%s; give a gateway's serial or its position in the file (1 to %d)", msg, len(set.List))
}

// infoTimeout bounds reading one gateway's /info to find its serial.
const infoTimeout = 15 * time.Second

// getAll saves a capture: one body file per endpoint plus <name>_log.json
// with the status and duration, the layout of the simulator's captures.
func getAll(ctx context.Context, e *enphase.Enphase, dir string, env Env, log *execdlog.Logger) int {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Errorf("%v", err)
		return exitFail
	}
	failed := 0
	for _, path := range enphase.CaptureEndpoints() {
		r, err := enphase.NewService(e).Get(ctx, path)
		if err != nil {
			log.Warnf("%s: %v", path, err)
			failed++
			continue
		}
		meta := capture.Log{Code: r.Status, DurationSeconds: r.Duration.Seconds(), Headers: map[string]string{}}
		// Set-Cookie carries the session: never written.
		for _, h := range []string{"Content-Type", "Server"} {
			if v := r.Header.Get(h); v != "" {
				meta.Headers[strings.ToLower(h)] = v
			}
		}
		name := capture.Name(path)
		if err := capture.Write(dir, name, r.Body, meta); err != nil {
			log.Errorf("%v", err)
			return exitFail
		}
		fmt.Fprintf(env.Stdout, "%-32s %3d %6.2fs\n", name, r.Status, r.Duration.Seconds())
	}
	if failed == len(enphase.CaptureEndpoints()) {
		log.Errorf("no endpoint answered; nothing saved")
		return exitFail
	}
	log.Infof("capture saved in %s; check it for anything private before attaching it to a report", dir)
	return exitOK
}
