# `make run` and `make test` do all set-up themselves: a virtual environment in .venv,
# the package installed in editable mode with its test extras.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install run test test-all bench bench-api bench-first-run report studies replay-study instruments-study notebook clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	# compile the kernels now, so that the first run after install starts in about a second
	$(PY) -m backtest warmup
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m uvicorn --factory api.app:create_app --http api.protocol:HttpProtocol --host $(HOST) --port $(PORT)

test: install
	$(PY) -m pytest

test-all: install
	$(PY) -m pytest -m ''

bench: install
	$(PY) bench/bench_kernel.py

bench-api: install
	$(PY) bench/bench_api.py

bench-first-run:
	$(PYTHON) bench/bench_first_run.py

# The README's observations come from these two targets (committed under reports/figures/).
report: install
	$(PY) -m backtest run --ticks 20000 --seed 7 --report reports/output/default_run
	cp reports/output/default_run/*.png reports/figures/default_run/

replay-study: install
	$(PY) -m backtest replay-study --out reports/figures/replay

instruments-study: install
	$(PY) -m backtest instruments-study --out reports/figures/instruments

# The sweeps write everything (journal, Parquet, meta.json) under reports/output/; the tables and charts the
# README quotes are copied into reports/figures/, so a re-run changes the tree only where a result changed.
studies: install
	for study in hedge_latency spread_vs_volatility; do \
	  rm -rf reports/output/$$study && \
	  $(PY) -m backtest sweep --study $$study --quiet --out reports/output/$$study && \
	  mkdir -p reports/figures/$$study && \
	  cp reports/output/$$study/runs.csv reports/output/$$study/table.csv reports/output/$$study/*.png \
	     reports/figures/$$study/ || exit 1; \
	done

# JupyterLab on notebooks/ (installed into .venv on first use: the optional extra `notebook`); as root (a
# container) Jupyter asks for --allow-root
notebook: install
	$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,notebook]'
	$(PY) -m jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
