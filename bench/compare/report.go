//go:build linux

package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	beginMarker = "<!-- compare:begin -->"
	endMarker   = "<!-- compare:end -->"
	goBenchHead = "## Go benchmarks"
)

// skeleton is BENCHMARKS.md when there is none yet.
const skeleton = `# Benchmarks

` + beginMarker + `
` + endMarker + `

` + goBenchHead + `

_To be written: the plugin's Go benchmarks (` + "`go test -bench`" + `), among them the
600-inverter gather._
`

type report struct {
	when    time.Time
	machine machine
	bin     *binaries
	opts    options
	results []result // execd, http, shell
	floor   result   // Telegraf with an execd child that emits nothing
}

// sig formats v with 3 significant digits, without an exponent.
func sig(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	d := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	if d < 0 {
		d = 0
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}

func mb(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)/1024) }

func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	return sig(a/b) + "×"
}

// Per-contender figures.
func (r result) cpuPerGatherS() float64    { return r.cpu.Seconds() / float64(r.gathers) }
func (r result) steadyPerGatherS() float64 { return r.cpuSteady.Seconds() / float64(r.steady) }
func (r result) cpuPerFieldMS() float64 {
	return r.cpu.Seconds() * 1000 / float64(r.fields.fields)
}
func (r result) steadyPerFieldMS() float64 { return r.steadyPerGatherS() * 1000 / r.steadyFields() }
func (r result) reqPerGather() float64     { return float64(r.reqs.Total) / float64(r.gathers) }
func (r result) steadyReqPerGather() float64 {
	return float64(r.reqSteady.Total) / float64(r.steady)
}
func (r result) fieldsPerGather() float64 { return float64(r.fields.fields) / float64(r.gathers) }

// firstFields is the fields of the first gather where the output tells
// gathers apart, else the mean.
func (r result) firstFields() float64 {
	if len(r.fields.perGather) > 0 {
		return float64(r.fields.perGather[0])
	}
	return r.fieldsPerGather()
}

