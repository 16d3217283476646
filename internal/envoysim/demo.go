package envoysim

import (
	"embed"
	"fmt"
	"io/fs"
)

// demo is a small capture served when Options.Captures is nil, so the
// simulator runs with no arguments.
//
//go:embed demo
var demo embed.FS

func demoFS() (fs.FS, error) {
	sub, err := fs.Sub(demo, "demo")
	if err != nil {
		return nil, fmt.Errorf("envoysim: embedded demo capture: %w", err)
	}
	return sub, nil
}
