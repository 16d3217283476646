// Package capture holds the naming and metadata conventions of an Envoy
// capture folder (the pyenphase fixture layout), shared by the simulator that
// serves captures and the plugin command that writes them, so both agree.
package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// LogSuffix ends the name of the metadata file beside each body file.
const LogSuffix = "_log.json"

var nameReplacer = strings.NewReplacer("/", "_", "?", "_", "=", "_", "&", "_", " ", "_")

// Name maps an endpoint path (with its query, if any) to a capture file name:
// the leading "/" is dropped and each of "/ ? = & space" becomes "_".
// "/production.json?details=1" → "production.json_details_1".
func Name(pathAndQuery string) string {
	return nameReplacer.Replace(strings.TrimPrefix(pathAndQuery, "/"))
}

// Log is the content of a <name>_log.json file.
type Log struct {
	Headers         map[string]string `json:"headers,omitempty"`
	Code            int               `json:"code"`
	DurationSeconds float64           `json:"duration_seconds,omitempty"`
}

// Header returns a captured header by name, ignoring case: captures use both
// "content-type" and "Content-Type".
func (l Log) Header(name string) (string, bool) {
	for k, v := range l.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// ReadLog reads <name>_log.json from fsys. ok is false (with a nil error) when
// the file does not exist, since older folders have none.
func ReadLog(fsys fs.FS, name string) (log Log, ok bool, err error) {
	data, err := fs.ReadFile(fsys, name+LogSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		return Log{}, false, nil
	}
	if err != nil {
		return Log{}, false, err
	}
	if err := json.Unmarshal(data, &log); err != nil {
		return Log{}, false, fmt.Errorf("%s%s: %w", name, LogSuffix, err)
	}
	return log, true, nil
}
