"""Comparing a config calibration gives now with a shipped one: equal up to floating-point noise.

Calibration is deterministic, but its last bits are not the same on every numpy: numpy 2.4.6 gave the ETH basis'
OU reversion 0.912243696313506 where the shipped file has 0.9122436963135052 (a sum in another order). A change
to what calibration estimates moves a value by far more than ``REL``, so these comparisons still catch one."""
import dataclasses
import math

REL = 1e-9


def differences(a, b, path: str = "") -> list[str]:
    """Where two dumped configs (nested dicts, lists, numbers, strings) differ beyond ``REL`` relative."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only in one" for k in set(a) ^ set(b)]
        for k in sorted(set(a) & set(b), key=str):
            out += differences(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items against {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
                and not isinstance(b, bool) and math.isclose(a, b, rel_tol=REL, abs_tol=0.0):
            return []
        return [f"{path}: {a!r} against {b!r}"]
    return [] if a == b else [f"{path}: {a!r} against {b!r}"]


def _dump(config):
    """A config as plain data: a pydantic model's JSON dump, a dataclass's fields dumped in turn."""
    if hasattr(config, "model_dump"):
        return config.model_dump(mode="json")
    if dataclasses.is_dataclass(config):
        return {f.name: _dump(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [_dump(c) for c in config]
    return config


def assert_same_config(fresh, shipped) -> None:
    """``fresh`` and ``shipped`` (a SimConfig, or a PortfolioConfig) equal up to floating-point noise."""
    diff = differences(_dump(fresh), _dump(shipped))
    assert not diff, "\n".join(diff[:20])
