"""Record dtypes written by the tick kernel, and the small integer enums used inside it.

Kernel units: prices in ticks (float where a mid or VWAP can fall between ticks), sizes in lots,
money in tick-lots (one tick of price on one lot; multiply by tick_size * lot_size for currency),
time as the tick index (multiply by dt_s for seconds). ``backtest.results`` converts at the edge.
"""
import numpy as np

# Sides: +1 buy (bid), -1 sell (ask). Book arrays index sides as 0 = bid, 1 = ask.
BUY = 1
SELL = -1
BID = 0
ASK = 1

# Order owners in the book.
OWNER_OTHER = 0
OWNER_MM = 1

# Event kinds in the pre-generated flow.
EV_LIMIT = 0
EV_CANCEL = 1
EV_MARKET = 2
EV_CLIENT = 3  # a client market order on Exchange 1 (possibly informed)

# One pre-generated background or client event, 10 bytes: the table of a venue's events is read
# front to back once, so one packed row per event keeps the stream compact and the kernel's call
# arguments few.
event_dt = np.dtype(
    [
        ("kind", np.int8),  # EV_*
        ("side", np.int8),  # 0 bid / buy, 1 ask / sell
        ("offset", np.int32),  # limit: ticks from the venue price; cancel: which resting order it hits
        ("qty", np.int32),  # lots (limit, market, client)
    ]
)

# Risk states, ordered by severity.
STATE_ACTIVE = 0
STATE_REDUCED = 1
STATE_PAUSED = 2
STATE_KILLED = 3
STATE_NAMES = ("active", "reduced", "paused", "killed")

# Reasons for a risk-state change.
R_NONE = 0
R_SOFT_LIMIT = 1
R_BACK_INSIDE_LIMITS = 2
R_LOSS_WINDOW = 3
R_COOLDOWN_OVER = 4
R_MANUAL_PAUSE = 5
R_MANUAL_RESUME = 6
R_HEDGE_FAILURE = 7
R_LATENCY_SPIKE = 8
R_KILL_RESET = 9
R_MANUAL_KILL = 10
R_STALE_FEED = 11
R_FEED_RESUMED = 12
R_DRAWDOWN_KILL = 13
R_ORDER_LATENCY_SPIKE = 14
R_PORTFOLIO_LIMIT = 15  # a portfolio notional or exposure limit: quoting reduced to the side that lowers it
R_PORTFOLIO_LOSS = 16  # the portfolio's loss over its rolling window: every asset paused
R_PORTFOLIO_KILL = 17  # the portfolio's drawdown from its peak: every asset killed
REASON_NAMES = (
    "none",
    "soft position limit",
    "back inside position limits",
    "loss over rolling window",
    "cool-down over",
    "manual pause",
    "manual resume",
    "hedge failure",
    "hedge latency spike",
    "kill switch reset",
    "manual kill",
    "stale reference feed",
    "reference feed updating again",
    "drawdown from peak",
    "order latency spike",
    "portfolio limit",
    "portfolio loss over rolling window",
    "portfolio drawdown",
)

# Intervention kinds (user actions applied at a tick).
IV_MANUAL_FILL = 0
IV_PAUSE = 1
IV_RESUME = 2
IV_KILL_RESET = 3
IV_KILL = 4
INTERVENTION_NAMES = ("manual_fill", "pause", "resume", "kill_reset", "kill")

# Order actions (our own orders on Exchange 1).
OA_NEW = 0
OA_CANCEL = 1
OA_FILLED = 2
OA_CANCEL_SENT = 3  # a cancel left for Exchange 1; the order can still trade until it lands ("cancel")
ORDER_ACTION_NAMES = ("new", "cancel", "filled", "cancel_sent")

# Why an order was cancelled or placed.
OR_QUOTE = 0
OR_REQUOTE = 1
OR_RISK = 2
OR_KILL = 3
ORDER_REASON_NAMES = ("quote", "requote", "risk", "kill switch")

# Fill liquidity.
LIQ_MAKER = 0
LIQ_MANUAL = 1
LIQ_INTENSITY = 2
LIQUIDITY_NAMES = ("maker", "manual", "intensity")

