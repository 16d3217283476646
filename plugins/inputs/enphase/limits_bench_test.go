package enphase

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/telegraf-enphase/telegraf-enphase/internal/envoy"
)

// worstBodies shape, per endpoint, the body a hostile gateway would send to
// cost the most memory within the endpoint's limits: a list (or a map, for
// the endpoints that decode one) of empty objects, each of which decodes
// into a whole struct, put where the endpoint's type has its list.
var worstBodies = map[string]string{
	envoy.PathSummary:             `{"wattsNow":%s}`,
	envoy.PathMeters:              `%s`,
	envoy.PathProduction:          `{"production":%s}`,
	envoy.PathMeterReadings:       `%s`,
	envoy.PathEnsembleInventory:   `[{"type":"ENCHARGE","devices":%s}]`,
	envoy.PathEnsemblePower:       `{"devices:":%s}`,
	envoy.PathEnsembleSecCtrl:     `{"x":%s}`,
	envoy.PathDryContactSettings:  `{"dry_contacts":%s}`,
	envoy.PathGeneratorConfig:     `map`,
	envoy.PathEnsembleDryContacts: `{"dry_contacts":%s}`,
	envoy.PathEnsembleGenerator:   `{"x":%s}`,
	envoy.PathTariff:              `{"tariff":%s}`,
	envoy.PathDeviceData:          `map`,
	envoy.PathInverters:           `%s`,
	envoy.PathGeneratorSchedule:   `{"schedule":{"default":%s}}`,
	envoy.PathInventory:           `[{"type":"PCU","devices":%s}]`,
}

// worstBody is ep's worst body within its limits (see worstBodies).
func worstBody(tb testing.TB, ep *endpoint) []byte {
	tmpl, ok := worstBodies[ep.path]
	if !ok {
		tb.Fatalf("%s: no worst body in worstBodies: add one (case R4)", ep.path)
	}
	room := ep.maxValues - 16
	if tmpl == "map" {
		var b strings.Builder
		b.WriteByte('{')
		for i := 0; i < room/2 && b.Len() < int(ep.maxBody)-32; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"%d":{}`, i)
		}
		b.WriteByte('}')
		return []byte(b.String())
	}
	n := min(room/2, (int(ep.maxBody)-len(tmpl)-16)/3) // each {} is two values: itself and its comma
	return []byte(fmt.Sprintf(tmpl, emptyObjects(n)))
}

// BenchmarkWorstBodyR4 decodes each endpoint's worst body within its limits
// (case R4): B/op is all the memory decoding allocates, an upper bound of
// the heap a hostile answer can cost; ns/op is how long it holds the gather.
func BenchmarkWorstBodyR4(b *testing.B) {
	for i := range endpoints {
		ep := &endpoints[i]
		body := worstBody(b, ep)
		r := envoy.Response{Path: ep.path, Status: http.StatusOK, Body: body}
		if err := envoy.DecodeLimit(r, ep.target(), ep.maxValues); err != nil && strings.Contains(err.Error(), "not a real gateway answer") {
			b.Fatalf("%s: the worst body is refused, so it is not the worst accepted: %v", ep.path, err)
		}
		b.Run(strings.TrimPrefix(ep.path, "/"), func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(len(body))/1024, "body-KiB")
			for range b.N {
				_ = envoy.DecodeLimit(r, ep.target(), ep.maxValues)
			}
		})
	}
	// /info: its size limit full of what its shape check lets through.
	info := []byte("<envoy_info><device><sn>122301234567</sn><software>D8.2.4345</software>" +
		strings.Repeat("<x>", 12) + "<y " + strings.Repeat(`a="" `, (envoy.MaxInfoBody-200)/5) + "/>" + strings.Repeat("</x>", 12) +
		"</device></envoy_info>")
	b.Run("info", func(b *testing.B) {
		b.ReportAllocs()
		b.ReportMetric(float64(len(info))/1024, "body-KiB")
		for range b.N {
			_, _ = envoy.ParseInfo(info)
		}
	})
}
