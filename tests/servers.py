"""Start the API as `make run` does (uvicorn --factory api.app:create_app) on a free loopback port."""
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.protocol import UVICORN_ARGS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(**env):
    """Yields the base URL once /health answers; stops the server cleanly afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, *UVICORN_ARGS, "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, **env},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("server did not become healthy")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
