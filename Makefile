# `make demo` and `make test` each create .venv, install the pinned requirements,
# build and install nnpkit, then run. Safe to repeat: steps already done are skipped
# and the C++ build is incremental (build/).
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
DEPS_STAMP := $(VENV)/.requirements-installed
SOURCES := $(shell find csrc python lammps_plugin openmm_plugin -type f -not -path '*/__pycache__/*' 2>/dev/null) \
	CMakeLists.txt pyproject.toml
INSTALL_STAMP := $(VENV)/.nnpkit-installed

.PHONY: all install test demo bench clean opencl-runtime

all: install

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

$(DEPS_STAMP): requirements.txt | $(VPY)
	$(VPY) -m pip install -q torch==2.13.0
	$(VPY) -m pip install -q -r requirements.txt
	touch $@

$(INSTALL_STAMP): $(DEPS_STAMP) $(SOURCES)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VPY) -m pip install -q --no-build-isolation --no-deps .
	touch $@

install: $(INSTALL_STAMP)

# pocl, a CPU OpenCL runtime, so that OpenMM's OpenCL platform exists for the NNPForce
# tests (installed with apt-get where run as root; otherwise those tests skip and say why).
opencl-runtime:
	bash .ci/install-opencl

test: install opencl-runtime
	cd tests && ../$(VPY) -m pytest -q -rs .

demo: install
	$(VPY) examples/demo.py
	$(VPY) examples/openmm/demo.py
	cd examples/lammps/copper && OMP_NUM_THREADS=1 $(CURDIR)/$(VENV)/bin/mpirun -np 2 $(CURDIR)/$(VENV)/bin/lmp -in in.copper -log none -nocite

bench: install
	$(VPY) bench/bench_core.py

clean:
	rm -rf build $(VENV)
