package cli

import (
	"fmt"
	"time"

	"github.com/influxdata/telegraf/plugins/common/shim"
)

// run is the execd mode: Telegraf writes a line to stdin each interval
// (signal = "STDIN") and reads line protocol from stdout. The shim uses the
// process's own stdin and stdout, so env serves only for errors here.
func run(args []string, env Env) int {
	var c common
	fs := newFlags("telegraf-enphase", &c)
	poll := fs.Duration("poll-interval", 0, "gather on this interval by itself (default: only when Telegraf asks on stdin)")
	if err := fs.Parse(args); err != nil {
		return usageError(env, err)
	}
	if fs.NArg() > 0 {
		return usageError(env, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if *poll < 0 || (*poll > 0 && *poll < time.Second) {
		return usageError(env, fmt.Errorf("--poll-interval %s: use 0 (Telegraf drives gathers) or 1s and more", *poll))
	}
	set, log, ok := c.load(env)
	if !ok {
		return exitUsage
	}
	for _, e := range set.List {
		log.Infof("reading %s every time Telegraf asks", e.Name())
	}
	s := shim.New()
	// Assigned directly, not with AddInput: that would replace our logger
	// and run Init a second time.
	s.Input = set
	if err := s.Run(*poll); err != nil {
		log.Errorf("%v", err)
		return exitFail
	}
	return exitOK
}
