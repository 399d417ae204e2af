# vidkit: two commands. `make lab` and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
VPY := $(VENV)/bin/python
TORCH_PIN := torch==2.13.0

.PHONY: lab test install git-filter lint unit notebooks browser bench clean

$(VPY):
	@command -v $(PY) >/dev/null || { echo "need $(PY) on PATH (or: make PY=python3 ...)"; exit 1; }
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip

# `make install` does the work once: the stamp file records that .venv holds this pyproject.toml's
# dependencies and TORCH_PIN (its name carries the pin), so `make lab` and `make test` skip pip until
# pyproject.toml or the pin changes. To force a reinstall: make -W pyproject.toml install.
STAMP := $(VENV)/.installed-$(subst ==,-,$(TORCH_PIN))
# JupyterLab settings for `make lab` (tools/jupyterlab-overrides.json: no news pop-up, no update check).
# overrides.d/ is JupyterLab's place for a package's defaults; a learner's own settings still win.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/vidkit.json
# The clean filter git runs on notebooks/*.ipynb (.gitattributes), from the top of the work tree: the
# venv's python, else python3 (tools/nbstrip.py needs only the standard library). `required`: git refuses
# to stage a notebook the filter could not clean, rather than commit its outputs. A required filter also
# needs a smudge command (checkout, stash, worktrees): `cat`, the notebook as committed.
NBSTRIP := if [ -x $(VENV)/bin/python ]; then exec $(VENV)/bin/python tools/nbstrip.py; \
	elif command -v python3 >/dev/null; then exec python3 tools/nbstrip.py; \
	else echo "git filter nbstrip: neither $(VENV)/bin/python nor python3 found: run make install" >&2; exit 1; fi

install: $(STAMP) $(LAB_OVERRIDES) git-filter

# Keep a torch that is already importable; otherwise install the pinned CPU wheel.
# Then pin whatever torch we have so no dependency can pull another (CUDA) build. The pin is read from
# the package metadata: importing torch before numpy is installed prints "Failed to initialize NumPy".
$(STAMP): pyproject.toml | $(VPY)
	@if $(VPY) -c "import torch" 2>/dev/null; then \
		echo "keeping installed torch $$($(VPY) -c "import importlib.metadata as m; print(m.version('torch'))")"; \
	else \
		$(VPY) -m pip install -q $(TORCH_PIN); \
	fi
	@$(VPY) -c "import importlib.metadata as m; print('torch==' + m.version('torch'))" > $(VENV)/torch-pin.txt
	$(VPY) -m pip install -q -c $(VENV)/torch-pin.txt -e '.[notebook,dev]'
	@rm -f $(VENV)/.installed-* && touch $@

$(LAB_OVERRIDES): tools/jupyterlab-overrides.json | $(VPY)
	@mkdir -p $(@D) && cp tools/jupyterlab-overrides.json $@

# Register the notebook filter in this clone's .git/config (only when it is not already there, and only
# in a git checkout: a downloaded archive has no .git).
git-filter:
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
		[ "$$(git config filter.nbstrip.clean)" = '$(NBSTRIP)' ] || git config filter.nbstrip.clean '$(NBSTRIP)'; \
		[ "$$(git config filter.nbstrip.required)" = true ] || git config filter.nbstrip.required true; \
		[ "$$(git config filter.nbstrip.smudge)" = cat ] || git config filter.nbstrip.smudge cat; \
	fi

# (--allow-root only when run as root, e.g. in a container: JupyterLab refuses root otherwise)
lab: install
	$(VENV)/bin/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

lint: install
	$(VENV)/bin/ruff check vidkit tests benchmarks notebooks tools

unit: install
	VIDKIT_PROFILE=smoke $(VPY) -m pytest -q -rs tests

notebooks: install
	CI=true VIDKIT_PROFILE=smoke $(VPY) -m pytest -q --nbmake --nbmake-timeout=300 notebooks

# tests/test_browser.py alone: JupyterLab in headless Chromium (tools/find-chromium says which; `make test`
# runs it too, and skips or fails it the same way). Screenshot and server log go to test-artifacts/browser/.
browser: install
	@tools/install-chromium
	VIDKIT_PROFILE=smoke $(VPY) -m pytest -q -rs -m browser tests

# Without a Chromium that can be installed here, the browser test is skipped (the reason is shown: -rs),
# except under CI=true (.ci/run), where tools/install-chromium and the test fail instead.
test: install
	@tools/install-chromium
	@start=$$(date +%s); \
	$(VENV)/bin/ruff check vidkit tests benchmarks notebooks tools && \
	VIDKIT_PROFILE=smoke $(VPY) -m pytest -q -rs tests && \
	CI=true VIDKIT_PROFILE=smoke $(VPY) -m pytest -q --nbmake --nbmake-timeout=300 notebooks; \
	rc=$$?; echo "make test: $$(( $$(date +%s) - start ))s (after install)"; exit $$rc

bench: install
	$(VPY) benchmarks/bench_data.py

clean:
	rm -rf $(VENV) runs .pytest_cache test-artifacts
