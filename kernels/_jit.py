"""The one place that decides how kernels are compiled.

``cache=True`` keeps compiled code on disk so only the first run after a change pays the compile time.
Numba keys a function's cache on its own file only, but ``run_ticks`` carries compiled copies of the
book and quoting helpers from the other files: after an edit to ``book.py`` alone it would keep running
the old book. So the cache lives in a directory named after a hash of every kernel source file
(``kernels/__pycache__/numba-<hash>``), unless ``NUMBA_CACHE_DIR`` says otherwise. The first run of new sources
removes all but the ``KEPT_CACHES`` most recent of the others.

With ``NUMBA_DISABLE_JIT=1`` numba returns the plain Python function, so every kernel can be stepped
through in a debugger.

``jit_borrow`` is for the code the tick loop runs millions of times (the loop itself, book operations,
fills, quoting helpers): it allocates nothing and only borrows arrays its caller holds, so it is compiled
without numba's reference counting (``_nrt=False``). With reference counting, every call paid an atomic
increment and decrement per array argument -- up to 40 per background order event, a quarter of the
run time in a perf profile; without it the kernel ran 2.3-2.8x faster with bit-identical results
(bench/bench_kernel.py). Numba refuses to compile a ``jit_borrow`` function that allocates an array.

``jit_inline`` is ``jit_borrow`` plus numba's ``inline="always"``: the function's body is copied into
each caller at numba's IR level. A call to a separately compiled helper passes every array as 7 words on the
stack; for a helper called per event or per tick with many arrays that costs more than its work. So it is
used for the book operations that run for nearly every order event (adding and removing an order, the random
cancel) and, in the replay loop, for the helpers it calls per event or per tick (``_meet_event``,
``_set_quote``, ``set_level``, the strategy's ``step_risk``, ``record_account``, ``quote_targets``,
``quote_prices_sizes``, ``hedge_order``): before, 43% of ``run_replay``'s own perf samples were those pushes,
and the replay kernel ran 1.4-1.7x slower. Each inlined helper lengthens the cold compile (the replay kernel
11.8 -> 18.9 s for the eight), so helpers called only on fills, hedges or actions stay separate. The
synthetic tick loop inlines its ``_set_quote`` and ``_room`` (both sides, every tick): its kernel 0.575 -> 0.518 s
at 10^6 ticks, the cold compile 5 s longer; and the immediate path of ``_cancel_quote`` (a re-quote's cancel, every
other tick or so): 75 fewer instructions a tick (``bench/bench_instructions.py``).

Indices: numba compiles ``a[i]`` with a signed ``i`` it cannot prove non-negative as Python's ``a[-1]`` would need it,
a test and an adjusted address on every read and write (three instructions); a loop's ``range(t_begin, t_end)``
index is one such (LLVM does not carry a bound on ``t_begin`` into the loop). Hot per-tick reads whose index is
known to be valid use an unsigned one instead (``np.uint64(t)``, ``kernels.book``'s ``U_*`` offsets; an unsigned
value plus a signed one is a float64 in numba, so offsets added to it are unsigned too). In the synthetic tick
loop this took 51 instructions a tick off the per-tick inputs and 64 off the queue-ahead walk, the depth check,
the loss window's ring and the tick row's index.
"""
import hashlib
import os
import shutil
from pathlib import Path

import numba
from numba.core import types

_HERE = Path(__file__).resolve().parent

KEPT_CACHES = 3  # compiled caches of other kernel sources kept beside the one in use (a checkout switched back)


def prune_caches(root: Path, current: str, kept: int = KEPT_CACHES) -> list[Path]:
    """Remove the ``numba-*`` cache directories under ``root`` other than ``current`` and the ``kept`` most recently
    modified; returns those removed. Each edit of a kernel source makes a new directory (10-12 MB): without this a
    checkout kept every one it ever compiled (326 MB in this project's own after a day's work)."""
    others = [d for d in root.glob("numba-*") if d.is_dir() and d.name != current]
    try:
        others.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    except OSError:  # one went away meanwhile (another process pruning): leave the rest for next time
        return []
    removed = others[kept:]
    for d in removed:
        shutil.rmtree(d, ignore_errors=True)  # a process still reading one recompiles what it misses
    return removed


if not os.environ.get("NUMBA_CACHE_DIR"):
    _digest = hashlib.sha256()
    for _path in sorted(_HERE.glob("*.py")):
        _digest.update(_path.name.encode() + _path.read_bytes())
    _name = f"numba-{_digest.hexdigest()[:16]}"
    _cache = _HERE / "__pycache__" / _name
    if not _cache.exists():  # the first run of these sources: the time to drop old ones
        prune_caches(_cache.parent, _name)
    numba.config.CACHE_DIR = str(_cache)


def _one_specialisation(dispatcher):
    """Compile a kernel helper once per set of argument *types*, not once per set of literal constants.

    Numba types a constant argument (``_record_order(..., OA_NEW, ...)``) as ``Literal[int](0)`` and compiles
    a separate copy of the callee for every combination of constants it is called with: 19 copies of
    ``_record_order`` and 6 of ``_cancel_quote``, a good part of the first run's compile time. The helpers
    never need the constants' values at compile time, so calls are typed with the constants widened to their
    plain types (int64, float64); the generated code is the same, compiled once."""
    typed = getattr(dispatcher, "get_call_template", None)
    if typed is None:  # NUMBA_DISABLE_JIT=1: a plain Python function
        return dispatcher

    def get_call_template(args, kws):
        return typed(tuple(types.unliteral(a) for a in args), {k: types.unliteral(v) for k, v in kws.items()})

    dispatcher.get_call_template = get_call_template
    return dispatcher


def jit(func):
    return _one_specialisation(numba.njit(cache=True, nogil=True)(func))


def jit_borrow(func):
    return _one_specialisation(numba.njit(cache=True, nogil=True, _nrt=False)(func))


def jit_inline(func):
    return numba.njit(cache=True, nogil=True, _nrt=False, inline="always")(func)
