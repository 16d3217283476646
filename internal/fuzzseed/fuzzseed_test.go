package fuzzseed

import "testing"

// TestSeeds checks that the captures the fuzz targets start from are found.
func TestSeeds(t *testing.T) {
	t.Setenv(FixturesEnv, "")
	if len(CaptureDirs(t)) < 5 {
		t.Fatalf("only %d capture folders found", len(CaptureDirs(t)))
	}
	for _, name := range []string{"info", "production.json_details_1", "ivp_meters_readings", "ivp_ensemble_inventory"} {
		if len(Bodies(t, name)) == 0 {
			t.Errorf("no capture of %s", name)
		}
	}
	if len(Endpoints(t, "/ivp/ensemble/inventory")) == 0 {
		t.Error("no scenario file gives /ivp/ensemble/inventory")
	}
}
