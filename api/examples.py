"""Print every endpoint's curl example with the output a real server gave, as Markdown.

``python -m api.examples > api/EXAMPLES.md`` starts the server as ``make run`` does (on a
free port, a 20 000-tick session, seed 7), stops its clock, steps it to tick 500 so the output is
reproducible, then calls each endpoint with curl and records what came back (long JSON is shortened).
"""
from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

from api.protocol import UVICORN_ARGS

ROOT = Path(__file__).resolve().parent.parent

EXAMPLES = [
    ("Health", "GET", "/health", None),
    ("Run summary (whole run, all metrics)", "GET", "/summary", None),
    ("Current quotes on Exchange 1 and both books' tops", "GET", "/quotes", None),
    ("Positions per venue, net delta, limits", "GET", "/positions", None),
    ("PnL and its attribution at the clock", "GET", "/pnl", None),
    ("PnL series as JSON", "GET", "/pnl/series?start=498&end=500", None),
    ("PnL series as CSV", "GET", "/pnl/series?start=499&end=500&format=csv", None),
    ("Fills (paginated)", "GET", "/fills?offset=0&limit=1", None),
    ("Hedges with fill-to-hedge latency and slippage (paginated)", "GET", "/hedges?offset=0&limit=1", None),
    ("Risk status and limits", "GET", "/risk", None),
    ("Unhedged exposure so far", "GET", "/exposure", None),
    ("Manual test fill on Exchange 1 (default price: our quote)", "POST", "/fills/manual",
     {"side": "buy", "qty_lots": 3}),
    ("Pause quoting", "POST", "/control/pause", None),
    ("Risk events (paginated)", "GET", "/risk/events?offset=0&limit=5", None),
    ("Resume quoting", "POST", "/control/resume", None),
    ("Resume again: not allowed (409)", "POST", "/control/resume", None),
    ("Kill switch", "POST", "/control/kill", None),
    ("Reset the kill switch", "POST", "/control/kill-reset", None),
    ("Step the clock", "POST", "/clock/step", {"ticks": 100}),
    ("Start or stop the clock", "POST", "/clock", {"running": False}),
    ("Change the config for the next reset", "PUT", "/config", {"quoting": {"size_lots": 3}}),
    ("Bad input: unknown config key (422)", "PUT", "/config", {"quoting": {"size": 3}}),
    ("Bad input: fill price off the tick grid (400)", "POST", "/fills/manual",
     {"side": "sell", "qty_lots": 1, "price": 100.005}),
    ("Read the config (current and next reset)", "GET", "/config", None),
    ("Named scenarios (fault presets)", "GET", "/presets", None),
    ("Bad input: unknown preset (422)", "POST", "/reset", {"preset": "fault_meteor"}),
    ("Reset into a fault scenario", "POST", "/reset", {"preset": "fault_hedge_outage"}),
    ("Reset with a new seed", "POST", "/reset", {"seed": 11}),
    ("Dashboard state (what the page at / polls)", "GET", "/dashboard/state?since=-1&max_points=10", None),
]


def _shorten(value, depth=0):
    """Keep examples readable: at most 6 keys per object past the top level, 2 items per list."""
    if isinstance(value, dict):
        items = list(value.items())
        limit = 40 if depth == 0 else 8
        out = {k: _shorten(v, depth + 1) for k, v in items[:limit]}
        if len(items) > limit:
            out["..."] = f"{len(items) - limit} more keys"
        return out
    if isinstance(value, list):
        out = [_shorten(v, depth + 1) for v in value[:2]]
        if len(value) > 2:
            out.append(f"... {len(value) - 2} more")
        return out
    if isinstance(value, float):
        return round(value, 6)
    return value


def _curl(base: str, method: str, path: str, body) -> tuple[str, str]:
    shown = ["curl", "-s"]
    if method != "GET":
        shown += ["-X", method]
    if body is not None:
        shown += ["-H", "content-type: application/json", "-d", json.dumps(body, separators=(",", ":"))]
    shown.append(f"localhost:8000{path}")
    real = shown[:-1] + ["-w", "\\n%{http_code}", base + path]
    proc = subprocess.run(real, capture_output=True, text=True, check=True)
    text, status = proc.stdout.rsplit("\n", 1)
    try:
        text = json.dumps(_shorten(json.loads(text)), indent=1)
    except json.JSONDecodeError:
        pass
    return shlex.join(shown), f"HTTP {status}\n{text}"


def main() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MMHEDGE_TICKS": "20000"}
    server = subprocess.Popen([sys.executable, *UVICORN_ARGS, "--host",
                               "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if subprocess.run(["curl", "-sf", base + "/health"], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(["curl", "-sf", "-X", "POST", "-H", "content-type: application/json", "-d",
                        '{"running":false}', base + "/clock"], capture_output=True, check=True)
        # put the clock at exactly tick 500 whatever it had reached while starting
        subprocess.run(["curl", "-sf", "-X", "POST", base + "/reset"], capture_output=True, check=True)
        subprocess.run(["curl", "-sf", "-X", "POST", "-H", "content-type: application/json", "-d",
                        '{"running":false}', base + "/clock"], capture_output=True, check=True)
        health = json.loads(subprocess.run(["curl", "-sf", base + "/health"], capture_output=True, text=True).stdout)
        step = 500 - health["tick"]
        subprocess.run(["curl", "-sf", "-X", "POST", "-H", "content-type: application/json", "-d",
                        json.dumps({"ticks": step}), base + "/clock/step"], capture_output=True, check=True)
        print("<!-- generated by `python -m api.examples`: a real server, seed 7, clock stopped at tick 500 -->")
        for title, method, path, body in EXAMPLES:
            cmd, out = _curl(base, method, path, body)
            print(f"**{title}**\n\n```\n$ {cmd}\n{out}\n```\n")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
