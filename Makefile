# blobcache: every target installs what it needs on a fresh Debian machine (run as root).
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= release
# The Swift runtime linked in statically: the server maps only the runtime it uses, which keeps
# its idle RSS about 3 MiB lower than with the shared libraries.
STATIC := --static-swift-stdlib

# Debian packages each job needs; installed only when missing.
BUILD_PACKAGES := libssl-dev libzstd-dev pkg-config
TEST_PACKAGES := $(BUILD_PACKAGES) util-linux iproute2 openssl curl jq skopeo umoci containerd docker-registry procps dnsmasq-base
BENCH_PACKAGES := $(TEST_PACKAGES) coreutils bc nginx-light wrk gnuplot-nox

.PHONY: all build run test bench fuzz clean deps-build deps-test deps-bench

all: build

define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps-build:
	$(call install_missing,$(BUILD_PACKAGES))

deps-test:
	$(call install_missing,$(TEST_PACKAGES))

deps-bench:
	$(call install_missing,$(BENCH_PACKAGES))

build: deps-build
	$(SWIFT) build -c $(CONFIG) $(STATIC) --product blobcache

# Build and serve with the embedded defaults (127.0.0.1:5000, ./blobcache-data).
run: build
	./.build/$(CONFIG)/blobcache serve

# Unit and end-to-end tests. Debug build, so assertions and preconditions are live. Then a short
# pass of every fuzz target (about 3 minutes, builds included).
test: deps-test
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	Fuzz/run-all.sh $(FUZZ_SHORT_SECONDS)

# Side-by-side comparisons with the anchors; writes Benchmarks/RESULTS.md.
bench: deps-bench
	$(SWIFT) build -c release $(STATIC) --product blobcache-bench
	$(SWIFT) build -c release $(STATIC) --product blobcache
	Benchmarks/run.sh

# libFuzzer + AddressSanitizer on every parser of untrusted bytes (Fuzz/*/main.swift), FUZZ_SECONDS
# each; FUZZ_SECONDS=600 make fuzz for longer; Fuzz/build.sh TARGET SECONDS for one target.
# Needs lld, which the Swift toolchain ships.
FUZZ_SECONDS ?= 60
FUZZ_SHORT_SECONDS ?= 20
fuzz: deps-build
	Fuzz/run-all.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-fuzz
