# telegraf-enphase: `make demo` shows the plugin on the built-in simulator,
# `make test` runs every test (set ENPHASE_FIXTURES to a folder of real
# captures to include the conformance test; it defaults to ../shared's),
# `make fuzz` runs each fuzz target for FUZZTIME; `make build && sudo make
# install` installs the plugin, `make deb` builds Debian packages.

GO            ?= go
BIN           := bin
FIXTURES      ?= $(abspath ../shared/pyenphase-fixtures)
DEMO_DIR      := $(BIN)/demo
# The Telegraf the end-to-end test runs: built from the module proxy with only
# the plugins it needs (about 30 s cold).
TELEGRAF_VERSION := v1.37.2
TELEGRAF_TAGS    := custom,inputs.execd,outputs.influxdb,outputs.file
# The release version is the VERSION file's (embedded in the binary too, so a
# plain go build reports it); the commit, "-dirty" when the tree has changes,
# is stamped here (a plain go build in a clone takes Go's own vcs stamp).
VERSION       := $(shell cat VERSION)
COMMIT        := $(shell git rev-parse --short HEAD 2>/dev/null)$(shell [ -n "$$(git status --porcelain 2>/dev/null)" ] && echo -dirty)
LDFLAGS       := -s -w -X github.com/telegraf-enphase/telegraf-enphase.commit=$(COMMIT)
DIST_TARGETS  := linux/amd64 linux/arm64 linux/arm
# Where `make install` puts the binary and Telegraf's files; DESTDIR stages
# them elsewhere (owners are then left to whoever installs the tree).
PREFIX        ?= /usr/local
BINDIR        ?= $(PREFIX)/bin
SYSCONFDIR    ?= /etc
PACKAGING     := cmd/telegraf-enphase/packaging
# Debian architectures for `make deb`: armhf is built GOARM=6, which runs on
# every Raspberry Pi (Raspberry Pi OS's armhf is ARMv6) as well as on
# Debian's ARMv7 armhf.
DEB_ARCHS     ?= amd64 arm64 armhf
DEB_MAINTAINER ?= $(shell git log -1 --format='%an <%ae>' 2>/dev/null || echo 'telegraf-enphase <root@localhost>')

# Every fuzz target, as package:Function, for `make fuzz`; a test
# (internal/fuzzseed) fails when a Fuzz function is missing from this list.
FUZZ_TARGETS := \
	./internal/envoy:FuzzParseInfo \
	./internal/envoy:FuzzParseVersion \
	./internal/envoy:FuzzParseURL \
	./internal/envoy:FuzzParseDigestChallenge \
	./internal/envoy:FuzzDecode \
	./internal/envoy:FuzzFastDecode \
	./internal/token:FuzzParse \
	./internal/enlighten:FuzzParseToken \
	./internal/enlighten:FuzzLoginReply \
	./internal/configfile:FuzzParse \
	./plugins/inputs/enphase:FuzzMetrics \
	./internal/envoysim:FuzzParseScenario
# Each target runs its seeds before it mutates any, and FUZZTIME counts them
# too: FUZZSEED_MAX caps the seeds each source gives (internal/fuzzseed), so
# that they take a few seconds and the rest is fuzzing. 11 targets at 12s,
# with the builds, take about 3 minutes on 2 cores.
# Go minimizes every new input it finds for up to a minute, fuzzing nothing
# meanwhile (a 12s run then showed 12 executions): 2s is enough here.
FUZZTIME      ?= 12s
FUZZSEED_MAX  ?= 3
FUZZMINIMIZETIME ?= 2s

.PHONY: all build test vet fuzz demo telegraf dist install deb clean cross

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

# Telegraf's linter allows lines of 160 characters. LLL_SKIP: folders to
# skip while they are being rewrapped (e.g. LLL_SKIP=./internal/foo).
LLL_SKIP ?=
vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal plugins bench *.go)" || { gofmt -l cmd internal plugins bench *.go; echo "gofmt needed"; exit 1; }
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
# seeded from the captures (and the conformance corpus when it is there),
# printing one line per target with its last status (executions, new
# inputs). It stops at the first failure, whose input go writes under the
# package's testdata/fuzz/ for plain `go test` to replay once committed, and
# fails a target that never got past its seeds (it fuzzed nothing).
# Go 1.26's fuzz coordinator can end a clean run with a bare "context deadline
# exceeded" at the FUZZTIME boundary (golang/go#75804, fixed in Go 1.27) and
# no failing input: that run counts as passed, and says so. Any other
# failure, or a new input written under testdata/fuzz/, still fails.
fuzz:
	@set -e; out=$$(mktemp); trap 'rm -f "$$out"' EXIT; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; corpus=$$pkg/testdata/fuzz/$$name; \
		before=$$(ls "$$corpus" 2>/dev/null | wc -l); \
		if ! ENPHASE_FIXTURES="$$( [ -d "$(FIXTURES)" ] && echo "$(FIXTURES)" )" FUZZSEED_MAX=$(FUZZSEED_MAX) \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg >"$$out" 2>&1; then \
			after=$$(ls "$$corpus" 2>/dev/null | wc -l); \
			if [ "$$after" = "$$before" ] && grep -A1 -- "^--- FAIL: $$name " "$$out" | tail -n1 | grep -qx '[[:space:]]*context deadline exceeded'; then \
				echo "fuzz $$name in $$pkg: stopped by Go's fuzztime race (golang/go#75804), no failing input"; \
			else cat "$$out"; echo "fuzz $$name in $$pkg: FAILED"; exit 1; fi; \
		fi; \
		last=$$(grep '^fuzz: elapsed' "$$out" | tail -n1 | sed -E \
			's/^fuzz: elapsed: ([^,]+), execs: ([0-9]+) \([0-9]+\/sec\), new interesting: ([0-9]+) \(total: ([0-9]+)\)$$/\2 execs in \1, \3 new inputs (corpus \4)/'); \
		echo "fuzz $$name in $$pkg: $$last"; \
		grep -q 'now fuzzing' "$$out" || { cat "$$out"; \
			echo "fuzz $$name never got past its seeds in $(FUZZTIME): raise FUZZTIME or lower FUZZSEED_MAX (or go clean -fuzzcache)"; exit 1; }; \
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

