"""Outputs committed to the repository are what the code produces now: the API examples the README links to,
and the shipped studies' tables (the README's observations quote them). A change that alters them must
regenerate them (`python -m api.examples > api/EXAMPLES.md`, `make studies`)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtest.research.studies import STUDIES, study
from backtest.research.sweep import run_sweep

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("curl") is None, reason="api.examples calls the server with curl")
def test_the_api_examples_are_what_a_server_answers_now():
    fresh = subprocess.run([sys.executable, "-m", "api.examples"], capture_output=True, text=True, timeout=300,
                           cwd=ROOT, check=True).stdout
    committed = (ROOT / "api" / "EXAMPLES.md").read_text()
    assert fresh == committed, "api/EXAMPLES.md is stale: python -m api.examples > api/EXAMPLES.md"


@pytest.mark.parametrize("name", STUDIES)
def test_the_shipped_study_tables_are_what_the_studies_give_now(name):
    fresh = run_sweep(study(name), workers=2).table
    committed = pd.read_csv(ROOT / "reports" / "figures" / name / "table.csv")
    pd.testing.assert_frame_equal(fresh.reset_index(drop=True), committed, check_dtype=False, rtol=1e-9,
                                  obj=f"reports/figures/{name}/table.csv (stale: make studies)")
