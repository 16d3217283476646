//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// floorContender is Telegraf running bench/compare/floor through the same
// [[inputs.execd]] block as contender 1: the two steady requests and the
// plugin's steady lines in one write, nothing else. Its own CPU is the
// floor the plugin's own CPU is held against; lines is the file of steady
// lines taken from contender 1's output (steadyLines).
func floorContender(b *binaries, lines string) contender {
	return contender{
		name:     "floor program via inputs.execd",
		prodPath: "/production.json?details=1",
		telegraf: true,
		plugin:   b.floor,
		argv: func(b *binaries, s *sim, dir, out string, o options) ([]string, error) {
			sample, err := os.ReadFile(filepath.Join(b.root, "sample.conf"))
			if err != nil {
				return nil, err
			}
			block := string(sample)
			const cmd = `["/usr/local/bin/telegraf-enphase", "--config", "/etc/telegraf/enphase/enphase.conf"]`
			floorCmd := fmt.Sprintf("[%s, %s, %s, %s]", strconv.Quote(b.floor), strconv.Quote(s.url), strconv.Quote(s.token), strconv.Quote(lines))
			for _, r := range [][2]string{{cmd, floorCmd}, {`interval = "15s"`, fmt.Sprintf("interval = %q", o.interval)}} {
				if n := strings.Count(block, r[0]); n != 1 {
					return nil, fmt.Errorf("sample.conf holds %s %d times, want once: update bench/compare", r[0], n)
				}
				block = strings.Replace(block, r[0], r[1], 1)
			}
			return telegrafArgv(b, dir, agentConf(o, block, out))
		},
		count: func(out string) (fieldCount, error) { return countLineProtocol(out, "enphase_gateway") },
	}
}

// steadyLines writes the last whole gather of contender 1's output (the
// lines after the last but one enphase_gateway line, up to the last) to dst.
func steadyLines(out, dst string) error {
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	var ends []int
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("enphase_gateway,")) || bytes.HasPrefix(l, []byte("enphase_gateway ")) {
			ends = append(ends, i)
		}
	}
	if len(ends) < 2 {
		return fmt.Errorf("%s: fewer than two gathers", out)
	}
	steady := bytes.Join(lines[ends[len(ends)-2]+1:ends[len(ends)-1]+1], []byte("\n"))
	return os.WriteFile(dst, append(steady, '\n'), 0o600)
}
