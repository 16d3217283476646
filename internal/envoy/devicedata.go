package envoy

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
)

// PathDeviceData is the detailed per-device report (firmware 8.2.4345+; 404
// or a non-object before it).
const PathDeviceData = "/ivp/pdm/device_data"

// DeviceData is /ivp/pdm/device_data: a JSON object keyed by device id, plus
// the integer keys deviceCount and deviceDataLimit. Every value is optional.
type DeviceData struct {
	// DeviceCount counts every device the gateway knows, pcu, eim, acb and
	// nsrb alike, not only those listed.
	DeviceCount Num
	// DeviceDataLimit is how many devices the gateway lists at most (50).
	DeviceDataLimit Num
	// Devices in the order of the body. Entries that are not objects, or
	// that cannot be read, are left out.
	Devices []Device
}

// Capped reports whether the gateway may have dropped devices from the body:
// deviceCount reached deviceDataLimit (case P12). Devices beyond the limit
// vanish silently, so inverters missing from the body must be read from
// /api/v1/production/inverters. False when either count is unknown.
func (d DeviceData) Capped() bool {
	return d.DeviceCount.Valid && d.DeviceDataLimit.Valid && d.DeviceDataLimit.V > 0 &&
		d.DeviceCount.V >= d.DeviceDataLimit.V
}

// UnmarshalJSON separates the two count keys from the device objects,
// keeping the body's order. A body that is not an object is an error (the
// endpoint is missing or broken); an entry that is not an object, or a device
// that does not decode, is skipped, so one odd device costs only itself.
func (d *DeviceData) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) == 0 || b[0] != '{' {
		return errors.New("device_data is not a JSON object")
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		return err
	}
	out := DeviceData{}
	ids := make([]string, 0, len(entries))
	for key, v := range entries {
		switch key {
		case "deviceCount":
			_ = out.DeviceCount.UnmarshalJSON(v)
		case "deviceDataLimit":
			_ = out.DeviceDataLimit.UnmarshalJSON(v)
		default:
			if isObject(v) {
				ids = append(ids, key)
			}
		}
	}
	// The body's order is the gateway's; sorted ids keep the output stable.
	sort.Strings(ids)
	for _, key := range ids {
		var dev Device
		if err := json.Unmarshal(entries[key], &dev); err != nil {
			continue
		}
		dev.ID = key
		out.Devices = append(out.Devices, dev)
	}
	*d = out
	return nil
}

// Device is one entry of device_data.
type Device struct {
	// ID is the entry's key in the body (the gateway's device id).
	ID string `json:"-"`
	// DevName is the kind: "pcu" (microinverter), "eim" (CT), "acb" (AC
	// Battery), "nsrb" (Q-relay), and maybe others.
	DevName string `json:"devName"`
	SN      string `json:"sn"`
	// Active is false for a device removed from the system (case P13).
	Active bool `json:"active"`
	// ModGone is true for a device the gateway does not hear from now: a
	// removed one (with Active false), but also live microinverters asleep
	// at night (capture 8.3.5169: active, modGone, reported an hour before,
	// "communicating": false in inventory.json) and every eim entry.
	ModGone  bool      `json:"modGone"`
	Channels []Channel `json:"channels"`
}

// Microinverter reports whether the device is a PV microinverter (pcu).
func (d Device) Microinverter() bool { return d.DevName == "pcu" }

// ACBattery reports whether the device is an AC Battery (acb): its channel
// counts energy in as joulesUsed and energy out as joulesProduced.
func (d Device) ACBattery() bool { return d.DevName == "acb" }

// Channel is one channel of a device: a microinverter has one; a CT has one
// per phase.
type Channel struct {
	ChanEID     Num         `json:"chanEid"`
	Created     Epoch       `json:"created"`
	WattHours   WattHours   `json:"wattHours"`
	Watts       Watts       `json:"watts"`
	LastReading LastReading `json:"lastReading"`
	Lifetime    Lifetime    `json:"lifetime"`
}

