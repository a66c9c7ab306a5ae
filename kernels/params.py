"""Indices into the flat float64 parameter vector the tick kernel reads.

A flat vector keeps the kernel signature short and the kernel free of Python objects.
``backtest.engine.kernel_params`` fills it from a validated config, converting every quantity
to kernel units (ticks, lots, tick index, tick-lots).
"""
_NAMES = (
    "N_TICKS", "DT_S", "TICK_SIZE", "LOT_SIZE",
    "FILL_MODEL",  # 0 book, 1 intensity
    "QUOTE_MODEL",  # 0 linear, 1 avellaneda_stoikov, 2 avellaneda_stoikov_symmetric
    "REFERENCE",  # 0 exchange1, 1 exchange2, 2 blend
    "SIZE", "HALF_SPREAD", "VOL_MULT", "DRIFT_MULT", "VOL_HORIZON_S", "VOL_ALPHA", "SIGMA0",
    "SKEW", "SKEW_ON",  # 0 exchange1 inventory, 1 net delta
    "REQUOTE_TOL", "AS_GAMMA", "AS_K", "AS_HORIZON_S", "INT_A", "INT_K",
    "HEDGE_ON", "MIN_HEDGE", "HEDGE_BUFFER", "RETRY_TICKS", "MAX_RETRIES",
    "SOFT", "HARD", "SOFT_FACTOR", "MAX_LOSS", "LOSS_WINDOW_TICKS", "COOLDOWN_TICKS",
    "KILL_LATENCY_MS",
    "ESCALATION",  # 0 kill, 1 flatten at market, 2 keep retrying
    "KILL_DRAWDOWN", "STALE_TICKS", "DEPTH_CHECK",
    "MAKER_BPS", "TAKER_BPS",
    "DEPTH1", "DEPTH2", "INIT_DEPTH1", "INIT_DEPTH2",
    "VOL_KNOWN",  # 1: quote with the configured volatility instead of the EWMA estimate
    "LOSS_BUCKET_TICKS",  # ticks per bucket of the rolling loss window (1 = exact, for windows up to 4094 ticks)
    "HEDGE_ROUND",  # 1: hedges round to the nearest Exchange 2 lot step (hedging.remainder 'round'); 0: down
    "HEDGE_STEP",  # Exchange 2's lot step in lots (hedges are sent in multiples of it; 1 on synthetic markets)
    "BASIS_ALPHA",  # per-tick EWMA weight of the basis estimate that corrects an Exchange 2 reference; 0 = off
    "QUEUE_MODEL",  # replay: 0 risk_averse, 1 probabilistic (power)
    "QUEUE_POWER",  # replay: n of the probabilistic queue model's f(x) = x^n
    "DECISION_TICKS",  # replay: the strategy re-quotes on ticks t with (t + 1) % DECISION_TICKS == 0 (1 = every tick)
    "RESPONSE_NS",  # replay: ns an ack, reject or fill takes to reach the strategy (0 = at once)
    "PARTIAL_FILLS",  # replay: 1 a trade fills what reaches past the queue ahead; 0 the whole order once it does
    "INT_AFTER_MOVE",  # intensity fills: 0 drawn against the mid the quotes were set from, 1 the mid after the move
    "HEDGE_INVERSE",  # 1: Exchange 2 trades an inverse contract: its sizes are contracts, its PnL and fees in base
    "CONTRACT_TL",  # inverse: one contract's face value in tick-lots (multiplier / (tick_size * lot_size))
    "RECORD_EVERY",  # ticks per tick-record row: row t // RECORD_EVERY holds each interval's last tick (1 = every tick)
    "SQRT_VOL_HORIZON",  # sqrt(VOL_HORIZON_S), once per run instead of every tick (the same double: sqrt is exact)
)
for _i, _n in enumerate(_NAMES):
    globals()["P_" + _n] = _i
N_PARAMS = len(_NAMES)
PARAM_NAMES = _NAMES
