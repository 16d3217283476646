// Package execdlog is a telegraf.Logger for plugins run by Telegraf's execd
// input. execd reads the child's stderr line by line and maps "E! ", "W! ",
// "I! ", "D! " and "T! " prefixes to levels; any other line becomes an error.
// So every line, continuation lines included, carries a prefix and no
// timestamp (Telegraf adds its own).
package execdlog

import (
	"fmt"
	"io"
	"strings"
	"sync"

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

func (l *Logger) print(level telegraf.LogLevel, msg string) {
	if level > l.level {
		return
	}
	ind := level.Indicator()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		fmt.Fprintf(l.w, "%s %s\n", ind, strings.TrimRight(line, "\r"))
	}
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
