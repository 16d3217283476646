package envoy

import (
	"net/http"
	"testing"
)

// TestInventoryDecode: epochs as strings (every capture), retired devices
// without flags, and a generator schedule.
func TestInventoryDecode(t *testing.T) {
	body := `[{"type":"ACB","devices":[{"serial_num":"1","installed":"1714670312","last_rpt_date":1781988156,
		"percentFull":2,"charge_status":"idle","sleep_enabled":false,"communicating":true}]},
		{"type":"PCU","devices":[{"serial_num":"2","installed":"Wed Dec 31","admin_state":3}]}]`
	var inv Inventory
	if err := Decode(Response{Path: PathInventory, Status: http.StatusOK, Body: []byte(body)}, &inv); err != nil {
		t.Fatal(err)
	}
	acb := inv[0].Devices[0]
	if acb.Installed.Epoch() != 1714670312 || acb.LastReportDate.Epoch() != 1781988156 {
		t.Errorf("epochs: %d %d", acb.Installed, acb.LastReportDate)
	}
	if !acb.PercentFull.Valid || acb.PercentFull.V != 2 || acb.ChargeStatus.S != "idle" || !acb.Communicating.V {
		t.Errorf("ACB: %+v", acb)
	}
	pcu := inv[1].Devices[0]
	if pcu.Installed != 0 || pcu.Communicating.Valid || pcu.AdminState.V != 3 {
		t.Errorf("retired: %+v", pcu)
	}
	var bad TextEpoch
	if err := bad.UnmarshalJSON([]byte(`"12`)); err == nil {
		t.Error("a malformed string must fail the body")
	}
	var s GeneratorSchedule
	sb := `{"schedule":{"default":[{"id":"a","days":[{"periods":[{"start":0,"duration":1440,"stop_soc":-1}]}]}]}}`
	if err := Decode(Response{Path: PathGeneratorSchedule, Status: http.StatusOK, Body: []byte(sb)}, &s); err != nil {
		t.Fatal(err)
	}
	if p := s.Schedule["default"][0].Days[0].Periods[0]; p.Duration.V != 1440 || p.StopSOC.V != -1 || s.Names()[0] != "default" {
		t.Errorf("schedule: %+v", s)
	}
	cfg := GeneratorConfig{"name_plate_rating_wat": []byte(`14.0`), "model": []byte(`{}`)}
	if st := cfg.Settings(); st.NamePlateRating.V != 14 || st.Model.Valid {
		t.Errorf("settings: %+v", st)
	}
}