func (rep report) markdown() string {
	var w strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&w, format, a...) }
	e, h, sh := rep.results[0], rep.results[1], rep.results[2]
	b, m, o := rep.bin, rep.machine, rep.opts

	p("## Compared with what users run today\n\n")
	p("`go run ./bench/compare -gathers %d -interval %s`, %s, on %d × %s (Linux %s); %s, Telegraf %s "+
		"(`go install -tags %s`), bash %s, curl %s, jq %s; telegraf-enphase at commit %s.\n\n",
		o.gathers, o.interval, rep.when.UTC().Format("2006-01-02 15:04 UTC"), m.nproc, m.cpu, m.kernel,
		b.goVersion, b.telegrafVersion, telegrafTags, b.bashVersion, b.curlVersion, b.jqVersion, orUnknown(b.commit))
	p("Each contender ran alone, one after the other, against a fresh `envoy-sim` (the embedded demo: "+
		"firmware 7+, metered split-phase, 12 inverters; `--latency-scale 0`, token from `--token-out`), "+
		"for %d gathers at %s:\n\n", o.gathers, o.interval)
	p("1. **%s**: Telegraf with the repository's `sample.conf` block (only the two paths and `interval` changed); "+
		"the plugin's own file points it at the simulator with `insecure_skip_verify = true` and the token file, every other option at its default.\n", e.name)
	p("2. **%s**: Telegraf with the `inputs.http` + `json_v2` recipe users copy today, verbatim apart from host and token path "+
		"([bench/compare/http_json_v2.conf](bench/compare/http_json_v2.conf)): `/production.json` with `token_file`, "+
		"json_v2 objects on `production` and `consumption`.\n", h.name)
	p("3. **%s**: bash, once per interval, `curl -sk -H \"Authorization: Bearer $(cat token)\"` on "+
		"`/production.json?details=1`, `/ivp/meters/readings` and `/api/v1/production/inverters`, each piped to `jq` "+
		"printing every numeric leaf as `key=value`, timestamps and ids included, which flatters its CPU per field "+
		"([bench/compare/curl_jq.sh](bench/compare/curl_jq.sh)).\n\n", sh.name)
	p("Both Telegrafs: `[agent] interval = flush_interval = %q, omit_hostname = true`, `[[outputs.file]]` in line protocol, "+
		"stopped with SIGTERM once the gateway had seen the gathers. CPU is user+sys from `wait4`'s rusage of the top process, "+
		"which holds every descendant it reaped (Telegraf stops and reaps its execd child, bash its curl, jq, cat and sleep): "+
		"start-up and stop included. *Steady* figures come from `/proc` samples of the process group taken half an interval "+
		"after the first and after the last gather, so they leave out start-up, the first gather and the stop. "+
		"Fields are those in the line protocol written (for the shell, the `key=value` lines jq printed). "+
		"Requests are envoy-sim's `/__sim/stats` counts, `/auth/check_jwt` included. "+
		"The simulator answers at once, so wall-clock waits cost nothing here; at a longer `-interval` each gather also carries "+
		"the idle work of the Go runtimes between gathers (two processes in contender 1, one in contender 2).\n\n", o.interval.String())

	// Main table.
	p("| | 1. execd | 2. http + json_v2 | 3. curl + jq |\n|---|---:|---:|---:|\n")
	row := func(label string, f func(r result) string) {
		p("| %s | %s | %s | %s |\n", label, f(e), f(h), f(sh))
	}
	row("gathers", func(r result) string { return strconv.Itoa(r.gathers) })
	row("**CPU s/gather** (whole run)", func(r result) string { return fmt.Sprintf("%.4f", r.cpuPerGatherS()) })
	row("CPU ms/gather, steady", func(r result) string { return sig(r.steadyPerGatherS() * 1000) })
	row("CPU s, start-up + first gather", func(r result) string { return fmt.Sprintf("%.3f", r.cpuFirst.Seconds()) })
	row("**CPU ms per emitted field** (whole run)", func(r result) string { return sig(r.cpuPerFieldMS()) })
	row("CPU ms per emitted field, steady", func(r result) string { return sig(r.steadyPerFieldMS()) })
	row("**peak RSS MB**, largest process (rusage)", func(r result) string { return mb(r.maxRSSKB) })
	row("peak RSS MB, all processes at once (polled¹)", func(r result) string { return mb(r.sumRSSKB) })
	row("peak RSS MB, Telegraf or bash itself (VmHWM)", func(r result) string { return mb(r.leaderHWMKB) })
	row("peak RSS MB, telegraf-enphase itself (VmHWM)", func(r result) string {
		if r.pluginHWMKB == 0 {
			return "–"
		}
		return "**" + mb(r.pluginHWMKB) + "**"
	})
	row("**gateway requests/gather** (whole run)", func(r result) string { return sig(r.reqPerGather()) })
	row("gateway requests/gather, steady", func(r result) string { return sig(r.steadyReqPerGather()) })
	row("gateway requests, first gather (with start-up)", func(r result) string { return strconv.Itoa(r.reqsFirst.Total) })
	row("**auth requests** (`check_jwt`), total / steady", func(r result) string {
		return fmt.Sprintf("%d / %d", r.reqs.CheckJWT, r.reqSteady.CheckJWT)
	})
	row("token sent with every request", func(r result) string {
		if r.reqs.CheckJWT > 0 {
			return "no: session cookie"
		}
		return "yes"
	})
	row("**fields/gather** (whole run)", func(r result) string { return sig(r.fieldsPerGather()) })
	row("fields in the first gather", func(r result) string { return sig(r.firstFields()) })
	row("fields in a steady gather", func(r result) string { return sig(r.steadyFields()) })
	p(
		"\n¹ `/proc/<pid>/status` of every process of the group every 50 ms: the shell's short-lived curl and jq may fall between polls; rusage's figure is exact " +
			"but per process.\n\n",
	)

	f := rep.floor
	p("Telegraf's floor, for scale: the same Telegraf and `[agent]` with one `[[inputs.execd]]` whose child is `cat` "+
		"(it answers each gather's newline with an empty line: nothing to parse or write), over %d intervals: "+
		"%s ms CPU per interval in steady state (Telegraf itself %s ms), %s s for the whole run (%s s per interval), peak RSS %s MB.\n\n",
		rep.opts.gathers, sig(f.steadyPerGatherS()*1000), sig(f.telegrafSteady.Seconds()*1000/float64(f.steady)),
		sig(f.cpu.Seconds()), sig(f.cpu.Seconds()/float64(rep.opts.gathers)), mb(f.maxRSSKB))

	// Requests by path.
	p("Gateway requests by path: whole run (first gather + per steady gather).\n\n")
	p("| path | 1. execd | 2. http + json_v2 | 3. curl + jq |\n|---|---:|---:|---:|\n")
	for _, path := range paths(e.reqs, h.reqs, sh.reqs) {
		cell := func(r result) string {
			n := r.reqs.Requests[path]
			if n == 0 {
				return "–"
			}
			return fmt.Sprintf("%d (%d + %s)", n, r.reqsFirst.Requests[path], sig(float64(r.reqSteady.Requests[path])/float64(r.steady)))
		}
		p("| `%s` | %s | %s | %s |\n", path, cell(e), cell(h), cell(sh))
	}
	p("\n")

	// Ratios.
	p("Ratios of contender 1 to contenders 2 and 3 (below 1×: contender 1 costs less).\n\n")
	p("| | 1 : 2 | 1 : 3 |\n|---|---:|---:|\n")
	rat := func(label string, f func(r result) float64) {
		p("| %s | %s | %s |\n", label, ratio(f(e), f(h)), ratio(f(e), f(sh)))
	}
	rat("CPU per gather, whole run", result.cpuPerGatherS)
	rat("CPU per gather, steady", result.steadyPerGatherS)
	rat("CPU per emitted field, whole run", result.cpuPerFieldMS)
	rat("CPU per emitted field, steady", result.steadyPerFieldMS)
	rat("peak RSS, largest process", func(r result) float64 { return float64(r.maxRSSKB) })
	rat("peak RSS, all processes at once", func(r result) float64 { return float64(r.sumRSSKB) })
	rat("gateway requests per gather, whole run", result.reqPerGather)
	rat("gateway requests per gather, steady", result.steadyReqPerGather)
	rat("fields per gather, steady", result.steadyFields)
	p("\n")

	rep.targets(&w)
	lines := strings.Split(strings.TrimRight(w.String(), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// tier is one of the plugin's slow reads and its default cadence.
type tier struct {
	name  string
	every time.Duration
	paths []string
}

// pluginTiers are plugins/inputs/enphase's defaults (enphase.go, gather.go).
func pluginTiers(ensembleDevices bool) []tier {
	ensemble := tier{"ensemble, re-probed every 3 h where the inventory is empty", 3 * time.Hour, nil}
	if ensembleDevices {
		ensemble = tier{"ensemble (batteries, system controller), every minute", time.Minute, nil}
	}
	return []tier{
		{"inverters, every 5 min", 5 * time.Minute, []string{"/ivp/pdm/device_data", "/api/v1/production/inverters"}},
		{ensemble.name, ensemble.every, []string{"/ivp/ensemble/"}},
		{"tariff, every 15 min where there are batteries", 15 * time.Minute, []string{"/admin/lib/tariff"}},
		{"/info, the CT list and controller settings, every 4 h", 4 * time.Hour, []string{"/info", "/ivp/meters", "/ivp/ss/"}},
	}
}

func (t tier) has(path string) bool {
	for _, p := range t.paths {
		if path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p)) {
			return true
		}
	}
	return false
}

