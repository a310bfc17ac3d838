# Set-up and checks. `make test` and `make demo` build everything they need from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv tools test lint typecheck unit interop interop-frameworks interop-mlserver interop-seldon demo bench bench-quick bench-serving fuzz clean

# Debian tools the tests and benchmarks drive: wrk (load generator), curl (the demo's examples), chromium
# (the dashboard's browser tests drive it with Playwright; Playwright's own browser download does not work here),
# redis-server (the shared-state tests start their own on a loopback port).
APT_GET := $(if $(filter 0,$(shell id -u)),apt-get,sudo apt-get)
TOOLS := /usr/bin/wrk /usr/bin/curl /usr/bin/chromium /usr/bin/redis-server

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

/usr/bin/wrk /usr/bin/curl /usr/bin/chromium /usr/bin/redis-server:
	$(APT_GET) install -y -q $(notdir $@) || ($(APT_GET) update -q && $(APT_GET) install -y -q $(notdir $@))

tools: $(TOOLS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples fuzz tools
	$(BIN)/ruff format --check src tests benchmarks examples fuzz tools
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(TOOLS)
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider --ignore=tests/interop

# Interoperability with the real implementations (docs/interop.md): each group runs in its own virtualenv,
# since kserve/mlflow/tritonclient, mlserver and seldon-core cannot share one.
FRAMEWORKS_STAMP := .venv-frameworks/.installed-stamp
MLSERVER_STAMP := .venv-mlserver/.installed-stamp
SELDON_STAMP := .venv-seldon/.installed-stamp
# tests/interop/conftest.py stands in for tests/conftest.py (which needs the main venv's packages).
INTEROP_PYTEST := -m pytest -p no:cacheprovider --confcutdir=tests/interop

$(FRAMEWORKS_STAMP): pyproject.toml setup.py Makefile
	test -x .venv-frameworks/bin/python || $(PYTHON) -m venv .venv-frameworks
	.venv-frameworks/bin/python -m pip install -q --upgrade pip
	.venv-frameworks/bin/python -m pip install -q 'kserve==0.21.*' 'tritonclient[http]' 'mlflow==3.17.*' \
	    'bentoml==1.4.*' 'ray[serve]==2.60.*' 'litserve==0.2.*' 'pytest>=8' 'httpx>=0.27' -e '.[serving,pandas,redis]'
	.venv-frameworks/bin/python -m pip check
	touch $@

$(MLSERVER_STAMP): pyproject.toml setup.py
	test -x .venv-mlserver/bin/python || $(PYTHON) -m venv .venv-mlserver
	.venv-mlserver/bin/python -m pip install -q --upgrade pip
	.venv-mlserver/bin/python -m pip install -q 'mlserver==1.7.1' 'pytest>=8' -e '.[serving,pandas]'
	.venv-mlserver/bin/python -m pip check
	touch $@

$(SELDON_STAMP): pyproject.toml setup.py
	test -x .venv-seldon/bin/python || $(PYTHON) -m venv .venv-seldon
	.venv-seldon/bin/python -m pip install -q --upgrade pip 'setuptools<81'
	.venv-seldon/bin/python -m pip install -q 'seldon-core==1.18.2' 'setuptools<81' 'numpy<2' 'protobuf<4' \
	    'pytest>=8' -e '.[pandas]'
	.venv-seldon/bin/python -m pip check
	touch $@

interop-frameworks: $(FRAMEWORKS_STAMP)
	.venv-frameworks/bin/python $(INTEROP_PYTEST) tests/interop/frameworks

interop-mlserver: $(MLSERVER_STAMP)
	.venv-mlserver/bin/python $(INTEROP_PYTEST) tests/interop/mlserver

# The seldon group's end-to-end test serves from .venv-frameworks (datason[serving] cannot join seldon-core's venv).
interop-seldon: $(SELDON_STAMP) $(FRAMEWORKS_STAMP)
	.venv-seldon/bin/python $(INTEROP_PYTEST) tests/interop/seldon

# Every group runs even when an earlier one fails; the target fails if any did.
interop: $(FRAMEWORKS_STAMP) $(MLSERVER_STAMP) $(SELDON_STAMP)
	status=0; \
	.venv-frameworks/bin/python $(INTEROP_PYTEST) tests/interop/frameworks || status=1; \
	.venv-mlserver/bin/python $(INTEROP_PYTEST) tests/interop/mlserver || status=1; \
	.venv-seldon/bin/python $(INTEROP_PYTEST) tests/interop/seldon || status=1; \
	exit $$status

test: lint typecheck unit interop

demo: $(STAMP)
	$(BIN)/python examples/demo.py --dashboard

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --output docs/benchmarks.md

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

bench-serving: $(STAMP) $(TOOLS)
	$(BIN)/python benchmarks/serving.py --output docs/benchmarks.md

# OIP codecs side by side (docs/benchmarks.md, protocols block): datason here, MLServer and kserve in their venvs.
.PHONY: bench-protocols
bench-protocols: $(STAMP) $(FRAMEWORKS_STAMP) $(MLSERVER_STAMP)
	$(BIN)/python benchmarks/protocols.py --output docs/benchmarks.md

# OIP request decoding vs orjson.loads + np.array, 82 B to 120 KB bodies (docs/benchmarks.md, oip_requests block).
.PHONY: bench-oip-requests
bench-oip-requests: $(STAMP)
	$(BIN)/python benchmarks/oip_requests.py --output docs/benchmarks.md

# Payload shapes vs orjson and msgspec, ratios per row (docs/benchmarks.md, shapes block).
.PHONY: bench-shapes
bench-shapes: $(STAMP)
	$(BIN)/python benchmarks/shapes.py --output docs/benchmarks.md

# --workers 1 vs 2 and rate limits in memory vs Redis (docs/benchmarks.md, workers block).
.PHONY: bench-workers
bench-workers: $(STAMP) $(TOOLS)
	flock /tmp/datason-bench.lock $(BIN)/python benchmarks/workers.py --output docs/benchmarks.md

# The long fuzz campaign (the short one runs inside `make test`); see fuzz/README.md.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	mkdir -p fuzz/corpus fuzz/findings
	$(BIN)/python fuzz/fuzz_loads.py -max_total_time=$(FUZZ_SECONDS) -timeout=60 -rss_limit_mb=4096 \
	    -print_final_stats=1 -dict=fuzz/datason.dict -findings_dir=fuzz/findings -artifact_prefix=fuzz/findings/ \
	    fuzz/corpus fuzz/seeds

clean:
	rm -rf $(VENV) .venv-frameworks .venv-mlserver .venv-seldon build src/*.egg-info src/datason/*.so