# Hedge attempt status.
H_FILLED = 0
H_PARTIAL = 1
H_REJECTED = 2
H_NO_LIQUIDITY = 3
HEDGE_STATUS_NAMES = ("filled", "partial", "rejected", "no_liquidity")

intervention_dt = np.dtype(
    [("tick", np.int64), ("kind", np.int64), ("side", np.int64), ("qty", np.int64), ("price", np.int64)],
    align=True,
)
"""An intervention: at ``tick``, ``kind`` (IV_*); for manual fills ``side`` (+1 we buy, -1 we sell),
``qty`` lots and ``price`` ticks (-1 = at our current quote, else the touch)."""

# One row per tick, 120 bytes: what moves every tick (the books' touch, our quotes and their queue
# places, the quoting inputs and the marked-to-market PnL). The tick records are the largest output of a
# long run and, on a fresh process, memory first written costs about as much as the simulation itself, so
# the tick index and the price feeds (inputs, kept in the market arrays) are not repeated here, prices
# in ticks and sizes in lots are int32 (2^31 ticks or lots is beyond any configurable run), and what only
# changes when we trade or change risk state is in ``account_dt`` rows instead.
tick_dt = np.dtype(
    [
        ("best_bid1", np.int32),  # ticks, -1 when empty
        ("best_ask1", np.int32),
        ("best_bid2", np.int32),
        ("best_ask2", np.int32),
        ("quote_bid", np.int32),  # our resting bid on Exchange 1, ticks; -1 = none
        ("quote_ask", np.int32),
        ("quote_bid_size", np.int32),  # lots remaining
        ("quote_ask_size", np.int32),
        ("bid_queue_ahead", np.int32),  # lots ahead of our bid at its level
        ("ask_queue_ahead", np.int32),
        ("bid_in_flight", np.int32),  # our bid sent to Exchange 1 and not yet landed, ticks; -1 = none
        ("ask_in_flight", np.int32),
        ("bid_cancel_pending_lots", np.int32),  # lots of our bids still resting while their cancel travels
        ("ask_cancel_pending_lots", np.int32),
        ("reference", np.float64),  # quote reference price, ticks
        ("reservation", np.float64),  # reference shifted by inventory skew, ticks
        ("half_spread", np.float64),  # target half-spread, ticks
        ("sigma", np.float64),  # estimated volatility of the reference, ticks per sqrt(second)
        ("unrealized", np.float64),  # inventory marked to feeds against average cost, tick-lots
        ("hedge_basis", np.float64),  # basis change on the hedge leg since the fill
        ("inventory_mtm", np.float64),  # net (unhedged) inventory marked to Exchange 1 feed
        ("total_pnl", np.float64),  # cash + inventory at marks - fees, tick-lots
    ],
    align=True,
)
assert tick_dt.itemsize == 120 and sum(f[0].itemsize for f in tick_dt.fields.values()) == 120

# The account, one row for each tick where any of it changed (a few percent of ticks): it holds from that
# tick until the next row. ``Results`` expands it to one value per tick. 120 bytes, no padding (a row
# copied into an array made by np.empty must equal its original byte for byte): positions are int64 so
# that no sequence of fills (manual fills included) can wrap them.
account_dt = np.dtype(
    [
        ("tick", np.int64),  # first tick these values hold for
        ("cash1", np.float64),  # tick-lots
        ("cash2", np.float64),
        ("fees1", np.float64),  # fees paid (negative = rebate received), tick-lots
        ("fees2", np.float64),
        ("realized", np.float64),  # average-cost realized PnL before fees, tick-lots
        ("spread_capture", np.float64),  # cumulative, tick-lots
        ("hedge_slippage", np.float64),  # cumulative execution cost vs Exchange 2 mark at execution
        ("hedge_latency", np.float64),  # cumulative Exchange 2 move between fill and hedge
        ("inv1", np.int64),  # Exchange 1 position, lots
        ("inv2", np.int64),  # Exchange 2 position, its lots (contracts on an inverse contract)
        ("pending_hedge", np.int64),  # signed lots scheduled but not yet executed on Exchange 2
        ("hedge_base2", np.float64),  # the hedge leg in lots of the base asset (linear: inv2; see kernels.strategy)
        ("fee_base2", np.float64),  # inverse: fees paid in the base asset, lots (0 on a linear venue)
        ("state", np.int32),  # risk state (STATE_*)
        ("manual_pause", np.int32),  # 1 while a manual pause is in force
    ],
    align=True,
)
assert account_dt.itemsize == 120 and sum(f[0].itemsize for f in account_dt.fields.values()) == 120

