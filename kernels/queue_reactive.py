"""The queue-reactive market: a large-tick venue's best queues driven by state-dependent order flow, printed as
the normalised events a capture would give (``market_event_dt``), and the walk that estimates it from one.

The model (Huang, Lehalle and Rosenbaum 2015, in the spread-and-imbalance form of Noble, Rosenbaum and Souilmi
2026) keeps the best bid and ask (prices in the venue's ticks) and their queues (lots). The state is the spread
(binned by ``edges``, lower bounds in ticks) and the queue imbalance (qb - qa) / (qb + qa) (``n_imb`` equal bins of
[-1, 1]). In each state six flows arrive as Poisson processes with the state's intensities (``rates``, per second,
shape (6, spread bins, imbalance bins), indices Q_*): a limit order joining the best bid or ask, a cancel from it (a
fraction of the queue, so that the last order leaving empties it), and a limit order inside the spread (only when the spread is wider than one tick) that becomes the new best. Market
orders arrive on their own clock, scaled per imbalance bin (they come when one side is thin): a Hawkes process with an exponential kernel (Bacry, Mastromatteo and Muzy
2015: baseline ``mu``, branching ratio ``n``, decay ``beta`` per second), their signs persistent through
meta-orders of Pareto-tailed lengths (a split order's children share its sign, Lillo and Farmer 2004:
P(length >= l) = l^-alpha, each child taking the parent's sign with probability ``follow``), the others buying
with a probability that depends on the queue imbalance (the thin side draws the orders), each sized as a multiple of
the queue it hits: with a probability that depends on the queue's size (a short queue is taken whole more often)
all of it and a recorded number of lots beyond (a sweep into the next
queues), else a recorded fraction of it.

With a trend window (params[P_TREND_WINDOW_S] > 0) the state has a third coordinate: the mid against where it
stood that long ago (falling, level, rising; the mid's recent changes kept in a ring inside ``state``). Each flow's
intensity and the market orders' Hawkes baseline are scaled per trend (``trend_mult``), the market orders' side
and a new meta-order's sign come from the trend's row of ``buy_prob``, and a queue emptied in the trend's direction
(the ask in a rising mid) leaves a queue drawn from its own distribution (QT_REFILL_TREND): on the recordings,
market orders come in bursts while the mid runs, mostly on its side, and the level they uncover is thin. The trend
changes with the passage of time as well as with events: arrivals are drawn at the trend's intensities until the
window's far end passes the next remembered move, and drawn afresh from there (exponential waiting times forget).

When a best queue empties (a market order or a cancel takes its last lot), the price moves away by a jump and a
new queue stands there; both come from the recording's distributions (``quantiles``, rows QT_*, sampled by inverse
CDF at ``QUANTILE_PROBS``). A market order larger than the queue goes on into the new one (a sweep: one print
per level, at most MAX_SWEEP levels). With params[P_SWEEP_IN_JUMP] > 0 it does not: the recorded jump is measured
between two book-ticker messages and so already spans every level a sweep took, and the recorded queue after it is what
the sweep left; the rest of the order prints at the new best, which keeps its drawn queue (otherwise a sweep empties
the new queue again and again, and the jumps the estimator measures on the model's own tape are several times those it
was printed with). The model knows the two best queues only: a queue that stops being the best
(an order inside the spread went ahead of it) leaves the printed book.

With Exchange 2 leading (params[P_LEAD_RATE] > 0, ``generate_venue``'s docstring) the generator also moves Exchange
2's mid: on its own, and after Exchange 1's market orders; the trend of the state is then Exchange 2's, and Exchange
1's book reprices towards it. On the recordings both venues answer each other within milliseconds: spot's market
orders crowd in after the perpetual moved, and the perpetual moves after spot's orders that took their queue.

Randomness: the caller hands in uniforms (``uniforms``), consumed in order; ``generate_venue`` returns when the
uniforms or the output are about to run out, with its state in ``state`` (resume by calling again with more): the
events are the same however the draws are cut.
"""
import math

import numpy as np

from kernels._jit import jit, jit_borrow
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_TRADE
from kernels.tape import emit as _emit

# flows with state-dependent intensities (first index of the rates table)
Q_LIMIT_BID, Q_LIMIT_ASK, Q_CANCEL_BID, Q_CANCEL_ASK, Q_INSPREAD_BID, Q_INSPREAD_ASK = range(6)
N_FLOWS = 6
# distributions (rows of the quantiles table)
# QT_REFILL_TREND: the queue at a new best that a queue emptied in the trend's direction leaves (the ask in a rising
# mid, the bid in a falling one): thin, so that a trend goes on
# QT_LEAD_MOVE: how far Exchange 2's mid moves at once when it leads (Exchange 1 ticks)
QT_LIMIT, QT_CANCEL, QT_INSPREAD, QT_MARKET, QT_JUMP, QT_REFILL, QT_IMPROVE, QT_SWEEP, QT_REFILL_TREND, QT_LEAD_MOVE = (
    range(10))
N_DISTRIBUTIONS = 10
QUANTILE_PROBS = np.array([0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99,
                           0.995, 0.999, 1.0])
MAX_SWEEP = 64  # levels one market order may take; the rest of a larger one is not executed
MAX_META = 1_000_000  # meta-order length cap (a Pareto draw can be astronomically long)

# rows of the queue-size multipliers (``queue_mult``): the market orders', the limit orders', the cancels'
QM_MARKET, QM_LIMIT, QM_CANCEL = range(3)
N_QUEUE_MULT = 3

# scalar parameters (``params``)
(P_MU, P_BRANCHING, P_DECAY, P_FOLLOW, P_TAIL, P_LATENCY_NS, P_START_NS, P_TREND_WINDOW_S, P_SWEEP_IN_JUMP,
 P_CHASE_PROB, P_CHASE_MIN_S, P_CHASE_MEAN_S, P_GAP_REVERT, P_GAP_FOLLOW, P_CHASE_TAKE, P_LEAD_RATE, P_LEAD_REPEAT,
 P_LEAD_GAP, P_LEAD_UP_BELOW, P_LEAD_UP_NEAR, P_LEAD_UP_ABOVE, P_LEAD_PULL, P_LEAD_FOLLOW, P_LEAD_FOLLOW_MEAN_S,
 P_LEAD_FOLLOW_PART, P_LEAD_OTHER_REFILL) = range(26)