// targets states each target, whether the run meets it, and if not by how
// much, why and what would close it.
func (rep report) targets(w *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	e, h := rep.results[0], rep.results[1]
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**missed**"
	}

	p("### Targets\n\n")
	explained := false // where contender 1's CPU goes is said once

	// 1. Gateway requests.
	const cadence = 15 * time.Second
	steadyReq := e.steadyReqPerGather()
	ok := steadyReq <= 2 && e.reqSteady.CheckJWT == 0
	p("1. **At most 2 gateway requests in a steady 15 s gather, no auth request in steady state**: %s. ", verdict(ok))
	p("A steady gather made %s requests (%s) and the steady state %d `check_jwt`. ",
		sig(steadyReq), steadyPaths(e), e.reqSteady.CheckJWT)
	p("The first gather made %d (%s): it reads `/info`, checks the token once for a session cookie, and reads the slow tiers. ",
		e.reqsFirst.Total, firstPaths(e))
	ensembleDevices := false
	for path := range e.reqsFirst.Requests {
		if strings.HasPrefix(path, "/ivp/ensemble/") && path != "/ivp/ensemble/inventory" {
			ensembleDevices = true
		}
	}
	var extra float64
	var parts []string
	for _, t := range pluginTiers(ensembleDevices) {
		n := 0
		for path, c := range e.reqsFirst.Requests {
			if t.has(path) {
				n += c
			}
		}
		if n == 0 {
			continue
		}
		per := float64(n) * cadence.Seconds() / t.every.Seconds()
		extra += per
		parts = append(parts, fmt.Sprintf("%d for %s (+%s/gather)", n, t.name, sig(per)))
	}
	if run := time.Duration(rep.opts.gathers) * rep.opts.interval; run < 5*time.Minute {
		if len(parts) > 0 {
			p("At 15 s the slow tiers add, on average, %s: %s; %s requests per gather on average in all. ",
				sig(extra), strings.Join(parts, ", "), sig(steadyReq+extra))
		}
		p(
			"(A run of %d gathers at %s sees each slow tier once, in the first gather: these averages apply the plugin's default cadences to the first gather's "+
				"reads.) ",
			rep.opts.gathers,
			rep.opts.interval,
		)
	} else {
		p("This run lasted %s, so the steady figure already includes the slow tiers that came due in it. ", run)
	}
	p("A gateway with batteries would add 1 to 3 ensemble requests a minute (+0.25 to 0.75 a gather at 15 s). " +
		"The token is checked once per session: again only when the gateway drops the `sessionId`, or after a 401.")
	if !ok {
		p(" To close it: find which path above repeats every gather and move it to its tier.")
	}
	p("\n")

	// 2. CPU per emitted field.
	wholeF, steadyF := e.cpuPerFieldMS()/h.cpuPerFieldMS(), e.steadyPerFieldMS()/h.steadyPerFieldMS()
	ok = steadyF <= 1.0/3
	p(
		"2. **CPU per emitted field at most a third of contender 2's**: %s in steady state (%s ms against %s ms: %s), %s over the whole run (%s ms against %s ms: "+
			"%s). ",
		verdict(ok),
		sig(e.steadyPerFieldMS()),
		sig(h.steadyPerFieldMS()),
		ratio(e.steadyPerFieldMS(), h.steadyPerFieldMS()),
		verdictWord(wholeF <= 1.0/3),
		sig(e.cpuPerFieldMS()),
		sig(h.cpuPerFieldMS()),
		ratio(e.cpuPerFieldMS(), h.cpuPerFieldMS()),
	)
	p("Contender 1 emits %s fields in a steady gather from two requests where contender 2 emits %s from one. ",
		sig(e.steadyFields()), sig(h.steadyFields()))
	if !ok {
		need := h.steadyPerFieldMS() / 3
		p("It misses by %s (%s ms/field needed, %s ms/field measured: %.0f%% less CPU per field, or %s ms a steady gather at %s fields). ",
			ratio(e.steadyPerFieldMS(), need), sig(need), sig(e.steadyPerFieldMS()), 100*(1-need/e.steadyPerFieldMS()),
			sig(need*e.steadyFields()), sig(e.steadyFields()))
		rep.cpuSplit(w, need*e.steadyFields(), true, &explained)
	}
	p("\n")

	// 3. CPU per gather.
	wholeG, steadyG := e.cpuPerGatherS()/h.cpuPerGatherS(), e.steadyPerGatherS()/h.steadyPerGatherS()
	ok = steadyG <= 1
	p(
		"3. **CPU per gather no more than contender 2's, despite the process boundary**: %s in steady state (%s ms against %s ms: %s), %s over the whole run (%s "+
			"ms against %s ms, start-up included: %s). ",
		verdict(ok),
		sig(e.steadyPerGatherS()*1000),
		sig(h.steadyPerGatherS()*1000),
		ratio(e.steadyPerGatherS(), h.steadyPerGatherS()),
		verdictWord(wholeG <= 1),
		sig(e.cpuPerGatherS()*1000),
		sig(h.cpuPerGatherS()*1000),
		ratio(e.cpuPerGatherS(), h.cpuPerGatherS()),
	)
	if !ok {
		p("It misses by %s ms a gather (%.0f%% over). ", sig((e.steadyPerGatherS()-h.steadyPerGatherS())*1000), 100*(steadyG-1))
		rep.cpuSplit(w, h.steadyPerGatherS()*1000, false, &explained)
	}
	if wholeG > 1 {
		p(
			"Over the whole run, start-up weighs: contender 1 used %s s before its first gather was done against %s s for contender 2 (a second process to start, the "+
				"token's first check, /info and the slow tiers); over a day of 15 s gathers that is nothing. ",
			sig(e.cpuFirst.Seconds()),
			sig(h.cpuFirst.Seconds()),
		)
	}
	p("\n")

	// 4. Memory.
	ok = e.pluginHWMKB > 0 && e.pluginHWMKB < 30*1024
	p("4. **telegraf-enphase's resident memory under 30 MB with one gateway**: %s: its peak (VmHWM) was %s MB",
		verdict(ok), mb(e.pluginHWMKB))
	if ok {
		p(", %s MB to spare. ", mb(30*1024-e.pluginHWMKB))
	} else {
		p(", %s MB over. ", mb(e.pluginHWMKB-30*1024))
	}
	p(
		"Telegraf itself peaked at %s MB here and %s MB in contender 2 (its own plugins differ); both processes together at %s MB, against %s MB for contender 2's "+
			"single Telegraf.",
		mb(e.leaderHWMKB),
		mb(h.leaderHWMKB),
		mb(e.sumRSSKB),
		mb(h.sumRSSKB),
	)
	if !ok {
		p(" To close it: profile the heap (`go test -memprofile` on the gather benchmarks), and cap Go's heap with `GOMEMLIMIT`.")
	}
	p("\n")

	p("5. A 600-inverter gather under 2 ms of CPU: see the Go benchmarks below.\n")
}

