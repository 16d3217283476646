package envoy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Paths of the battery (IQ Battery / Encharge), IQ System Controller
// (Enpower), generator and tariff endpoints. All are optional: they answer 404
// where there is no ensemble, and 401 to owner tokens on early 7.x firmware
// (case P16).
const (
	PathEnsembleInventory   = "/ivp/ensemble/inventory"
	PathEnsemblePower       = "/ivp/ensemble/power"
	PathEnsembleSecCtrl     = "/ivp/ensemble/secctrl"
	PathEnsembleDryContacts = "/ivp/ensemble/dry_contacts"
	PathDryContactSettings  = "/ivp/ss/dry_contact_settings"
	PathEnsembleGenerator   = "/ivp/ensemble/generator"
	PathGeneratorConfig     = "/ivp/ss/gen_config"
	PathTariff              = "/admin/lib/tariff"
)

// Ensemble device types of /ivp/ensemble/inventory. Others exist ("C6 RGM")
// and new ones will come: a type is kept as the gateway spells it (case P15).
const (
	DeviceEncharge     = "ENCHARGE"
	DeviceEnpower      = "ENPOWER"
	DeviceCollar       = "COLLAR"
	DeviceC6Controller = "C6 COMBINER CONTROLLER"
)

// Text is a JSON string that may be absent or null. A number or a boolean
// where a string was expected is kept in its JSON spelling (enums change type
// between firmware: generator admin_mode is 0 on every capture but documented
// as a string), so an unexpected type never fails the endpoint (case P15).
type Text struct {
	S     string
	Valid bool
}

// UnmarshalJSON keeps strings, numbers and booleans; null, objects and
// arrays are absent; a malformed value is an error (see checkValue).
func (t *Text) UnmarshalJSON(b []byte) error {
	*t = Text{}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*t = Text{S: s, Valid: true}
		return nil
	}
	if err := checkValue(b); err != nil {
		return err
	}
	switch b[0] {
	case 't', 'f':
		if v, err := strconv.ParseBool(string(b)); err == nil {
			*t = Text{S: strconv.FormatBool(v), Valid: true}
		}
	case 'n', '{', '[':
	default:
		if _, err := strconv.ParseFloat(string(b), 64); err == nil {
			*t = Text{S: string(b), Valid: true}
		}
	}
	return nil
}

// unquote reads a JSON string; a malformed one is an error. Plain strings,
// all but every one the gateway sends, skip encoding/json.
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[len(b)-1] == '"' {
		plain := utf8.Valid(b)
		for _, c := range b[1 : len(b)-1] {
			if c == '"' || c == '\\' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			return string(b[1 : len(b)-1]), nil
		}
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", errMalformed
	}
	return s, nil
}

// String is the text, or "" when absent.
func (t Text) String() string { return t.S }

// Flag is a JSON boolean that may be absent or null. Firmware also sends
// booleans as strings ("override": "true" in the dry contact settings) or as
// 0/1; all of these are read.
type Flag struct {
	V     bool
	Valid bool
}

// UnmarshalJSON reads true/false, "true"/"false" (any case) and numbers (0 is
// false); any other JSON value is absent, a malformed one an error.
func (f *Flag) UnmarshalJSON(b []byte) error {
	*f = Flag{}
	var t Text
	if err := t.UnmarshalJSON(b); err != nil || !t.Valid {
		return err
	}
	if v, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(t.S))); err == nil {
		*f = Flag{V: v, Valid: true}
		return nil
	}
	if n, err := strconv.ParseFloat(t.S, 64); err == nil {
		*f = Flag{V: n != 0, Valid: true}
	}
	return nil
}

// TextList is a JSON list of strings (device_status). Items that are not
// strings are kept in their JSON spelling; null, or a lone string, is read
// too.
type TextList []string

// UnmarshalJSON never fails on an unexpected shape: it is then empty. It
// fails on malformed JSON (see checkValue).
func (l *TextList) UnmarshalJSON(b []byte) error {
	*l = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '[' {
		var t Text
		err := t.UnmarshalJSON(b)
		if t.Valid {
			*l = TextList{t.S}
		}
		return err
	}
	var items []Text
	if err := json.Unmarshal(b, &items); err != nil {
		return err
	}
	out := make(TextList, 0, len(items))
	for _, it := range items {
		if it.Valid {
			out = append(out, it.S)
		}
	}
	*l = out
	return nil
}

// EnsembleInventory is /ivp/ensemble/inventory: one group per device type;
// [] where there is no ensemble (case 30: a group may hold no devices).
type EnsembleInventory []EnsembleGroup

// EnsembleGroup is the inventory's list of one device type.
type EnsembleGroup struct {
	Type    Text             `json:"type"`
	Devices []EnsembleDevice `json:"devices"`
}