N_PARAMS = 26
# the trend of the mid over the last trend window: the third coordinate of the state (columns of ``trend_mult``,
# rows of ``buy_prob``)
TREND_DOWN, TREND_FLAT, TREND_UP = range(3)
N_TRENDS = 3
TREND_MARKET = N_FLOWS  # the market orders' row of ``trend_mult`` (after the six flows')
# loop state carried between calls (``state``, float64), then a ring of the mid's last changes (time s, bid + ask)
S_T, S_B, S_A, S_QB, S_QA, S_EXCESS, S_META_LEFT, S_META_SIGN, S_STARTED, S_RING_HEAD, S_RING_N = range(11)
RING = 256  # mid changes remembered; more than this inside one trend window and the oldest kept stands for the rest
S_RING_T = 11
S_RING_MID = S_RING_T + RING
# a chase pending: when (s) and its sign (0: none)
S_CHASE_T = S_RING_MID + RING
S_CHASE_SIGN = S_CHASE_T + 1
# the side whose best moved away last while the spread is wider than a tick (0 bid, 1 ask; -1: none)
S_GAP_OPENER = S_CHASE_SIGN + 1
# Exchange 2's mid when it leads (Exchange 1 ticks, less the basis' mean), its last move's sign (+1/-1; the caller
# sets the first), and the rows of ``lead_out`` written
S_LEAD_MID = S_GAP_OPENER + 1
S_LEAD_SIGN = S_LEAD_MID + 1
S_LEAD_N = S_LEAD_SIGN + 1
# a move of a leading Exchange 2 pending after an Exchange 1 market order: when (s) and its sign (0: none)
S_LFOLLOW_T = S_LEAD_N + 1
S_LFOLLOW_SIGN = S_LFOLLOW_T + 1
S_LFOLLOW_SIZE = S_LFOLLOW_SIGN + 1  # its size, Exchange 1 ticks (0: a lead_move_ticks draw)
N_STATE = S_LFOLLOW_SIZE + 1

# margins a call keeps before it returns for more uniforms or output rows: one event's worst case
U_MARGIN = 16 + 2 * MAX_SWEEP
OUT_MARGIN = 8 + 3 * MAX_SWEEP


@jit_borrow
def spread_bin(spread, edges):
    """Index of the spread bin: the last lower bound (ticks) at or below ``spread``."""
    k = 0
    for i in range(edges.shape[0]):
        if spread >= edges[i]:
            k = i
    return k


@jit_borrow
def imbalance_bin(qb, qa, n_imb):
    total = qb + qa
    x = 0.0 if total <= 0 else (qb - qa) / total
    k = int((x + 1.0) * 0.5 * n_imb)
    return min(max(k, 0), n_imb - 1)


@jit_borrow
def sample_quantile(q, u, probs):
    """Inverse CDF of a distribution given by its quantiles ``q`` at ``probs``: linear between the points (on a
    log scale when both are positive, since sizes and jumps are heavy-tailed)."""
    n = probs.shape[0]
    k = 0
    while k < n - 2 and u > probs[k + 1]:
        k += 1
    lo, hi = q[k], q[k + 1]
    span = probs[k + 1] - probs[k]
    w = 0.0 if span <= 0 else (u - probs[k]) / span
    if lo > 0 and hi > 0:
        return math.exp(math.log(lo) + w * (math.log(hi) - math.log(lo)))
    return lo + w * (hi - lo)


@jit_borrow
def _flow_rate(rates, f, sb, ib, spread):
    """Intensity of flow ``f`` (per second) in the state: no order fits inside a one-tick spread."""
    if (f == Q_INSPREAD_BID or f == Q_INSPREAD_ASK) and spread <= 1:
        return 0.0
    return rates[f, sb, ib]


@jit_borrow
def _queue_factor(f, limit_bid, limit_ask, cancel_bid, cancel_ask, inspread_bid, inspread_ask):
    """Flow ``f``'s multiplier: of its own queue's size for the limit orders and cancels, of the side that opened
    the gap for the orders inside the spread (``_gap_factors``)."""
    if f == Q_INSPREAD_BID:
        return inspread_bid
    if f == Q_INSPREAD_ASK:
        return inspread_ask
    if f == Q_LIMIT_BID:
        return limit_bid
    if f == Q_LIMIT_ASK:
        return limit_ask
    if f == Q_CANCEL_BID:
        return cancel_bid
    if f == Q_CANCEL_ASK:
        return cancel_ask
    return 1.0


@jit_borrow
def _gap_factors(opener, revert, follow):
    """(bid's, ask's) multiplier of the orders inside the spread: ``revert`` on the side whose best moved away last
    (``opener``: 0 bid, 1 ask), ``follow`` on the other (on the recordings, after a queue empties, the gap is
    closed from the other side nearly nine times in ten: the price follows); 1 and 1 with no opener."""
    if opener == 0:
        return revert, follow
    if opener == 1:
        return follow, revert
    return 1.0, 1.0


@jit_borrow
def _flows_rate(rates, trend_mult, tr, sb, ib, spread, limit_bid, limit_ask, cancel_bid, cancel_ask, inspread_bid,
                inspread_ask):
    """The six flows' intensity together (per second) in the state, trend ``tr``, each scaled by its factor
    (``_queue_factor``)."""
    lam = 0.0
    for f in range(N_FLOWS):
        lam += (_flow_rate(rates, f, sb, ib, spread) * trend_mult[f, tr]
                * _queue_factor(f, limit_bid, limit_ask, cancel_bid, cancel_ask, inspread_bid, inspread_ask))
    return lam


@jit_borrow
def _queue_bin(queue, upper):
    k = 0
    while k < upper.shape[0] and queue > upper[k]:
        k += 1
    return k


@jit_borrow
def _draw_int(q, u, probs):
    v = int(round(sample_quantile(q, u, probs)))
    return v if v >= 1 else 1


@jit_borrow
def _refill_row(side, tr):
    """The distribution of the queue a best emptied on ``side`` leaves, in trend ``tr``."""
    return QT_REFILL_TREND if (side == 1 and tr == TREND_UP) or (side == 0 and tr == TREND_DOWN) else QT_REFILL