func verdictWord(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// cpuSplit says where contender 1's steady CPU goes (the first time:
// *explained), measures it against a budget (ms per steady gather, both
// processes) and says what would close the gap; perField is set for the
// CPU-per-field target.
func (rep report) cpuSplit(w *strings.Builder, budget float64, perField bool, explained *bool) {
	e, h, f := rep.results[0], rep.results[1], rep.floor
	n := float64(e.steady)
	plug, tel := e.pluginSteady.Seconds()*1000/n, e.telegrafSteady.Seconds()*1000/n
	floor := f.telegrafSteady.Seconds() * 1000 / float64(f.steady)
	parse := math.Max(tel-floor, 0)
	if !*explained {
		*explained = true
		fmt.Fprintf(
			w,
			"Why: of contender 1's %s ms a steady gather, telegraf-enphase took %s ms (two HTTPS requests on its kept-alive connection, decoding %s of JSON, encoding "+
				"%s fields, its Go runtime) and Telegraf %s ms. "+
				"Telegraf's floor with an execd child that emits nothing is %s ms, so parsing %s fields of line protocol from the pipe and writing them out costs it "+
				"about %s ms (%s ms a field). "+
				"Contender 2's whole Telegraf took %s ms for one HTTPS request and json_v2 on %s fields, its floor included: the second process and the second request "+
				"are contender 1's handicap, its %s times as many fields its advantage per field. ",
			sig(e.steadyPerGatherS()*1000),
			sig(plug),
			rep.steadyBodyKB(e),
			sig(e.steadyFields()),
			sig(tel),
			sig(floor),
			sig(e.steadyFields()),
			sig(parse),
			sig(parse/e.steadyFields()),
			sig(h.steadyPerGatherS()*1000),
			sig(h.steadyFields()),
			sig(e.steadyFields()/h.steadyFields()),
		)
	} else {
		fmt.Fprintf(w, "Why: as in 2, telegraf-enphase %s ms and Telegraf %s ms (floor %s ms) a steady gather, against %s ms for contender 2. ",
			sig(plug), sig(tel), sig(floor), sig(h.steadyPerGatherS()*1000))
	}
	switch {
	case floor >= budget:
		fmt.Fprintf(
			w,
			"The budget is %s ms a steady gather and Telegraf's floor alone, with nothing to parse, takes %s ms: through execd no plugin work can close it at %s "+
				"fields a gather. ",
			sig(budget),
			sig(floor),
			sig(e.steadyFields()),
		)
		if perField {
			fmt.Fprintf(
				w,
				"What would: more fields sharing each gather's fixed costs (at 15 s the inverter tier adds %s fields every 20 gathers, which the steady figure leaves "+
					"out), and a plugin and a Telegraf side that cost next to nothing per field; or a target that counts the process boundary. ",
				sig(e.firstFields()-e.steadyFields()),
			)
		} else {
			fmt.Fprint(w, "What would: a target that allows for the second process (the floor), or a hand-off cheaper than execd's, which Telegraf does not have. ")
		}
	case tel >= budget:
		fmt.Fprintf(w, "The budget is %s ms a steady gather and Telegraf's side alone takes %s ms: even a plugin that cost nothing would miss. "+
			"What would close it: fewer fields for Telegraf to parse in a steady gather (about %s ms each), then a cheaper plugin. ",
			sig(budget), sig(tel), sig(parse/e.steadyFields()))
	default:
		room := budget - tel
		fmt.Fprintf(w, "The budget is %s ms a steady gather; with Telegraf's %s ms, the plugin would have to come down from %s ms to %s ms (%.0f%% less). ",
			sig(budget), sig(tel), sig(plug), sig(room), 100*(1-room/plug))
		if perField {
			fmt.Fprint(
				w,
				"What would close it: a cheaper plugin gather, since Telegraf's side is fixed by the fields it must parse: profile it (the Go benchmarks below measure "+
					"its decoding, mapping and encoding; the rest is HTTP, TLS, the writes to the pipe and the Go runtime). The floor contender of the rounds "+
					"table, a minimal program doing the same requests and writes, shows how far any plugin can come down: where it misses too, no plugin closes it. ",
			)
		} else {
			fmt.Fprint(w, "What would close it: the same plugin savings as for 2, and fewer fields for Telegraf to parse in a steady gather; the plugin alone would "+
				"have to shed most of its cost. ")
		}
	}
}

// steadyBodyKB is the size of the demo capture's bodies a steady gather of
// r reads ("?" when a body is not found).
func (rep report) steadyBodyKB(r result) string {
	var total int64
	for path, n := range r.reqSteady.Requests {
		name := strings.NewReplacer("/", "_", "?", "_", "=", "_").Replace(strings.TrimPrefix(path, "/"))
		fi, err := os.Stat(filepath.Join(rep.bin.root, "internal", "envoysim", "demo", name))
		if err != nil {
			return "?"
		}
		total += fi.Size() * int64(n)
	}
	return sig(float64(total)/float64(r.steady)/1024) + " KB"
}

func steadyPaths(r result) string {
	var out []string
	for _, path := range paths(r.reqSteady) {
		out = append(out, fmt.Sprintf("`%s` %s", path, sig(float64(r.reqSteady.Requests[path])/float64(r.steady))))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

func firstPaths(r result) string {
	ps := paths(r.reqsFirst)
	sort.Strings(ps)
	for i, path := range ps {
		ps[i] = "`" + path + "`"
	}
	return strings.Join(ps, ", ")
}

// writeSection puts section between the markers of path, creating the file
// (with a Go benchmarks heading after it) or the markers as needed.
func writeSection(path, section string) error {
	old, err := os.ReadFile(path)
	switch {
	case os.IsNotExist(err):
		old = []byte(skeleton)
	case err != nil:
		return err
	}
	doc, err := replaceSection(string(old), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".BENCHMARKS-*.md")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(doc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// replaceSection replaces what lies between the markers; without markers it
// adds them, before the Go benchmarks heading if there is one, else at the end.
func replaceSection(doc, section string) (string, error) {
	block := beginMarker + "\n" + strings.TrimRight(section, "\n") + "\n" + endMarker
	b, e := strings.Index(doc, beginMarker), strings.Index(doc, endMarker)
	switch {
	case b >= 0 && e > b:
		return doc[:b] + block + doc[e+len(endMarker):], nil
	case b >= 0 || e >= 0:
		return "", fmt.Errorf("found only one of %s and %s, or in the wrong order: fix the file by hand", beginMarker, endMarker)
	}
	if strings.HasPrefix(doc, goBenchHead) {
		return block + "\n\n" + doc, nil
	}
	if i := strings.Index(doc, "\n"+goBenchHead); i >= 0 {
		return doc[:i+1] + block + "\n\n" + doc[i+1:], nil
	}
	if doc != "" && !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	if doc != "" {
		doc += "\n"
	}
	return doc + block + "\n", nil
}
