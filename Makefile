# telegraf-enphase: `make demo` shows the plugin on the built-in simulator,
# `make test` runs every test (set ENPHASE_FIXTURES to a folder of real
# captures to include the conformance test; it defaults to ../shared's),
# `make fuzz` runs each fuzz target for FUZZTIME.

GO            ?= go
BIN           := bin
FIXTURES      ?= $(abspath ../shared/pyenphase-fixtures)
DEMO_DIR      := $(BIN)/demo
# The Telegraf the end-to-end test runs: built from the module proxy with only
# the plugins it needs (about 30 s cold).
TELEGRAF_VERSION := v1.37.2
TELEGRAF_TAGS    := custom,inputs.execd,outputs.influxdb,outputs.file
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS       := -s -w -X github.com/telegraf-enphase/telegraf-enphase/internal/cli.Version=$(VERSION)
DIST_TARGETS  := linux/amd64 linux/arm64 linux/arm

# Every fuzz target, as package:Function, for `make fuzz`; a test
# (internal/fuzzseed) fails when a Fuzz function is missing from this list.
FUZZ_TARGETS := \
	./internal/envoy:FuzzParseInfo \
	./internal/envoy:FuzzParseVersion \
	./internal/envoy:FuzzParseURL \
	./internal/envoy:FuzzParseDigestChallenge \
	./internal/envoy:FuzzDecode \
	./internal/token:FuzzParse \
	./internal/enlighten:FuzzParseToken \
	./internal/enlighten:FuzzLoginReply \
	./internal/configfile:FuzzParse \
	./plugins/inputs/enphase:FuzzMetrics \
	./internal/envoysim:FuzzParseScenario
FUZZTIME      ?= 5s

.PHONY: all build test vet fuzz demo telegraf dist clean cross

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

# Telegraf's linter allows lines of 160 characters. LLL_SKIP: folders still
# being rewrapped (issue 11); empty it once they pass.
LLL_SKIP ?= ./plugins/inputs/enphase ./internal/envoy ./internal/cli ./internal/renew
vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal plugins bench)" || { gofmt -l cmd internal plugins bench; echo "gofmt needed"; exit 1; }
	@long=$$(find . -name '*.go' -not -path './.git/*' $(foreach d,$(LLL_SKIP),-not -path '$(d)/*') -print0 | \
		xargs -0 awk 'length($$0) > 160 { print FILENAME ":" FNR ": " length($$0) " characters" }'); \
		test -z "$$long" || { echo "$$long"; echo "lines over 160 characters"; exit 1; }

# The conformance corpus is used when it is there and skipped (with a
# message from the test) when it is not.
# The end-to-end test (internal/e2e) also needs Debian's influxdb package
# (influxd on PATH); without it, it skips unless E2E_REQUIRED=1.
# The soak (a simulated week against the fault scenario) is built without
# -race, which would make it take minutes: it runs in a second pass.
test: vet telegraf
	ENPHASE_FIXTURES="$$( [ -d "$(FIXTURES)" ] && echo "$(FIXTURES)" )" TELEGRAF_BIN="$(abspath $(BIN)/telegraf)" \
		$(GO) test -race -count=1 ./...
	$(GO) test -count=1 -run '^TestSoak$$' ./plugins/inputs/enphase

# Each fuzz target for FUZZTIME (go test takes one -fuzz target at a time),
# seeded from the captures (and the conformance corpus when it is there);
# stops at the first failure, whose input go writes under the package's
# testdata/fuzz/ for plain `go test` to replay once committed.
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		ENPHASE_FIXTURES="$$( [ -d "$(FIXTURES)" ] && echo "$(FIXTURES)" )" \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

telegraf: $(BIN)/telegraf
$(BIN)/telegraf:
	GOBIN="$(abspath $(BIN))" $(GO) install -trimpath -ldflags "-s -w" -tags $(TELEGRAF_TAGS) github.com/influxdata/telegraf/cmd/telegraf@$(TELEGRAF_VERSION)

# Static binaries for the machines users run Telegraf on (linux/arm is GOARM=6:
# every Raspberry Pi), with SHA-256 sums.
dist:
	@rm -rf dist && mkdir -p dist
	@set -e; for t in $(DIST_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; out=dist/telegraf-enphase-$(VERSION)-$$os-$$arch; \
		echo "building $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=6 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$out ./cmd/telegraf-enphase; \
	done
	cd dist && sha256sum telegraf-enphase-* > SHA256SUMS && cat SHA256SUMS

# The plugin builds and vets on the other systems Telegraf runs on (the
# token lock is flock on Unix, LockFileEx on Windows; bench/ is Linux-only).
CROSS_TARGETS := windows/amd64 darwin/arm64
cross:
	@set -e; for t in $(CROSS_TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; echo "build and vet for $$os/$$arch"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -o /dev/null ./cmd/telegraf-enphase; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) vet ./...; \
	done

# Start the simulator on its embedded demo gateway, read it once with `dump`,
# then run the plugin as Telegraf's execd would (two gathers asked on stdin).
demo: build
	@mkdir -p $(DEMO_DIR)
	@set -e; \
	$(BIN)/envoy-sim --live --listen 127.0.0.1:0 --token-out $(DEMO_DIR)/envoy.token > $(DEMO_DIR)/sim.url 2> $(DEMO_DIR)/sim.log & \
	sim=$$!; trap 'kill $$sim 2>/dev/null' EXIT; \
	for i in $$(seq 50); do [ -s $(DEMO_DIR)/sim.url ] && break; sleep 0.1; done; \
	url=$$(head -n1 $(DEMO_DIR)/sim.url); \
	printf '[[inputs.enphase]]\n  url = "%s"\n  token_file = "%s"\n  insecure_skip_verify = true\n' "$$url" "$(DEMO_DIR)/envoy.token" > $(DEMO_DIR)/enphase.conf; \
	echo "# simulator at $$url, config in $(DEMO_DIR)/enphase.conf"; \
	echo "# telegraf-enphase dump --config $(DEMO_DIR)/enphase.conf"; \
	$(BIN)/telegraf-enphase dump --config $(DEMO_DIR)/enphase.conf; \
	echo "# as Telegraf runs it: a line on stdin per gather, line protocol on stdout, logs on stderr"; \
	(echo; sleep 3; echo; sleep 3) | $(BIN)/telegraf-enphase --config $(DEMO_DIR)/enphase.conf | grep -c . | xargs -I{} echo "# {} lines of line protocol from 2 gathers"; \
	echo "# the simulator counted:"; curl -sk "$$url/__sim/stats" 2>/dev/null || true; echo

clean:
	rm -rf $(BIN) dist
