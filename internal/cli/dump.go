package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/telegraf-enphase/telegraf-enphase/internal/execdlog"
	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
	"github.com/telegraf-enphase/telegraf-enphase/plugins/inputs/enphase"
)

// dump gathers every gateway once and prints line protocol, as Telegraf would
// receive it: the one-shot replacement of the old curl scripts.
func dump(args []string, env Env) int {
	var c common
	fs := newFlags("dump", &c)
	if err := fs.Parse(args); err != nil {
		return usageError(env, err)
	}
	if fs.NArg() > 0 {
		return usageError(env, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	set, log, ok := c.load(env)
	if !ok {
		return exitUsage
	}
	defer set.Stop()
	fetchMissingTokens(set, log)

	// The execd loop's encoder, so dump prints what Telegraf would receive,
	// byte for byte, with the lines sorted for reading and diffing.
	batch := lineproto.NewBatch(log)
	defer batch.Release()
	gatherErr := set.GatherOnce(batch)
	if err := writeSorted(env.Stdout, batch.Bytes()); err != nil {
		log.Errorf("writing line protocol: %v", err)
		return exitFail
	}
	if gatherErr != nil {
		// One line per gateway that could not be read at all.
		for _, err := range unwrapJoined(gatherErr) {
			fmt.Fprintf(env.Stderr, "E! %v\n", err)
		}
		if errors.Is(gatherErr, enphase.ErrUnreadable) {
			return exitFail
		}
	}
	return exitOK
}

// fetchMissingTokens fetches, with the Enlighten credentials, the token of
// each gateway that has no usable one, and waits for it, as the first
// gather of a running plugin would: so that dump succeeds where Telegraf
// will. A failure is logged; the gather then says what it means.
func fetchMissingTokens(set *enphase.Gateways, log *execdlog.Logger) {
	for _, e := range set.List {
		res, fetched, err := enphase.NewService(e).FetchMissingToken(context.Background())
		switch {
		case err != nil:
			log.Errorf("%s: fetching a token with the Enlighten credentials: %v", e.Name(), err)
		case fetched:
			log.Infof(
				"%s: no usable token was stored: fetched a new %s with the Enlighten credentials, the gateway accepted it; stored in %s",
				e.Name(),
				res.Token,
				e.TokenFile,
			)
		}
	}
}

func unwrapJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// writeSorted writes the lines of b sorted.
func writeSorted(w io.Writer, b []byte) error {
	lines := strings.SplitAfter(string(b), "\n")
	sort.Strings(lines)
	_, err := io.WriteString(w, strings.Join(lines, ""))
	return err
}
