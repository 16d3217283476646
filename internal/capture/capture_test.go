package capture

import (
	"testing"
	"testing/fstest"
)

func TestName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/info", "info"},
		{"/info.xml", "info.xml"},
		{"/ivp/meters/readings", "ivp_meters_readings"},
		{"/production.json?details=1", "production.json_details_1"},
		{"/inventory.json?deleted=1", "inventory.json_deleted_1"},
		{"/api/v1/production/inverters", "api_v1_production_inverters"},
		{"/a?b=1&c=2", "a_b_1_c_2"},
		{"/with space", "with_space"},
		{"no/leading/slash", "no_leading_slash"},
		{"/", ""},
	}
	for _, tt := range tests {
		if got := Name(tt.in); got != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadLog(t *testing.T) {
	fsys := fstest.MapFS{
		"info_log.json":              {Data: []byte(`{"headers": {"content-type": "text/xml"}, "code": 200}`)},
		"ivp_meters_log.json":        {Data: []byte(`{"headers": {"Content-Type": "text/html"}, "code": 401, "duration_seconds": 0.25}`)},
		"production_log.json":        {Data: []byte(`{"code": 200`)},
		"production.json":            {Data: []byte(`{}`)},
		"inventory_log.json/x":       {Data: []byte(`{}`)}, // a directory where a file is expected
		"api_v1_production":          {Data: []byte(`{}`)},
		"api_v1_production_log.json": {Data: []byte(`{"code": 404}`)},
	}
	tests := []struct {
		name        string
		wantOK      bool
		wantErr     bool
		wantCode    int
		wantDur     float64
		wantCT      string
		wantHeaders int
	}{
		{name: "info", wantOK: true, wantCode: 200, wantCT: "text/xml", wantHeaders: 1},
		{name: "ivp_meters", wantOK: true, wantCode: 401, wantDur: 0.25, wantCT: "text/html", wantHeaders: 1},
		{name: "api_v1_production", wantOK: true, wantCode: 404},
		{name: "production.json"},
		{name: "missing"},
		{name: "production", wantErr: true},
		{name: "inventory", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, ok, err := ReadLog(fsys, tt.name)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if log.Code != tt.wantCode || log.DurationSeconds != tt.wantDur || len(log.Headers) != tt.wantHeaders {
				t.Errorf("log = %+v", log)
			}
			ct, _ := log.Header("CONTENT-TYPE")
			if ct != tt.wantCT {
				t.Errorf("content-type = %q, want %q", ct, tt.wantCT)
			}
		})
	}
}