# The binary make build made (run it as yourself first: sudo may not find go),
# the execd block in telegraf.d and a commented gateway file, neither
# overwritten when it exists; then postinst gives the folder to the telegraf
# user when there is one, as the .deb does.
install:
	@test -x $(BIN)/telegraf-enphase || { echo "no $(BIN)/telegraf-enphase: run 'make build' first (as yourself), then 'sudo make install'"; exit 1; }
	@set -e; etc=$$(mktemp -d); trap 'rm -rf "$$etc"' EXIT; \
	sh $(PACKAGING)/etc-files "$$etc" "$(BINDIR)/telegraf-enphase" "$(SYSCONFDIR)" "$(VERSION)"; \
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(SYSCONFDIR)/telegraf/telegraf.d"; \
	install -d -m 0750 "$(DESTDIR)$(SYSCONFDIR)/telegraf/enphase"; \
	install -m 0755 $(BIN)/telegraf-enphase "$(DESTDIR)$(BINDIR)/telegraf-enphase"; \
	echo "installed $(DESTDIR)$(BINDIR)/telegraf-enphase"; \
	for f in telegraf.d/enphase.conf enphase/enphase.conf; do \
		dst="$(DESTDIR)$(SYSCONFDIR)/telegraf/$$f"; \
		if [ -e "$$dst" ]; then echo "kept $$dst (it exists)"; \
		else cp -p "$$etc/$$f" "$$dst"; echo "installed $$dst"; fi; \
	done; \
	if [ -z "$(DESTDIR)" ]; then TELEGRAF_ENPHASE_DIR="$(SYSCONFDIR)/telegraf/enphase" sh $(PACKAGING)/postinst configure; \
	else echo "DESTDIR is set: give $(SYSCONFDIR)/telegraf/enphase to the telegraf user (0750) where the tree lands"; fi

# A .deb per DEB_ARCHS in dist/: a static binary in /usr/bin, the same two
# files as make install as dpkg conffiles, and postinst/postrm doing what
# make install does (see $(PACKAGING)).
deb:
	@command -v dpkg-deb >/dev/null || { echo "make deb needs dpkg-deb (Debian's dpkg package)"; exit 1; }
	@mkdir -p dist
	@set -e; for arch in $(DEB_ARCHS); do \
		case $$arch in amd64) goarch=amd64;; arm64) goarch=arm64;; armhf) goarch=arm;; \
		*) echo "DEB_ARCHS: no Go architecture for $$arch"; exit 1;; esac; \
		root=$(BIN)/deb/$$arch; rm -rf $$root; mkdir -p $$root/DEBIAN $$root/usr/bin; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$goarch GOARM=6 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $$root/usr/bin/telegraf-enphase ./cmd/telegraf-enphase; \
		sh $(PACKAGING)/etc-files $$root/etc/telegraf /usr/bin/telegraf-enphase /etc "$(VERSION)"; \
		chmod 0755 $$root/etc/telegraf $$root/etc/telegraf/telegraf.d; chmod 0750 $$root/etc/telegraf/enphase; \
		for s in preinst postinst postrm; do install -m 0755 $(PACKAGING)/$$s $$root/DEBIAN/$$s; done; \
		printf '%s\n' /etc/telegraf/telegraf.d/enphase.conf /etc/telegraf/enphase/enphase.conf > $$root/DEBIAN/conffiles; \
		size=$$(du -sk --exclude=DEBIAN $$root | cut -f1); \
		sed -e "s|@VERSION@|$(VERSION)|" -e "s|@ARCH@|$$arch|" -e "s|@SIZE@|$$size|" -e "s|@MAINTAINER@|$(DEB_MAINTAINER)|" \
			$(PACKAGING)/control > $$root/DEBIAN/control; \
		chmod 0644 $$root/DEBIAN/control $$root/DEBIAN/conffiles; \
		SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
			dpkg-deb --root-owner-group -Zxz --build $$root dist/telegraf-enphase_$(VERSION)_$$arch.deb; \
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
