package capture

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Write stores one endpoint's body and its <name>_log.json in dir, the layout
// the simulator replays, so a user's capture can reproduce their gateway.
func Write(dir, name string, body []byte, log Log) error {
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
		return fmt.Errorf("writing capture %s: %w", name, err)
	}
	meta, err := json.MarshalIndent(log, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s%s: %w", name, LogSuffix, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+LogSuffix), append(meta, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing capture %s%s: %w", name, LogSuffix, err)
	}
	return nil
}
