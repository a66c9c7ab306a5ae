"""Several assets on one clock under one risk manager: the assets' tick loops run side by side, and the portfolio's
risk checks run between them.

Each asset is a whole single-asset run (``kernels.tick.run_ticks``: its own books, quotes, hedges, records and
per-asset limits, checked every tick). ``run_portfolio_ticks`` advances every asset over one check interval of
ticks, then checks the portfolio at the interval's last tick on what the assets hold after it, and its decisions
take effect from the next tick (at each asset's risk step, like the asset's own limits):

* gross notional (every leg of every asset at its mark) over its limit: every asset may only quote the side
  that lowers its Exchange 1 position (both sides are held while it is flat);
* net notional (the assets' net deltas at their marks, summed with their signs) over its limit: every asset
  holds the side that adds to it;
* exposure, ``sqrt(d' C d)`` with ``d`` the net deltas in currency and ``C`` an EWMA covariance of the assets'
  Exchange 1 returns scaled to one minute (a one-minute standard deviation of the book's value, the VaR-like
  figure), over its limit: each asset whose delta adds to it (``d_a (C d)_a > 0``) holds the side that grows
  its delta;
* the portfolio's loss over a rolling window (drawdown from the window's peak) over its limit: every asset is
  paused until a cool-down is over and the loss is back under the limit;
* drawdown from the portfolio's running peak over its limit: every asset is killed (once: an asset whose kill is
  reset by hand is not killed again by the same drawdown).

``run_portfolio_block_ticks`` (and ``_replay``) run the same thing speculatively: every asset over a block of
check intervals alone, then the block's checks on copies of what each asset held at their ticks; the caller puts
the block back and runs it in turns when one of those checks changes a throttle (``backtest.portfolio``).

A held side, a pause and a kill are each a row of the portfolio's risk events naming the asset (or -1, the
portfolio) and a row of the asset's own risk events (reasons ``R_PORTFOLIO_*``). Money here is in the account
currency (every asset's quote currency): an asset's tick-lots times its tick size times its lot size.

The per-asset state arrays are the single-asset kernel's; the portfolio's own state is ``ps`` (integers),
``pf`` (floats) and the arrays beside them. Compiled without reference counting; allocates nothing.
"""
import math

from kernels._jit import jit_borrow
from kernels.params import P_LOT_SIZE, P_TICK_SIZE
from kernels.records import (
    PA_KILL, PA_PAUSE, PA_RELEASE, PA_RESUME, PL_DRAWDOWN, PL_EXPOSURE, PL_GROSS, PL_LOSS_WINDOW, PL_NET,
    R_PORTFOLIO_KILL, STATE_ACTIVE, STATE_KILLED, STATE_PAUSED, STATE_REDUCED,
)
from kernels.strategy import (
    F_KILL_LIMIT, F_KILL_VALUE, F_PORT_LIMIT, F_PORT_VALUE, S_KILL_REASON, S_KILLED, S_PORT_BLOCK, S_PORT_PAUSE,
    hedge_leg_lots, keep_position, total_pnl,
)
from kernels.replay import STATE_FIELDS as REPLAY_FIELDS
from kernels.replay import run_replay
from kernels.tick import STATE_FIELDS as TICK_FIELDS
from kernels.tick import run_ticks

_PP = (
    "N_TICKS",
    "CHECK_TICKS",  # ticks per risk check
    "SAMPLE_CHECKS",  # checks per covariance sample
    "COV_ALPHA",  # EWMA weight of a new sample
    "MINUTE_SCALE",  # samples per minute: the covariance per sample times this is per minute
    "MAX_GROSS", "MAX_NET", "MAX_EXPOSURE", "MAX_LOSS", "KILL_DRAWDOWN",  # currency; inf = off
    "LOSS_WINDOW_CHECKS", "COOLDOWN_CHECKS",
)
for _i, _n in enumerate(_PP):
    globals()["PP_" + _n] = _i
N_PP = len(_PP)

