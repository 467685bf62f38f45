# GLOBE: two commands do everything on a fresh machine.
#   make demo   runs the whole pipeline on the bundled sample (CPU, minutes)
#   make test   runs the test suite
#   make app    opens the browser app (globe-app) on a tiny model, or on GLOBE_MODEL / APP_URL
# All three start with `make setup`, which is idempotent: it creates .venv/ once and re-installs only
# when setup.py changes.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Installed first, so that nothing after it pulls a different (multi-GB) torch. GPU users keep their
# own torch: requirements_globe.txt pins none.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
STAMP := $(VENV)/.globe-setup-stamp
# img2dataset's version, read from setup.py (its one place)
IMG2DATASET := $(shell sed -n 's/^IMG2DATASET = "\(.*\)"/\1/p' setup.py)
PYTEST_ARGS ?=

.PHONY: setup test test-unit test-integration demo app bench lint clean

setup: $(STAMP)

$(STAMP): setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH_SPEC)
	$(PY) -c "import torch, torchvision; print(f'torch {torch.__version__}, torchvision {torchvision.__version__}')" \
	  | tee $(VENV)/torch-versions.txt
	@# pin the installed builds (public version: "==2.14.1" also matches the local "+cu130" build)
	$(PY) -c "import torch, torchvision; v = lambda m: m.__version__.split('+')[0]; print(f'torch=={v(torch)}\ntorchvision=={v(torchvision)}')" \
	  > $(VENV)/torch-pin.txt
	$(PIP) install --quiet -c $(VENV)/torch-pin.txt -e '.[all]'
	@# img2dataset pins pandas<3 (it reads only JSON lists with pandas): its other requirements come with
	@# the scale extra in '.[all]', the package itself without its pins (see setup.py)
	$(PIP) install --quiet -c $(VENV)/torch-pin.txt --no-deps '$(IMG2DATASET)'
	@$(PY) -c "import torch, torchvision; print(f'torch {torch.__version__}, torchvision {torchvision.__version__}')" \
	  | cmp -s - $(VENV)/torch-versions.txt || { echo "setup: torch was replaced during install" >&2; exit 1; }
	@touch $(STAMP)
	@echo "setup: $(VENV) ready ($$(cat $(VENV)/torch-versions.txt))"

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: setup
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

demo: setup
	$(PY) -m globe.demo

# make app: the page on http://127.0.0.1:$(APP_PORT)/. No server given: `swift deploy` of the tiny
# random model (CPU); GLOBE_MODEL=/path/to/checkpoint: serve_policy.sh on it; APP_URL=http://HOST:PORT/v1:
# an already running server. Ctrl-C stops the app and any server it started.
APP_PORT ?= 7860
APP_ARGS ?=
app: setup
	$(PY) -m globe.app $(if $(APP_URL),--url "$(APP_URL)",--serve "$${GLOBE_MODEL:-tiny}") --port $(APP_PORT) $(APP_ARGS)

# make bench                      every bench/*.py against its own in-run baseline
# make bench BASE=<git ref>       same-run A/B of this checkout against REF (a temporary worktree):
#                                 eval client, rewards, locatability, geo, leakage, eval report; exit 1 on a regression
# make bench BENCH=eval_client    one of them (with or without BASE); BENCH="geo leakage" for several
BASE ?=
BENCH ?=
BENCH_ARGS ?=
bench: setup
ifeq ($(BASE),)
	@for script in $(if $(BENCH),$(foreach b,$(BENCH),bench/$(b).py),bench/[!_]*.py); do \
	  echo "== $$script"; $(PY) $$script $(BENCH_ARGS) || exit 1; done
else
	$(PY) bench/_ab.py --base "$(BASE)" --only "$(BENCH)" -- $(BENCH_ARGS)
endif

lint: setup
	$(VENV)/bin/shellcheck examples/train/grpo/globe/*.sh .ci/run

clean:
	rm -rf $(VENV) demo_out .pytest_cache
