package enphase

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telegraf-enphase/telegraf-enphase/internal/configfile"
)

// TestSampleConfigIsReal: every option documented in sample.conf, commented
// or not, is a key the strict loader accepts, and the documented defaults are
// the code's defaults.
func TestSampleConfigIsReal(t *testing.T) {
	b, err := os.ReadFile("sample.conf")
	require.NoError(t, err)
	// Uncomment "  # key = value" option lines (not "##" prose).
	opt := regexp.MustCompile(`(?m)^  # ([a-z_]+ = .*)$`)
	conf := opt.ReplaceAllString(string(b), "  $1")
	tables, err := configfile.Parse("sample.conf", []byte(conf), "enphase", New)
	require.NoError(t, err)
	require.Len(t, tables, 1)
	got, def := tables[0].Value, New()
	require.Equal(t, def.Timeout, got.Timeout)
	require.Equal(t, def.GatherTimeout, got.GatherTimeout)
	require.Equal(t, def.InvertersInterval, got.InvertersInterval)
	require.Equal(t, def.EnsembleInterval, got.EnsembleInterval)
	require.Equal(t, def.TariffInterval, got.TariffInterval)
	require.Equal(t, def.RenewOwnerBefore, got.RenewOwnerBefore)
	require.Equal(t, def.RenewInstallerBefore, got.RenewInstallerBefore)
	require.Equal(t, def.EnlightenURL, got.EnlightenURL)
	require.Equal(t, def.EntrezURL, got.EntrezURL)
	require.Equal(t, def.InfoInterval, got.InfoInterval)
	require.Equal(t, def.ReprobeInterval, got.ReprobeInterval)
}

// TestReadmeShowsSampleConfig keeps the README's configuration block equal to
// sample.conf (what readme_config_includer would generate).
func TestReadmeShowsSampleConfig(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	sample, err := os.ReadFile("sample.conf")
	require.NoError(t, err)
	require.Contains(t, string(readme), "```toml @sample.conf\n"+string(sample)+"```")
}

// TestReadmeDocumentsEveryField: each measurement and field the golden files
// hold is named in the README's Metrics section.
func TestReadmeDocumentsEveryField(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	doc := string(readme)
	goldens, err := filepath.Glob(filepath.Join(testcasesDir, "*", "expected.out"))
	require.NoError(t, err)
	require.NotEmpty(t, goldens)
	for _, g := range goldens {
		for _, m := range parseLines(t, g) {
			require.Contains(t, doc, "- "+m.Name()+":", "measurement %s", m.Name())
			for _, tg := range m.TagList() {
				require.Contains(t, doc, tg.Key, "tag %s", tg.Key)
			}
			for _, f := range m.FieldList() {
				require.Regexp(t, `\b`+f.Key+`\b`, doc, "field %s.%s", m.Name(), f.Key)
			}
		}
	}
}
