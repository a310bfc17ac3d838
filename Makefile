# Set-up and checks. `make test` and `make demo` build everything they need from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv tools test lint typecheck unit demo bench bench-quick bench-serving fuzz clean

# Debian tools the tests and benchmarks drive: wrk (load generator), curl (the demo's examples).
APT_GET := $(if $(filter 0,$(shell id -u)),apt-get,sudo apt-get)
TOOLS := /usr/bin/wrk /usr/bin/curl

$(STAMP): pyproject.toml setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

/usr/bin/wrk /usr/bin/curl:
	$(APT_GET) install -y -q $(notdir $@) || ($(APT_GET) update -q && $(APT_GET) install -y -q $(notdir $@))

tools: $(TOOLS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples fuzz
	$(BIN)/ruff format --check src tests benchmarks examples fuzz

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(TOOLS)
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

test: lint typecheck unit

demo: $(STAMP)
	$(BIN)/python examples/demo.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --output docs/benchmarks.md

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --quick

bench-serving: $(STAMP) $(TOOLS)
	$(BIN)/python benchmarks/serving.py --output docs/benchmarks.md

# The long fuzz campaign (the short one runs inside `make test`); see fuzz/README.md.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	mkdir -p fuzz/corpus fuzz/findings
	$(BIN)/python fuzz/fuzz_loads.py -max_total_time=$(FUZZ_SECONDS) -timeout=60 -rss_limit_mb=4096 \
	    -print_final_stats=1 -dict=fuzz/datason.dict -findings_dir=fuzz/findings -artifact_prefix=fuzz/findings/ \
	    fuzz/corpus fuzz/seeds

clean:
	rm -rf $(VENV) build src/*.egg-info src/datason/*.so
