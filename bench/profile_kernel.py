"""Where a kernel's time goes: its samples by compiled function, and what its calls cost, from perf.

perf cannot name code numba compiled at run time. This script compiles the kernels into a fresh cache
directory (so numba keeps their LLVM modules and can say where each function lives), writes
``/tmp/perf-<pid>.map`` (perf's map for JIT code) for every compiled function, attaches ``perf record`` to
its own process, runs the kernel ``--repeat`` times on a market built once, and prints:

* each compiled function's share of the kernel thread's samples (a helper inlined into the loop counts as the
  loop);
* for the loop function (``run_replay`` or ``run_ticks``), the share of its own samples on ``push``
  instructions and, per call site of a separately compiled helper, the pushes and samples it takes: numba
  passes each array as 7 words, so a helper with many arrays called every event or tick can cost more than
  its work (the reason for ``kernels._jit.jit_inline``).

With ``--lines N``, also the N source lines with most of the loop's own samples: the kernels are compiled with
line directives only (numba's full debug info would mark every function noinline: another kernel), numba's
assembly listing of the loop says which line each instruction came from, and it is aligned with the machine code
that ran. A helper numba inlined (``jit_inline``) keeps its own line numbers under the loop's file name, so a line
that could be either is printed with each.

Needs ``perf`` and ``objdump`` and permission to record (``perf_event_paranoid`` <= 1, or root). Prints
figures, asserts nothing; the first run compiles everything (no cache), about a minute.

    .venv/bin/python bench/profile_kernel.py                                   # the BTC replay preset
    .venv/bin/python bench/profile_kernel.py --preset default --ticks 1000000 --repeat 8 --lines 40
    .venv/bin/python bench/profile_kernel.py --set replay.exchange1=DAY/exchange1.parquet \
        --set replay.exchange2=DAY/exchange2.parquet --set risk.kill_drawdown=1e9 --ticks 3600000 --repeat 2
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

_SUFFIX = re.compile(r"B\d+v\d+B\d+.*$")  # numba's mangled argument types after the name


def short(symbol: str) -> str:
    """``kernels.replay.run_replay`` from numba's mangled ``_ZN7kernels6replay10run_replayB...``."""
    m = re.match(r"_ZN((?:\d+[A-Za-z_][A-Za-z0-9_]*)+)", _SUFFIX.sub("", symbol))
    if not m:
        return symbol[:60]
    parts, rest = [], m.group(1)
    while rest:
        n = re.match(r"\d+", rest).group(0)
        parts.append(rest[len(n):len(n) + int(n)])
        rest = rest[len(n) + int(n):]
    return ".".join(parts)


def jit_functions() -> dict[int, str]:
    """Address -> symbol of every function numba compiled in this process (kernels and backtest modules)."""
    from numba.core.registry import CPUDispatcher

    found = {}
    for name, mod in list(sys.modules.items()):
        if not name.startswith(("kernels", "backtest")):
            continue
        for obj in list(vars(mod).values()):
            if not isinstance(obj, CPUDispatcher):
                continue
            for cres in obj.overloads.values():
                lib = cres.library
                for fn in lib._final_module.functions:
                    if fn.is_declaration:
                        continue
                    try:
                        address = lib.get_pointer_to_function(fn.name)
                    except Exception:  # a symbol the engine did not emit
                        continue
                    if address:
                        found[address] = fn.name
    return found


