"""The package's import graph: data flows one way (config -> market -> kernel -> results -> research -> reports, the CLI
at the top), so no module imports one that imports it back, and no layer reaches up (lazy imports inside functions
count: they are imports all the same)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def import_graph(*packages: str) -> dict[str, set[str]]:
    modules = {}
    for package in packages:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_backtest_has_no_import_cycle():
    graph = import_graph("backtest")
    # both market sources take their shared inputs from backtest.markets.inputs
    assert "backtest.markets.generate" not in graph["backtest.markets.replay"]
    assert "backtest.config" not in graph["backtest.units"]  # the config reads the tables; backtest.resolve builds
    assert cycles(graph) == []


def test_no_package_reaches_upstream():
    """The market sources know nothing of what runs on them, the engine nothing of research, research nothing of
    reports; only the CLI (the top) joins research and reports, and reports draw results without running them."""
    graph = import_graph("backtest", "reports", "api")

    def reaches(module: str, prefixes: tuple[str, ...]) -> set[str]:
        return {d for d in graph[module] if d.startswith(prefixes)}

    top = ("backtest.cli", "backtest.__main__")
    for module in graph:
        if module.startswith("backtest.markets"):
            assert not reaches(module, ("backtest.engine", "backtest.portfolio", "backtest.results",
                                        "backtest.research", "backtest.cli", "reports", "api")), module
        if module.startswith("backtest.") and not module.startswith(("backtest.research",) + top):
            assert not reaches(module, ("backtest.research", "backtest.cli", "reports", "api")), module
        if module.startswith("backtest.research"):
            assert not reaches(module, ("backtest.cli", "reports", "api")), module
        if module.startswith("reports"):
            # reports draw what a run or a study returned; they never run one (backtest.portfolio, which also holds
            # the portfolio's config, is read for its TOML writer)
            assert not reaches(module, ("backtest.engine", "backtest.markets", "backtest.research.studies",
                                        "backtest.research.optimize", "backtest.cli", "api")), module
    assert reaches("backtest.cli", ("reports",))  # the test above would pass on an empty graph
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
