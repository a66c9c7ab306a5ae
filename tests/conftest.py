import os
import shutil
import tempfile

import pytest

import backtest

# The import cache (backtest.markets.data.cache) of this test session: fresh, so that a change to the importer is
# always tested on a fresh import, and never the user's own. Subprocesses the tests start inherit it.
_SESSION_CACHE = None
if "MMHEDGE_TEST_KEEP_CACHE" not in os.environ:
    _SESSION_CACHE = tempfile.mkdtemp(prefix="mmhedge-test-cache-")
    os.environ["MMHEDGE_CACHE_DIR"] = _SESSION_CACHE


def pytest_unconfigure(config):
    if _SESSION_CACHE is not None:
        shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def default_run():
    """A 3000-tick default run shared by read-only tests."""
    return backtest.run(backtest.make_config(**{"sim.ticks": 3000}))
