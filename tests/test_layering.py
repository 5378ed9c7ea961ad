"""Layering of the Python package: the numeric core imports without GNU Radio's runtime, and no
two parts of the package import each other (directly or around a loop), counting the imports
inside functions too (a lazy import is still a dependency)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "python" / "deepquant"
CORE = ("phy", "chanest", "softbit", "slp", "eqnet", "ofdm")


def _modules(sub):
    base = PKG / sub
    for f in sorted(base.rglob("*.py")):
        rel = f.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield "gnuradio.deepquant." + ".".join(parts)


@pytest.mark.parametrize("sub", CORE)
def test_core_imports_without_gnuradio_runtime(sub):
    """Importing the sub-package and every module in it loads neither ``gnuradio.gr`` nor the
    module's compiled bindings (run in a fresh interpreter)."""
    mods = list(_modules(sub))
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "    bad = [k for k in ('gnuradio.gr', 'gnuradio.deepquant.deepquant_python') if k in sys.modules]\n"
        "    assert not bad, (m, bad)\n"
        "print('ok', len(sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("ok"), r.stdout[-2000:] + r.stderr[-3000:]


def test_package_root_is_light():
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from gnuradio import deepquant; print('gnuradio.gr' in sys.modules, 'torch' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and r.stdout.split() == ["False", "False"], r.stdout + r.stderr


def test_lazy_binding_names_match_the_compiled_module():
    from gnuradio import deepquant
    from gnuradio.deepquant import deepquant_python

    public = {n for n in dir(deepquant_python) if not n.startswith("_")}
    assert set(deepquant._BINDINGS) == public
    assert deepquant.scalar_quantizer is deepquant_python.scalar_quantizer


def _unit(module: str) -> str:
    """The part of the package a module belongs to: a sub-package (``phy``, ``blocks``, ...) or
    a top-level module (``evaluate``, ``registry``, ...); the package root is ``__init__``."""
    parts = module.split(".")[2:]  # drop gnuradio.deepquant
    return parts[0] if parts else "__init__"


def _imports(path: Path, module: str, is_pkg: bool):
    """Modules of gnuradio.deepquant imported anywhere in ``path`` (function bodies included)."""
    tree = ast.parse(path.read_text(), str(path))
    pkg = module if is_pkg else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gnuradio.deepquant"):
                    yield a.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "gnuradio":
                target = "gnuradio.deepquant" if any(a.name == "deepquant" for a in node.names) else ""
            if not target.startswith("gnuradio.deepquant"):
                continue
            for a in node.names:  # `from . import eqnet` names a sub-package
                sub = target + "." + a.name
                yield (
                    sub
                    if (PKG / Path(*sub.split(".")[2:])).exists()
                    or (PKG / Path(*sub.split(".")[2:])).with_suffix(".py").exists()
                    else target
                )


def _graph():
    edges = {}
    for f in sorted(PKG.rglob("*.py")):
        rel = f.relative_to(PKG).with_suffix("")
        is_pkg = rel.parts[-1] == "__init__"
        parts = rel.parts[:-1] if is_pkg else rel.parts
        module = ".".join(("gnuradio", "deepquant") + tuple(parts))
        src = _unit(module)
        for target in _imports(f, module, is_pkg):
            dst = _unit(target)
            if dst != src:
                edges.setdefault(src, set()).add(dst)
    return edges


def _cycles(edges):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    nodes = set(edges) | {d for ds in edges.values() for d in ds}

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_between_parts_of_the_package():
    edges = _graph()
    assert "phy" in edges.get("ofdm", ()), "the import graph misses ofdm -> phy: the scanner is broken"
    assert _cycles(edges) == [], {k: sorted(v) for k, v in edges.items()}


def test_core_does_not_import_blocks_apps_or_evaluation():
    edges = _graph()
    high = {"blocks", "apps", "evaluate", "registry", "cli", "info"}
    for sub in CORE:
        assert not (edges.get(sub, set()) & high), f"{sub} imports {sorted(edges[sub] & high)}"


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_stream_tag_keys_are_defined_once():
    """Every tag key string lives in gnuradio.deepquant.tags; no block defines or spells it."""
    from gnuradio.deepquant import tags

    keys = {v for k, v in vars(tags).items() if k.endswith("_KEY")}
    assert len(keys) == len([k for k in vars(tags) if k.endswith("_KEY")]), "two names, one key"
    for f in sorted(PKG.rglob("*.py")):
        if f.name == "tags.py":
            continue
        tree = ast.parse(f.read_text(), str(f))
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.endswith("_KEY") for t in node.targets
            ):
                assert not isinstance(node.value, ast.Constant), f"{f.name}:{node.lineno} defines a tag key"
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "intern"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in keys
            ):
                raise AssertionError(f"{f.name}:{node.lineno} spells the tag key {node.args[0].value!r}")