// EnsembleDevice is one device of the inventory. The keys depend on the type
// and the firmware (case 30): every one is optional.
type EnsembleDevice struct {
	SerialNum      Text     `json:"serial_num"`
	PartNum        Text     `json:"part_num"`
	Installed      Epoch    `json:"installed"`
	LastReportDate Epoch    `json:"last_rpt_date"`
	DeviceStatus   TextList `json:"device_status"`
	AdminState     Num      `json:"admin_state"`
	AdminStateStr  Text     `json:"admin_state_str"`
	ImgPnumRunning Text     `json:"img_pnum_running"`
	Communicating  Flag     `json:"communicating"`
	Operating      Flag     `json:"operating"` // firmware < 8
	CommLevelSub   Num      `json:"comm_level_sub_ghz"`
	CommLevel24    Num      `json:"comm_level_2_4_ghz"`
	// Temperature is °C, except on the Enpower (°F) unless TemperatureUnit
	// says otherwise (case 28).
	Temperature     Num  `json:"temperature"`
	TemperatureUnit Text `json:"temperatureUnit"`

	// IQ Battery / Encharge.
	PercentFull          Num  `json:"percentFull"`
	MaxCellTemp          Num  `json:"maxCellTemp"`
	EnchargeCapacity     Num  `json:"encharge_capacity"` // Wh
	EnchargeRev          Num  `json:"encharge_rev"`
	LEDStatus            Num  `json:"led_status"`
	SleepEnabled         Flag `json:"sleep_enabled"`
	DCSwitchOff          Flag `json:"dc_switch_off"`
	ReportedEncGridState Text `json:"reported_enc_grid_state"`
	Phase                Text `json:"phase"`
	BMUFirmware          Text `json:"bmu_fw_version"`
	RealPowerW           Num  `json:"real_power_w"` // old firmware only

	// IQ System Controller / Enpower.
	MainsAdminState   Text `json:"mains_admin_state"`
	MainsOperState    Text `json:"mains_oper_state"`
	EnpwrGridMode     Text `json:"Enpwr_grid_mode"`
	EnchgGridMode     Text `json:"Enchg_grid_mode"`
	EnpwrRelayStateBM Num  `json:"Enpwr_relay_state_bm"`
	EnpwrCurrStateID  Num  `json:"Enpwr_curr_state_id"`

	// IQ Meter Collar.
	MIDState     Text `json:"mid_state"`
	GridState    Text `json:"grid_state"`
	CollarState  Text `json:"collar_state"`
	ControlError Num  `json:"control_error"`

	// IQ Combiner 6C controller and meter.
	FWVersion    Text `json:"fw_version"`
	DMIRVersion  Text `json:"dmir_version"`
	RGMFWVersion Text `json:"FW Version"`
	DeviceState  Num  `json:"Device State"`
}

// IsBattery reports whether the group lists batteries: ENCHARGE (IQ Battery
// and Encharge alike), or a type this release does not know whose devices
// report a state of charge or a battery capacity (case P15).
func (g EnsembleGroup) IsBattery() bool {
	if strings.EqualFold(g.Type.S, DeviceEncharge) {
		return true
	}
	switch strings.ToUpper(g.Type.S) {
	case DeviceEnpower, DeviceCollar, DeviceC6Controller, "C6 RGM":
		return false
	}
	for _, d := range g.Devices {
		if d.PercentFull.Valid || d.EnchargeCapacity.Valid {
			return true
		}
	}
	return false
}

// Has reports whether the inventory lists a device of type t (e.g.
// DeviceEnpower); a group with no devices does not count.
func (inv EnsembleInventory) Has(t string) bool {
	for _, g := range inv {
		if strings.EqualFold(g.Type.S, t) && len(g.Devices) > 0 {
			return true
		}
	}
	return false
}

// BatteryCount is the number of batteries the inventory lists.
func (inv EnsembleInventory) BatteryCount() int {
	n := 0
	for _, g := range inv {
		if g.IsBattery() {
			n += len(g.Devices)
		}
	}
	return n
}

// EnsemblePower is /ivp/ensemble/power. The gateway's key is literally
// "devices:" with a colon (case 28); "devices" is read too, should a firmware
// ever fix it.
type EnsemblePower struct {
	Devices []BatteryPower
}

// BatteryPower is one battery's power. real_power_mw is milliwatts and
// apparent_power_mva milli-VA; negative is charging on every capture.
type BatteryPower struct {
	SerialNum        Text `json:"serial_num"`
	RealPowerMW      Num  `json:"real_power_mw"`
	ApparentPowerMVA Num  `json:"apparent_power_mva"`
	SOC              Num  `json:"soc"`
}

