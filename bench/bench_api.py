"""API speed: prints figures, asserts nothing. Run: make bench-api (or .venv/bin/python bench/bench_api.py).

1. Starts the server exactly as `make run` does (uvicorn, one process) on a 10^5-tick session.
2. Action latency: pause / resume / manual fill, each re-running the simulation with the action applied
   (from the last checkpoint before the clock to the horizon; the rest of the run completes in the
   background), timed from the client (this script) as p50 / max: back to back, and 1 s apart so that
   every background completion has finished (or is still running) when the next action arrives.
3. Read latency under load: while the session clock runs, a separate load process sends an open-loop
   stream of GETs (quotes, positions, pnl, risk, dashboard state) at a fixed rate and records each
   response time; p50 / p99 / max and the achieved rate are printed. Twice: without actions, and with
   an action every second (so the server is re-running and completing runs while it answers).
"""
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx

from api.protocol import UVICORN_ARGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICKS = int(os.environ.get("BENCH_TICKS", 100_000))
RATE = float(os.environ.get("BENCH_RPS", 200))
DURATION_S = float(os.environ.get("BENCH_SECONDS", 10))
READS = ["/quotes", "/positions", "/pnl", "/risk", "/dashboard/state?since=-1&max_points=50"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


async def _get(reader, writer, host: str, path: str) -> int:
    """One HTTP/1.1 keep-alive GET on an open connection; returns the status code."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def load(base: str, rate: float, duration: float) -> tuple[list[float], list[str], float]:
    """Open loop: request i is sent at start + i / rate whether or not earlier ones have answered.
    A minimal asyncio HTTP/1.1 client over a pool of keep-alive connections, so that the load
    generator's own cost stays small next to the server's (httpx costs about a millisecond a request)."""
    host, port = base.removeprefix("http://").split(":")
    idle: list = []
    lat: list[float] = []
    errors: list[str] = []

    async def one(path):
        t0 = time.perf_counter()
        for attempt in range(2):
            reused = bool(idle)
            conn = idle.pop() if reused else await asyncio.open_connection(host, int(port))
            try:
                status = await _get(*conn, host, path)
                if status != 200:
                    errors.append(f"{path}: HTTP {status}")
                idle.append(conn)
                break
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                conn[1].close()
                # the server closes keep-alive connections idle for 5 s: a pooled one may be gone; that
                # is the client's pool, not an answer, so the request goes again on a fresh connection
                if not (reused and attempt == 0):
                    errors.append(f"{path}: {type(exc).__name__}")
                    break
        lat.append((time.perf_counter() - t0) * 1000)

    n = int(rate * duration)
    start = time.perf_counter()
    tasks = []
    for i in range(n):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(READS[i % len(READS)])))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    for _, writer in idle:
        writer.close()
    return lat, errors, n / elapsed


def timed_post(client: httpx.Client, path: str, body: dict | None = None) -> float:
    t = time.perf_counter()
    r = client.post(path, json=body)
    elapsed = (time.perf_counter() - t) * 1000
    assert r.status_code == 200, r.text
    return elapsed


def load_process(base: str) -> None:
    lat, errors, achieved = asyncio.run(load(base, RATE, DURATION_S))
    print(json.dumps({"lat": lat, "errors": errors, "rate": achieved}))


def main() -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MMHEDGE_TICKS": str(TICKS), "MMHEDGE_TICKS_PER_S": "10"}
    t0 = time.perf_counter()
    server = subprocess.Popen([sys.executable, *UVICORN_ARGS, "--host",
                               "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # exactly `make run`, access log included
    try:
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        print(f"server up with a {TICKS:,}-tick session in {time.perf_counter() - t0:.2f} s")

        with httpx.Client(base_url=base, timeout=60) as c:
            for gap_s, label in ((0.0, "back to back"), (1.0, "1 s apart, run completed in between")):
                actions = {"pause+resume": [], "manual fill": []}
                for i in range(10):
                    for path in ("/control/pause", "/control/resume"):
                        time.sleep(gap_s)
                        actions["pause+resume"].append(timed_post(c, path))
                    time.sleep(gap_s)
                    actions["manual fill"].append(timed_post(c, "/fills/manual",
                                                             {"side": "buy" if i % 2 else "sell", "qty_lots": 1}))
                print(f"actions {label}:")
                for name, lat in actions.items():
                    print(f"  {name:<13} re-run of a {TICKS:,}-tick session: p50 {statistics.median(lat):7.1f} ms, "
                          f"max {max(lat):7.1f} ms over {len(lat)}")

            for with_actions in (False, True):
                loader = subprocess.Popen([sys.executable, __file__, "--load", base], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, cwd=ROOT)
                n_actions = 0
                if with_actions:  # one action a second: each starts a background completion of the run
                    time.sleep(0.5)
                    while loader.poll() is None and n_actions < DURATION_S - 1:
                        timed_post(c, "/control/pause" if n_actions % 2 == 0 else "/control/resume")
                        n_actions += 1
                        time.sleep(1.0)
                stdout, stderr = loader.communicate()
                if loader.returncode != 0:
                    print(stderr)
                    raise SystemExit(1)
                out = json.loads(stdout.strip().splitlines()[-1])
                lat = out["lat"]
                print(f"reads under load from a second process, clock running"
                      f"{f', {n_actions} actions meanwhile' if with_actions else ''}: {out['rate']:.0f} req/s "
                      f"achieved (target {RATE:.0f}), {len(lat)} requests, {len(out['errors'])} errors"
                      f"{' ' + str(sorted(set(out['errors']))) if out['errors'] else ''}")
                print(f"  read latency p50 {pct(lat, 50):.2f} ms, p90 {pct(lat, 90):.2f} ms, "
                      f"p99 {pct(lat, 99):.2f} ms, max {max(lat):.2f} ms")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--load":
        load_process(sys.argv[2])
    else:
        main()