PS_CHECKS = 0  # checks done so far
PS_KILLED = 1  # 1 once the drawdown kill has fired
PS_PAUSED_UNTIL = 2  # check index the loss pause is re-checked at, -1 = not paused
PS_DQ_HEAD = 3  # rolling-window peak deque (over checks)
PS_DQ_LEN = 4
N_PS = 5
PF_PEAK = 0  # running peak of the portfolio's PnL, currency
N_PF = 1

# columns of ``work`` (one row per asset)
W_DELTA = 0  # net delta at the mark, currency
W_RETURN = 1  # Exchange 1 return since the previous covariance sample
W_PRICE = 2  # Exchange 1 mark at the previous covariance sample, ticks
W_KIND = 3  # the limit (PL_*) behind the asset's held sides
N_WORK = 4

# where each loop's state holds what the portfolio reads: (acc, pos, si, sf)
_VIEWED = ("acc", "pos", "si", "sf")
SYNTHETIC_VIEW = tuple(TICK_FIELDS.index(name) for name in _VIEWED)
REPLAY_VIEW = tuple(REPLAY_FIELDS.index(name) for name in _VIEWED)


@jit_borrow
def _event(out_risk, pc, t, asset, kind, action, value, limit):
    n = pc[1]
    if n < out_risk.shape[0]:
        e = out_risk[n]
        e["tick"] = t
        e["asset"] = asset
        e["limit_kind"] = kind
        e["action"] = action
        e["value"] = value
        e["limit"] = limit
    else:
        pc[2] = 1  # overflow: the caller grows the array and runs the span again
    pc[1] = n + 1


