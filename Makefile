# `make demo` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1

SHARED ?= ../shared/conformance/taubench
TAU2 ?= ../shared/conformance/tau2

.PHONY: demo test conformance bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch first: an unpinned torch would pull a CUDA build of several GB.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[train,ray,data,synth,mcp,rl,export,dev]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m envscale.demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/envscale fmt --check specs
	$(PY) -m pytest
	@if [ -d $(SHARED) ]; then $(MAKE) --no-print-directory conformance; fi

# tau-bench's visible case files replayed on the shipped retail and airline specs, and
# tau2-bench's visible and sealed ones on their tau2 versions and the telecom spec (when
# ../shared has them).
conformance: $(VENV)/.installed
	$(VENV)/bin/envscale conformance taubench --domain retail --data $(SHARED)/retail \
		--cases $(SHARED)/retail/tasks.train.jsonl $(SHARED)/retail/tasks.dev.jsonl $(SHARED)/retail/probes.jsonl
	$(VENV)/bin/envscale conformance taubench --domain airline --data $(SHARED)/airline \
		--cases $(SHARED)/airline/tasks.jsonl $(SHARED)/airline/probes.jsonl
	@if [ -d $(TAU2) ]; then \
		$(VENV)/bin/envscale conformance tau2 --domain retail --data $(TAU2)/retail \
			--cases $(TAU2)/retail/tasks.jsonl $(TAU2)/retail/probes.jsonl $(TAU2)/sealed/retail.sealed.jsonl && \
		$(VENV)/bin/envscale conformance tau2 --domain airline --data $(TAU2)/airline \
			--cases $(TAU2)/airline/tasks.jsonl $(TAU2)/airline/probes.jsonl $(TAU2)/sealed/airline.sealed.jsonl && \
		$(VENV)/bin/envscale conformance tau2 --domain telecom --data $(TAU2)/telecom \
			--cases $(TAU2)/telecom/tasks.jsonl $(TAU2)/telecom/probes.jsonl $(TAU2)/sealed/telecom.sealed.jsonl; \
	fi

bench: $(VENV)/.installed
	$(PY) benchmarks/runtime.py
	$(PY) benchmarks/taubench_replay.py
	$(PY) benchmarks/tau2_replay.py

clean:
	rm -rf build .pytest_cache .ruff_cache