fill_dt = np.dtype(
    [
        ("fill_id", np.int64),
        ("tick", np.int64),
        ("order_id", np.int64),  # -1 for manual / intensity fills
        ("side", np.int64),  # +1 we bought, -1 we sold
        ("price", np.int64),  # ticks
        ("qty", np.int64),  # lots
        ("liquidity", np.int64),  # LIQ_*
        ("feed1", np.float64),  # Exchange 1 mark at the fill, ticks
        ("feed2", np.float64),
        ("spread_capture", np.float64),  # side * (feed1 - price) * qty, tick-lots
        ("fee", np.float64),  # tick-lots
        ("inv1_after", np.int64),
        ("hedge_due_tick", np.int64),  # tick at which its hedge reaches Exchange 2; -1 = not hedged
        ("hedge_latency_ms", np.float64),  # latency drawn for its hedge order, ms
    ],
    align=True,
)

hedge_dt = np.dtype(
    [
        ("hedge_id", np.int64),
        ("first_fill_tick", np.int64),  # earliest Exchange 1 fill this hedge covers
        ("tick", np.int64),  # tick of this attempt on Exchange 2
        ("attempt", np.int64),  # 1 = first attempt
        ("side", np.int64),  # +1 buy on Exchange 2, -1 sell
        ("qty_requested", np.int64),  # Exchange 2 lots (contracts on an inverse contract)
        ("qty_filled", np.int64),
        ("base_filled", np.float64),  # what qty_filled is worth in lots of the base asset (linear: the same)
        ("limit_price", np.int64),  # ticks
        ("vwap", np.float64),  # ticks (0 if nothing filled); inverse: notional / base, the harmonic mean price
        ("feed2_at_fill", np.float64),  # Exchange 2 mark at the covered fills (qty-weighted), ticks
        ("feed2_at_hedge", np.float64),  # Exchange 2 mark at this attempt, ticks
        ("slippage", np.float64),  # side * (feed2_at_hedge - vwap) * filled, tick-lots (<= 0 = cost)
        ("latency_cost", np.float64),  # side * (feed2_at_fill - feed2_at_hedge) * filled, tick-lots
        ("fee", np.float64),  # tick-lots
        ("status", np.int64),  # H_*
        ("market", np.int64),  # 1 = an escalated market order (no limit), 0 = limit order with the buffer
    ],
    align=True,
)

# About one row per tick when the quotes are refreshed often, so 24 bytes (no padding) rather than 56:
# at 10^6 ticks that is 40 MB less memory to touch. Frames widen the integers back to int64.
order_dt = np.dtype(
    [
        ("order_id", np.int64),
        ("tick", np.int32),
        ("price", np.int32),  # ticks
        ("qty", np.int32),  # lots (new: placed size; cancel: size left)
        ("action", np.int16),  # OA_*
        ("side", np.int8),  # +1 buy, -1 sell
        ("reason", np.int8),  # OR_*
    ],
    align=True,
)
assert order_dt.itemsize == 24 and sum(f[0].itemsize for f in order_dt.fields.values()) == 24

risk_event_dt = np.dtype(
    [
        ("tick", np.int64),
        ("old_state", np.int64),
        ("new_state", np.int64),
        ("reason", np.int64),  # R_*
        ("value", np.float64),  # the measured quantity that triggered it (units depend on reason)
        ("limit", np.float64),  # the threshold it was compared with
    ],
    align=True,
)

