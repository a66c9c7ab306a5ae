"""The API against a hostile or careless client: bounds, strict types, runnable configs only, one lock per
check-and-act, bounded and off-loop series, streamed body limit, one error shape, same-origin writes,
offline docs."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from api.app import MAX_SERIES_ROWS, create_app
from backtest.config import make_config


@pytest.fixture()
def client():
    app = create_app(make_config(**{"sim.ticks": 3000}), ticks_per_second=0.0)
    with TestClient(app) as c:
        c.post("/clock/step", json={"ticks": 300})
        c.app.state.session.full_snapshot()  # the background completion is done: fingerprints are stable
        yield c


def fingerprint(c):
    snap = c.app.state.session.snapshot
    return (len(snap.interventions), snap.results.ticks_raw.tobytes(), snap.config.model_dump_json())


def assert_error(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "details"}, body
    return body


@pytest.mark.parametrize("body", [
    {"side": "buy", "qty_lots": 1, "price": 1e308},
    {"side": "buy", "qty_lots": 1, "price": 1e-300},
    {"side": "buy", "qty_lots": 41},  # above risk.hard_position_lots (40)
])
def test_manual_fill_bounds_are_4xx_never_500(client, body):
    before = fingerprint(client)
    assert_error(client.post("/fills/manual", json=body), 400)
    assert fingerprint(client) == before


def test_infinite_price_and_huge_sizes_are_refused(client):
    before = fingerprint(client)
    r = client.post("/fills/manual", content=b'{"side": "buy", "qty_lots": 1, "price": Infinity}',
                    headers={"content-type": "application/json"})
    assert_error(r, 422)
    assert_error(client.post("/fills/manual", json={"side": "buy", "qty_lots": 3 * 10**9}), 422)
    assert fingerprint(client) == before


@pytest.mark.parametrize("path,body", [
    ("/clock", {"running": "yes"}),
    ("/clock", {"running": 1}),
    ("/reset", {"seed": False}),
    ("/reset", {"seed": "3"}),
    ("/clock/step", {"ticks": True}),
    ("/clock/step", {"ticks": 2.5}),
    ("/fills/manual", {"side": "buy", "qty_lots": "2"}),
    ("/fills/manual", {"side": "buy", "qty_lots": True}),
])
def test_types_are_strict(client, path, body):
    before = fingerprint(client)
    assert_error(client.post(path, json=body), 422)
    assert fingerprint(client) == before


@pytest.mark.parametrize("overrides,needle", [
    ({"sim": {"dt_s": 1e-9}}, "dt_s"),
    ({"sim": {"dt_s": 1e-300}}, "dt_s"),
    ({"market": {"tick_size": 1e-9}}, "32-bit"),
    ({"market": {"tick_size": 1e-7}}, "memory budget"),
    ({"market": {"initial_price": 0.1}}, "initial_price"),
])
def test_put_config_accepts_only_configs_that_can_run(client, overrides, needle):
    before = client.get("/config").json()
    body = assert_error(client.put("/config", json=overrides), 422)
    assert needle in str(body["details"])
    assert client.get("/config").json() == before
    assert client.post("/reset").status_code == 200  # later plain resets are not poisoned


def test_a_long_loss_window_costs_no_memory_and_resets_fine(client):
    r = client.put("/config", json={"risk": {"loss_window_s": 1e7}, "sim": {"dt_s": 0.001}})
    assert r.status_code == 200, r.text
    assert r.json()["memory_estimate_bytes"] < 200 * 2**20
    assert client.post("/reset").status_code == 200
    session = client.app.state.session
    checkpoint = session.snapshot.sim.checkpoints[-1]
    assert sum(a.nbytes for a in checkpoint.state) < 2_000_000


def test_a_config_whose_session_fails_to_start_is_not_kept(client):
    """Valid and within budget, but this seed's random walk reaches zero: the reset answers 422, the running
    session is untouched, and the next plain reset starts from the config that last started."""
    assert client.put("/config", json={"market": {"initial_price": 1.5, "volatility_per_sqrt_s": 1.0}}).status_code == 200
    before = fingerprint(client)
    body = assert_error(client.post("/reset"), 422)
    assert "zero" in str(body["details"])
    assert fingerprint(client) == before
    assert client.get("/config").json()["next_reset"]["market"]["initial_price"] == 100.0
    assert client.post("/reset").status_code == 200


def _simultaneous(client, n, method, path):
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        return getattr(client, method)(path).status_code

    with ThreadPoolExecutor(n) as pool:
        return sorted(pool.map(one, range(n)))


@pytest.mark.parametrize("action", ["kill", "pause"])
def test_exactly_one_of_simultaneous_identical_actions_succeeds(client, action):
    codes = _simultaneous(client, 8, "post", f"/control/{action}")
    assert codes == [200] + [409] * 7
    ivs = client.app.state.session.snapshot.interventions
    assert sum(iv.kind == action for iv in ivs) == 1


def test_after_one_pause_exactly_one_of_simultaneous_resumes_succeeds(client):
    assert client.post("/control/pause").status_code == 200
    assert _simultaneous(client, 6, "post", "/control/resume") == [200] + [409] * 5
    assert [iv.kind for iv in client.app.state.session.snapshot.interventions] == ["pause", "resume"]
    assert _simultaneous(client, 4, "post", "/control/resume") == [409] * 4


def test_pnl_series_is_paginated_and_capped(client):
    session = client.app.state.session
    session.step(2699)  # to the last tick
    assert_error(client.get("/pnl/series", params={"limit": MAX_SERIES_ROWS + 1}), 422)
    rows, start = [], 0
    while start is not None:
        page = client.get("/pnl/series", params={"start": start, "limit": 1000}).json()
        assert len(page["rows"]) <= 1000
        rows += page["rows"]
        start = page["next_start"]
    cols = session.snapshot.results.tick_columns
    assert [r["tick"] for r in rows] == list(range(3000))
    assert [r["total_pnl"] for r in rows] == cols["total_pnl"].tolist()
    csv = client.get("/pnl/series", params={"start": 0, "limit": 10, "format": "csv"})
    assert csv.headers["x-next-start"] == "10" and csv.text.count("\n") == 11


def test_pnl_series_does_not_hold_the_event_loop(client, monkeypatch):
    """While a page is being built (slowly, here), other requests are answered."""
    import api.app as app_module

    gate, started = threading.Event(), threading.Event()
    real = app_module.json.dumps

    def slow_dumps(*a, **k):
        started.set()
        gate.wait(10)
        return real(*a, **k)

    monkeypatch.setattr(app_module.json, "dumps", slow_dumps)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.get, "/pnl/series", params={"start": 0, "end": 10})
        assert started.wait(10)
        assert client.get("/health").status_code == 200  # answered while the series is still blocked
        gate.set()
        assert pending.result().status_code == 200


def test_body_limit_is_enforced_on_a_chunked_stream(client):
    before = fingerprint(client)
    sent = []

    def chunks():
        for _ in range(200):  # 200 x 64 KiB = 12.5 MiB, no Content-Length
            sent.append(1)
            yield b" " * 65536

    r = client.post("/fills/manual", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413)
    assert fingerprint(client) == before


@pytest.mark.parametrize("method,path,status", [
    ("get", "/no/such/path", 404),
    ("delete", "/health", 405),
    ("put", "/health", 405),
])
def test_every_error_has_the_same_shape(client, method, path, status):
    assert_error(getattr(client, method)(path), status)


def test_unparsable_bodies_are_400(client):
    for path in ("/fills/manual", "/reset", "/clock"):
        assert_error(client.post(path, content=b"{nope", headers={"content-type": "application/json"}), 400)
    assert_error(client.put("/config", content=b"\xff\xfe", headers={"content-type": "application/json"}), 400)
    assert_error(client.put("/config", json=[1, 2]), 422)


def test_openapi_lists_errors_response_models_and_the_config_schema(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert set(schemas["ErrorBody"]["properties"]) == {"error", "details"}
    assert "quoting" in schemas["SimConfig"]["properties"] and "QuotingSection" in schemas
    put = spec["paths"]["/config"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SimConfig")
    for code in ("400", "413", "422"):
        assert put["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
    assert "409" in spec["paths"]["/control/kill"]["post"]["responses"]
    quotes = spec["paths"]["/quotes"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert quotes["$ref"].endswith("/Quotes")


def test_cross_origin_writes_are_refused(client):
    before = fingerprint(client)
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"},
                    {"host": "evil.example:8000"}, {"sec-fetch-site": "cross-site"}):
        assert_error(client.post("/control/pause", headers=headers), 403)
        assert_error(client.post("/reset", headers=headers), 403)
    assert fingerprint(client) == before
    # the server's own page (same origin) and clients that send no Origin may write
    assert client.post("/control/pause", headers={"origin": "http://testserver"}).status_code == 200
    assert client.get("/quotes", headers={"origin": "http://evil.example"}).status_code == 200  # reads are open


def test_docs_are_served_without_a_network(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    for line in page.text.splitlines():
        if ".js" in line and "src=" in line:
            src = line.split("src=")[1].split("'")[1].split('"')[0] if "'" in line else line.split('"')[1]
            assert src.startswith("/"), src
            assert client.get(src).status_code == 200


def test_put_config_refuses_other_media_types_and_deep_nesting(client):
    before = fingerprint(client)
    body = assert_error(client.put("/config", content=b'{"sim": {"ticks": 500}}', headers={"content-type": "text/plain"}),
                        415)
    assert "allowed: application/json" in body["details"][0]
    for depth in (10, 960, 5000):  # 960 was a 500 (RecursionError); 5000 is past what the JSON parser recurses to
        nested = "[" * depth + "]" * depth
        body = assert_error(client.put("/config", content=nested.encode(), headers={"content-type": "application/json"}),
                            422)
        assert "nests deeper than 8 levels" in body["details"][0]
    assert client.put("/config", content=b'{"sim": {"ticks": 500}}',
                      headers={"content-type": "application/json; charset=utf-8"}).status_code == 200
    assert fingerprint(client) == before


def test_errors_never_echo_a_huge_value(client):
    body = assert_error(client.put("/config", json={"sim": {"ticks": "9" * 60_000}}), 422)  # under the body limit
    assert len(body["details"][0]) < 400 and "60,002 characters" in body["details"][0]


def test_a_bool_is_not_a_number(client):
    body = assert_error(client.put("/config", json={"quoting": {"size_lots": True}}), 422)
    assert "a bool, not a number" in body["details"][0]


def test_recordings_over_the_api_come_from_the_data_directories_only(client, tmp_path, monkeypatch):
    replay = {"market": {"source": "replay", "tick_size": 0.01, "lot_size": 1e-6}, "sim": {"ticks": 1000, "dt_s": 0.001}}
    before = fingerprint(client)
    secret = tmp_path / "secret.jsonl"
    secret.write_text("TOP-SECRET-CONTENT line one\n")
    for path in (str(secret), "../../etc/hostname", "data/../../etc/hostname", "~/.profile"):
        body = assert_error(client.put("/config", json={**replay, "replay": {
            "exchange1": path, "exchange2": "data/binance-btcusdt-2024-08-08/usdm.jsonl.gz"}}), 422)
        assert "not under the server's data directories" in body["details"][0]
        assert "TOP-SECRET" not in json.dumps(body)
    # a directory the operator adds is allowed; a file there that is not a capture is refused without quoting it
    monkeypatch.setenv("MMHEDGE_DATA_DIR", str(tmp_path))
    body = assert_error(client.put("/config", json={**replay, "replay": {
        "exchange1": str(secret), "exchange2": "data/binance-btcusdt-2024-08-08/usdm.jsonl.gz"}}), 422)
    assert "not '<receive time ns> <JSON>'" in json.dumps(body) and "TOP-SECRET" not in json.dumps(body)
    # a replay config that cannot start is refused when it is given, not at the next reset
    body = assert_error(client.put("/config", json={**replay, "sim": {"ticks": 10_000_000, "dt_s": 0.001}, "replay": {
        "exchange1": "data/binance-btcusdt-2024-08-08/spot.jsonl.gz",
        "exchange2": "data/binance-btcusdt-2024-08-08/usdm.jsonl.gz"}}), 422)
    assert "the recordings cover" in json.dumps(body)
    assert fingerprint(client) == before


def test_manual_fills_are_capped_per_position_and_refused_while_killed(client):
    # the hard limit is 40 lots: 30 + 30 would be 60
    assert client.post("/fills/manual", json={"side": "buy", "qty_lots": 30}).status_code == 200
    body = assert_error(client.post("/fills/manual", json={"side": "buy", "qty_lots": 30}), 409)
    assert "would take Exchange 1's position to" in body["details"][0]
    assert client.post("/fills/manual", json={"side": "sell", "qty_lots": 30}).status_code == 200
    assert client.post("/control/kill").status_code == 200
    body = assert_error(client.post("/fills/manual", json={"side": "buy", "qty_lots": 1}), 409)
    assert "kill-reset" in body["details"][0]


@pytest.mark.parametrize("name,value", [("MMHEDGE_TICKS", "abc"), ("MMHEDGE_TICKS", "5"), ("MMHEDGE_TICKS_PER_S", "-5"),
                                        ("MMHEDGE_TICKS_PER_S", "nan")])
def test_bad_server_settings_stop_the_server_with_one_line(monkeypatch, capsys, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stop:
        create_app()
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {name}=") and "allowed:" in err and "Traceback" not in err
