# telegraf-enphase: `make demo` shows the plugin on the built-in simulator,
# `make test` runs every test (set ENPHASE_FIXTURES to a folder of real
# captures to include the conformance test; it defaults to ../shared's).

GO            ?= go
BIN           := bin
FIXTURES      ?= $(abspath ../shared/pyenphase-fixtures)
DEMO_DIR      := $(BIN)/demo

.PHONY: all build test vet demo clean

all: build

build:
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal plugins)" || { gofmt -l cmd internal plugins; echo "gofmt needed"; exit 1; }

# The conformance corpus is used when it is there and skipped (with a
# message from the test) when it is not.
test: vet
	ENPHASE_FIXTURES="$$( [ -d "$(FIXTURES)" ] && echo "$(FIXTURES)" )" $(GO) test -race -count=1 ./...

# Start the simulator on its embedded demo gateway, read it once with `dump`,
# then run the plugin as Telegraf's execd would (two gathers asked on stdin).
demo: build
	@mkdir -p $(DEMO_DIR)
	@set -e; \
	$(BIN)/envoy-sim --listen 127.0.0.1:0 --token-out $(DEMO_DIR)/envoy.token > $(DEMO_DIR)/sim.url 2> $(DEMO_DIR)/sim.log & \
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
	rm -rf $(BIN)