@jit_borrow
def _emptied_queue(out, k, ts, latency, side, price, quantiles, probs, u_jump, u_refill, tr):
    """A best queue emptied in trend ``tr``: its level leaves the printed book and the best moves away (the bid
    down, the ask up) by a recorded jump to a recorded queue. Returns (next row, new price, new queue)."""
    k = _emit(out, k, ts, latency, ME_BOOK, side, price, 0)
    jump = _draw_int(quantiles[QT_JUMP], u_jump, probs)
    price = price + jump if side == 1 else max(1, price - jump)
    return k, price, _draw_int(quantiles[_refill_row(side, tr)], u_refill, probs)


@jit_borrow
def _print_best(out, k, ts, latency, side, price, queue):
    """The best level of ``side`` as the book and the book ticker print it."""
    k = _emit(out, k, ts, latency, ME_BOOK, side, price, queue)
    return _emit(out, k, ts, latency, ME_BBO_BID if side == 0 else ME_BBO_ASK, side, price, queue)


@jit_borrow
def _leader_moved(state, lead_out, lead_k, t, lead_mid):
    """A leading Exchange 2's mid is now ``lead_mid`` (Exchange 1 ticks) at ``t`` s: remembered for its trend and
    written to row ``lead_k`` of ``lead_out``. Returns the next row."""
    _remember_mid(state, t, 2.0 * lead_mid)
    lead_out[lead_k, 0] = t
    lead_out[lead_k, 1] = lead_mid
    return lead_k + 1


@jit_borrow
def _remember_mid(state, t, mid2):
    """Append a change of the mid (``mid2`` = bid + ask, ticks) at ``t`` seconds to the state's ring."""
    head = (int(state[S_RING_HEAD]) + 1) % RING
    state[S_RING_HEAD] = head
    state[S_RING_T + head] = t
    state[S_RING_MID + head] = mid2
    state[S_RING_N] = min(state[S_RING_N] + 1.0, float(RING))


@jit_borrow
def trend_state(state, t, window_s, mid2):
    """(trend, until): TREND_UP when the mid (``mid2`` = bid + ask) is above where it stood ``window_s`` seconds
    before ``t``, TREND_DOWN below, TREND_FLAT level (and always, until forever, when ``window_s`` is 0: the model
    without the trend); ``until``: the time (s) the window's far end passes the next remembered move, before which
    the trend cannot change without an event."""
    if window_s <= 0.0:
        return TREND_FLAT, math.inf
    head = int(state[S_RING_HEAD])
    n = int(state[S_RING_N])
    oldest = (head - n + 1) % RING
    then = state[S_RING_MID + oldest]  # the ring ran out inside the window: the oldest remembered stands in
    until = state[S_RING_T + oldest] + window_s
    newer = -1
    for i in range(n):
        j = (head - i) % RING
        if state[S_RING_T + j] + window_s <= t:  # left the window (as ``until`` is computed: it is after t)
            then = state[S_RING_MID + j]
            until = state[S_RING_T + newer] + window_s if newer >= 0 else math.inf
            break
        newer = j
    if mid2 > then:
        return TREND_UP, until
    if mid2 < then:
        return TREND_DOWN, until
    return TREND_FLAT, until