// UnmarshalJSON reads "devices:" or, failing that, "devices".
func (p *EnsemblePower) UnmarshalJSON(b []byte) error {
	var raw struct {
		Colon []BatteryPower `json:"devices:"`
		Plain []BatteryPower `json:"devices"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	p.Devices = raw.Colon
	if len(p.Devices) == 0 {
		p.Devices = raw.Plain
	}
	return nil
}

// SecCtrl is /ivp/ensemble/secctrl, the batteries' aggregate. The gateway
// mixes capitalisations (Max_energy, Enc_max..., ENC_agg..., ACB_agg...).
// Systems without batteries answer with every value 0.
type SecCtrl struct {
	Shutdown                Flag `json:"shutdown"`
	ConfiguredBackupSOC     Num  `json:"configured_backup_soc"` // %
	AdjustedBackupSOC       Num  `json:"adjusted_backup_soc"`   // %
	AggSOC                  Num  `json:"agg_soc"`               // % of IQ Batteries and ACBs together
	MaxEnergy               Num  `json:"Max_energy"`            // Wh, IQ Batteries and ACBs together
	ENCAggSOC               Num  `json:"ENC_agg_soc"`           // % of IQ Batteries
	ENCAggSOH               Num  `json:"ENC_agg_soh"`           // %
	ENCAggBackupEnergy      Num  `json:"ENC_agg_backup_energy"` // Wh
	ENCAggAvailEnergy       Num  `json:"ENC_agg_avail_energy"`  // Wh
	EncCommissionedCapacity Num  `json:"Enc_commissioned_capacity"`
	EncMaxAvailableCapacity Num  `json:"Enc_max_available_capacity"` // Wh
	ACBAggSOC               Num  `json:"ACB_agg_soc"`                // %
	ACBAggEnergy            Num  `json:"ACB_agg_energy"`             // Wh
	VLSLimit                Num  `json:"VLS_Limit"`
}

// DryContacts is /ivp/ensemble/dry_contacts: the Enpower's relay contacts.
type DryContacts struct {
	DryContacts []DryContactStatus `json:"dry_contacts"`
}

// DryContactStatus is one contact's state.
type DryContactStatus struct {
	ID     Text `json:"id"`
	Status Text `json:"status"` // "open", "closed"
}

// DryContactSettings is /ivp/ss/dry_contact_settings.
type DryContactSettings struct {
	DryContacts []DryContactSetting `json:"dry_contacts"`
}

// DryContactSetting is one contact's configuration. Type is "LOAD", "PV",
// "NONE", "3RD-PV" or a newer value (case P15); keys come and go between
// firmware (black_s_start, case P14).
type DryContactSetting struct {
	ID                 Text `json:"id"`
	Type               Text `json:"type"`
	Mode               Text `json:"mode"` // "manual", "soc"
	LoadName           Text `json:"load_name"`
	GridAction         Text `json:"grid_action"`
	MicroGridAction    Text `json:"micro_grid_action"`
	GenAction          Text `json:"gen_action"`
	Override           Flag `json:"override"`
	ManualOverride     Flag `json:"manual_override"`
	SOCLow             Num  `json:"soc_low"`
	SOCHigh            Num  `json:"soc_high"`
	Priority           Num  `json:"priority"`
	BlackSStart        Num  `json:"black_s_start"`
	EssentialStartTime Num  `json:"essential_start_time"`
	EssentialEndTime   Num  `json:"essential_end_time"`
}

// Generator is /ivp/ensemble/generator. The gateway answers even where no
// generator is installed (admin_state "unknown", and present 1 on 7.x
// firmware): /ivp/ss/gen_config tells (GeneratorConfig.Configured).
type Generator struct {
	AdminState Text `json:"admin_state"` // "open", "close", "unknown", ...
	OperState  Text `json:"oper_state"`
	AdminMode  Text `json:"admin_mode"` // a number on every capture
	Schedule   Num  `json:"schedule"`
	StartSOC   Num  `json:"start_soc"`
	StopSOC    Num  `json:"stop_soc"` // -1: not set
	ExcOn      Num  `json:"exc_on"`
	Present    Num  `json:"present"`
	Type       Num  `json:"type"`
}

// GeneratorConfig is /ivp/ss/gen_config: {} where no generator is configured.
type GeneratorConfig map[string]json.RawMessage

// Configured reports whether a generator is configured.
func (c GeneratorConfig) Configured() bool { return len(c) > 0 }

// Tariff is /admin/lib/tariff. Only the battery settings are read; firmware
// 4.x/5.x has no storage_settings.
type Tariff struct {
	Tariff struct {
		Currency struct {
			Code Text `json:"code"`
		} `json:"currency"`
		StorageSettings *StorageSettings `json:"storage_settings"`
	} `json:"tariff"`
}

// StorageSettings is the battery's operating mode and reserve.
type StorageSettings struct {
	// Mode is "backup", "self-consumption", "economy" or "savings-mode"
	// (legacy name of economy); null on some systems (case P14).
	Mode                 Text      `json:"mode"`
	OperationModeSubType Text      `json:"operation_mode_sub_type"`
	ReservedSOC          Num       `json:"reserved_soc"` // %
	VeryLowSOC           Num       `json:"very_low_soc"` // %
	ChargeFromGrid       Flag      `json:"charge_from_grid"`
	Date                 TextEpoch `json:"date"` // epoch seconds as a string
	OptSchedules         Flag      `json:"opt_schedules"`
}
