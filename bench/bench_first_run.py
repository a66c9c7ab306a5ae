"""What a newcomer feels: a fresh clone, `make install`, then the first `python -m backtest run`.

Clones this repository (its committed HEAD) into a temporary directory, runs `make install` there (a new
virtual environment, the package and its dependencies from the package index or pip's cache, and the
kernel warm-up that compiles into numba's cache), then times the first and a second
`python -m backtest run` (1000 ticks). For comparison it also times a first run with an empty numba cache
(what the first run cost before install compiled the kernels). Prints the figures; asserts nothing.

    python3 bench/bench_first_run.py        (or: make bench-first-run)
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd, cwd, env=None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="mmhedge-fresh-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        install = timed(["make", "install"], clone)
        py = str(clone / ".venv" / "bin" / "python")
        run = [py, "-m", "backtest", "run", "--json"]
        first = timed(run, clone)
        second = timed(run, clone)
        cold = timed(run, clone, env={"NUMBA_CACHE_DIR": str(Path(tmp) / "empty-numba-cache")})
        print(f"fresh clone: make install {install:.1f} s (venv, dependencies, kernel warm-up)")
        print(f"first `python -m backtest run` after install: {first:.2f} s")
        print(f"second run: {second:.2f} s")
        print(f"a first run with an empty numba cache (no warm-up): {cold:.2f} s "
              f"({cold / first:.1f}x the first run after install)")
        print(f"python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
