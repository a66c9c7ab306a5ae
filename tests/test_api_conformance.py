"""The API as an HTTP and OpenAPI client expects it: HEAD on every read, Allow naming every method a path has,
integers the schema allows (1.0), the CSV format documented, links between operations, Host checked on reads
too, a session that ends at its last tick, idle connections closed, the `default` preset at the server's
length."""
import socket
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from backtest.config import make_config
from tests.servers import running_server


@pytest.fixture()
def client():
    app = create_app(make_config(**{"sim.ticks": 3000}), ticks_per_second=0.0)
    with TestClient(app) as c:
        c.post("/clock/step", json={"ticks": 300})
        c.app.state.session.full_snapshot()
        yield c


def get_paths(client) -> list[str]:
    spec = client.get("/openapi.json").json()
    return [p for p, ops in spec["paths"].items() if "get" in ops]


def test_head_answers_every_read_with_gets_headers_and_no_body(client):
    for path in get_paths(client) + ["/", "/openapi.json"]:
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, (path, head.status_code, got.status_code)
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers["content-length"] == str(len(got.content)), path


def test_405_names_every_method_of_the_path(client):
    r = client.delete("/config")
    assert r.status_code == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT"}
    assert "PUT" in r.json()["details"][0]
    r = client.get("/reset")
    assert r.status_code == 405 and r.headers["allow"] == "POST"


def test_whole_numbers_written_as_floats_are_integers(client):
    assert client.post("/clock/step", json={"ticks": 2.0}).json()["tick"] == 302
    r = client.post("/fills/manual", json={"side": "buy", "qty_lots": 1.0})
    assert r.status_code == 200, r.text
    assert r.json()["fill"]["qty_lots"] == 1
    for body in ({"ticks": 2.5}, {"ticks": "2"}, {"ticks": True}):
        assert client.post("/clock/step", json=body).status_code == 422, body


def test_openapi_documents_csv_and_links_to_operations_that_exist(client):
    spec = client.get("/openapi.json").json()
    ids = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    series = spec["paths"]["/pnl/series"]["get"]["responses"]["200"]["content"]
    assert set(series) == {"application/json", "text/csv"}
    linked = 0
    for ops in spec["paths"].values():
        for op in ops.values():
            for link in op["responses"].get("200", {}).get("links", {}).values():
                assert link["operationId"] in ids, link
                linked += 1
    assert linked >= 15
    assert spec["paths"]["/fills/manual"]["post"]["responses"]["200"]["links"]["positions"] == {
        "operationId": "positions"}
    # a followed link works: the step's answer gives the series its end
    step = client.post("/clock/step", json={"ticks": 5}).json()
    link = spec["paths"]["/clock/step"]["post"]["responses"]["200"]["links"]["pnl_series"]
    assert link["parameters"] == {"end": "$response.body#/tick"}
    rows = client.get("/pnl/series", params={"start": step["tick"] - 2, "end": step["tick"]}).json()["rows"]
    assert [r["tick"] for r in rows] == [step["tick"] - 2, step["tick"] - 1, step["tick"]]


def test_reads_check_the_host_header_too(client, monkeypatch):
    # a page on evil.example whose name now resolves to this server (DNS rebinding) cannot read the session
    for path in ("/summary", "/", "/dashboard/state", "/openapi.json"):
        r = client.get(path, headers={"host": "evil.example:8000"})
        assert r.status_code == 403 and "MMHEDGE_ALLOWED_HOSTS" in r.json()["details"][0], path
    assert client.get("/summary", headers={"host": "localhost:8000"}).status_code == 200
    monkeypatch.setenv("MMHEDGE_ALLOWED_HOSTS", "mm.desk.internal, evil.example")
    assert client.get("/summary", headers={"host": "evil.example:8000"}).status_code == 200


def test_the_session_ends_at_its_last_tick(client):
    client.post("/clock/step", json={"ticks": 10_000})
    client.post("/clock", json={"running": True})
    health = client.get("/health").json()
    assert health["tick"] == 2999 and health["running"] is False and health["finished"] is True
    for path, body in (("/fills/manual", {"side": "buy", "qty_lots": 1}), ("/control/pause", None)):
        r = client.post(path, json=body)
        assert r.status_code == 409 and "POST /reset" in r.json()["details"][0], r.text
    assert client.get("/dashboard/state").json()["finished"] is True
    client.post("/reset")
    health = client.get("/health").json()
    assert health["finished"] is False and health["tick"] == 0


def test_the_default_preset_has_the_servers_length(monkeypatch):
    monkeypatch.setenv("MMHEDGE_TICKS", "4000")
    with TestClient(create_app(ticks_per_second=0.0)) as c:
        assert c.get("/health").json()["ticks"] == 4000
        assert c.post("/reset", json={"preset": "fault_hedge_outage"}).json()["ticks"] == 3000
        assert c.post("/reset", json={"preset": "default"}).json()["ticks"] == 4000
        described = {p["name"]: p["description"] for p in c.get("/presets").json()["presets"]}
        assert "4,000" in described["default"] and "COIN-M" in described["replay_binance_btcusd_coinm_20240808"]


def _closed_by_server(sock: socket.socket, within_s: float) -> bool:
    sock.settimeout(within_s)
    try:
        return sock.recv(1024) == b""
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True


def test_connections_that_send_no_request_in_time_are_closed():
    with running_server(MMHEDGE_TICKS="1000", MMHEDGE_HEADER_TIMEOUT_S="0.5") as base:
        port = int(base.rsplit(":", 1)[1])
        silent = socket.create_connection(("127.0.0.1", port))
        trickle = socket.create_connection(("127.0.0.1", port))
        trickle.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends its headers
        started = time.monotonic()
        assert _closed_by_server(silent, 5.0) and _closed_by_server(trickle, 5.0)
        assert time.monotonic() - started < 4.0
        # a connection that asks in time is answered, and kept for its next request as before
        with httpx.Client(base_url=base) as c:
            assert c.get("/health").status_code == 200
            assert c.get("/health").status_code == 200


def test_reads_of_the_current_state_never_wait_for_a_reset_or_queued_actions(client, monkeypatch):
    """A slow reset holds the session lock and 40 actions queue behind it: every read of the current
    state still answers at once (actions used to take every worker thread of the pool reads run in)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    session = client.app.state.session
    inside, release = threading.Event(), threading.Event()
    real_start = session._start

    def slow_start(config):
        inside.set()
        assert release.wait(30)
        real_start(config)

    monkeypatch.setattr(session, "_start", slow_start)
    with ThreadPoolExecutor(48) as pool:
        reset = pool.submit(client.post, "/reset")
        assert inside.wait(10)
        queued = [pool.submit(client.post, "/control/pause") for _ in range(40)]
        time.sleep(0.5)  # let the actions take whatever threads they can
        for path in ("/fills", "/hedges", "/risk/events", "/summary", "/positions", "/quotes", "/pnl",
                     "/dashboard/state", "/health"):
            started = time.monotonic()
            r = pool.submit(client.get, path).result(timeout=20)
            assert r.status_code == 200 and time.monotonic() - started < 2.0, (path, time.monotonic() - started)
        release.set()
        assert reset.result(timeout=60).status_code == 200
        codes = sorted(f.result(timeout=60).status_code for f in queued)
    assert codes == [200] + [409] * 39  # one pause applied after the reset, the others see it
