# vidkit: two commands. `make lab` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0

.PHONY: lab test install lint unit notebooks browser bench clean

$(VPY):
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH (or: make PY=python3 ...)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

# Keep a torch that is already importable; otherwise install the pinned CPU wheel.
# Then pin whatever torch we have so no dependency can pull another (CUDA) build.
install: $(VPY)
	@if $(VPY) -c "import torch" 2>/dev/null; then \
		echo "keeping installed torch $$($(VPY) -c 'import torch; print(torch.__version__)')"; \
	else \
		$(VPY) -m pip install -q $(TORCH_PIN); \
	fi
	@$(VPY) -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-pin.txt
	$(VPY) -m pip install -q -c $(VENV)/torch-pin.txt -e '.[notebook,dev]'

# (--allow-root only when run as root, e.g. in a container: JupyterLab refuses root otherwise)
lab: install
	$(VENV)/bin/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

lint: install
	$(VENV)/bin/ruff check vidkit tests benchmarks notebooks tools

unit: install
	CI=true $(VPY) -m pytest -q tests

notebooks: install
	CI=true VIDKIT_PROFILE=smoke $(VPY) -m pytest -q --nbmake --nbmake-timeout=300 notebooks

# tests/test_browser.py alone: JupyterLab in headless Chromium (needs /usr/bin/chromium: apt-get install
# chromium; `make test` runs it too). Screenshot and server log go to test-artifacts/browser/.
browser: install
	@tools/install-chromium
	CI=true VIDKIT_PROFILE=smoke $(VPY) -m pytest -q -m browser tests

test: install
	@tools/install-chromium
	@start=$$(date +%s); \
	$(VENV)/bin/ruff check vidkit tests benchmarks notebooks tools && \
	CI=true VIDKIT_PROFILE=smoke $(VPY) -m pytest -q tests && \
	CI=true VIDKIT_PROFILE=smoke $(VPY) -m pytest -q --nbmake --nbmake-timeout=300 notebooks; \
	rc=$$?; echo "make test: $$(( $$(date +%s) - start ))s (after install)"; exit $$rc

bench: install
	$(VPY) benchmarks/bench_data.py

clean:
	rm -rf $(VENV) runs .pytest_cache test-artifacts