@jit_borrow
def generate_venue(params, rates, market_mult, buy_prob, take_edges, take_prob, edges, quantiles, probs, trend_mult,
                   queue_edges, queue_mult, state, uniforms, u_pos, t_end_s, out, k, lead_out):
    """Run the model from ``state`` until ``t_end_s`` seconds (from params[P_START_NS]), writing events into
    ``out`` from row ``k``; ``market_mult``: the market orders' intensity multiplier per imbalance bin;
    ``buy_prob`` (trend, imbalance bin): the probability a market order not following its meta-order buys;
    ``take_prob`` (trend, bin): the probability a market order takes the whole queue it hits, per trend and bin of
    that queue's size (``take_edges``: the bins' upper bounds, lots, but the last); ``trend_mult`` (six flows and the
    market orders, trend): each intensity's multiplier in each trend of the mid over the last params[P_TREND_WINDOW_S]
    seconds (a window of 0: always TREND_FLAT, meta-orders' signs a coin's); for the market orders it scales the
    Hawkes baseline, not the excitation, which would otherwise pass a branching ratio of 1 in a trend.
    ``queue_mult`` (N_QUEUE_MULT rows, one column per bin of a best queue's size, ``queue_edges`` the bins' upper
    bounds in lots but the last; no columns: off): each flow's intensity multiplier by the size of its own queue, as
    in Huang, Lehalle and Rosenbaum (a thin queue draws the market orders that empty it and few limit orders).
    Limit orders and cancels (QM_LIMIT, QM_CANCEL) at each side's queue; market orders (QM_MARKET) at the queue they
    would hit: each drawn order is kept with probability its bin's multiplier over the row's largest, the bound
    drawn at the largest, and only the Hawkes baseline is scaled, not the excitation, as ``trend_mult`` does.
    A chase (params[P_CHASE_PROB] > 0): a market order that empties a queue is followed, with that probability, by
    another of its sign after P_CHASE_MIN_S plus an exponential delay of mean P_CHASE_MEAN_S seconds, at the queue it
    uncovered (on the recordings the order after one that took its queue comes within 20 ms twice as often as after
    one that did not); a chased order that empties its queue may be chased in turn, and it excites nothing.
    The gap's side (params[P_GAP_REVERT], params[P_GAP_FOLLOW], 1 and 1: off): while the spread is wider than a
    tick, the orders inside it on the side whose best moved away last are scaled by the first, the other side's by
    the second (``_gap_factors``). A chased order takes the whole queue it meets with probability
    params[P_CHASE_TAKE] (negative: by that queue's size, as any other order).
    Exchange 2 leading (params[P_LEAD_RATE] > 0 moves per second; 0: off): its mid (state[S_LEAD_MID], Exchange 1
    ticks less the basis' mean) moves on its own as one more Poisson flow, by a recorded size (QT_LEAD_MOVE), the
    last move's direction again with probability params[P_LEAD_REPEAT], else up with a probability that depends on
    where it stands against Exchange 1's mid (params[P_LEAD_UP_BELOW + b], b: more than params[P_LEAD_GAP] ticks
    below, within, above: Exchange 1 pulls it back); the trend of the state is then Exchange 2's mid's over the
    window, not Exchange 1's own (on the recordings spot's market orders come nine times as often in the 20 ms
    after the perpetual moved as otherwise, 85% of them in its direction), and with probability
    params[P_LEAD_FOLLOW] (an order that emptied a queue; params[P_LEAD_FOLLOW_PART] the others, negative: the same)
    it moves in the direction of an Exchange 1 market order, as far as that order moved Exchange 1's best (a
    QT_LEAD_MOVE draw if it moved nothing), after an exponential delay of mean
    params[P_LEAD_FOLLOW_MEAN_S] seconds (one such move pending at a time: on the recordings the perpetual moves in a
    spot order's direction within 50 ms as much as spot's orders follow its moves). Each move is written to ``lead_out``
    (rows: time s, mid; state[S_LEAD_N] rows written). Returns (next uniform, next row, done): done 0 means more
    uniforms or output rows (either array) are needed (the state is saved: call again)."""
    n_imb = rates.shape[2]
    mu = params[P_MU]
    jump_n = params[P_BRANCHING]
    beta = params[P_DECAY]
    follow = params[P_FOLLOW]
    tail = params[P_TAIL]
    latency = np.int64(params[P_LATENCY_NS])
    start_ns = np.int64(params[P_START_NS])
    window_s = params[P_TREND_WINDOW_S]
    sweep_in_jump = params[P_SWEEP_IN_JUMP] > 0
    by_queue = queue_mult.shape[1] > 0
    queue_top = 1.0
    if by_queue:
        queue_top = 0.0
        for m in range(queue_mult.shape[1]):
            queue_top = max(queue_top, queue_mult[QM_MARKET, m])
    f_lb = f_la = f_cb = f_ca = 1.0  # the limit orders' and cancels' queue multipliers (1: off)
    chase_prob = params[P_CHASE_PROB]
    chase_min = params[P_CHASE_MIN_S]
    chase_mean = params[P_CHASE_MEAN_S]
    chase_take = params[P_CHASE_TAKE]
    chase_t = state[S_CHASE_T]
    chase_sign = np.int64(state[S_CHASE_SIGN])
    gap_revert = params[P_GAP_REVERT]
    gap_follow = params[P_GAP_FOLLOW]
    opener = np.int64(state[S_GAP_OPENER])
    lead_rate = params[P_LEAD_RATE]
    leading = lead_rate > 0.0
    lead_repeat = params[P_LEAD_REPEAT]
    lead_gap = params[P_LEAD_GAP]
    lead_pull = params[P_LEAD_PULL]
    lead_follow = params[P_LEAD_FOLLOW]
    lead_follow_mean = params[P_LEAD_FOLLOW_MEAN_S]
    other_refill = params[P_LEAD_OTHER_REFILL] > 0.0
    lead_follow_part = params[P_LEAD_FOLLOW_PART] if params[P_LEAD_FOLLOW_PART] >= 0.0 else lead_follow
    lfollow_t = state[S_LFOLLOW_T]
    lfollow_sign = np.int64(state[S_LFOLLOW_SIGN])
    lfollow_size = state[S_LFOLLOW_SIZE]
    lead_mid = state[S_LEAD_MID]
    lead_sign = np.int64(state[S_LEAD_SIGN])
    lead_k = np.int64(state[S_LEAD_N])
    n_lead = lead_out.shape[0]
    t = state[S_T]
    bid = np.int64(state[S_B])
    ask = np.int64(state[S_A])
    qb = np.int64(state[S_QB])
    qa = np.int64(state[S_QA])
    excess = state[S_EXCESS]
    meta_left = np.int64(state[S_META_LEFT])
    meta_sign = np.int64(state[S_META_SIGN])
    n_u = uniforms.shape[0]
    n_out = out.shape[0]
    done = 0
    if state[S_STARTED] == 0.0:  # the opening book
        ts = start_ns
        k = _emit(out, k, ts, latency, ME_BOOK, 0, bid, qb)
        k = _emit(out, k, ts, latency, ME_BOOK, 1, ask, qa)
        k = _emit(out, k, ts, latency, ME_BBO_BID, 0, bid, qb)
        k = _emit(out, k, ts, latency, ME_BBO_ASK, 1, ask, qa)
        state[S_STARTED] = 1.0
        state[S_RING_N] = 0.0
        opener = -1
        if leading:
            lead_mid = 0.5 * (bid + ask)
            lead_sign = 1 if lead_sign >= 0 else -1
        _remember_mid(state, -1e300, 2.0 * lead_mid if leading else float(bid + ask))
    while True:
        if u_pos + U_MARGIN > n_u or k + OUT_MARGIN > n_out or (leading and lead_k >= n_lead):
            break
        sb = spread_bin(ask - bid, edges)
        ib = imbalance_bin(qb, qa, n_imb)
        boost = market_mult[ib]
        # the trend holds until the window's far end passes a move (or an event): arrivals at its intensities
        # until then, and from there afresh (exponential waiting times forget)
        tr, until = trend_state(state, t, window_s, 2.0 * lead_mid if leading else float(bid + ask))
        if by_queue:
            bin_b = _queue_bin(qb, queue_edges)
            bin_a = _queue_bin(qa, queue_edges)
            f_lb = queue_mult[QM_LIMIT, bin_b]
            f_la = queue_mult[QM_LIMIT, bin_a]
            f_cb = queue_mult[QM_CANCEL, bin_b]
            f_ca = queue_mult[QM_CANCEL, bin_a]
        f_ib, f_ia = _gap_factors(opener, gap_revert, gap_follow)
        lam_q = _flows_rate(rates, trend_mult, tr, sb, ib, ask - bid, f_lb, f_la, f_cb, f_ca, f_ib, f_ia)
        baseline = trend_mult[TREND_MARKET, tr] * mu * queue_top  # the bound: every order kept (1 when off)
        lam_pull = 0.0  # Exchange 1's book repriced towards a leading Exchange 2 (0 when it does not lead)
        if leading and lead_pull > 0.0:
            lam_pull = lead_pull * max(0.0, abs(lead_mid - 0.5 * (bid + ask)) - 1.0)
        lam_max = lead_rate + lam_pull + lam_q + boost * (baseline + excess)
        chasing = chase_sign != 0 and chase_t < t_end_s
        lfollowing = lfollow_sign != 0 and lfollow_t < t_end_s
        if lam_max <= 0.0 and until >= t_end_s and not chasing and not lfollowing:
            t = t_end_s
            done = 1
            break
        dt = -math.log(1.0 - uniforms[u_pos]) / lam_max if lam_max > 0.0 else math.inf
        u_pos += 1
        pick = 0.0
        if (lfollowing and lfollow_t <= t + dt and lfollow_t <= until
                and not (chasing and chase_t <= lfollow_t)):  # Exchange 2 follows an Exchange 1 market order
            excess *= math.exp(-beta * (lfollow_t - t))
            t = lfollow_t
            lead_sign = lfollow_sign
            lfollow_sign = 0
            if lfollow_size <= 0.0:  # the order moved nothing: a recorded move's size
                lfollow_size = sample_quantile(quantiles[QT_LEAD_MOVE], uniforms[u_pos], probs)
            u_pos += 1  # drawn or not, so that the draws after it do not depend on the order's move
            lead_mid += lead_sign * lfollow_size
            lead_k = _leader_moved(state, lead_out, lead_k, t, lead_mid)
            continue
        chase_now = chasing and chase_t <= t + dt and chase_t <= until
        if chase_now:  # the chase comes before the next drawn event (which is drawn afresh after it)
            excess *= math.exp(-beta * (chase_t - t))
            t = chase_t
        else:
            if t + dt >= until and until < t_end_s:
                excess *= math.exp(-beta * (until - t))
                t = until
                continue
            if t + dt >= t_end_s:
                excess *= math.exp(-beta * (t_end_s - t))
                t = t_end_s
                done = 1
                break
            t += dt
            excess *= math.exp(-beta * dt)
            pick = uniforms[u_pos] * lam_max
            u_pos += 1
            if pick < lead_rate:  # Exchange 2's mid moves (0 when it does not lead: never)
                size = sample_quantile(quantiles[QT_LEAD_MOVE], uniforms[u_pos], probs)
                if uniforms[u_pos + 1] >= lead_repeat:
                    gap = lead_mid - 0.5 * (bid + ask)
                    b = 0 if gap < -lead_gap else (2 if gap > lead_gap else 1)
                    lead_sign = 1 if uniforms[u_pos + 2] < params[P_LEAD_UP_BELOW + b] else -1
                u_pos += 3
                lead_mid += lead_sign * size
                lead_k = _leader_moved(state, lead_out, lead_k, t, lead_mid)
                continue
            pick -= lead_rate
            if pick < lam_pull:  # Exchange 1 reprices: the queue on the leader's side leaves and the book moves
                # towards where a one-tick book around the leader would stand, by a recorded jump at most (at
                # least a tick); the leaving side's new queue is a refill's, the other side's a refill's too
                # (params[P_LEAD_OTHER_REFILL] > 0: its makers reprice as well) or an order's inside the spread
                side = 1 if lead_mid > 0.5 * (bid + ask) else 0
                ts = start_ns + np.int64(t * 1e9)
                k = _emit(out, k, ts, latency, ME_BOOK, 1, ask, 0)
                k = _emit(out, k, ts, latency, ME_BOOK, 0, bid, 0)
                q_left = _draw_int(quantiles[_refill_row(side, tr)], uniforms[u_pos], probs)
                q_other = _draw_int(quantiles[QT_REFILL if other_refill else QT_INSPREAD], uniforms[u_pos + 1], probs)
                jump = _draw_int(quantiles[QT_JUMP], uniforms[u_pos + 2], probs)
                u_pos += 3
                if side == 1:
                    ask = max(ask + 1, min(ask + jump, np.int64(math.floor(lead_mid + 1.0))))
                    bid = ask - 1
                    qa, qb = q_left, q_other
                else:
                    bid = max(1, min(bid - 1, max(bid - jump, np.int64(math.ceil(lead_mid - 1.0)))))
                    ask = bid + 1
                    qb, qa = q_left, q_other
                opener = -1
                k = _print_best(out, k, ts, latency, side, ask if side == 1 else bid, qa if side == 1 else qb)
                k = _print_best(out, k, ts, latency, 1 - side, ask if side == 0 else bid, qa if side == 0 else qb)
                continue
            pick -= lam_pull
            if pick >= lam_q + boost * (baseline + excess):
                continue  # thinned: the market orders' intensity decayed since the bound was taken
        ts = start_ns + np.int64(t * 1e9)
        if chase_now:  # the chased order: its sign set, no meta-order step, no excitation
            sign = chase_sign
            chase_sign = 0
            side = 1 if sign > 0 else 0
            queue = qa if side == 1 else qb
        if chase_now or pick >= lam_q:  # a market order
            if not chase_now:
                meta_left_was = meta_left
                meta_sign_was = meta_sign
                if meta_left <= 0:
                    length = math.floor((1.0 - uniforms[u_pos]) ** (-1.0 / tail))
                    u_pos += 1
                    meta_left = np.int64(min(length, MAX_META))
                    p_buy = buy_prob[tr, ib] if window_s > 0.0 else 0.5  # a meta-order starting in a trend joins it
                    meta_sign = 1 if uniforms[u_pos] < p_buy else -1
                    u_pos += 1
                meta_left -= 1
                if uniforms[u_pos] < follow:
                    sign = meta_sign
                else:  # the thin side's queue, and the trend, draw the orders
                    sign = 1 if uniforms[u_pos + 1] < buy_prob[tr, ib] else -1
                u_pos += 2
                side = 1 if sign > 0 else 0  # the book side the order takes: a buy the asks
                queue = qa if side == 1 else qb
                # the baseline's orders (the excitation's are not scaled)
                if by_queue and pick < lam_q + boost * baseline:
                    kept = uniforms[u_pos] * queue_top < queue_mult[QM_MARKET, _queue_bin(queue, queue_edges)]
                    u_pos += 1
                    if not kept:  # not sent at this queue's size: as if never drawn
                        meta_left = meta_left_was
                        meta_sign = meta_sign_was
                        continue
                excess += jump_n * beta
            price = ask if side == 1 else bid
            first_price = price
            p_take = chase_take if chase_now and chase_take >= 0.0 else take_prob[tr, _queue_bin(queue, take_edges)]
            if uniforms[u_pos] < p_take:  # all of it and this much beyond
                size = queue + _draw_int(quantiles[QT_SWEEP], uniforms[u_pos + 1], probs) - 1
            else:  # a part of the queue
                part = sample_quantile(quantiles[QT_MARKET], uniforms[u_pos + 1], probs)
                size = max(1, min(queue - 1, int(round(part * queue))))
            u_pos += 2
            levels = 0
            emptied = False
            while size > 0 and levels < MAX_SWEEP:
                take = min(size, queue)
                k = _emit(out, k, ts, latency, ME_TRADE, 1 - side, price, take)  # the aggressor's side: 0 buys
                size -= take
                queue -= take
                if queue == 0:
                    emptied = True
                    opener = side
                    k, price, queue = _emptied_queue(out, k, ts, latency, side, price, quantiles, probs,
                                                     uniforms[u_pos], uniforms[u_pos + 1], tr)
                    u_pos += 2
                    if sweep_in_jump and size > 0:  # the recorded jump spans the levels the order took
                        k = _emit(out, k, ts, latency, ME_TRADE, 1 - side, price, size)
                        size = 0
                levels += 1
            if leading and (lead_follow > 0.0 or lead_follow_part > 0.0):  # Exchange 2 may follow it (one such
                # move pending at a time), by whether it took its whole queue
                if lfollow_sign == 0 and uniforms[u_pos] < (lead_follow if emptied else lead_follow_part):
                    lfollow_t = t - lead_follow_mean * math.log(1.0 - uniforms[u_pos + 1])
                    lfollow_sign = sign
                    # as far as the order moved Exchange 1's best (0: a recorded move's size when it comes)
                    lfollow_size = float(abs(price - first_price))
                u_pos += 2
            if emptied and chase_prob > 0.0:
                if uniforms[u_pos] < chase_prob:
                    chase_t = t + chase_min - chase_mean * math.log(1.0 - uniforms[u_pos + 1])
                    chase_sign = sign
                u_pos += 2
        else:  # a flow of the queue-reactive table: which one
            f = 0
            acc = 0.0
            for g in range(N_FLOWS):
                acc += (_flow_rate(rates, g, sb, ib, ask - bid) * trend_mult[g, tr]
                        * _queue_factor(g, f_lb, f_la, f_cb, f_ca, f_ib, f_ia))
                f = g
                if pick < acc:
                    break
            u = uniforms[u_pos]
            u_pos += 1
            side = 0 if f == Q_LIMIT_BID or f == Q_CANCEL_BID or f == Q_INSPREAD_BID else 1
            price = bid if side == 0 else ask
            queue = qb if side == 0 else qa
            if f == Q_LIMIT_BID or f == Q_LIMIT_ASK:
                queue += _draw_int(quantiles[QT_LIMIT], u, probs)
            elif f == Q_CANCEL_BID or f == Q_CANCEL_ASK:
                cut = max(1, int(math.ceil(sample_quantile(quantiles[QT_CANCEL], u, probs) * queue - 1e-9)))
                if cut < queue:
                    queue -= cut
                else:  # the last lots left
                    opener = side
                    k, price, queue = _emptied_queue(out, k, ts, latency, side, price, quantiles, probs,
                                                     uniforms[u_pos], uniforms[u_pos + 1], tr)
                    u_pos += 2
            else:  # inside the spread: the new best, ahead of the old one (which leaves the printed book)
                gap = ask - bid - 1
                step = int(round(sample_quantile(quantiles[QT_IMPROVE], u, probs) * gap))
                step = min(max(step, 1), gap)
                k = _emit(out, k, ts, latency, ME_BOOK, side, price, 0)
                price = price + step if side == 0 else price - step
                queue = _draw_int(quantiles[QT_INSPREAD], uniforms[u_pos], probs)
                u_pos += 1
        k = _print_best(out, k, ts, latency, side, price, queue)
        before = bid + ask
        if side == 0:
            bid, qb = price, queue
        else:
            ask, qa = price, queue
        if ask - bid <= 1:
            opener = -1
        if window_s > 0.0 and bid + ask != before and not leading:
            _remember_mid(state, t, float(bid + ask))
    state[S_T] = t
    state[S_B] = bid
    state[S_A] = ask
    state[S_QB] = qb
    state[S_QA] = qa
    state[S_EXCESS] = excess
    state[S_META_LEFT] = meta_left
    state[S_META_SIGN] = meta_sign
    state[S_CHASE_T] = chase_t
    state[S_CHASE_SIGN] = chase_sign
    state[S_GAP_OPENER] = opener
    state[S_LEAD_MID] = lead_mid
    state[S_LEAD_SIGN] = lead_sign
    state[S_LEAD_N] = lead_k
    state[S_LFOLLOW_T] = lfollow_t
    state[S_LFOLLOW_SIGN] = lfollow_sign
    state[S_LFOLLOW_SIZE] = lfollow_size
    return u_pos, k, done


