package envoysim

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/telegraf-enphase/telegraf-enphase/internal/capture"
)

// TestFixtureFolders serves every capture folder under $ENPHASE_FIXTURES (the
// pyenphase fixtures) and checks each file answers with its recorded status.
func TestFixtureFolders(t *testing.T) {
	root := os.Getenv("ENPHASE_FIXTURES")
	if root == "" {
		t.Skip("ENPHASE_FIXTURES not set")
	}
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		dir := filepath.Join(root, d.Name())
		t.Run(d.Name(), func(t *testing.T) {
			fsys := os.DirFS(dir)
			s, c, base := startSim(t, Options{Captures: fsys})
			info := do(t, c, http.MethodGet, base+"/info", nil)
			if info.code != 200 || !strings.Contains(info.body, "<sn>"+s.Serial()+"</sn>") || s.Serial() == "" {
				t.Errorf("/info = %d, serial %q", info.code, s.Serial())
			}
			files, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			auth := bearerHdr(s.Token())
			get := func(uri string) result {
				if s.Legacy() { // firmware before 7: digest, see legacy_test.go
					return digestGet(t, c, base, uri, "envoy", s.LegacyPassword("envoy"))
				}
				return do(t, c, http.MethodGet, base+uri, auth)
			}
			for _, f := range files {
				name := f.Name()
				if f.IsDir() || strings.HasSuffix(name, capture.LogSuffix) {
					continue
				}
				body, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				want := expectedStatus(t, fsys, name, body)
				// "/"+name maps back to name, since Name only rewrites separators.
				r := get("/" + name)
				if r.code != want {
					t.Errorf("%s: status = %d, want %d", name, r.code, want)
				}
				if s.Legacy() && r.code == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Digest ") {
					t.Errorf("%s: legacy 401 without a digest challenge", name)
				}
				if r.body != string(body) {
					t.Errorf("%s: body differs from the file", name)
				}
			}

			// The real URL for details=1 falls back to production.json in older folders.
			detailsName := "production.json_details_1"
			if _, err := fs.Stat(fsys, detailsName); err != nil {
				detailsName = "production.json"
			}
			if body, err := fs.ReadFile(fsys, detailsName); err == nil {
				want := expectedStatus(t, fsys, detailsName, body)
				if r := get("/production.json?details=1"); r.code != want || r.body != string(body) {
					t.Errorf("details=1: status = %d, want %d from %s", r.code, want, detailsName)
				}
			}
		})
	}
	if n == 0 {
		t.Fatalf("no folders under %s", root)
	}
}

// expectedStatus restates INDEX.md independently of the server code.
func expectedStatus(t *testing.T, fsys fs.FS, name string, body []byte) int {
	t.Helper()
	log, ok, err := capture.ReadLog(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		return log.Code
	}
	isJSON := json.Valid(body)
	switch {
	case name == "production.json" && !isJSON:
		return 404
	case name == "ivp_meters" && !isJSON:
		return 401
	case strings.HasPrefix(name, "api_v1_production") && status401.Match(body):
		return 401
	}
	return 200
}

var status401 = regexp.MustCompile(`"status"\s*:\s*401\b`)
