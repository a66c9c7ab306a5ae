import pytest

import backtest


@pytest.fixture(scope="session")
def default_run():
    """A 3000-tick default run shared by read-only tests."""
    return backtest.run(backtest.make_config(**{"sim.ticks": 3000}))
