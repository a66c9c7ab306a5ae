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

studies: install
	$(PY) -m backtest sweep --study hedge_latency --quiet --out reports/figures/hedge_latency
	$(PY) -m backtest sweep --study spread_vs_volatility --quiet --out reports/figures/spread_vs_volatility

# JupyterLab on notebooks/ (installed into .venv on first use: the optional extra `notebook`); as root (a
# container) Jupyter asks for --allow-root
notebook: install
	$(PY) -c "import jupyterlab" 2>/dev/null || $(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,notebook]'
	$(PY) -m jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
