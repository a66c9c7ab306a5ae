"""Where a run's market comes from, the upstream end of the flow (config -> market arrays -> kernel).

- ``generate``: the synthetic market (fair values, regimes, client flow, latencies) as arrays;
- ``inputs``: the random streams and latency draws both market sources share;
- ``replay``: a recording (or a printed market) on the tick grid, read in chunks;
- ``data``: capture import (Binance, tardis.dev), the import cache and the Parquet store;
- ``calibrate``: a synthetic market's settings estimated from a recording;
- ``queue_reactive``, ``queue_reactive_fit``: the queue-reactive market printed as a recording, and its
  estimation from one.

Nothing here imports the engine, research or reports: the market knows nothing of what runs on it.
"""
