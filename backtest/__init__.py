"""Two-venue market-making and hedging simulator.

>>> import backtest
>>> results = backtest.run(backtest.SimConfig())
>>> results.summary
"""
from backtest.config import ConfigError, SimConfig, load_config, make_config, preset
from backtest.engine import run
from backtest.research.experiment import load

__all__ = ["ConfigError", "SimConfig", "load", "load_config", "make_config", "preset", "run"]
