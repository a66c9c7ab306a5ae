"""What a venue trades: spot, a linear (USD-M) perpetual or an inverse (COIN-M) perpetual.

An instrument names its base, quote and settlement currency, its price step (quote currency) and quantity
step, and its contract multiplier: for spot and linear contracts a quantity is in base units (multiplier 1);
for an inverse contract a quantity is in contracts, each worth ``contract_multiplier`` of the quote currency
(BTCUSD_PERP: 100 USD), and its PnL and fees are in the base currency (N contracts opened at P0 and closed at
P1 make N x multiplier x (1/P0 - 1/P1) BTC). These are the terms hftbacktest's LinearAsset / InverseAsset and
nautilus_trader's instruments (``is_inverse``, ``multiplier``) use.

Imports infer the instrument from what the capture tells: Binance's spot stream is spot; its futures stream
(``pu`` in the depth diffs) is a linear perpetual, or an inverse one when the symbol has the coin-margined
form ``BTCUSD_PERP`` (``BTCUSD_240927`` for a dated future); the contract sizes are Binance's (BTC 100 USD,
every other COIN-M contract 10 USD). Anything the name does not tell is taken from import options.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

KINDS = ("spot", "linear_perpetual", "inverse_perpetual")

# Binance COIN-M contract sizes, quote currency (USD) per contract: BTC's is 100, every other's 10
# (https://www.binance.com/en/futures/trading-rules/quarterly)
COINM_CONTRACT_USD = {"BTC": 100.0}
COINM_DEFAULT_CONTRACT_USD = 10.0

# quote currencies a Binance symbol can end with, longest first so FDUSD wins over USD
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "DAI", "USD", "EUR", "TRY", "BRL", "BTC", "ETH", "BNB")


@dataclass(frozen=True)
class Instrument:
    """One venue's instrument. ``tick_size`` in quote currency; ``lot_size`` in base units (spot, linear) or
    contracts (inverse); ``contract_multiplier`` quote currency per contract (inverse) or 1."""

    kind: str
    symbol: str
    base: str
    quote: str
    settle: str
    tick_size: float
    lot_size: float
    contract_multiplier: float = 1.0

    @property
    def inverse(self) -> bool:
        return self.kind == "inverse_perpetual"

    def describe(self) -> str:
        qty = (f"contracts of {self.contract_multiplier:g} {self.quote}" if self.inverse
               else f"{self.base}")
        return (f"{self.kind.replace('_', ' ')} {self.symbol}: base {self.base}, quote {self.quote}, settled in "
                f"{self.settle}; price step {self.tick_size:g} {self.quote}, quantity step {self.lot_size:g} {qty}")

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "Instrument":
        return Instrument(**{k: d[k] for k in ("kind", "symbol", "base", "quote", "settle", "tick_size", "lot_size",
                                               "contract_multiplier")})


def split_symbol(symbol: str) -> tuple[str, str]:
    """(base, quote) of a Binance-style symbol: ``BTCUSDT`` -> (BTC, USDT), ``BTCUSD_PERP`` -> (BTC, USD); a
    symbol without a known quote currency -> (symbol, '?')."""
    core = symbol.upper().split("_")[0]
    for q in _QUOTES:
        if core.endswith(q) and len(core) > len(q):
            return core[: -len(q)], q
    return core, "?"  # a name that does not say (hand-made data): the symbol stands for the base


def infer_instrument(source: str, symbol: str, tick_size: float, lot_size: float) -> Instrument:
    """The instrument a capture of ``source`` ('binance-spot', 'binance-usdm', 'binance-coinm', 'tardis' or
    'test') for ``symbol`` trades, by the names (see the module docstring)."""
    base, quote = split_symbol(symbol)
    coin_margined = "_" in symbol or source == "binance-coinm"
    if source == "binance-spot":
        return Instrument("spot", symbol, base, quote, quote, tick_size, lot_size)
    if coin_margined:
        mult = COINM_CONTRACT_USD.get(base, COINM_DEFAULT_CONTRACT_USD)
        return Instrument("inverse_perpetual", symbol, base, quote, base, tick_size, lot_size, mult)
    if source == "binance-usdm":
        return Instrument("linear_perpetual", symbol, base, quote, quote, tick_size, lot_size)
    # tardis and hand-made data: spot unless the name says otherwise (a linear contract's arithmetic is spot's)
    return Instrument("spot", symbol, base, quote, quote, tick_size, lot_size)


# Quote currencies counted as one account currency: the US dollar and the stablecoins pegged to it. The peg's
# deviation (a few bps at most on 2024-08-08) is not modelled, and a run that relies on this says so.
USD_PEGGED = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USDP", "DAI"})


def same_currency(a: str, b: str) -> bool:
    return a == b or (a in USD_PEGGED and b in USD_PEGGED)


def check_pair(quoted: Instrument, hedge: Instrument) -> list[str]:
    """Why the hedge venue's instrument cannot hedge the quoted one in this simulator, as error lines (empty:
    it can). An inverse contract hedges (its arithmetic is in the kernel); quoting one is not modelled."""
    errors = []
    if quoted.base != hedge.base:
        errors.append(f"exchange1 trades {quoted.describe()}; exchange2 trades {hedge.describe()}: a {hedge.base} "
                      f"contract does not hedge {quoted.base}; allowed: two instruments on the same base asset")
    if quoted.inverse:
        errors.append(f"exchange1 trades {quoted.describe()}: quoting an inverse contract is not modelled (the "
                      f"quotes, their inventory and its limits are counted in base units); allowed: spot or a linear "
                      f"perpetual on exchange1, an inverse contract as the hedge venue (exchange2)")
    if not errors and not same_currency(quoted.quote, hedge.quote):
        errors.append(f"exchange1 is quoted in {quoted.quote} and exchange2 in {hedge.quote}: the accounting has one "
                      f"currency; allowed: two instruments quoted in the same currency (or both in USD and "
                      f"stablecoins pegged to it)")
    return errors


def pair_notes(quoted: Instrument, hedge: Instrument) -> list[str]:
    """What a run on this pair assumes that a user should know (printed with the run's warnings)."""
    notes = []
    if quoted.quote != hedge.quote and same_currency(quoted.quote, hedge.quote):
        notes.append(f"exchange1 is quoted in {quoted.quote} and exchange2 in {hedge.quote}: both are counted as one "
                     f"account currency (1 {quoted.quote} = 1 {hedge.quote}; the peg's deviation is not modelled)")
    if hedge.inverse:
        notes.append(f"exchange2 trades {hedge.symbol}, an inverse contract of {hedge.contract_multiplier:g} "
                     f"{hedge.quote} settled in {hedge.settle}: its PnL and fees accrue in {hedge.settle} and are "
                     f"valued at its mark (README, Instruments)")
    return notes
