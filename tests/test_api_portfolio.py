"""The portfolio under /portfolio: one whole run of a portfolio, the actions scheduled on it and its clock
(api.portfolio)."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from backtest.config import make_config
from backtest.interventions import Intervention
from backtest.portfolio import portfolio_preset, run_portfolio

SMALL = {"sim": {"ticks": 1500}, "portfolio": {"max_gross_notional": 300.0},
         "assets": [{"name": "BTC", "market": {"initial_price": 60000.0, "tick_size": 1.0, "lot_size": 0.001,
                                               "volatility_per_sqrt_s": 30.0}},
                    {"name": "ETH", "market": {"initial_price": 2500.0, "tick_size": 0.05, "lot_size": 0.01,
                                               "volatility_per_sqrt_s": 1.5}}]}


@pytest.fixture()
def client():
    app = create_app(make_config(**{"sim.ticks": 2000}), ticks_per_second=0.0)
    with TestClient(app) as c:
        assert c.post("/portfolio/reset", json={"config": SMALL}).status_code == 200
        yield c


def test_the_default_portfolio_answers_with_each_asset_and_the_total():
    app = create_app(make_config(**{"sim.ticks": 2000}), ticks_per_second=0.0)
    with TestClient(app) as c:
        body = c.get("/portfolio/summary").json()
    expected = run_portfolio(portfolio_preset("portfolio_btc_eth_synthetic")).summary_dict
    assert set(body["assets"]) == {"BTC", "ETH"} and body["actions"] == []
    assert body["portfolio"]["net_pnl"] == pytest.approx(expected["portfolio"]["net_pnl"], abs=1e-9)
    assert body["assets"]["ETH"]["summary"]["fills"] == expected["assets"]["ETH"]["fills"]


def test_a_fill_on_one_asset_moves_that_asset_only_and_pause_all_pauses_every_asset(client):
    # without portfolio limits the assets do not act on each other (with them, ETH's fill could hold BTC's sides)
    assert client.post("/portfolio/reset", json={"config": {**SMALL, "portfolio": {}}}).status_code == 200
    before = client.get("/portfolio/summary").json()
    r = client.post("/portfolio/fills/manual", json={"asset": "ETH", "side": "buy", "qty_lots": 3, "tick": 100})
    assert r.status_code == 200, r.text
    after = r.json()  # an action answers with the whole run: a fill scheduled past the clock shows there
    assert after["assets"]["ETH"]["summary"]["fills_manual"] == 1 and after["clock"] == 0
    assert after["assets"]["BTC"]["summary"] == before["assets"]["BTC"]["summary"]
    r = client.post("/portfolio/control/pause", json={"tick": 700})
    assert r.status_code == 200 and [a["asset"] for a in r.json()["actions"][1:]] == ["BTC", "ETH"]
    assert client.post("/portfolio/control/resume", json={"asset": "BTC", "tick": 900}).status_code == 200
    assert client.get("/portfolio/risk").json()["assets"] == {"BTC": "active", "ETH": "active"}  # the clock: 0
    client.post("/portfolio/clock/step", json={"ticks": 800})
    risk = client.get("/portfolio/risk").json()
    assert risk["tick"] == 800 and risk["limits"]["max_gross_notional"] == 0.0
    assert risk["assets"] == {"BTC": "paused", "ETH": "paused"}
    client.post("/portfolio/clock/step", json={"ticks": 200})
    assert client.get("/portfolio/risk").json()["assets"]["ETH"] == "paused"
    assert client.get("/portfolio/risk").json()["assets"]["BTC"] in ("active", "reduced")


def test_reads_answer_at_the_clock_and_actions_never_change_what_was_read(client):
    """GET /portfolio at the clock's tick is the whole run's state at that tick; an action without a tick applies
    at the clock; one before the clock is refused and changes nothing; the series and events stop at the clock."""
    session = client.app.state.portfolio_session()
    wall = [0.0]
    session.clock.now = lambda: wall[0]
    client.post("/portfolio/clock", json={"running": True})
    session.clock.ticks_per_second = 100.0
    session.set_running(True)
    wall[0] += 4.0  # 400 ticks of wall time
    body = client.get("/portfolio").json()
    assert body["tick"] == 400 and body["clock"]["running"] is True
    whole = session.results()
    for name, a in whole.assets.items():
        row = a.state_at(400)
        assert body["assets"][name]["inv1_lots"] == row["inv1_lots"]
        assert body["assets"][name]["summary"]["net_pnl"] == pytest.approx(row["total_pnl"], abs=1e-9)
        assert body["assets"][name]["summary"]["fills"] == a.rows_until("fills", 400)
    r = client.post("/portfolio/fills/manual", json={"asset": "BTC", "side": "sell", "qty_lots": 1})
    assert r.status_code == 200 and r.json()["actions"][-1]["tick"] == 400
    refused = client.post("/portfolio/control/pause", json={"tick": 399})
    assert refused.status_code == 422 and "before the clock (tick 400)" in str(refused.json()["details"])
    assert len(client.get("/portfolio").json()["actions"]) == 1
    series = client.get("/portfolio/series").json()
    assert series["tick"][-1] <= 400
    assert client.post("/portfolio/clock", json={"running": False}).json() == {"running": False, "finished": False,
                                                                               "tick": 400}
    wall[0] += 100.0
    assert client.get("/portfolio").json()["tick"] == 400  # stopped
    assert client.post("/portfolio/clock/step", json={"ticks": 10**6}).json()["finished"] is True
    ended = client.post("/portfolio/control/kill", json={})
    assert ended.status_code == 422 and "last tick" in str(ended.json()["details"])


@pytest.mark.parametrize("path, body, problem", [
    ("/portfolio/fills/manual", {"asset": "SOL", "side": "buy", "qty_lots": 1, "tick": 5}, "no such asset"),
    ("/portfolio/fills/manual", {"asset": "ETH", "side": "buy", "qty_lots": 1, "tick": 1500}, "beyond the run"),
    ("/portfolio/fills/manual", {"asset": "ETH", "side": "buy", "qty_lots": 10**6, "tick": 5}, "hard position"),
    ("/portfolio/fills/manual", {"asset": "ETH", "side": "buy", "qty_lots": 1, "tick": 5, "price": 9e9}, "too far"),
    ("/portfolio/control/pause", {"asset": "SOL", "tick": 5}, "no such asset"),
    ("/portfolio/reset", {"preset": "nope"}, "unknown"),
    ("/portfolio/reset", {"preset": "portfolio_binance_btc_eth_20240808"}, "from the CLI"),
    ("/portfolio/reset", {"config": {**SMALL, "sim": {"ticks": 2_000_000}}}, "at most 1,000,000"),
    ("/portfolio/reset", {"config": {"assets": [{"name": "A"}, {"name": "A"}]}}, "used twice"),
    ("/portfolio/reset", {}, "one of preset or config"),
])
def test_refused_actions_say_why_and_change_nothing(client, path, body, problem):
    client.post("/portfolio/fills/manual", json={"asset": "BTC", "side": "sell", "qty_lots": 1, "tick": 50})
    before = client.get("/portfolio").json()
    r = client.post(path, json=body)
    assert r.status_code == 422 and problem in str(r.json()["details"]), r.text
    assert client.get("/portfolio").json() == before


def test_bodies_are_strict():
    app = create_app(make_config(**{"sim.ticks": 2000}), ticks_per_second=0.0)
    with TestClient(app) as c:
        for body in ({"tick": 5, "colour": 1}, {"tick": -1}, {"tick": "5"}, {"asset": 3, "tick": 5}):
            r = c.post("/portfolio/control/pause", json=body)
            assert r.status_code == 422 and r.json()["error"] == "invalid request", body
        for path, body in (("/portfolio/clock", {"running": "yes"}), ("/portfolio/clock", {}),
                           ("/portfolio/clock/step", {"ticks": 0}), ("/portfolio/clock/step", {"ticks": 10**8}),
                           ("/portfolio/clock/step", {"ticks": 1.5})):
            r = c.post(path, json=body)
            assert r.status_code == 422 and r.json()["error"] == "invalid request", (path, body)
        assert c.get("/portfolio").json()["tick"] == 0  # nothing moved the clock


def test_simultaneous_actions_are_each_applied_once(client):
    fills = [{"asset": "BTC" if i % 2 else "ETH", "side": "buy", "qty_lots": 1, "tick": 100 + 50 * i} for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda b: client.post("/portfolio/fills/manual", json=b), fills))
    assert all(a.status_code == 200 for a in answers)
    body = client.get("/portfolio/summary").json()
    assert sorted(a["tick"] for a in body["actions"]) == [f["tick"] for f in fills]
    from backtest.portfolio import make_portfolio_config

    expected = run_portfolio(make_portfolio_config(SMALL), {
        name: [Intervention(f["tick"], "manual_fill", "buy", 1) for f in fills if f["asset"] == name]
        for name in ("BTC", "ETH")})
    assert body["portfolio"]["net_pnl"] == pytest.approx(expected.summary_dict["portfolio"]["net_pnl"], abs=1e-9)
    assert np.isclose(body["assets"]["BTC"]["summary"]["fills_manual"], 4)


def test_series_and_page_for_the_dashboard(client):
    import re

    client.post("/portfolio/clock/step", json={"ticks": 10**6})  # the whole run: the clock at its last tick
    s = client.get("/portfolio/series", params={"max_points": 50}).json()
    assert len(s["tick"]) <= 51 and s["tick"] == sorted(s["tick"]) and s["tick"][-1] == 1499
    assert set(s["assets"]) == {"BTC", "ETH"}
    total = np.array(s["assets"]["BTC"]) + np.array(s["assets"]["ETH"])
    assert np.allclose(total, s["total_pnl"], atol=1e-6)  # the assets' PnL adds up to the portfolio's at every row
    page = client.get("/portfolio/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert not [x for x in sources if x.startswith(("http:", "https:", "//"))]
    for src in sources:
        if src.startswith("/static/"):
            assert client.get(src).status_code == 200, src
    assert client.get("/portfolio/series", params={"max_points": 5}).status_code == 422


def test_simultaneous_first_reads_all_answer():
    """The page's first three reads arrive together on a fresh session: each answers (a run's lookups are built
    before any reader sees it; two threads building them lazily raced into a 500)."""
    app = create_app(make_config(**{"sim.ticks": 2000}), ticks_per_second=0.0)
    with TestClient(app) as c:
        paths = ["/portfolio", "/portfolio/risk", "/portfolio/series"] * 4
        with ThreadPoolExecutor(12) as pool:
            answers = list(pool.map(c.get, paths))
    assert [a.status_code for a in answers] == [200] * len(paths), [a.text[:200] for a in answers]


def test_on_a_coarse_record_grid_a_read_never_shows_a_later_tick(client):
    """With sim.record_every_ms the tick records are every 5 ticks: the clock between two records reads the one
    before it (the one after is the future)."""
    coarse = {**SMALL, "sim": {"ticks": 1500, "record_every_ms": 500.0}}
    assert client.post("/portfolio/reset", json={"config": coarse}).status_code == 200
    client.post("/portfolio/clock/step", json={"ticks": 402})
    body = client.get("/portfolio").json()
    whole = client.app.state.portfolio_session().results()
    for name, a in whole.assets.items():
        index = a.tick_index
        before = int(np.searchsorted(index, 402, side="right")) - 1
        assert index[before] == 399 and index[before + 1] == 404
        assert body["assets"][name]["summary"]["net_pnl"] == pytest.approx(float(a.tick_columns["total_pnl"][before]))
