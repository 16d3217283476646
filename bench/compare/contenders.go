//go:build linux

package main

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
)

// httpJSONv2Recipe is the inputs.http + json_v2 recipe users copy today
// (no canonical public config exists; this is the forum pattern, run as
// is); only its two placeholders are filled in.
//
//go:embed http_json_v2.conf
var httpJSONv2Recipe string

// curlJQScript is the shell loop (contender 3).
//
//go:embed curl_jq.sh
var curlJQScript string

// contender is one way of getting the gateway's data into line protocol.
type contender struct {
	name     string
	prodPath string // the request every gather makes once: its count is the gather count
	telegraf bool   // a Telegraf, stopped with SIGTERM; otherwise the loop ends by itself
	// plugin is set for the execd contender: the binary whose own memory
	// and CPU are followed apart from Telegraf's.
	plugin string
	// argv builds the command line, after writing its configuration to dir.
	argv func(b *binaries, s *sim, dir, out string, o options) ([]string, error)
	// count reads what the contender wrote to out.
	count func(out string) (fieldCount, error)
}

// fieldCount is what a contender emitted.
type fieldCount struct {
	lines, fields int
	// perGather holds the fields of each gather in order, where the output
	// tells gathers apart; nil where it does not.
	perGather []int
}

func contenders(b *binaries) []contender {
	return []contender{
		{
			name:     "telegraf-enphase via inputs.execd",
			prodPath: "/production.json?details=1",
			telegraf: true,
			plugin:   b.plugin,
			argv:     execdArgv,
			count:    func(out string) (fieldCount, error) { return countLineProtocol(out, "enphase_gateway") },
		},
		{
			name:     "inputs.http + json_v2",
			prodPath: "/production.json",
			telegraf: true,
			argv:     httpArgv,
			count:    func(out string) (fieldCount, error) { return countLineProtocol(out, "") },
		},
		{
			name:     "curl + jq loop",
			prodPath: "/production.json?details=1",
			argv:     shellArgv,
			count:    countKeyValues,
		},
	}
}

// agentConf is the [agent] table and the file output both Telegrafs share.
func agentConf(o options, inputs, out string) string {
	return fmt.Sprintf(`[agent]
  interval = %q
  flush_interval = %q
  omit_hostname = true

%s
[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, o.interval, o.interval, strings.TrimRight(inputs, "\n")+"\n", out)
}

// execdArgv: the repository's sample.conf [[inputs.execd]] block with only
// the two paths and the interval changed, and a plugin configuration
// pointing at the simulator.
func execdArgv(b *binaries, s *sim, dir, out string, o options) ([]string, error) {
	sample, err := os.ReadFile(filepath.Join(b.root, "sample.conf"))
	if err != nil {
		return nil, err
	}
	pluginConf := filepath.Join(dir, "enphase.conf")
	block := string(sample)
	for _, r := range [][2]string{
		{`"/usr/local/bin/telegraf-enphase"`, strconv.Quote(b.plugin)},
		{`"/etc/telegraf/enphase/enphase.conf"`, strconv.Quote(pluginConf)},
		{`interval = "15s"`, fmt.Sprintf("interval = %q", o.interval)},
	} {
		if n := strings.Count(block, r[0]); n != 1 {
			return nil, fmt.Errorf("sample.conf holds %s %d times, want once: update bench/compare", r[0], n)
		}
		block = strings.Replace(block, r[0], r[1], 1)
	}
	plugin := fmt.Sprintf(`[[inputs.enphase]]
  url = %q
  token_file = %q
  insecure_skip_verify = true
`, s.url, s.token)
	if err := os.WriteFile(pluginConf, []byte(plugin), 0o600); err != nil {
		return nil, err
	}
	return telegrafArgv(b, dir, agentConf(o, block, out))
}

// httpArgv: the documented inputs.http + json_v2 recipe with its host and
// token path filled in.
func httpArgv(b *binaries, s *sim, dir, out string, o options) ([]string, error) {
	recipe := httpJSONv2Recipe
	for _, r := range [][2]string{
		{"https://<envoy-host>", s.url},
		{"<path>/envoy.token", s.token},
	} {
		if n := strings.Count(recipe, r[0]); n != 1 {
			return nil, fmt.Errorf("the http recipe holds %s %d times, want once", r[0], n)
		}
		recipe = strings.Replace(recipe, r[0], r[1], 1)
	}
	return telegrafArgv(b, dir, agentConf(o, recipe, out))
}

func telegrafArgv(b *binaries, dir, conf string) ([]string, error) {
	path := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return []string{b.telegraf, "--config", path}, nil
}

func shellArgv(b *binaries, s *sim, dir, out string, o options) ([]string, error) {
	script := filepath.Join(dir, "curl_jq.sh")
	if err := os.WriteFile(script, []byte(curlJQScript), 0o700); err != nil {
		return nil, err
	}
	secs := strconv.FormatFloat(o.interval.Seconds(), 'f', -1, 64)
	return []string{b.bash, script, s.url, s.token, strconv.Itoa(o.gathers), secs, out}, nil
}

// countLineProtocol counts the lines and fields of a line protocol file.
// With gatherEnd set, a line of that measurement ends a gather (the plugin
// writes enphase_gateway last in each), and perGather gets each gather's
// fields; lines after the last one are left out of perGather.
func countLineProtocol(path, gatherEnd string) (fieldCount, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return fieldCount{}, err
	}
	var fc fieldCount
	open := 0 // fields of the gather not yet ended
	dec := lineprotocol.NewDecoderWithBytes(b)
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			return fc, fmt.Errorf("%s: %w", path, err)
		}
		end := gatherEnd != "" && string(m) == gatherEnd
		for {
			k, _, err := dec.NextTag()
			if err != nil {
				return fc, fmt.Errorf("%s: %w", path, err)
			}
			if k == nil {
				break
			}
		}
		n := 0
		for {
			k, _, err := dec.NextField()
			if err != nil {
				return fc, fmt.Errorf("%s: %w", path, err)
			}
			if k == nil {
				break
			}
			n++
		}
		if _, err := dec.Time(lineprotocol.Nanosecond, time.Time{}); err != nil {
			return fc, fmt.Errorf("%s: %w", path, err)
		}
		fc.lines++
		fc.fields += n
		open += n
		if end {
			fc.perGather = append(fc.perGather, open)
			open = 0
		}
	}
	return fc, nil
}

// countKeyValues counts the key=value lines the shell loop's jq printed.
func countKeyValues(path string) (fieldCount, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fieldCount{}, nil
	}
	if err != nil {
		return fieldCount{}, err
	}
	var fc fieldCount
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "=") {
			fc.lines++
			fc.fields++
		}
	}
	return fc, nil
}