# -- estimation: the recorded touch walked message by message ----------------------------------------------------
@jit
def _near(times, t, window):
    """True when a time in sorted ``times`` lies within ``window`` of ``t``."""
    i = np.searchsorted(times, t - window)
    return i < times.shape[0] and times[i] <= t + window


@jit
def _count(counts, f, sb, ib, tb):
    counts[f, sb, ib, tb] += 1.0


@jit
def _keep(samples, n_samples, row, value):
    """Append ``value`` to distribution ``row`` of the samples (while there is room)."""
    if n_samples[row] < samples.shape[1]:
        samples[row, n_samples[row]] = value
        n_samples[row] += 1


@jit
def _emptied(samples, n_samples, counts, cancel, by_order, jump, refill, sb, ib, tb):
    """A queue emptied: the price's jump and the new queue; a cancel (of all that was left) unless a market order
    on its side took it."""
    if not by_order:
        _count(counts, cancel, sb, ib, tb)
        _keep(samples, n_samples, QT_CANCEL, 1.0)
    _keep(samples, n_samples, QT_JUMP, jump)
    _keep(samples, n_samples, QT_REFILL, refill)
    if _refill_row(1 if cancel == Q_CANCEL_ASK else 0, tb) == QT_REFILL_TREND:
        _keep(samples, n_samples, QT_REFILL_TREND, refill)


