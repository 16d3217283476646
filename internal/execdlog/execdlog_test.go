package execdlog

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/stretchr/testify/require"
)

// Telegraf's execd input maps these prefixes to levels; a line without one
// becomes an error in Telegraf's log.
var linePrefix = regexp.MustCompile(`^[EWIDT]! `)

func TestPrefixes(t *testing.T) {
	tests := []struct {
		name string
		log  func(l *Logger)
		want string
	}{
		{"error", func(l *Logger) { l.Error("disk ", "full") }, "E! disk full\n"},
		{"errorf", func(l *Logger) { l.Errorf("code %d", 401) }, "E! code 401\n"},
		{"warn", func(l *Logger) { l.Warn("slow") }, "W! slow\n"},
		{"warnf", func(l *Logger) { l.Warnf("took %s", "3s") }, "W! took 3s\n"},
		{"info", func(l *Logger) { l.Info("started") }, "I! started\n"},
		{"infof", func(l *Logger) { l.Infof("serial %s", "122301234567") }, "I! serial 122301234567\n"},
		{"debug", func(l *Logger) { l.Debug("GET /info") }, "D! GET /info\n"},
		{"debugf", func(l *Logger) { l.Debugf("%d ms", 12) }, "D! 12 ms\n"},
		{"trace", func(l *Logger) { l.Trace("body") }, "T! body\n"},
		{"tracef", func(l *Logger) { l.Tracef("%q", "x") }, "T! \"x\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, telegraf.Trace)
			tt.log(l)
			require.Equal(t, tt.want, buf.String())
		})
	}
}

func TestLevelFiltering(t *testing.T) {
	logAll := func(l *Logger) {
		l.Error("e")
		l.Warnf("w")
		l.Info("i")
		l.Debugf("d")
		l.Trace("t")
	}
	tests := []struct {
		level telegraf.LogLevel
		want  string
	}{
		{telegraf.None, ""},
		{telegraf.Error, "E! e\n"},
		{telegraf.Warn, "E! e\nW! w\n"},
		{telegraf.Info, "E! e\nW! w\nI! i\n"},
		{telegraf.Debug, "E! e\nW! w\nI! i\nD! d\n"},
		{telegraf.Trace, "E! e\nW! w\nI! i\nD! d\nT! t\n"},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, tt.level)
			require.Equal(t, tt.level, l.Level())
			logAll(l)
			require.Equal(t, tt.want, buf.String())
		})
	}
}

func TestLines(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want string
	}{
		{"multi-line message", "first\nsecond\nthird", "W! first\nW! second\nW! third\n"},
		{"trailing newline dropped", "done\n", "W! done\n"},
		{"several trailing newlines dropped", "done\n\n\n", "W! done\n"},
		{"CRLF line ends", "one\r\ntwo\r\n", "W! one\nW! two\n"},
		{"trailing CR", "one\r", "W! one\n"},
		{"blank line inside keeps its prefix", "a\n\nb", "W! a\nW! \nW! b\n"},
		{"empty message", "", "W! \n"},
		{"indentation kept", "error:\n  at line 3", "W! error:\nW!   at line 3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := New(&buf, telegraf.Info)
			l.Warn(tt.msg)
			require.Equal(t, tt.want, buf.String())
			for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
				require.Regexp(t, linePrefix, line)
				require.NotContains(t, line, "\r")
			}
		})
	}
}

func TestAddAttributeIsNoOp(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, telegraf.Trace)
	l.AddAttribute("serial", "122301234567")
	require.Empty(t, buf.String())
	l.Info("x")
	require.Equal(t, "I! x\n", buf.String())
}

// TestConcurrentWritesWholeLines: lines from many goroutines never interleave,
// so every line execd reads keeps its level.
func TestConcurrentWritesWholeLines(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, telegraf.Trace)
	const (
		goroutines = 50
		perG       = 20
	)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perG; i++ {
				switch i % 5 {
				case 0:
					l.Errorf("g%d-%d first\ng%d-%d second", g, i, g, i)
				case 1:
					l.Warnf("g%d-%d %s", g, i, strings.Repeat("w", 200))
				case 2:
					l.Infof("g%d-%d\r\n", g, i)
				case 3:
					l.Debugf("g%d-%d", g, i)
				default:
					l.Tracef("g%d-%d a\nb\nc", g, i)
				}
			}
		}()
	}
	wg.Wait()

	out := buf.String()
	require.True(t, strings.HasSuffix(out, "\n"))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// Per goroutine and 5 calls: 2 + 1 + 1 + 1 + 3 lines.
	require.Len(t, lines, goroutines*perG/5*8)
	counts := map[string]int{}
	for _, line := range lines {
		require.Regexp(t, linePrefix, line)
		counts[line[:2]]++
	}
	n := goroutines * perG / 5
	require.Equal(t, map[string]int{"E!": 2 * n, "W!": n, "I!": n, "D!": n, "T!": 3 * n}, counts)
	// Multi-line messages stay together.
	for g := 0; g < goroutines; g++ {
		require.Contains(t, out, fmt.Sprintf("E! g%d-0 first\nE! g%d-0 second\n", g, g))
		require.Contains(t, out, fmt.Sprintf("T! g%d-4 a\nT! b\nT! c\n", g))
	}
}

// R3: a message of any length writes lines execd can read (its limit is
// 64 KiB per line), so stderr never stops being read and the plugin never
// blocks in its logger.
func TestLongLinesAreCappedR3(t *testing.T) {
	long := strings.Repeat("é", 100_000) // multi-byte, so a cut could split a rune
	tests := []struct {
		name      string
		msg       string
		wantLines int
	}{
		{"one long line", "firmware " + long, 1},
		{"long continuation line", "first\n" + long + "\nlast", 3},
		{"100,000-digit number", strings.Repeat("9", 100_000), 1},
		{"many lines", strings.Repeat("x\n", 10_000), MaxLines + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			New(&buf, telegraf.Info).Errorf("%s", tt.msg)
			out := buf.String()
			require.True(t, strings.HasSuffix(out, "\n"))
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			require.Len(t, lines, tt.wantLines)
			for _, l := range lines {
				require.LessOrEqual(t, len(l)+1, MaxLine)
				require.Regexp(t, linePrefix, l)
				require.True(t, utf8.ValidString(l), "a cut splits a rune")
			}
			if tt.wantLines <= MaxLines {
				require.Contains(t, out, "bytes, cut)")
			}
		})
	}
	// A short line is left alone.
	var buf bytes.Buffer
	New(&buf, telegraf.Info).Errorf("%s", strings.Repeat("a", MaxLine-4))
	require.Equal(t, "E! "+strings.Repeat("a", MaxLine-4)+"\n", buf.String())
}

func TestCap(t *testing.T) {
	require.Equal(t, "abc", Cap("abc", 3))
	got := Cap(strings.Repeat("a", 1000), 40)
	require.Len(t, got, 40)
	require.True(t, strings.HasSuffix(got, "... (1000 bytes, cut)"))
	require.Equal(t, "... (1000 bytes, cut)", Cap(strings.Repeat("a", 1000), 5), "the note is kept even when n is tiny")
}