@jit_borrow
def portfolio_check(t, views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc):
    """The portfolio's risk check at tick ``t``. ``views[a]`` = (p, feed1, feed2, acc, pos, si, sf) of asset ``a``,
    whose feeds hold ticks ``feed_start[a]`` onwards (a replay's chunk starts at its first tick; else 0). Writes one
    row of ``out_rows`` and the throttle changes to ``out_risk``; sets the
    assets' ``S_PORT_*`` / kill slots that their next tick obeys."""
    k = len(views)
    total = 0.0
    gross = 0.0
    net = 0.0
    for a in range(k):
        v = views[a]
        at = t - feed_start[a]
        p, f1, f2, acc, pos = v[0], v[1][at], v[2][at], v[3], v[4]
        tlv = p[P_TICK_SIZE] * p[P_LOT_SIZE]
        total += total_pnl(p, acc, pos, f1, f2) * tlv
        leg = hedge_leg_lots(acc)
        d = (pos[0] + leg) * f1 * tlv
        work[a, W_DELTA] = d
        net += d
        gross += (abs(pos[0]) * f1 + abs(leg) * f2) * tlv
    c = ps[PS_CHECKS]
    if (c + 1) % int(pp[PP_SAMPLE_CHECKS]) == 0:
        for a in range(k):
            f1 = views[a][1][t - feed_start[a]]
            work[a, W_RETURN] = f1 / work[a, W_PRICE] - 1.0
            work[a, W_PRICE] = f1
        alpha = pp[PP_COV_ALPHA]
        for a in range(k):
            for b in range(k):
                cov[a, b] = (1.0 - alpha) * cov[a, b] + alpha * work[a, W_RETURN] * work[b, W_RETURN]
    var = 0.0
    undiversified = 0.0
    for a in range(k):
        undiversified += abs(work[a, W_DELTA]) * math.sqrt(max(cov[a, a], 0.0))
        for b in range(k):
            var += work[a, W_DELTA] * cov[a, b] * work[b, W_DELTA]
    exposure = math.sqrt(max(var, 0.0) * pp[PP_MINUTE_SCALE])
    undiversified *= math.sqrt(pp[PP_MINUTE_SCALE])

    # rolling loss window over checks: a monotone deque of peaks (as the assets' own, kernels.strategy.step_risk)
    window = int(pp[PP_LOSS_WINDOW_CHECKS])
    cap = dq_idx.shape[0]
    head = ps[PS_DQ_HEAD]
    length = ps[PS_DQ_LEN]
    while length > 0:
        last = head + length - 1
        if last >= cap:
            last -= cap
        if dq_val[last] > total:
            break
        length -= 1
    nxt = head + length
    if nxt >= cap:
        nxt -= cap
    dq_idx[nxt] = c
    dq_val[nxt] = total
    length += 1
    while dq_idx[head] < c - window:
        head += 1
        if head == cap:
            head = 0
        length -= 1
    ps[PS_DQ_HEAD] = head
    ps[PS_DQ_LEN] = length
    peak_in_window = dq_val[head]
    if c < window and peak_in_window < 0.0:
        peak_in_window = 0.0  # the run starts from a peak of 0
    window_loss = peak_in_window - total
    if total > pf[PF_PEAK]:
        pf[PF_PEAK] = total
    drawdown = pf[PF_PEAK] - total

    if drawdown >= pp[PP_KILL_DRAWDOWN] and ps[PS_KILLED] == 0:
        ps[PS_KILLED] = 1
        _event(out_risk, pc, t, -1, PL_DRAWDOWN, PA_KILL, drawdown, pp[PP_KILL_DRAWDOWN])
        for a in range(k):
            si, sf = views[a][5], views[a][6]
            if si[S_KILLED] == 0:
                si[S_KILLED] = 1
                si[S_KILL_REASON] = R_PORTFOLIO_KILL
                sf[F_KILL_VALUE] = drawdown
                sf[F_KILL_LIMIT] = pp[PP_KILL_DRAWDOWN]

    max_loss = pp[PP_MAX_LOSS]
    until = ps[PS_PAUSED_UNTIL]
    was_paused = until >= 0
    if until >= 0 and c >= until:
        until = -1 if window_loss < max_loss else c + int(pp[PP_COOLDOWN_CHECKS])
    elif until < 0 and window_loss >= max_loss:
        until = c + int(pp[PP_COOLDOWN_CHECKS])
    ps[PS_PAUSED_UNTIL] = until
    paused = until >= 0
    if paused != was_paused:
        _event(out_risk, pc, t, -1, PL_LOSS_WINDOW, PA_PAUSE if paused else PA_RESUME, window_loss, max_loss)
        for a in range(k):
            si, sf = views[a][5], views[a][6]
            si[S_PORT_PAUSE] = 1 if paused else 0
            sf[F_PORT_VALUE] = window_loss
            sf[F_PORT_LIMIT] = max_loss

    blocked = 0
    for a in range(k):
        pos, si, sf = views[a][4], views[a][5], views[a][6]
        bits = 0
        kind = -1
        value = 0.0
        limit = 0.0
        if exposure > pp[PP_MAX_EXPOSURE]:
            d = work[a, W_DELTA]
            marginal = 0.0
            for b in range(k):
                marginal += cov[a, b] * work[b, W_DELTA]
            if d * marginal > 0.0:
                bits |= 1 if d > 0.0 else 2
                kind, value, limit = PL_EXPOSURE, exposure, pp[PP_MAX_EXPOSURE]
        if abs(net) > pp[PP_MAX_NET]:
            bits |= 1 if net > 0.0 else 2
            kind, value, limit = PL_NET, abs(net), pp[PP_MAX_NET]
        if gross > pp[PP_MAX_GROSS]:
            inv1 = pos[0]
            bits |= 1 if inv1 > 0 else (2 if inv1 < 0 else 3)
            kind, value, limit = PL_GROSS, gross, pp[PP_MAX_GROSS]
        old = si[S_PORT_BLOCK]
        if bits != old:
            if bits != 0:
                work[a, W_KIND] = kind
                sf[F_PORT_VALUE] = value
                sf[F_PORT_LIMIT] = limit
                _event(out_risk, pc, t, a, kind, bits, value, limit)
            else:
                _event(out_risk, pc, t, a, int(work[a, W_KIND]), PA_RELEASE, sf[F_PORT_VALUE], sf[F_PORT_LIMIT])
            si[S_PORT_BLOCK] = bits
        if bits != 0:
            blocked += 1

    row = out_rows[c]
    row["tick"] = t
    row["total_pnl"] = total
    row["gross_notional"] = gross
    row["net_notional"] = net
    row["exposure"] = exposure
    row["exposure_undiversified"] = undiversified
    row["window_loss"] = window_loss
    row["drawdown"] = drawdown
    row["blocked_assets"] = blocked
    row["state"] = (STATE_KILLED if ps[PS_KILLED] != 0 else STATE_PAUSED if paused
                    else STATE_REDUCED if blocked > 0 else STATE_ACTIVE)
    ps[PS_CHECKS] = c + 1
    pc[0] = c + 1


