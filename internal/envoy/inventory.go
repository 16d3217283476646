package envoy

import (
	"bytes"
	"strings"
	"time"
)

// PathInventory is the gateway's device inventory: microinverters (PCU), AC
// Batteries (ACB), Q-relays (NSRB) and ESUBs, with each one's firmware, part
// number and flags. ?deleted=1 lists retired devices too (admin_state 3,
// without the flags), as the gateway's own installer pages do. The body is
// slow to build (3 s on capture 8.3.5169): it is read at a slow cadence.
const PathInventory = "/inventory.json?deleted=1"

// Inventory is /inventory.json: one group per device type.
type Inventory []InventoryGroup

// InventoryGroup is the inventory's list of one device type ("PCU", "ACB",
// "NSRB", "ESUB", or a type a newer firmware adds, case P15).
type InventoryGroup struct {
	Type    Text              `json:"type"`
	Devices []InventoryDevice `json:"devices"`
}

// InventoryDevice is one device. Every key is optional: retired devices
// lack the flags, and the ACB keys exist on AC Batteries only.
type InventoryDevice struct {
	SerialNum      Text      `json:"serial_num"`
	PartNum        Text      `json:"part_num"`
	Installed      TextEpoch `json:"installed"`     // a string on every capture
	LastReportDate TextEpoch `json:"last_rpt_date"` // a string on every capture
	DeviceStatus   TextList  `json:"device_status"`
	AdminState     Num       `json:"admin_state"`
	DevType        Num       `json:"dev_type"`
	ImgPnumRunning Text      `json:"img_pnum_running"`
	Producing      Flag      `json:"producing"`
	Communicating  Flag      `json:"communicating"`
	Provisioned    Flag      `json:"provisioned"`
	Operating      Flag      `json:"operating"`
	Phase          Text      `json:"phase"`

	// AC Battery.
	PercentFull  Num  `json:"percentFull"`
	MaxCellTemp  Num  `json:"maxCellTemp"` // °C
	ChargeStatus Text `json:"charge_status"`
	SleepEnabled Flag `json:"sleep_enabled"`
	SleepMinSOC  Num  `json:"sleep_min_soc"` // %
	SleepMaxSOC  Num  `json:"sleep_max_soc"` // %
}

// TextEpoch is an Epoch the gateway may send as a string of digits
// ("installed": "1714670312" in /inventory.json). Anything else is unknown
// (0), a malformed value an error.
type TextEpoch Epoch

// UnmarshalJSON reads a number or a string holding one.
func (e *TextEpoch) UnmarshalJSON(b []byte) error {
	*e = 0
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var t Text
		if err := t.UnmarshalJSON(b); err != nil {
			return err
		}
		if s := []byte(strings.TrimSpace(t.S)); isNumber(s) {
			var ep Epoch
			_ = ep.UnmarshalJSON(s) // a number: no error
			*e = TextEpoch(ep)
		}
		return nil
	}
	var ep Epoch
	err := ep.UnmarshalJSON(b)
	*e = TextEpoch(ep)
	return err
}

// Time is the UTC instant, false when unknown (see Epoch.Time).
func (e TextEpoch) Time() (time.Time, bool) { return Epoch(e).Time() }

// Epoch is the value as an Epoch.
func (e TextEpoch) Epoch() Epoch { return Epoch(e) }