@jit
def _trend_of(mid2_now, mid2_then):
    if mid2_now > mid2_then:
        return TREND_UP
    if mid2_now < mid2_then:
        return TREND_DOWN
    return TREND_FLAT


@jit
def touch_walk(t_ns, bid, qb, ask, qa, buys, sells, window_ns, edges, counts, time_in, samples, n_samples, trend_ns,
               msg_trend):
    """Classify each change of a recorded touch (one row per message: best bid and ask in the venue's ticks, their
    queues in lots, receive time in ns, times increasing) as the model's flows. ``buys``/``sells``: sorted receive
    times of market orders hitting the ask / the bid; a queue decrease or emptying within ``window_ns`` of one is
    the market order's, else a cancel. Adds event counts to ``counts`` (6, spread bins, imbalance bins, trends) in
    the state before the event, seconds spent per state to ``time_in`` (spread bins, imbalance bins, trends), and
    sizes, fractions and jumps to ``samples`` (QT_* rows; ``n_samples`` the number written per row). The trend:
    the mid against where it stood ``trend_ns`` before (TREND_FLAT throughout when 0); time in a state is split
    where the window's far end passes an earlier move. ``msg_trend`` (one per message; empty: off) gives the trend
    instead, from another series (Exchange 2's mid when it leads): message m's holds from it until message m + 1
    (the caller inserts a copy of the touch where it changes between messages); a queue that then empties without a
    market order is counted as the generator's repricing towards Exchange 2, not as a cancel. Moves away from the
    spread (an emptied queue) are applied before moves into it within one message, so that an improvement is seen in
    the spread it closed."""
    n_imb = counts.shape[2]
    given = msg_trend.shape[0] > 0
    back = 0  # the last message at or before the trend window's far end
    for m in range(1, t_ns.shape[0]):
        b0, a0, q0b, q0a = bid[m - 1], ask[m - 1], qb[m - 1], qa[m - 1]
        b1, a1, q1b, q1a = bid[m], ask[m], qb[m], qa[m]
        if not (a0 > b0 and b0 > 0 and a1 > b1 and b1 > 0):
            continue
        sb = spread_bin(a0 - b0, edges)
        ib = imbalance_bin(q0b, q0a, n_imb)
        now = b0 + a0
        then = now
        tb = TREND_FLAT
        if given:
            tb = msg_trend[m - 1]
            time_in[sb, ib, tb] += (t_ns[m] - t_ns[m - 1]) * 1e-9
        elif trend_ns > 0:
            seg = t_ns[m - 1]
            while back + 1 < m and t_ns[back + 1] + trend_ns <= t_ns[m]:
                if t_ns[back + 1] + trend_ns > seg:  # the far end passes message back + 1 inside this interval
                    edge = t_ns[back + 1] + trend_ns
                    time_in[sb, ib, _trend_of(now, bid[back] + ask[back])] += (edge - seg) * 1e-9
                    seg = edge
                back += 1
            then = bid[back] + ask[back] if t_ns[back] + trend_ns <= t_ns[m] else now
            tb = _trend_of(now, then)
            time_in[sb, ib, tb] += (t_ns[m] - seg) * 1e-9
        else:
            time_in[sb, ib, tb] += (t_ns[m] - t_ns[m - 1]) * 1e-9
        t = t_ns[m]
        cb, ca, cqb, cqa = b0, a0, q0b, q0a  # the touch as the classification goes
        # an emptied queue: the price moved away (with a leading Exchange 2, ``given``, a queue that empties without
        # a market order is Exchange 1 repricing to it, the generator's pull, not a cancel)
        if a1 > ca:
            _emptied(samples, n_samples, counts, Q_CANCEL_ASK, given or _near(buys, t, window_ns), a1 - ca, q1a, sb,
                     ib, tb)
            ca, cqa = a1, q1a
        if b1 < cb:
            _emptied(samples, n_samples, counts, Q_CANCEL_BID, given or _near(sells, t, window_ns), cb - b1, q1b, sb,
                     ib, tb)
            cb, cqb = b1, q1b
        # an order inside the spread: seen in the spread after the moves away
        for s in range(2):
            improved = (b1 > cb) if s == 0 else (a1 < ca)
            if not improved:
                continue
            gap = ca - cb - 1
            if gap >= 1:
                sb2 = spread_bin(ca - cb, edges)
                ib2 = imbalance_bin(cqb, cqa, n_imb)
                # in the trend of the mid after the moves away (the model's order comes after them)
                _count(counts, Q_INSPREAD_BID if s == 0 else Q_INSPREAD_ASK, sb2, ib2,
                       tb if given else _trend_of(cb + ca, then))
                moved = (b1 - cb) if s == 0 else (ca - a1)
                _keep(samples, n_samples, QT_IMPROVE, min(1.0, moved / gap))
                _keep(samples, n_samples, QT_INSPREAD, q1b if s == 0 else q1a)
            if s == 0:
                cb, cqb = b1, q1b
            else:
                ca, cqa = a1, q1a
        # the same price: a queue grew (a limit order) or shrank (a cancel, unless a market order took it)
        for s in range(2):
            same = (b1 == b0) if s == 0 else (a1 == a0)
            if not same:
                continue
            before = q0b if s == 0 else q0a
            after = q1b if s == 0 else q1a
            if after > before:
                _count(counts, Q_LIMIT_BID if s == 0 else Q_LIMIT_ASK, sb, ib, tb)
                _keep(samples, n_samples, QT_LIMIT, after - before)
            elif after < before:
                if not _near(sells if s == 0 else buys, t, window_ns):
                    _count(counts, Q_CANCEL_BID if s == 0 else Q_CANCEL_ASK, sb, ib, tb)
                    _keep(samples, n_samples, QT_CANCEL, (before - after) / before)