@jit_borrow
def _put_kept(views, a, kept, j):
    acc, pos = views[a][3], views[a][4]
    kept_acc, kept_pos = kept[a][0], kept[a][1]
    for q in range(acc.shape[0]):
        acc[q] = kept_acc[j, q]
    for q in range(pos.shape[0]):
        pos[q] = kept_pos[j, q]


@jit_borrow
def _checks_on_copies(views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc, check_at,
                      n_checks, kept):
    """The portfolio's checks of a block the assets ran alone (``run_portfolio_block_*``), in order, each on the
    assets' positions and accounts as they were at its tick (the copies). Returns the index of the first check
    that changed a throttle (its ``_event`` row is the sign: every change writes one), whose effect the assets'
    later ticks in the block did not obey; -1 if none did, and then the assets' own arrays hold the block's end
    again (``kept[a]`` row ``n_checks``)."""
    k = len(views)
    for j in range(n_checks):
        for a in range(k):
            _put_kept(views, a, kept, j)
        events = pc[1]
        portfolio_check(check_at[j], views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc)
        if pc[1] != events:
            return j
    for a in range(k):
        _put_kept(views, a, kept, n_checks)
    return -1


@jit_borrow
def run_portfolio_ticks(assets, views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc,
                        t_begin, t_end, no_keep, kept):
    """Advance every asset of a synthetic portfolio over ticks ``t_begin .. t_end - 1``, a check interval at a time,
    with the portfolio's risk check after each interval's last tick. ``assets[a]`` = (inputs, outputs, state): the
    arguments of ``kernels.tick.run_ticks`` before, between and after its tick range; ``views`` and ``feed_start``
    as in ``portfolio_check``. ``pc`` = [rows, risk events, overflow]; the assets' own counters say whether their
    records overflowed. ``no_keep``: an empty tick array (no copies for ``portfolio_check`` to read: it reads the
    assets' own arrays); ``kept`` as in ``run_portfolio_block_ticks``."""
    check = int(pp[PP_CHECK_TICKS])
    n_ticks = int(pp[PP_N_TICKS])
    k = len(assets)
    t = t_begin
    while t < t_end:
        nxt = (t // check + 1) * check
        if nxt > t_end:
            nxt = t_end
        for a in range(k):
            x = assets[a]
            i, o, s = x[0], x[1], x[2]
            run_ticks(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12], i[13], i[14],
                      i[15], i[16], t, nxt, no_keep, kept[a][0], kept[a][1], o[0], o[1], o[2], o[3], o[4], o[5],
                      s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14],
                      s[15], s[16], s[17], s[18], s[19], s[20], s[21], s[22])
        if nxt % check == 0 or nxt == n_ticks:
            portfolio_check(nxt - 1, views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc)
        t = nxt
    return pc[0]


# The replay drivers repeat the synthetic ones but for the kernel they call (its arguments differ in number). One
# driver taking the kernel as an argument (``loop(*inputs, t, nxt, ..., *outputs, *state)``) was tried: identical
# results, but numba's on-disk cache then fails to save a second signature of it once the dispatcher of an earlier
# process is in its index ("ReferenceError: underlying object has vanished").
@jit_borrow
def run_portfolio_replay(assets, views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc,
                         t_begin, t_end, no_keep, kept):
    """``run_portfolio_ticks`` for recorded markets: ``assets[a]`` holds the arguments of
    ``kernels.replay.run_replay`` (every asset's recordings laid on the same grid from the same start)."""
    check = int(pp[PP_CHECK_TICKS])
    n_ticks = int(pp[PP_N_TICKS])
    k = len(assets)
    t = t_begin
    while t < t_end:
        nxt = (t // check + 1) * check
        if nxt > t_end:
            nxt = t_end
        for a in range(k):
            x = assets[a]
            i, o, s = x[0], x[1], x[2]
            run_replay(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12], i[13], i[14],
                       t, nxt, no_keep, kept[a][0], kept[a][1], o[0], o[1], o[2], o[3], o[4], o[5],
                       s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14],
                       s[15], s[16], s[17], s[18], s[19], s[20], s[21], s[22], s[23], s[24], s[25])
        if nxt % check == 0 or nxt == n_ticks:
            portfolio_check(nxt - 1, views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc)
        t = nxt
    return pc[0]


