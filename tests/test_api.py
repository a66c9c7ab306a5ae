"""API endpoints: happy paths, rejections, and that a rejected request leaves the session unchanged."""

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from backtest.config import make_config
from backtest.interventions import Intervention
from tests.servers import running_server


@pytest.fixture()
def client():
    app = create_app(make_config(**{"sim.ticks": 2000}), ticks_per_second=0.0)
    with TestClient(app) as c:
        c.post("/clock/step", json={"ticks": 300})
        yield c


def fingerprint(c):
    snap = c.app.state.session.snapshot
    return (len(snap.interventions), snap.results.ticks_raw.tobytes(), snap.config.model_dump_json())


def test_reads(client):
    assert client.get("/health").json()["tick"] == 300
    q = client.get("/quotes").json()
    assert q["tick"] == 300 and "quote_bid_price" in q and "bid_queue_ahead_lots" in q
    p = client.get("/positions").json()
    assert p["net_delta_lots"] == p["exchange1_lots"] + p["exchange2_lots"]
    pnl = client.get("/pnl").json()
    parts = pnl["spread_capture"] + pnl["hedge_cost"] + pnl["inventory_mtm"] - pnl["fees"]
    assert abs(parts - pnl["total_pnl"]) < 1e-9
    series = client.get("/pnl/series", params={"start": 10, "end": 20}).json()
    assert len(series["rows"]) == 11
    csv = client.get("/pnl/series", params={"start": 0, "end": 5, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") == 7
    for path in ("/fills", "/hedges", "/risk/events"):
        body = client.get(path, params={"limit": 5}).json()
        assert all(row["tick"] <= 300 for row in body["rows"])
    assert client.get("/risk").json()["state"] in ("active", "reduced", "paused", "killed")
    assert "net_pnl" in client.get("/summary").json()["summary_full_run"]


def test_manual_fill_is_hedged_and_changes_position(client):
    before = client.get("/positions").json()
    r = client.post("/fills/manual", json={"side": "buy", "qty_lots": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fill"]["qty_lots"] == 3 and body["fill"]["side"] == "buy"
    assert body["position_after"]["inv1_lots"] == before["exchange1_lots"] + 3
    assert len(body["hedges"]) >= 1 and body["hedges"][0]["side"] == "sell"


def test_pause_resume_and_conflicts(client):
    assert client.post("/control/resume").status_code == 409
    assert client.post("/control/pause").json()["state"] == "paused"
    assert client.post("/control/pause").status_code == 409
    client.post("/clock/step", json={"ticks": 5})
    assert client.post("/control/resume").json()["state"] in ("active", "reduced")
    assert client.post("/control/kill-reset").status_code == 409
    assert client.post("/control/kill").json()["state"] == "killed"
    assert client.post("/control/pause").json()["state"] == "killed"
    r = client.post("/control/resume")
    assert r.status_code == 409 and "kill" in r.text
    assert client.post("/control/kill-reset").status_code == 200


@pytest.mark.parametrize(
    "path,body",
    [
        ("/fills/manual", {"side": "hold", "qty_lots": 1}),
        ("/fills/manual", {"side": "buy", "qty_lots": 0}),
        ("/fills/manual", {"side": "buy", "qty_lots": -4}),
        ("/fills/manual", {"side": "buy", "qty_lots": "many"}),
        ("/fills/manual", {"side": "buy", "qty_lots": 1, "price": 100.005}),
        ("/fills/manual", {"side": "buy", "qty_lots": 1, "price": 1000.0}),
        ("/fills/manual", {"side": "buy", "qty_lots": 1, "colour": "red"}),
        ("/clock/step", {"ticks": 0}),
        ("/reset", {"config": {"quoting": {"size_lot": 1}}}),
        ("/reset", {"seed": -1}),
    ],
)
def test_bad_bodies_are_4xx_and_leave_session_unchanged(client, path, body):
    before = fingerprint(client)
    r = client.post(path, json=body)
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json() and r.json()["details"]
    assert fingerprint(client) == before


def test_bad_queries_and_oversized_bodies(client):
    before = fingerprint(client)
    empty = client.get("/pnl/series", params={"start": 50, "end": 10})  # an empty range: an empty page
    assert empty.status_code == 200 and empty.json()["rows"] == [] and empty.json()["next_start"] is None
    assert client.get("/pnl/series", params={"end": 10**9}).status_code == 409  # past the clock: not yet
    assert client.get("/pnl/series", params={"format": "xml"}).status_code == 422
    assert client.get("/fills", params={"limit": 0}).status_code == 422
    assert client.put("/config", json={"risk": {"hard_position_lots": -5}}).status_code == 422
    big = client.post("/fills/manual", content=b"{" + b" " * 70000 + b"}", headers={"content-type": "application/json"})
    assert big.status_code == 413
    assert client.post("/fills/manual", content=b"not json", headers={"content-type": "application/json"}).status_code == 400
    assert fingerprint(client) == before


def test_config_change_applies_on_reset(client):
    assert client.put("/config", json={"quoting": {"size_lots": 5}}).status_code == 200
    assert client.get("/config").json()["current"]["quoting"]["size_lots"] != 5
    assert client.post("/reset", json={"seed": 11}).json()["seed"] == 11
    cfg = client.get("/config").json()["current"]
    assert cfg["quoting"]["size_lots"] == 5 and cfg["sim"]["seed"] == 11
    assert client.get("/health").json()["tick"] == 0


def test_real_server_with_make_runs_command():
    """Starts uvicorn exactly as `make run` does, on a free loopback port."""
    with running_server(MMHEDGE_TICKS="3000") as base:
        assert httpx.post(base + "/fills/manual", json={"side": "sell", "qty_lots": 2}, timeout=30).status_code == 200
        assert httpx.post(base + "/control/pause", timeout=30).json()["state"] == "paused"
        assert httpx.post(base + "/control/resume", timeout=30).status_code == 200


def test_action_answers_from_a_partial_rerun_and_summary_waits_for_the_whole():
    """With a horizon shorter than the run, an action answers once the re-run reaches the horizon; reads at
    the clock match a run from scratch and the full-run summary includes the action."""
    import backtest

    cfg = make_config(**{"sim.ticks": 5000})
    with TestClient(create_app(cfg, ticks_per_second=0.0, horizon_ticks=40)) as c:
        c.post("/clock/step", json={"ticks": 1500})
        body = c.post("/fills/manual", json={"side": "buy", "qty_lots": 4}).json()
        assert body["tick"] == 1500 and body["fill"]["qty_lots"] == 4
        summary = c.get("/summary").json()["summary_full_run"]
        assert summary["ticks"] == 5000 and summary["fills_manual"] == 1
        expected = backtest.run(cfg, c.app.state.session.snapshot.interventions)
        assert summary["net_pnl"] == pytest.approx(expected.summary_dict["net_pnl"], abs=0)
        c.post("/clock/step", json={"ticks": 3000})
        assert c.get("/pnl").json()["total_pnl"] == pytest.approx(expected.ticks.total_pnl.iloc[4500], abs=0)


def test_reads_past_the_computed_horizon_wait_for_the_run_not_the_event_loop():
    """A clock step beyond what an action computed answers once the run covers it; async reads there
    (quotes, dashboard) then answer from the completed run."""
    cfg = make_config(**{"sim.ticks": 4000})
    with TestClient(create_app(cfg, ticks_per_second=0.0, horizon_ticks=20)) as c:
        c.post("/clock/step", json={"ticks": 100})
        c.post("/control/pause")
        assert c.post("/clock/step", json={"ticks": 3800}).json()["tick"] == 3900
        session = c.app.state.session
        assert session.snapshot.computed > 3900
        assert c.get("/quotes").json()["tick"] == 3900
        assert c.get("/dashboard/state", params={"since": 3890}).json()["series"]["tick"][-1] == 3900
        assert c.get("/risk").json()["state"] == "paused"


def test_clock_outrunning_the_computed_run_still_reads_the_right_run():
    """A clock that jumps to the end before the background completion of an action's re-run: reads wait
    for it (off the event loop) and answer from the run with the action. The session's wall clock is a
    fake one moved by hand, so the test does not depend on how fast the machine is."""
    import backtest

    cfg = make_config(**{"sim.ticks": 20000})
    with TestClient(create_app(cfg, ticks_per_second=0.0, horizon_ticks=20)) as c:
        session = c.app.state.session
        wall = [0.0]
        session.now = lambda: wall[0]
        session.set_running(False)
        c.post("/clock/step", json={"ticks": 100})
        at = c.post("/control/kill").json()["tick"]
        session.ticks_per_second = 1e6
        session.set_running(True)
        wall[0] += 1.0  # one second at 10^6 ticks/s: far past the end, capped at the last tick
        pnl = c.get("/pnl").json()
        assert pnl["tick"] == 19999
        expected = backtest.run(cfg, [Intervention(at, "kill")])
        assert pnl["total_pnl"] == pytest.approx(expected.ticks.total_pnl.iloc[-1], abs=0)
        assert c.get("/risk").json()["state"] == "killed"