@jit
def gap_walk(t_ns, bid, qb, ask, qa, edges, n_imb, time_open, in_gap):
    """Who closes a gap: walk a recorded touch (as ``touch_walk``) keeping the side whose best moved away last while
    the spread is wider than a tick (the opener). Adds the seconds spent in each state with an opener to
    ``time_open`` (opener: 0 bid, 1 ask; spread bins; imbalance bins; in the state before each message) and counts
    the orders inside such a spread to ``in_gap`` ([0]: on the opener's side, the price going back; [1]: on the
    other, the price following). Within one message the moves away come first, as in ``touch_walk``."""
    opener = -1
    for m in range(1, t_ns.shape[0]):
        b0, a0, b1, a1 = bid[m - 1], ask[m - 1], bid[m], ask[m]
        if not (a0 > b0 and b0 > 0 and a1 > b1 and b1 > 0):
            opener = -1
            continue
        if a0 - b0 > 1 and opener >= 0:
            time_open[opener, spread_bin(a0 - b0, edges), imbalance_bin(qb[m - 1], qa[m - 1], n_imb)] += (
                t_ns[m] - t_ns[m - 1]) * 1e-9
        cb, ca = b0, a0
        if a1 > ca:
            opener = 1
            ca = a1
        if b1 < cb:
            opener = 0
            cb = b1
        for s in range(2):
            improved = (b1 > cb) if s == 0 else (a1 < ca)
            if not improved:
                continue
            if ca - cb >= 2 and opener >= 0:
                in_gap[0 if s == opener else 1] += 1.0
            if s == 0:
                cb = b1
            else:
                ca = a1
        if a1 - b1 <= 1:
            opener = -1


