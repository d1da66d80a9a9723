# agentd — build, test and measure. `make help` lists the targets.

SHELL     := /bin/bash
# Go's own install puts go in /usr/local/go/bin, which only login shells
# have on PATH; a go already on PATH comes first.
export PATH := $(PATH):/usr/local/go/bin
GO        ?= go
# runc_nocriu leaves libcontainer's checkpoint/restore (go-criu and its
# protobuf code) out: agentd offers neither, and every start of the binary
# (the CLI, `agentd init`) is ~1 ms faster without their package set-up.
TAGS      ?= seccomp urfave_cli_no_docs runc_nocriu
# The Go 1.26 "green tea" collector initialises mark bits at the end of every
# span, touching a second page per size class at start-up; agentd processes
# are mostly short-lived (the CLI, `agentd init`), and the classic collector
# starts 0.4 ms sooner (create+start+delete: 0.973 of runc instead of 0.999,
# 60 interleaved runs).
BUILD_EXPERIMENT ?= nogreenteagc
BIN       := bin/agentd
# Debian packages the build, the tests and the benchmarks need; `make deps`
# installs the missing ones (and only those).
DEB_BUILD := ca-certificates gcc libc6-dev libseccomp-dev pkg-config
# procps: `agentd ps` runs ps(1), as runc does; kmod: overlayfs may be a
# module that the first mount loads.
DEB_TEST  := busybox-static runc procps kmod
# The real OCI clients the integration tests drive agentd (and runc) with.
DEB_CLIENTS := containerd podman
DEB_BENCH := bubblewrap python3
GOFLAGS_TEST ?= -count=1

.PHONY: all build deps deps-build deps-test deps-bench test unit integration bench demo lint help clean

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

build: deps-build ## build bin/agentd (cgo, seccomp tag)
	CGO_ENABLED=1 GOEXPERIMENT=$(BUILD_EXPERIMENT) $(GO) build -buildvcs=false -tags '$(TAGS)' -trimpath -ldflags '-s -w' -o $(BIN) ./cmd/agentd

define apt_missing
	@missing=""; for p in $(1); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then echo "need root to install$$missing" >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
endef

deps-build:
	$(call apt_missing,$(DEB_BUILD))
deps-test:
	$(call apt_missing,$(DEB_TEST) $(DEB_CLIENTS))
deps-bench:
	$(call apt_missing,$(DEB_BENCH))

deps: deps-build deps-test deps-bench ## install the missing Debian packages of DEB_BUILD, DEB_TEST, DEB_CLIENTS and DEB_BENCH (see the Makefile)

test: deps-build deps-test build lint unit integration ## vet, unit tests, then root integration tests

unit: deps-build ## unit tests (no root needed)
	CGO_ENABLED=1 $(GO) test -tags '$(TAGS)' $(GOFLAGS_TEST) ./...

integration: deps-test build ## end-to-end tests through bin/agentd (root; installs the clients they drive)
	@mkdir -p .cache; if [ "$$(id -u)" != 0 ]; then echo "integration tests need root; skipped" >&2; exit 0; fi; \
	CGO_ENABLED=1 AGENTD_BIN=$(CURDIR)/$(BIN) $(GO) test -tags '$(TAGS) integration' $(GOFLAGS_TEST) -timeout 40m -v ./integration/ 2>&1 | tee .cache/integration.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|_test.go' ; exit $${PIPESTATUS[0]}

lint: deps-build ## go vet and gofmt
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	CGO_ENABLED=1 $(GO) vet -tags '$(TAGS)' ./...
	CGO_ENABLED=1 $(GO) vet -tags '$(TAGS) integration' ./integration/

bench: deps build ## benchmarks against the peers (runc, …); see docs/BENCHMARKS.md
	./scripts/bench.sh

demo: deps-build deps-test build ## the demo: a sandbox's life from create to destroy
	./scripts/demo.sh

clean: ## remove build outputs
	rm -rf bin .cache
