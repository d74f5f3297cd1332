# Protrude build. `make run` and `make test` install what they need on a fresh
# Debian or Ubuntu machine: apt packages, the ONNX Runtime library, Go modules and
# Debian's PyTorch.

SHELL := /bin/bash
GO ?= go
PYTHON := /usr/bin/python3

ORT_VERSION := 1.24.1
ORT_DIR := third_party/onnxruntime-$(ORT_VERSION)
ORT_LIB := $(CURDIR)/$(ORT_DIR)/libonnxruntime.so.1
export PROTRUDE_ORT_LIB ?= $(ORT_LIB)

# patchelf sets the RUNPATH of the libraries that make dist bundles.
# The DICOM codecs link OpenJPEG, CharLS and DCMTK, whose C++ API needs g++. The
# dcmtk and libgdcm-tools commands are the codec tests' independent decoders. xdotool
# drives the viewer in scripts/crashtest.sh.
APT_PACKAGES := gcc pkg-config libgl1-mesa-dev xorg-dev xvfb xauth imagemagick \
	python3-torch python3-nibabel python3-numpy python3-scipy python3-pytest python3-onnx python3-pydicom \
	dcm2niix dicom3tools \
	g++ libopenjp2-7-dev libcharls-dev libdcmtk-dev dcmtk libgdcm-tools \
	patchelf xdotool
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

BIN := bin/protrude

.PHONY: run test build dist deps apt ort gomod bench bench-convert fuzz models results clean crashtest

run: deps build
	./$(BIN)

build: gomod
	$(GO) build -o $(BIN) ./app

# Packs dist/protrude-VERSION-linux-x86_64.tar.gz, which runs unpacked anywhere without
# root or network: the binary, ONNX Runtime and the codec libraries in lib/.
VERSION ?= $(shell sed -n 's/^Version *= *"\(.*\)"/\1/p' FyneApp.toml)
dist: deps
	GO=$(GO) scripts/dist.sh $(VERSION) $(ORT_LIB)

deps: apt ort gomod

# Installs the apt packages that are missing, and nothing when all are present. npm
# is installed from apt only when no npm is on PATH, because Node.js often comes from
# elsewhere and Debian's npm package conflicts with it.
apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "Installing missing packages:" $$missing; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The CPU build of ONNX Runtime, taken from the npm package onnxruntime-node.
ort: $(ORT_LIB)

$(ORT_LIB):
	@mkdir -p $(ORT_DIR)/npm
	cd $(ORT_DIR)/npm && npm pack --silent onnxruntime-node@$(ORT_VERSION) >/dev/null
	tar -xzf $(ORT_DIR)/npm/onnxruntime-node-$(ORT_VERSION).tgz -C $(ORT_DIR)/npm package/bin/napi-v6/linux/x64/libonnxruntime.so.1
	mv $(ORT_DIR)/npm/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 $(ORT_LIB)
	rm -rf $(ORT_DIR)/npm

gomod:
	$(GO) mod download

test: deps
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...
	cd training && $(PYTHON) -m pytest -q tests

# Measures the embedded bundle on the phantom and KiTS19 test sets and the real scan,
# through the protrude binary, and writes docs/results.md (about 30 minutes on 2 cores).
results: deps build
	PYTHONPATH=training $(PYTHON) -m protrude_train.results --protrude $(BIN) --out build/results --doc docs/results.md

# Trains a bundle. Without DATA: the phantom recipe. With DATA=/path/to/kits19 (the
# KiTS19 layout case_XXXXX/{imaging,segmentation}.nii.gz plus phases.csv): real CT.
PRESET ?= cpu
SEED ?= 0
models:
	PYTHONPATH=training $(PYTHON) -m protrude_train.train --preset $(PRESET) --seed $(SEED) \
		--out training/runs/$(PRESET)-seed$(SEED)$(if $(DATA),-kits19ct) $(if $(DATA),--ct-data $(DATA))

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Kills the viewer with SIGKILL in the middle of editing under Xvfb, restarts it and
# checks that the recovered tumor mask equals the one painted before the kill.
crashtest: deps build
	scripts/crashtest.sh

# Runs every Go fuzz target for FUZZTIME each (a go test -fuzztime value: 60s, 5m or
# 10000x). A failing input is saved under the package's testdata/fuzz folder.
FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 5s
fuzz: deps
	FUZZTIME=$(FUZZTIME) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) GO=$(GO) scripts/fuzz.sh

# Times "protrude convert" against dcm2niix on a generated 512×512×300 int16 CT
# series; BENCH_SLICES sets the slice count.
BENCH_SLICES ?= 300
bench-convert: deps build
	$(GO) run ./scripts/benchconvert -protrude $(BIN) -slices $(BENCH_SLICES)

clean:
	rm -rf bin out dist build