@jit
def hawkes_loglik(times, span, mu, n, beta):
    """Log-likelihood of arrival times (s, sorted, in [0, span]) under a Hawkes process with baseline ``mu``,
    branching ratio ``n`` and exponential decay ``beta`` per second."""
    ll = 0.0
    a = 0.0
    prev = 0.0
    for i in range(times.shape[0]):
        t = times[i]
        if i > 0:
            a = math.exp(-beta * (t - prev)) * (1.0 + a)
        lam = mu + n * beta * a
        if lam <= 0.0:
            return -1e300
        ll += math.log(lam)
        prev = t
    comp = mu * span
    for i in range(times.shape[0]):
        comp += n * (1.0 - math.exp(-beta * (span - times[i])))
    return ll - comp


@jit
def hawkes_em(times, trend, trend_time, span, n0, beta, iterations):
    """A Hawkes process whose baseline depends on the trend (``trend``: each arrival's, TREND_*; ``trend_time``:
    seconds spent in each) with exponential decay ``beta`` per second, fitted by expectation-maximisation
    (Lewis and Mohler 2011): each arrival's probability of being a baseline one, then the baselines and the
    branching ratio (at most 0.95) that make those expectations likely, ``iterations`` times from a branching
    ratio ``n0``. ``times``: sorted seconds in [0, span]. Returns (the baselines per second per trend, the
    branching ratio, the log-likelihood)."""
    n_ev = times.shape[0]
    nu = np.full(N_TRENDS, 0.5 * n_ev / span)
    background = np.empty(N_TRENDS)
    exposure = 0.0  # the excitation's integral per unit of branching: fixed by the decay
    for i in range(n_ev):
        exposure += 1.0 - math.exp(-beta * (span - times[i]))
    n = n0
    ll = -1e300
    for it in range(iterations + 1):
        background[:] = 0.0
        offspring = 0.0
        a = 0.0
        ll = -n * exposure
        for k in range(N_TRENDS):
            ll -= nu[k] * trend_time[k]
        for i in range(n_ev):
            if i > 0:
                a = math.exp(-beta * (times[i] - times[i - 1])) * (1.0 + a)
            base = nu[trend[i]]
            lam = base + n * beta * a
            if lam <= 0.0:
                return nu, n, -1e300
            ll += math.log(lam)
            p = base / lam
            background[trend[i]] += p
            offspring += 1.0 - p
        if it == iterations:
            break
        for k in range(N_TRENDS):
            nu[k] = background[k] / trend_time[k] if trend_time[k] > 0 else 0.0
        n = min(0.95, offspring / exposure) if exposure > 0 else 0.0
    return nu, n, ll


@jit
def ar1(shocks, phi, x0):
    """x[0] = phi x0 + shocks[0], x[i] = phi x[i-1] + shocks[i]: an Ornstein-Uhlenbeck process at fixed steps."""
    out = np.empty_like(shocks)
    x = x0
    for i in range(shocks.shape[0]):
        x = phi * x + shocks[i]
        out[i] = x
    return out


@jit_borrow
def _level_in(price, first, sign, levels):
    """Whether ``price`` is one of ``levels`` levels from ``first`` going ``sign`` (-1 down the bids, +1 up)."""
    d = (price - first) * sign
    return 0 <= d < levels


@jit
def exchange2_book(bid, grid_ns, start_ns, latency, levels, level_q, probs, draws, out):
    """Exchange 2's book, one price step wide, ``levels`` levels a side: ``bid`` is its best bid at each step of
    ``grid_ns`` (its own ticks). A level keeps its size while it stays in the book; a level that appears draws
    one (``level_q`` quantiles, lots). Rows go to ``out``; returns the number written."""
    qb = np.empty(levels, dtype=np.int64)
    qa = np.empty(levels, dtype=np.int64)
    nb = np.empty(levels, dtype=np.int64)
    na = np.empty(levels, dtype=np.int64)
    k = 0
    d = 0
    b0 = bid[0]
    ts = start_ns
    for i in range(levels):
        qb[i] = _draw_int(level_q, draws[d], probs)
        qa[i] = _draw_int(level_q, draws[d + 1], probs)
        d += 2
        k = _emit(out, k, ts, latency, ME_BOOK, 0, b0 - i, qb[i])
        k = _emit(out, k, ts, latency, ME_BOOK, 1, b0 + 1 + i, qa[i])
    k = _emit(out, k, ts, latency, ME_BBO_BID, 0, b0, qb[0])
    k = _emit(out, k, ts, latency, ME_BBO_ASK, 1, b0 + 1, qa[0])
    prev = b0
    for t in range(1, bid.shape[0]):
        b = bid[t]
        if b == prev:
            continue
        ts = start_ns + t * grid_ns
        # levels leaving the book (either side) first, so that a price changing sides is cleared before it is set
        for i in range(levels):
            if not _level_in(prev - i, b, -1, levels):
                k = _emit(out, k, ts, latency, ME_BOOK, 0, prev - i, 0)
            if not _level_in(prev + 1 + i, b + 1, 1, levels):
                k = _emit(out, k, ts, latency, ME_BOOK, 1, prev + 1 + i, 0)
        for i in range(levels):
            j = prev - (b - i)  # the old bid level at this price
            if 0 <= j < levels:
                nb[i] = qb[j]
            else:
                nb[i] = _draw_int(level_q, draws[d], probs)
                d += 1
                k = _emit(out, k, ts, latency, ME_BOOK, 0, b - i, nb[i])
            j = (b + 1 + i) - (prev + 1)
            if 0 <= j < levels:
                na[i] = qa[j]
            else:
                na[i] = _draw_int(level_q, draws[d], probs)
                d += 1
                k = _emit(out, k, ts, latency, ME_BOOK, 1, b + 1 + i, na[i])
        for i in range(levels):
            qb[i] = nb[i]
            qa[i] = na[i]
        k = _emit(out, k, ts, latency, ME_BBO_BID, 0, b, qb[0])
        k = _emit(out, k, ts, latency, ME_BBO_ASK, 1, b + 1, qa[0])
        prev = b
    return k
