//go:build linux

package main

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// round is one pass over the contenders that are held against each other,
// so that their ratios come from the same minutes of a shared machine.
type round struct {
	execd, http, floor result
}

// perSteady is CPU per steady gather, in ms.
func perSteady(d time.Duration, r result) float64 {
	return d.Seconds() * 1e3 / float64(r.steady)
}

// spread formats min / median / max.
func spread(v []float64, unit string) string {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return fmt.Sprintf("%s / %s / %s%s", sig(s[0]), sig(s[len(s)/2]), sig(s[len(s)-1]), unit)
}

// roundsMarkdown is the table of ratios over the rounds, with the targets
// they decide.
func roundsMarkdown(rs []round) string {
	type row struct {
		name string
		v    []float64
		unit string
	}
	rows := []*row{
		{name: "telegraf-enphase's own CPU ms per steady gather", unit: ""},
		{name: "floor program's own CPU ms per steady gather", unit: ""},
		{name: "**plugin : floor**, own CPU per steady gather (target ≤ 1.25×)", unit: "×"},
		{name: "Telegraf + telegraf-enphase CPU ms per steady gather", unit: ""},
		{name: "Telegraf + floor program CPU ms per steady gather", unit: ""},
		{name: "inputs.http + json_v2 CPU ms per steady gather", unit: ""},
		{name: "**execd pair : http + json_v2**, CPU per steady gather (target ≤ 1×)", unit: "×"},
		{name: "**execd pair : http + json_v2**, CPU per emitted field (target ≤ 0.3×)", unit: "×"},
		{name: "floor pair : http + json_v2, CPU per steady gather", unit: "×"},
		{name: "floor pair : http + json_v2, CPU per emitted field", unit: "×"},
	}
	for _, r := range rs {
		plugin := perSteady(r.execd.pluginSteady, r.execd)
		floor := perSteady(r.floor.pluginSteady, r.floor)
		pair := perSteady(r.execd.cpuSteady, r.execd)
		fpair := perSteady(r.floor.cpuSteady, r.floor)
		http := perSteady(r.http.cpuSteady, r.http)
		perField := func(ms float64, res result) float64 { return ms / res.steadyFields() }
		for i, v := range []float64{plugin, floor, plugin / floor, pair, fpair, http, pair / http,
			perField(pair, r.execd) / perField(http, r.http), fpair / http, perField(fpair, r.floor) / perField(http, r.http)} {
			rows[i].v = append(rows[i].v, v)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "### Rounds: ratios in one run\n\n")
	fmt.Fprintf(&b, "%d rounds; in each, contenders 1 and 2, then the floor program (bench/compare/floor: the two steady requests with the "+
		"sessionId cookie, then contender 1's own steady lines with the gather's time, in one write; no JSON decoded) under the same "+
		"[[inputs.execd]] block, then the rest. Steady windows as above; \"own CPU\" is the child process's alone. "+
		"min / median / max over the rounds of each round's ratio.\n\n", len(rs))
	fmt.Fprintf(&b, "| | min / median / max |\n|---|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", r.name, spread(r.v, r.unit))
	}
	return b.String()
}