def write_perf_map(functions: dict[int, str], cap: int = 1 << 16) -> list[tuple[int, int, str]]:
    """perf's JIT map for this process; each function spans to the next one, at most ``cap`` bytes."""
    rows = []
    items = sorted(functions.items())
    for k, (address, name) in enumerate(items):
        size = min(cap, items[k + 1][0] - address) if k + 1 < len(items) else cap
        rows.append((address, size, name))
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as fh:
        for address, size, name in rows:
            fh.write(f"{address:x} {size:x} {name}\n")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="replay_binance_btcusdt_20240808")
    ap.add_argument("--ticks", type=int, default=0, help="sim.ticks (0: the preset's)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a dotted override of the preset (repeatable), e.g. replay.exchange1=day/exchange1.parquet")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--frequency", type=int, default=4000, help="perf samples a second")
    ap.add_argument("--lines", type=int, default=0, metavar="N",
                    help="also the N source lines with most of the loop's own samples (compiled with line directives "
                         "only: the code stays optimised and inlined as usual)")
    args = ap.parse_args()
    for tool in ("perf", "objdump"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed; this profile needs it")
            return
    if args.repeat < 1 or args.frequency < 1 or args.lines < 0:
        print("--repeat and --frequency: allowed at least 1; --lines: at least 0")
        raise SystemExit(2)
    work = tempfile.mkdtemp(prefix="profile-kernel-")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(work, "numba")  # compile afresh: the modules stay in memory
    if args.lines:
        os.environ["NUMBA_DEBUGINFO"] = "1"  # read before numba is first imported, below
        from numba.core.compiler import Flags

        # line tables only: full debug info would also mark every function noinline, a different kernel
        Flags.options["dbg_directives_only"]._default = True

    import ctypes

    from backtest.config import ConfigError, preset
    from backtest.engine import Simulation
    from backtest.markets.generate import generate

    try:
        cfg = preset(args.preset)
        if args.set:
            from backtest.cli import _parse_value

            bad = [a for a in args.set if "=" not in a]
            if bad:
                raise ConfigError([f"--set {bad[0]!r}: expected KEY=VALUE, e.g. --set sim.ticks=100000"])
            cfg = cfg.with_dotted({k.strip(): _parse_value(v.strip()) for k, v in (a.split("=", 1) for a in args.set)})
        if args.ticks:
            cfg = cfg.with_dotted({"sim.ticks": args.ticks})
        market = generate(cfg)
    except (ConfigError, ValueError) as err:
        print(f"error: {err}")
        shutil.rmtree(work, ignore_errors=True)
        raise SystemExit(2)
    t0 = time.perf_counter()
    Simulation(cfg, market).advance(min(cfg.sim.ticks, 1000))
    print(f"{args.preset}, {cfg.sim.ticks:,} ticks: compiled in {time.perf_counter() - t0:.1f} s")
    rows = write_perf_map(jit_functions())
    import kernels.replay

    # a recording (whole or in chunks) and the queue-reactive market run the replay loop: it alone is compiled
    loop_name = "run_replay" if kernels.replay.run_replay.overloads else "run_ticks"
    loop = next(r for r in rows if short(r[2]).endswith("." + loop_name) and not r[2].startswith(("cfunc", "_ZN7cpython")))
    code = os.path.join(work, "loop.bin")
    with open(code, "wb") as fh:
        fh.write(ctypes.string_at(loop[0], loop[1]))

    data = os.path.join(work, "perf.data")
    perf = subprocess.Popen(["perf", "record", "-F", str(args.frequency), "-p", str(os.getpid()), "-o", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # perf attaches
    times = []
    for _ in range(args.repeat):
        if hasattr(market, "again"):  # a recording read in chunks hands each out once: read it again
            market = market.again()
        sim = Simulation(cfg, market)
        t0 = time.perf_counter()
        sim.advance(cfg.sim.ticks)
        times.append(time.perf_counter() - t0)
    perf.send_signal(signal.SIGINT)
    perf.wait()
    print(f"kernel: best {min(times):.4f} s, median {sorted(times)[len(times) // 2]:.4f} s of {args.repeat}")

    me = threading.get_native_id()
    script = subprocess.run(["perf", "script", "-i", data, "-F", "tid,ip,sym"], capture_output=True, text=True).stdout
    by_function, at_ip = Counter(), Counter()
    for line in script.splitlines():
        parts = line.split()
        if len(parts) < 3 or not parts[0].isdigit() or int(parts[0]) != me:
            continue
        if parts[2].startswith("_ZN7kernels"):
            by_function[short(parts[2])] += 1
        ip = int(parts[1], 16)
        if loop[0] <= ip < loop[0] + loop[1]:
            at_ip[ip] += 1
    total = sum(by_function.values())
    if not total:
        print("perf recorded no kernel samples (perf_event_paranoid? see the docstring)")
        return
    print(f"\nthe kernel thread's {total:,} samples in compiled functions:")
    for name, n in by_function.most_common(15):
        print(f"  {100 * n / total:5.1f}%  {name}")

    address_of = {a: short(n) for a, _, n in rows}
    asm = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", f"--adjust-vma={loop[0]:#x}", code],
                         capture_output=True, text=True).stdout
    own = sum(at_ip.values())
    pushed, site_samples, site_pushes, target, sites = 0, 0, 0, None, []
    for line in asm.splitlines():
        m = re.match(r"\s*([0-9a-f]+):", line)
        n = at_ip.get(int(m.group(1), 16), 0) if m else 0
        if "\tpush " in line:
            pushed += n
            site_samples += n
            site_pushes += 1
        mov = re.search(r"movabs \$0x([0-9a-f]+),%rax", line)
        if mov:
            target = int(mov.group(1), 16)
        if "call   *%rax" in line:
            sites.append((site_samples, site_pushes, address_of.get(target, "?")))
            site_samples, site_pushes, target = 0, 0, None
    print(f"\n{loop_name}'s own {own:,} samples: {100 * pushed / max(own, 1):.1f}% on pushes (call arguments); "
          "call sites with more than 20 pushes or any samples:")
    for n, pushes, name in sites:
        if n or pushes > 20:
            print(f"  {n:6,} samples {pushes:4} pushes -> {name}")
    if args.lines:
        print_lines(loop, at_ip, own, args.lines, loop_name, code)
    shutil.rmtree(work, ignore_errors=True)
    os.unlink(f"/tmp/perf-{os.getpid()}.map")


def print_lines(loop: tuple[int, int, str], at_ip: Counter, own: int, top: int, loop_name: str, code: str) -> None:
    """The loop's own samples by source line. Numba's assembly listing of the loop (compiled with line directives)
    says which file:line each instruction came from (an inlined helper's line being its own, not the call's); its
    instructions are those of the loop's machine code at run time (``code``) in the same order, less the padding
    (nops) the assembler adds for alignment."""
    import kernels.replay
    import kernels.tick

    dispatcher = kernels.replay.run_replay if loop_name == "run_replay" else kernels.tick.run_ticks
    listing = next(iter(dispatcher.overloads.values())).library.get_asm_str()
    files, where, located, inside = {}, None, [], False
    for line in listing.splitlines():
        m = re.match(r'\s*\.file\s+(\d+)\s+"([^"]*)"(?:\s+"([^"]*)")?', line)  # a file number, before or inside
        if m:
            files[m.group(1)] = os.path.join(m.group(2), m.group(3)) if m.group(3) else m.group(2)
            continue
        if line.startswith(loop[2] + ":"):
            inside = True
            continue
        if not inside:
            continue
        if line.startswith(".Lfunc_end"):
            break
        m = re.match(r"\s*\.loc\s+(\d+)\s+(\d+)", line)
        if m:
            where = (files.get(m.group(1), "?"), int(m.group(2)))
            continue
        if line.startswith("\t") and not line.lstrip().startswith((".", "#")) and line.strip():
            located.append((line.split()[0], where))
    asm = subprocess.run(["objdump", "-D", "-b", "binary", "-m", "i386:x86-64", f"--adjust-vma={loop[0]:#x}", code],
                         capture_output=True, text=True).stdout
    machine = []
    for line in asm.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\t(?:[0-9a-f]{2} )+\s*\t(\S+)", line)
        if m and not m.group(2).startswith(("nop", "xchg", "data16", "cs", "int3")):
            machine.append((int(m.group(1), 16), m.group(2)))
    # the JIT's code and the listing's differ a little (an instruction scheduled elsewhere, a spelling with or
    # without its size suffix): align the two sequences; the samples of instructions left unmatched are shown apart
    import difflib

    def key(mnemonic: str) -> str:
        return mnemonic.rstrip("qlwb")

    matcher = difflib.SequenceMatcher(None, [key(m) for _, m in machine], [key(m) for m, _ in located], autojunk=False)
    line_of = [None] * len(machine)
    for i, j, n in matcher.get_matching_blocks():
        for d in range(n):
            line_of[i + d] = located[j + d][1]
    matched = sum(x is not None for x in line_of)
    if not machine or matched < 0.6 * len(machine):
        print(f"\nthe listing and the machine code do not line up ({matched} of {len(machine)} instructions): "
              "no line profile")
        return
    by_line = Counter()
    for (address, _), at in zip(machine, line_of):
        by_line[at if at is not None else ("(instructions not lined up with the listing)", 0)] += at_ip.get(address, 0)
    place = _inlined_places(dispatcher)
    print(f"\n{loop_name}'s own samples by source line (an inlined helper's line is its own; {matched:,} of "
          f"{len(machine):,} instructions lined up with the listing), top {top}:")
    for (path, number), n in by_line.most_common(top):
        if not os.path.isabs(path):  # the instructions not lined up
            print(f"  {100 * n / max(own, 1):5.1f}%  {path}")
            continue
        shown = []
        for where in place(path, number):
            text = ""
            if os.path.exists(where):
                with open(where) as fh:
                    lines = fh.read().splitlines()
                text = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            name = os.path.relpath(where, ROOT) if where.startswith(ROOT) else os.path.basename(where)
            shown.append(f"{name}:{number:<5} {text[:80]}")
        print(f"  {100 * n / max(own, 1):5.1f}%  " + "\n          or ".join(shown))


def _inlined_places(dispatcher):
    """A function (path, line) -> the files the line may be in. Numba copies an ``inline="always"`` helper's code
    into its caller with the helper's line numbers but the caller's file, so a line of the loop's file outside the
    loop is a helper's (and a line inside it may be either)."""
    import inspect

    from numba.core.registry import CPUDispatcher

    def span(func):
        lines, first = inspect.getsourcelines(func)
        return inspect.getsourcefile(func), first, first + len(lines) - 1

    loop_file, loop_first, loop_last = span(dispatcher.py_func)
    # the inlined helpers the loop can reach: those in its module's namespace, and theirs, and so on
    helpers, seen, modules = set(), set(), [sys.modules[dispatcher.py_func.__module__]]
    while modules:
        mod = modules.pop()
        if mod.__name__ in seen:
            continue
        seen.add(mod.__name__)
        for obj in vars(mod).values():
            if isinstance(obj, CPUDispatcher) and obj.targetoptions.get("inline") == "always":
                helpers.add(span(obj.py_func))
                modules.append(sys.modules[obj.py_func.__module__])

    def place(path: str, number: int) -> list[str]:
        if path != loop_file or number == 0:
            return [path]
        found = [path] if loop_first <= number <= loop_last else []
        found += [f for f, first, last in sorted(helpers) if first <= number <= last and f not in found]
        return found or [path]

    return place


if __name__ == "__main__":
    main()
