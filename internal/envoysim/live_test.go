package envoysim

import (
	"encoding/json"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLiveShiftsEveryTimestamp: in live mode the capture's clock is moved to
// now, every epoch field by the same offset, and nothing else changes.
func TestLiveShiftsEveryTimestamp(t *testing.T) {
	now := time.Unix(1800000000, 0)
	fsys := fstest.MapFS{
		"info": {
			Data: []byte("<envoy_info><time>1785603642</time><device><sn>122301234567</sn><software>D8.2.4345</software></device></envoy_info>"),
		},
		"api_v1_production_inverters": {Data: []byte(`[{"serialNumber":"1","lastReportDate":1785603335,"lastReportWatts":241,"maxReportWatts":297}]`)},
		"production.json": {
			Data: []byte(`{"production":[{"type":"eim","readingTime":1785603647,"wNow":2900.224,"whLifetime":14213068.001}],"storage":[{"readingTime":0}]}`),
		},
		"broken": {Data: []byte(`{"readingTime":17856`)},
	}
	s, err := New(Options{Captures: fsys, Live: true, Now: func() time.Time { return now }})
	require.NoError(t, err)
	off := int64(1800000000 - 1785603642)

	r, found, err := s.lookup("/api/v1/production/inverters")
	require.NoError(t, err)
	require.True(t, found)
	var invs []map[string]json.Number
	require.NoError(t, json.Unmarshal(r.body, &invs))
	require.Equal(t, json.Number(itoa(1785603335+off)), invs[0]["lastReportDate"])
	require.Equal(t, json.Number("241"), invs[0]["lastReportWatts"])

	r, _, err = s.lookup("/production.json")
	require.NoError(t, err)
	require.Contains(t, string(r.body), `"readingTime":`+itoa(1785603647+off))
	require.Contains(t, string(r.body), `"whLifetime":14213068.001`, "other numbers exactly as captured")
	require.Contains(t, string(r.body), `"readingTime":0`, "an unset clock stays unset")

	r, _, err = s.lookup("/info")
	require.NoError(t, err)
	require.Contains(t, string(r.body), "<time>1800000000</time>")

	r, _, err = s.lookup("/broken")
	require.NoError(t, err)
	require.Equal(t, `{"readingTime":17856`, string(r.body), "broken JSON is served as captured")

	still, err := New(Options{Captures: fsys})
	require.NoError(t, err)
	r, _, err = still.lookup("/api/v1/production/inverters")
	require.NoError(t, err)
	require.Contains(t, string(r.body), `"lastReportDate":1785603335`)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestInventoryAliases: a real gateway answers /inventory.json with and
// without ?deleted=1, so a folder holding one of them serves both.
func TestInventoryAliases(t *testing.T) {
	for _, file := range []string{"inventory", "inventory.json", "inventory.json_deleted_1"} {
		s, err := New(Options{Captures: fstest.MapFS{
			"info": {Data: []byte("<envoy_info><device><sn>122301234567</sn><software>D8.3.5169</software></device></envoy_info>")},
			file:   {Data: []byte(`[{"type":"ACB","devices":[]}]`)},
		}})
		require.NoError(t, err)
		for _, path := range []string{"/inventory.json?deleted=1", "/inventory.json"} {
			r, found, err := s.lookup(path)
			require.NoError(t, err)
			if file == "inventory.json_deleted_1" && path == "/inventory.json" {
				require.False(t, found, "the deleted list is a superset: it stands in for nothing")
				continue
			}
			require.True(t, found, "%s from a folder with %s", path, file)
			require.Contains(t, string(r.body), `"ACB"`)
		}
	}
}
