package envoysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"time"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
)

// reply is what the capture folder says an endpoint answers.
type reply struct {
	name        string // the capture file answering
	code        int
	contentType string
	body        []byte
	delay       time.Duration // captured duration, before LatencyScale
}

// lookup finds the capture file for a request path (with query). found is
// false when the folder has no file for it.
func (s *Server) lookup(pathAndQuery string) (r reply, found bool, err error) {
	name := capture.Name(pathAndQuery)
	body, ok, err := readBody(s.fsys, name)
	if err == nil && !ok && name == "info.xml" {
		// /info.xml is an alias of /info unless the capture has its own.
		name = "info"
		body, ok, err = readBody(s.fsys, name)
	}
	if err == nil && !ok && name == "production.json_details_1" {
		// Older folders keep one production.json for both URLs.
		name = "production.json"
		body, ok, err = readBody(s.fsys, name)
	}
	for _, alias := range []string{"inventory.json", "inventory"} {
		if err == nil && !ok && (name == "inventory.json_deleted_1" || name == "inventory.json") {
			// A real gateway answers /inventory.json with and without
			// ?deleted=1; older folders keep one of them, some as "inventory".
			name = alias
			body, ok, err = readBody(s.fsys, name)
		}
	}
	if err != nil || !ok {
		return reply{}, false, err
	}

	r = reply{name: name, code: 200, body: shiftTimes(name, body, s.shift)}
	log, hasLog, err := capture.ReadLog(s.fsys, name)
	if err != nil {
		return reply{}, false, err
	}
	if hasLog {
		if log.Code != 0 {
			r.code = log.Code
		}
		r.contentType, _ = log.Header("content-type")
		r.delay = time.Duration(log.DurationSeconds * float64(time.Second))
	} else {
		r.code = harnessStatus(name, body)
	}
	if r.contentType == "" {
		r.contentType = sniffContentType(name, body)
	}
	return r, true, nil
}

// readBody reads a body file; names that are no endpoint (the _log.json
// metadata, ".", "") count as missing.
func readBody(fsys fs.FS, name string) ([]byte, bool, error) {
	if name == "" || name == "." || name == ".." || strings.HasSuffix(name, capture.LogSuffix) || !fs.ValidPath(name) {
		return nil, false, nil
	}
	fi, err := fs.Stat(fsys, name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if fi.IsDir() {
		return nil, false, nil
	}
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, false, err
	}
	return body, true, nil
}

// harnessStatus is the status for a file without _log.json, following
// pyenphase's tests/common.py::prep_envoy (fixtures/INDEX.md).
func harnessStatus(name string, body []byte) int {
	switch {
	case name == "production.json" && !json.Valid(body):
		return 404
	case name == "ivp_meters" && !json.Valid(body):
		return 401
	case strings.HasPrefix(name, "api_v1_production") && jsonStatus(body) == 401:
		return 401
	}
	return 200
}

func jsonStatus(body []byte) int {
	var v struct {
		Status json.Number `json:"status"`
	}
	if json.Unmarshal(body, &v) != nil {
		return 0
	}
	n, err := v.Status.Int64()
	if err != nil {
		return 0
	}
	return int(n)
}

func sniffContentType(name string, body []byte) string {
	if name == "info" {
		return "text/xml"
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return "application/json"
	}
	return "text/html"
}
