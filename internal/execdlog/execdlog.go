// Package execdlog is a telegraf.Logger for plugins run by Telegraf's execd
// input. execd reads the child's stderr line by line and maps "E! ", "W! ",
// "I! ", "D! " and "T! " prefixes to levels; any other line becomes an error.
// So every line, continuation lines included, carries a prefix and no
// timestamp (Telegraf adds its own).
//
// Every line is capped at MaxLine bytes (case R3): execd reads stderr with a
// 64 KiB line limit and stops reading for good at a longer line, after which
// the pipe fills and the plugin blocks in its logger, gathering nothing more.
package execdlog

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
)

// Logger writes level-prefixed lines to W.
type Logger struct {
	mu    sync.Mutex
	w     io.Writer
	level telegraf.LogLevel
}

// New returns a logger printing messages at level and above.
func New(w io.Writer, level telegraf.LogLevel) *Logger {
	return &Logger{w: w, level: level}
}

// Limits of what one message may write: far below execd's 64 KiB line limit,
// and far above any message the plugin writes itself.
const (
	MaxLine  = 4096 // bytes of one line, its prefix and newline included
	MaxLines = 50   // lines of one message
)

func (l *Logger) print(level telegraf.LogLevel, msg string) {
	if level > l.level {
		return
	}
	ind := level.Indicator()
	lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
	var b strings.Builder
	for i, line := range lines {
		if i == MaxLines {
			fmt.Fprintf(&b, "%s (%d more lines cut)\n", ind, len(lines)-i)
			break
		}
		b.WriteString(ind)
		b.WriteByte(' ')
		b.WriteString(Cap(strings.TrimRight(line, "\r"), MaxLine-len(ind)-2))
		b.WriteByte('\n')
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, b.String())
}

// Cap returns s if it has at most n bytes, else its start, cut at a rune
// boundary, followed by a note of how many bytes were cut, all within n bytes.
func Cap(s string, n int) string {
	if len(s) <= n {
		return s
	}
	note := "... (" + strconv.Itoa(len(s)) + " bytes, cut)"
	keep := max(n-len(note), 0)
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + note
}

// Level returns the level in force.
func (l *Logger) Level() telegraf.LogLevel { return l.level }

// AddAttribute is a no-op: attributes have no place in execd's line format.
func (*Logger) AddAttribute(string, interface{}) {}

func (l *Logger) Errorf(format string, args ...interface{}) {
	l.print(telegraf.Error, fmt.Sprintf(format, args...))
}
func (l *Logger) Error(args ...interface{}) { l.print(telegraf.Error, fmt.Sprint(args...)) }
func (l *Logger) Warnf(format string, args ...interface{}) {
	l.print(telegraf.Warn, fmt.Sprintf(format, args...))
}
func (l *Logger) Warn(args ...interface{}) { l.print(telegraf.Warn, fmt.Sprint(args...)) }
func (l *Logger) Infof(format string, args ...interface{}) {
	l.print(telegraf.Info, fmt.Sprintf(format, args...))
}
func (l *Logger) Info(args ...interface{}) { l.print(telegraf.Info, fmt.Sprint(args...)) }
func (l *Logger) Debugf(format string, args ...interface{}) {
	l.print(telegraf.Debug, fmt.Sprintf(format, args...))
}
func (l *Logger) Debug(args ...interface{}) { l.print(telegraf.Debug, fmt.Sprint(args...)) }
func (l *Logger) Tracef(format string, args ...interface{}) {
	l.print(telegraf.Trace, fmt.Sprintf(format, args...))
}
func (l *Logger) Trace(args ...interface{}) { l.print(telegraf.Trace, fmt.Sprint(args...)) }
