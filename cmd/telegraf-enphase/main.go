// Command telegraf-enphase is the Telegraf execd input for Enphase Envoy / IQ
// Gateways; see internal/cli for its commands.
package main

import (
	"os"

	"github.com/telegraf-enphase/telegraf-enphase/internal/cli"
)

func main() { os.Exit(cli.Run()) }
