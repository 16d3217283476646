//go:build linux

// Command compare measures what it costs to get an Enphase gateway's data
// into Telegraf three ways, one after the other, each against a fresh
// envoy-sim:
//
//  1. Telegraf running telegraf-enphase through [[inputs.execd]] (the
//     repository's sample.conf);
//  2. Telegraf's [[inputs.http]] with the json_v2 parser on /production.json
//     (the recipe users copy today);
//  3. a bash loop of curl and jq on the endpoints the old scripts read;
//
// then Telegraf's own floor: an [[inputs.execd]] whose child (cat) answers
// every gather with an empty line.
//
// For each it counts CPU (rusage of the whole process tree, and /proc
// samples for the steady state), resident memory, the requests the gateway
// received and the fields emitted, then prints a table and writes it into
// BENCHMARKS.md between <!-- compare:begin --> and <!-- compare:end -->.
//
//	go run ./bench/compare [-gathers 40] [-interval 1s] [-out BENCHMARKS.md] [-keep]
//
// It needs go, bash, curl and jq on PATH, and the Go module proxy (Telegraf
// is installed from it). Linux only: it reads /proc.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

type options struct {
	gathers  int
	interval time.Duration
	out      string
	keep     bool
	rounds   int
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", a...)
}

func run(args []string) int {
	var o options
	fl := flag.NewFlagSet("compare", flag.ContinueOnError)
	fl.IntVar(&o.gathers, "gathers", 40, "gathers per contender")
	fl.DurationVar(&o.interval, "interval", time.Second, "gather interval of every contender")
	fl.StringVar(&o.out, "out", "BENCHMARKS.md", "file to write the results into (relative to the module root; empty: print only)")
	fl.IntVar(&o.rounds, "rounds", 3, "rounds of contenders 1, 2 and the floor program, for min/median/max ratios")
	fl.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configurations, logs, outputs)")
	fl.Usage = func() {
		fmt.Fprintln(fl.Output(), "usage: go run ./bench/compare [-gathers 40] [-interval 1s] [-out BENCHMARKS.md] [-keep]")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fl.NArg() > 0:
		fmt.Fprintf(os.Stderr, "compare: unexpected argument %q\n", fl.Arg(0))
		return 2
	case o.rounds < 1:
		fmt.Fprintln(os.Stderr, "compare: -rounds must be at least 1")
		return 2
	case o.gathers < 3:
		fmt.Fprintln(os.Stderr, "compare: -gathers must be at least 3 (the first gather is told apart from the steady state)")
		return 2
	case o.interval < 500*time.Millisecond:
		fmt.Fprintln(os.Stderr, "compare: -interval must be at least 500ms (samples are taken between gathers, and the shell's take 0.2 s)")
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := compare(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		return 1
	}
	return 0
}

func compare(ctx context.Context, o options) error {
	b := &binaries{}
	if err := findTools(b); err != nil {
		return err
	}
	root, err := moduleRoot(ctx, b.goBin)
	if err != nil {
		return err
	}
	b.root = root
	tmp, err := os.MkdirTemp("", "telegraf-enphase-compare-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if err := build(ctx, b, tmp); err != nil {
		return err
	}
	describe(ctx, b)

	m := thisMachine()
	started := time.Now()
	var (
		results []result
		floor   result
		rounds  []round
	)
	lines := filepath.Join(tmp, "steady.lp")
	for n := 1; n <= o.rounds; n++ {
		dir := filepath.Join(tmp, fmt.Sprintf("round%d", n))
		results = results[:0]
		cs := contenders(b)
		cs = append(cs[:2], floorContender(b, lines), cs[2])
		for i, c := range cs {
			logf("round %d/%d, %d/5 %s: %d gathers at %s", n, o.rounds, i+1, c.name, o.gathers, o.interval)
			r, err := measure(ctx, b, c, o, filepath.Join(dir, fmt.Sprintf("c%d", i+1)))
			if err != nil {
				return err
			}
			for _, l := range r.errLog {
				logf("warning: %s logged: %s", c.name, l)
			}
			results = append(results, r)
			if i == 0 && n == 1 {
				if err := steadyLines(filepath.Join(dir, "c1", "fields.out"), lines); err != nil {
					return err
				}
			}
		}
		rounds = append(rounds, round{execd: results[0], http: results[1], floor: results[2]})
		results = append(results[:2], results[3])

		logf("round %d/%d, 5/5 floor: Telegraf with an inputs.execd running cat, %d intervals of %s", n, o.rounds, o.gathers, o.interval)
		var err error
		if floor, err = measureBaseline(ctx, b, o, filepath.Join(dir, "floor")); err != nil {
			return err
		}
		for _, l := range floor.errLog {
			logf("warning: %s logged: %s", floor.name, l)
		}
	}

	rep := report{when: started, machine: m, bin: b, opts: o, results: results, floor: floor}
	section := rep.markdown() + "\n" + roundsMarkdown(rounds)
	fmt.Println(section)
	if o.out == "" {
		return nil
	}
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	if err := writeSection(out, section); err != nil {
		return err
	}
	logf("wrote %s", out)
	return nil
}
