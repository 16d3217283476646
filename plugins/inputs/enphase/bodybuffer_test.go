package enphase

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/lineproto"
)

// A gateway's endpoints are all read into one buffer it keeps between
// gathers (state.body). What a gather keeps from a body must be a copy: the
// CT list, read on the slow tier, is joined to the readings of every later
// gather. Writing over the buffer between gathers changes no line.
func TestBodyBufferKeepsNothing(t *testing.T) {
	sim, url := startSim(t, nil)
	// The clock stands still, so every steady gather writes the same lines
	// but for requests_total, which counts every gather's requests.
	e := newPlugin(t, sim, url, newClock())
	total := regexp.MustCompile(`requests_total=\d+i`)
	gather := func() string {
		b := lineproto.NewBatch(testutil.Logger{})
		defer b.Release()
		require.NoError(t, e.Gather(b))
		return total.ReplaceAllString(string(b.Bytes()), "")
	}
	gather() // the slow tiers: /info, the CT list, inventories
	gather() // the summary, due again once the first gather has read the inverters
	want := gather()
	require.Equal(t, want, gather(), "steady gathers are the same")
	require.Contains(t, want, "enphase_meter,", "the steady gather joins readings to the CT list")

	buf := e.gw.state.body[:cap(e.gw.state.body)]
	require.NotEmpty(t, buf, "the gateway keeps its body buffer")
	for i := range buf {
		buf[i] = 'x'
	}
	require.Equal(t, want, gather())
}

// A body larger than maxKeptBody (an inverter list of 800, read every five
// minutes) is read and mapped whole, but its buffer is not kept: a fleet of
// gateways would otherwise each pin its largest answer.
func TestBodyBufferBounded(t *testing.T) {
	var list strings.Builder
	list.WriteString("[")
	for i := range 800 {
		if i > 0 {
			list.WriteString(",")
		}
		fmt.Fprintf(&list, `{"serialNumber": "4822%08d", "lastReportDate": 1785603335, "devType": 1, "lastReportWatts": 241, "maxReportWatts": 297}`+"\n", i)
	}
	list.WriteString("]")
	require.Greater(t, list.Len(), maxKeptBody)
	files := map[string]*fstest.MapFile{}
	body(files, "api_v1_production_inverters", 200, list.String())
	files["ivp_pdm_device_data"] = nil // else it covers the inverters, and the list is not read
	sim, url := startSim(t, overlay(t, files))
	e := newPlugin(t, sim, url, newClock())
	b := lineproto.NewBatch(testutil.Logger{})
	defer b.Release()
	require.NoError(t, e.Gather(b))
	require.Equal(t, 800, strings.Count(string(b.Bytes()), "enphase_inverter,"), "every inverter of the large list is written")
	require.NotZero(t, cap(e.gw.state.body))
	require.LessOrEqual(t, cap(e.gw.state.body), maxKeptBody)
}
