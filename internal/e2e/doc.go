// Package e2e holds the end-to-end test: the real Telegraf runs the real
// telegraf-enphase binary through [[inputs.execd]] against the simulated
// gateway and cloud, and writes into a real InfluxDB, which is then asked
// what it holds, including every query of the Grafana dashboard.
package e2e