// WattHours are the channel's energy counters (Wh).
type WattHours struct {
	Today     Num `json:"today"`
	Yesterday Num `json:"yesterday"`
	Week      Num `json:"week"`
}

// UnmarshalJSON reads an object and treats anything else as empty.
func (w *WattHours) UnmarshalJSON(b []byte) error {
	type plain WattHours
	*w = WattHours{}
	return decodeObject(b, (*plain)(w))
}

// Watts are the channel's power values (W).
type Watts struct {
	Now     Num `json:"now"`
	NowUsed Num `json:"nowUsed"`
	Max     Num `json:"max"`
}

// UnmarshalJSON reads an object and treats anything else as empty.
func (w *Watts) UnmarshalJSON(b []byte) error {
	type plain Watts
	*w = Watts{}
	return decodeObject(b, (*plain)(w))
}

// LastReading is the channel's last report, over Duration seconds ending at
// EndDate. Units are the gateway's: mV, mA, mHz, J, °C. It is {} for a
// removed device or an unused CT channel (case P13). Only the microinverter
// keys are decoded; eim, acb and nsrb readings have other keys.
type LastReading struct {
	EID                 Num   `json:"eid"`
	IntervalType        Num   `json:"interval_type"`
	EndDate             Epoch `json:"endDate"`
	Duration            Num   `json:"duration"`
	Flags               Num   `json:"flags"`
	JoulesProduced      Num   `json:"joulesProduced"`
	JoulesUsed          Num   `json:"joulesUsed"`
	ACVoltageINmV       Num   `json:"acVoltageINmV"`
	ACFrequencyINmHz    Num   `json:"acFrequencyINmHz"`
	DCVoltageINmV       Num   `json:"dcVoltageINmV"`
	DCCurrentINmA       Num   `json:"dcCurrentINmA"`
	ACCurrentInmA       Num   `json:"acCurrentInmA"` // lower-case n, as the gateway spells it
	ChannelTemp         Num   `json:"channelTemp"`
	PwrConvErrSecs      Num   `json:"pwrConvErrSecs"`
	PwrConvMaxErrCycles Num   `json:"pwrConvMaxErrCycles"`
	LeadingVArs         Num   `json:"leadingVArs"`
	LaggingVArs         Num   `json:"laggingVArs"`
	RSSI                Num   `json:"rssi"`
	ISSI                Num   `json:"issi"`
	// An AC Battery's (acb) cells: state of health (%) and the coolest
	// cell's temperature (°C). Its charge and hottest cell are read from
	// /inventory.json, which reports them every read.
	SOH         Num `json:"SOH"`
	MinCellTemp Num `json:"minCellTemp"`
}

// Empty reports whether there is no reading at all: {}, null or absent, as
// for a removed device or one that has not reported yet.
func (r LastReading) Empty() bool { return r == LastReading{} }

// UnmarshalJSON reads an object and treats anything else as empty.
func (r *LastReading) UnmarshalJSON(b []byte) error {
	type plain LastReading
	*r = LastReading{}
	return decodeObject(b, (*plain)(r))
}

// Lifetime is the channel's lifetime totals: joules over Duration seconds
// since CreatedTime. {} for a removed device (case P13).
type Lifetime struct {
	CreatedTime    Epoch `json:"createdTime"`
	Duration       Num   `json:"duration"`
	JoulesProduced Num   `json:"joulesProduced"`
	JoulesUsed     Num   `json:"joulesUsed"`
}

// UnmarshalJSON reads an object and treats anything else as empty.
func (l *Lifetime) UnmarshalJSON(b []byte) error {
	type plain Lifetime
	*l = Lifetime{}
	return decodeObject(b, (*plain)(l))
}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// decodeObject unmarshals b into v when b is an object and leaves v as it is
// otherwise (null, [], a number, a string).
func decodeObject(b []byte, v any) error {
	if !isObject(b) {
		return nil
	}
	return json.Unmarshal(b, v)
}
