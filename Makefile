# The two set-up commands of the README:
#   make run   installs what is missing, then runs the main job (sim backend)
#   make test  installs what is missing, then runs the tests
# Both work on a fresh Debian 12 machine; apt needs root (or sudo).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Every Python package make installs, at its exact version (the project's
# dependencies, all they pull in, the build tools): installed as constraints,
# then checked. Refresh it deliberately with `invoke lock`.
LOCK   := requirements.lock
BUILD_TOOLS := pip setuptools wheel cffi
# System packages: C toolchain and headers for the cffi builds, libpcap /
# libbpf / libxdp for the real backend, clang for its XDP program, iproute2
# and ethtool for testbeds, openssh-server for the Fabric tests, tcpdump as
# the reference capture tool; libndpi-bin (ndpiReader, nDPI 4.2) and tshark,
# real libpcap programs run unmodified on WireCAP's libpcap ABI (tshark with
# --no-install-recommends: 18 packages, 21.5 MB, ~6 s measured).
APT_PACKAGES := build-essential python3-dev python3-venv pkg-config \
	libpcap-dev libbpf-dev libxdp-dev clang llvm \
	iproute2 ethtool tcpdump openssh-server libndpi-bin tshark
STAMP  := $(VENV)/.installed
C_SOURCES := $(wildcard driver/csrc/*.[ch] driver/csrc/*/*.[ch] engine/csrc/*.[ch] engine/csrc/*/*.[ch] traces/csrc/*.[ch] engine/build_*.py driver/build_*.py traces/build_*.py)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test setup sysdeps build clean-build

run: setup
	$(BIN)/invoke run-experiment --name all --jobs $$(nproc)
	$(BIN)/invoke report

test: setup
	$(BIN)/python -m pytest

setup: sysdeps $(STAMP) build

# Install only what dpkg does not already list as installed.
sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The pinned build tools first, then the project without build isolation, so
# that its build uses them too (an isolated build would fetch the newest);
# then fail unless the venv holds exactly the lock's versions.
$(STAMP): pyproject.toml setup.py $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c $(LOCK) $(BUILD_TOOLS)
	$(BIN)/python -m pip install -q -c $(LOCK) --no-build-isolation -e '.[dev]'
	$(BIN)/python -m pip check
	$(BIN)/python -m experiments.lockfile check --lock $(LOCK)
	touch $@

# Recompile the C parts in place when a C source or build script changes.
build: $(VENV)/.built
$(VENV)/.built: $(C_SOURCES) $(STAMP)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

# The extensions setup.py builds, and engine._wirecap of the older layout.
clean-build:
	rm -rf build *.egg-info engine/_core*.so engine/_live*.so engine/_wirecap*.so engine/_wirecap.c \
		driver/_sim*.so driver/_xdp*.so traces/_pcapscan*.so
