package envoy

import (
	"encoding/json"
	"sort"
)

// PathGeneratorSchedule is the generator's exercise and run schedule: {}
// where no generator is configured, 404 before firmware 7.
const PathGeneratorSchedule = "/ivp/ss/gen_schedule"

// GeneratorSchedule is /ivp/ss/gen_schedule (capture
// 8.2.127_with_generator_running). Every key is optional.
type GeneratorSchedule struct {
	Exercise struct {
		FreqInWeeks Num  `json:"freq_in_weeks"`
		Start       Num  `json:"start"`    // the gateway's number: 750 on the one capture
		Duration    Num  `json:"duration"` // minutes
		Day         Text `json:"day"`      // "Sun"
	} `json:"exercise_config"`
	DefaultSOC struct {
		StartSOC Num `json:"start_soc"` // %
		StopSOC  Num `json:"stop_soc"`  // %
	} `json:"default_soc"`
	// Schedule holds the seasons of each named schedule ("default").
	Schedule      map[string][]GeneratorSeason `json:"schedule"`
	LastUpdatedBy Text                         `json:"last_updated_by"`
}

// GeneratorSeason is a date range ("1/1" to "12/31") of a schedule.
type GeneratorSeason struct {
	ID    Text           `json:"id"`
	Start Text           `json:"start"`
	End   Text           `json:"end"`
	Days  []GeneratorDay `json:"days"`
}

// GeneratorDay is a set of week days of a season.
type GeneratorDay struct {
	ID       Text              `json:"id"`
	WeekDays Text              `json:"week_days"` // "Mon,Tue,..."
	Periods  []GeneratorPeriod `json:"periods"`
}

// GeneratorPeriod is one period of a day: from Start for Duration minutes
// (0 and 1440 on the capture: the whole day), the generator runs between
// the two states of charge under Setting ("AON").
type GeneratorPeriod struct {
	ID       Text `json:"id"`
	Start    Num  `json:"start"`     // minutes after midnight
	Duration Num  `json:"duration"`  // minutes
	StartSOC Num  `json:"start_soc"` // %
	StopSOC  Num  `json:"stop_soc"`  // %, -1: not set
	Setting  Text `json:"setting"`
}

// Names are the schedule's names, sorted, for a stable output.
func (s GeneratorSchedule) Names() []string {
	out := make([]string, 0, len(s.Schedule))
	for k := range s.Schedule {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// GeneratorSettings are the keys of /ivp/ss/gen_config that describe the
// generator (capture 8.2.127_with_generator_running).
type GeneratorSettings struct {
	MaxContGenAmps       Num  `json:"max_cont_gen_amps"`       // A
	MinGenLoadingPerc    Num  `json:"min_gen_loading_perc"`    // %
	MaxGenEfficiencyPerc Num  `json:"max_gen_efficiency_perc"` // %
	NamePlateRating      Num  `json:"name_plate_rating_wat"`   // kW despite the name: 14.0 for a 14 kW model
	StartMethod          Text `json:"start_method"`
	WarmUpMins           Num  `json:"warm_up_mins"`
	CoolDownMins         Num  `json:"cool_down_mins"`
	GenType              Text `json:"gen_type"`
	Model                Text `json:"model"`
	Manufacturer         Text `json:"manufacturer"`
	LastUpdatedBy        Text `json:"last_updated_by"`
	ChargeFromGenerator  Flag `json:"charge_from_generator"`
}

// Settings reads the configuration's known keys; a key of an unexpected
// type is absent (the body itself was checked when decoded).
func (c GeneratorConfig) Settings() GeneratorSettings {
	var s GeneratorSettings
	b, err := json.Marshal(map[string]json.RawMessage(c))
	if err == nil {
		var tmp GeneratorSettings
		if json.Unmarshal(b, &tmp) == nil {
			s = tmp
		}
	}
	return s
}