@jit_borrow
def _block_checks(pp, t_begin, t_end, check_at):
    """The ticks of the checks in ``t_begin .. t_end - 1`` into ``check_at`` (the rest -1); returns how many."""
    check = int(pp[PP_CHECK_TICKS])
    n_ticks = int(pp[PP_N_TICKS])
    n = 0
    t = (t_begin // check + 1) * check
    while t <= t_end:
        check_at[n] = t - 1
        n += 1
        t += check
    if t_end == n_ticks and n_ticks % check != 0:
        check_at[n] = n_ticks - 1
        n += 1
    for j in range(n, check_at.shape[0]):
        check_at[j] = -1
    return n


@jit_borrow
def run_portfolio_block_ticks(assets, views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk,
                              pc, t_begin, t_end, check_at, kept):
    """``run_portfolio_ticks`` speculatively: each asset runs ticks ``t_begin .. t_end - 1`` alone, on the throttles
    as they are at ``t_begin``, keeping a copy of its account and positions at every check's tick (``kept[a]`` =
    (accounts, positions), row ``j`` at ``check_at[j]``, and the block's end after the last; ``check_at`` is written
    here, -1 past the block's checks); then the block's checks run in order on the copies
    (``_checks_on_copies``). When no check changes a throttle, every asset ran exactly what it runs in turns; when
    one does, the return value says which, and the caller puts back every state from before the block and runs it
    in turns. Running an asset's ticks in one
    stretch instead of a check interval at a time is what saves the time (``backtest.portfolio``)."""
    n_checks = _block_checks(pp, t_begin, t_end, check_at)
    for a in range(len(assets)):
        x = assets[a]
        i, o, s = x[0], x[1], x[2]
        kept_acc, kept_pos = kept[a][0], kept[a][1]
        run_ticks(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12], i[13], i[14],
                  i[15], i[16], t_begin, t_end, check_at, kept_acc, kept_pos, o[0], o[1], o[2], o[3], o[4], o[5],
                  s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14],
                  s[15], s[16], s[17], s[18], s[19], s[20], s[21], s[22])
        keep_position(views[a][3], views[a][4], kept_acc, kept_pos, n_checks)
    return _checks_on_copies(views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc,
                             check_at, n_checks, kept)


@jit_borrow
def run_portfolio_block_replay(assets, views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk,
                               pc, t_begin, t_end, check_at, kept):
    """``run_portfolio_block_ticks`` for recorded markets (``run_portfolio_replay``'s assets)."""
    n_checks = _block_checks(pp, t_begin, t_end, check_at)
    for a in range(len(assets)):
        x = assets[a]
        i, o, s = x[0], x[1], x[2]
        kept_acc, kept_pos = kept[a][0], kept[a][1]
        run_replay(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12], i[13], i[14],
                   t_begin, t_end, check_at, kept_acc, kept_pos, o[0], o[1], o[2], o[3], o[4], o[5],
                   s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14],
                   s[15], s[16], s[17], s[18], s[19], s[20], s[21], s[22], s[23], s[24], s[25])
        keep_position(views[a][3], views[a][4], kept_acc, kept_pos, n_checks)
    return _checks_on_copies(views, feed_start, pp, ps, pf, work, cov, dq_idx, dq_val, out_rows, out_risk, pc,
                             check_at, n_checks, kept)