# -- recorded markets (backtest.markets.data) -------------------------------------------------------------------
# Kinds of a normalised market event. A BOOK event sets the resting quantity at one price level of one side
# to ``qty`` (0 = the level is gone): snapshot levels and diff updates alike, so applying events in order
# rebuilds the L2 book. BOOK_CLEAR empties both sides (before a snapshot that resyncs the book). TRADE is a
# trade with ``side`` the aggressor's (0 = a buyer lifted the ask, 1 = a seller hit the bid). BBO_BID /
# BBO_ASK are best bid / ask updates from a book-ticker stream (the touch between depth batches).
ME_BOOK = 0
ME_TRADE = 1
ME_BOOK_CLEAR = 2
ME_BBO_BID = 3
ME_BBO_ASK = 4
MARKET_EVENT_NAMES = ("book", "trade", "book_clear", "bbo_bid", "bbo_ask")

# Flags of a normalised event.
MF_SNAPSHOT = 1  # a level of a (re)synchronising snapshot
MF_NO_EXCH_TS = 2  # the message carried no exchange time: exch_ts is recv_ts (feed latency unknown)

market_event_dt = np.dtype(
    [
        ("exch_ts", np.int64),  # exchange time of the event, ns since the epoch
        ("recv_ts", np.int64),  # when the recorder received it, ns, on the exchange's clock (offset removed)
        ("price", np.int64),  # ticks of the venue's tick size
        ("qty", np.int64),  # lots of the venue's lot step (BOOK: the level's new quantity; TRADE: traded)
        ("kind", np.int16),  # ME_*
        ("side", np.int16),  # BOOK/BBO: 0 bid, 1 ask; TRADE: aggressor 0 buy, 1 sell
        ("flags", np.int32),  # MF_*
    ],
    align=True,
)
assert market_event_dt.itemsize == 40 and sum(f[0].itemsize for f in market_event_dt.fields.values()) == 40
"""One normalised market event of one venue, 40 bytes, no padding (so equal events are equal bytes). ``recv_ts - exch_ts``
is the event's feed latency after the recorder's clock offset was removed (see ``backtest.markets.data``)."""

# -- portfolio (kernels.portfolio) ------------------------------------------------------------------------
# One row per portfolio risk check, in the account currency (quote currency of every asset).
portfolio_row_dt = np.dtype(
    [
        ("tick", np.int64),  # the check's tick (its last tick: the check sees the assets after it)
        ("total_pnl", np.float64),  # sum of the assets' total PnL, currency
        ("gross_notional", np.float64),  # sum over assets and venues of |position| x mark, currency
        ("net_notional", np.float64),  # sum over assets of net delta x Exchange 1 mark (signed), currency
        ("exposure", np.float64),  # sqrt(d' C d): one-minute standard deviation of the net deltas' value, currency
        ("exposure_undiversified", np.float64),  # sum of |d_a| sqrt(C_aa): the same with every correlation 1
        ("window_loss", np.float64),  # drawdown from the peak within the rolling loss window, currency
        ("drawdown", np.float64),  # from the running peak since the start, currency
        ("blocked_assets", np.int32),  # assets with a quote side held by a portfolio limit
        ("state", np.int32),  # STATE_*: active, reduced (some side held), paused (loss window), killed
    ],
    align=True,
)

# What a portfolio throttle acted on (PL_*) and what it did (PA_*).
PL_GROSS = 0
PL_NET = 1
PL_EXPOSURE = 2
PL_LOSS_WINDOW = 3
PL_DRAWDOWN = 4
PORTFOLIO_LIMIT_NAMES = ("gross notional", "net notional", "exposure", "loss over rolling window", "drawdown")
PA_RELEASE = 0  # the asset's quote sides are free again
PA_HOLD_BIDS = 1  # bits as in S_PORT_BLOCK
PA_HOLD_ASKS = 2
PA_HOLD_BOTH = 3
PA_PAUSE = 4
PA_RESUME = 5
PA_KILL = 6
PORTFOLIO_ACTION_NAMES = ("release", "hold bids", "hold asks", "hold both sides", "pause all", "resume all",
                          "kill all")

portfolio_risk_dt = np.dtype(
    [
        ("tick", np.int64),
        ("asset", np.int64),  # index of the asset acted on, -1 = the whole portfolio
        ("limit_kind", np.int64),  # PL_*
        ("action", np.int64),  # PA_*
        ("value", np.float64),  # the portfolio figure, currency
        ("limit", np.float64),  # its limit, currency
    ],
    align=True,
)
