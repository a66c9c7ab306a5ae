"""The synthetic market printed as a recording: the background participants' flow applied to a venue's book
(no orders of ours), written out as the normalised market events a capture would give (``market_event_dt``):
every price level that changed within ``window`` ticks of the venue price at the end of a tick, the best bid
and ask when they changed, and one trade per market order (at the touch it hit, for the lots it filled, with
the aggressor's side). Calibration is tested on such tapes (known parameters in, estimates out), and the
stylized-facts report measures synthetic and recorded markets with the same code.
"""
from kernels._jit import jit_borrow
from kernels.book import B_BASE, book_new, B_NLEVELS, LV_QTY, best_ask, best_bid, cancel_random_other, crosses, level_row, match, rest
from kernels.records import EV_CANCEL, EV_LIMIT, ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_TRADE, OWNER_OTHER
from kernels.tick import _seed_book, _withdraw_out_of_band


@jit_borrow
def emit(out, k, ts, latency, kind, side, price, qty):
    """Write one event at row ``k`` of ``out`` (nothing past its end: the count returned says how many were
    needed), received ``latency`` ns after it happened; returns the next row."""
    if k < out.shape[0]:
        r = out[k]
        r["exch_ts"] = ts
        r["recv_ts"] = ts + latency
        r["price"] = price
        r["qty"] = qty
        r["kind"] = kind
        r["side"] = side
        r["flags"] = 0
    return k + 1


@jit_borrow
def print_tape(b, center, ev_start, events, n_ticks, dt_ns, depth, window, shadow, scratch, out):
    """Apply a venue's pre-generated flow tick by tick to book ``b`` and write the tape into ``out``; returns
    the number of events (more than ``out`` holds = call again with a bigger one). ``shadow`` (2, levels):
    the quantities last printed per level; ``scratch``: a (3, n) buffer for the matching routine."""
    k = 0
    ids, prices, qtys = scratch[0], scratch[1], scratch[2]
    base = b[B_BASE]
    n_levels = b[B_NLEVELS]
    top = base + n_levels - 1
    prev_c = center[0]
    last_bid = -1
    last_ask = -1
    for t in range(n_ticks):
        ts = t * dt_ns
        c = center[t]
        if c != prev_c:
            _withdraw_out_of_band(b, prev_c, c, depth)
        prev_c = c
        for e in range(ev_start[t], ev_start[t + 1]):
            ev = events[e]
            kind = ev["kind"]
            side = ev["side"]
            if kind == EV_CANCEL:
                cancel_random_other(b, side, ev["offset"])
            elif kind == EV_LIMIT:
                price = c - ev["offset"] if side == 0 else c + ev["offset"]
                qty = ev["qty"]
                if crosses(b, side, price):
                    touch = best_ask(b) if side == 0 else best_bid(b)
                    filled, _, _, _ = match(b, side == 0, price, qty, ids, prices, qtys)
                    if filled > 0:
                        k = emit(out, k, ts, 0, ME_TRADE, side, touch, filled)
                    qty -= filled
                if qty > 0:
                    rest(b, side, price, qty, OWNER_OTHER)
            else:  # market order (background or client): one print at the touch it hit
                touch = best_ask(b) if side == 0 else best_bid(b)
                limit = top if side == 0 else base
                filled, _, _, _ = match(b, side == 0, limit, ev["qty"], ids, prices, qtys)
                if filled > 0:
                    k = emit(out, k, ts, 0, ME_TRADE, side, touch, filled)
        # the levels that changed near the price, and the touch
        lo = max(0, c - window - base)
        hi = min(n_levels - 1, c + window - base)
        for s in range(2):
            for lvl in range(lo, hi + 1):
                q = b[level_row(b, s, lvl) + LV_QTY]
                if q != shadow[s, lvl]:
                    shadow[s, lvl] = q
                    k = emit(out, k, ts, 0, ME_BOOK, s, lvl + base, q)
        bb = best_bid(b)
        ba = best_ask(b)
        if bb != last_bid and bb >= 0:
            last_bid = bb
            k = emit(out, k, ts, 0, ME_BBO_BID, 0, bb, b[level_row(b, 0, bb - base) + LV_QTY])
        if ba != last_ask and ba >= 0:
            last_ask = ba
            k = emit(out, k, ts, 0, ME_BBO_ASK, 1, ba, b[level_row(b, 1, ba - base) + LV_QTY])
    return k


def new_tape_book(levels, capacity, base, center0, depth, initial_lots):
    """A venue's book as the synthetic market seeds it at tick 0."""
    b = book_new(levels, capacity, base)
    _seed_book(b, center0, depth, initial_lots)
    return b

