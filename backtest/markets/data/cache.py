"""The import cache: a raw capture is parsed once, and every later run, in any process, loads its normalised
events from Parquet instead.

An entry is keyed by the SHA-256 of the capture files' contents (not their names or times: a copy hits, an
edited file misses), the venue name, the import options and the importer's own source (``backtest/markets/data``'s
modules but this one, and ``kernels/records.py``): a change to the parser never reads an entry the old one
wrote (those stay until cleared). It lives outside the source
tree: ``MMHEDGE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/mmhedge/imports``, else
``~/.cache/mmhedge/imports``; ``python -m backtest data cache`` lists it, ``--clear`` empties it. Entries are
written to a temporary directory and renamed into place, so processes importing the same capture at once
never read a half-written entry (the first rename wins; the others' copies are dropped). An entry that
cannot be read is imported again and replaced; a cache directory that cannot be written leaves the run
uncached and says so.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from backtest.markets.data.events import DataError, MarketData
from backtest.markets.data.store import load, read_info, save

CLEAR_COMMAND = "python -m backtest data cache --clear"


def cache_dir() -> Path:
    """Where entries live: ``MMHEDGE_CACHE_DIR``, else the user's cache directory (never the source tree)."""
    explicit = os.environ.get("MMHEDGE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mmhedge" / "imports"


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def importer_digest() -> str:
    """SHA-256 of the code that turns a capture into events: what it reads and how it is stored."""
    import kernels.records

    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    parser = [p for p in sorted(here.glob("*.py")) if p.name != Path(__file__).name]  # not the cache's own code
    for path in parser + [Path(kernels.records.__file__).resolve()]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(paths: list[str], venue: str, options: dict) -> str:
    """The entry's name: the files' contents, in order, the venue, the options and the importer's code (hex,
    32 characters)."""
    h = hashlib.sha256(json.dumps({"code": importer_digest(), "venue": venue,
                                   "options": options}, sort_keys=True, default=str).encode())
    for path in paths:
        h.update(_file_digest(path).encode())
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class CachedImport:
    data: MarketData
    how: str  # "cache": loaded from an entry; "imported": parsed now (and cached, unless ``entry`` is None)
    entry: Path | None
    problem: str = ""  # why the entry was not used or not written, if it was not

    def describe(self, what: str) -> str:
        """One line for a run's notes: where ``what``'s events came from."""
        if self.how == "cache":
            return f"{what}: normalised events from the import cache ({self.entry}; clear: {CLEAR_COMMAND})"
        if self.entry is None:
            return f"{what}: imported, not cached ({self.problem})"
        extra = f"; {self.problem}" if self.problem else ""
        return f"{what}: imported and cached for the next runs ({self.entry}{extra}; clear: {CLEAR_COMMAND})"


def import_cached(paths: list[str], venue: str, importer, streamed_importer=None, whole_bytes: int = 0,
                  budget: int | None = None, **options) -> CachedImport:
    """``importer(path_or_paths, venue, **options)`` (``backtest.markets.data.import_capture``) through the cache.

    With ``streamed_importer`` (``import_capture_to``: the capture written into the entry in bounded memory) the
    result is the entry's metadata only, its events read from the file in batches as a chunked replay goes
    (``store.iter_events``). A capture the streamed importer leaves to the reference reader is imported whole,
    which needs about ``whole_bytes``: more than ``budget`` bytes and it is refused (DataError) before anything
    is read."""
    root = cache_dir()
    key = cache_key(paths, venue, options)
    entry = root / key / f"{venue}.parquet"
    problem = ""
    if entry.is_file():
        try:
            return CachedImport(read_info(entry) if streamed_importer else load(entry), "cache", entry)
        except Exception as err:  # noqa: BLE001 - whatever is wrong with a cache entry, the capture is the truth
            problem = f"the entry could not be read and was replaced ({type(err).__name__}: {str(err)[:200]})"
    if streamed_importer is not None:
        try:
            done = _write_entry(root, key, paths, venue, options, problem,
                                lambda staging: streamed_importer(paths[0] if len(paths) == 1 else paths, venue,
                                                                  staging, **options))
        except OSError as err:
            problem = f"the cache directory {root} cannot be written: {err}"
        else:
            if done:
                return CachedImport(read_info(entry), "imported", entry, problem)
        if budget is not None and whole_bytes > budget:
            names = ", ".join(Path(p).name for p in paths)
            raise DataError(f"{names}: holds what only the reference reader decides (a gap, a repeat, or a line the "
                            f"fast scanner does not read exactly), and that reader holds the whole capture: about "
                            f"{whole_bytes / 2**30:.1f} GiB against a memory budget of {budget / 2**30:.1f} GiB"
                            + (f" ({problem})" if problem else "") + "; allowed: a clean capture of any length, "
                            "or a capture cut into shorter files, or a larger MMHEDGE_MEMORY_BUDGET_GB")
    data = importer(paths[0] if len(paths) == 1 else paths, venue, **options)
    try:
        _write_entry(root, key, paths, venue, options, problem, lambda staging: save(data, staging))
    except (OSError, DataError) as err:
        return CachedImport(data, "imported", None, f"the cache directory {root} cannot be written: {err}")
    return CachedImport(data, "imported", entry, problem)


def _write_entry(root: Path, key: str, paths: list[str], venue: str, options: dict, problem: str, write) -> bool:
    """``write(staging directory)`` then the entry renamed into place (a damaged entry replaced; another process's
    identical entry, renamed first, kept); False, and no entry, when ``write`` returns None."""
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    try:
        if write(staging) is None:
            return False
        (staging / "source.json").write_text(json.dumps(
            {"files": list(paths), "venue": venue, "options": options}, default=str))
        final = root / key
        if final.exists() and problem:  # a damaged entry: replace it
            shutil.rmtree(final, ignore_errors=True)
        try:
            os.rename(staging, final)
        except OSError:
            pass  # another process renamed its identical entry first
        return True
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def source_of(entry: Path) -> str:
    """The capture files an entry was imported from, as recorded when it was written."""
    try:
        return ", ".join(json.loads((entry / "source.json").read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return "(source not recorded)"


def entries() -> list[tuple[Path, int]]:
    """The cache's entries (directories) and their sizes in bytes."""
    root = cache_dir()
    if not root.is_dir():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if d.is_dir() and not d.name.startswith("."):
            out.append((d, sum(f.stat().st_size for f in d.iterdir() if f.is_file())))
    return out


def clear() -> tuple[int, int]:
    """Remove every entry (and leftovers of interrupted writes); returns (entries removed, bytes freed)."""
    root = cache_dir()
    if not root.is_dir():
        return 0, 0
    found = entries()
    for d in root.iterdir():
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)
    return len(found), sum(size for _, size in found)
