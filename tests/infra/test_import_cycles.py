"""No module of ``infra/`` or ``client/src/aragora_redis`` imports one that imports it back.

Read with ``ast`` (nothing is imported): every ``import``/``from ... import`` of a
module of the same tree, at any depth in the file (lazy imports included), is an
edge; ``from pkg import name`` counts as an import of ``pkg.name`` when that is a
module, else of ``pkg`` (as grimp counts them). ``if TYPE_CHECKING:`` blocks count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREES = {"infra": ROOT, "aragora_redis": ROOT / "client" / "src"}


def modules() -> dict[str, Path]:
    """Every module of the trees by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for top, base in TREES.items():
        for path in sorted((base / top).rglob("*.py")):
            name = ".".join(path.relative_to(base).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                out.add(submodule if submodule in known else target)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    """Module -> the modules it imports, within the trees."""
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return out


def test_the_scan_sees_the_backends_and_the_client() -> None:
    edges = graph()
    assert "infra.backends.gcp.common" in edges["infra.backends.gcp.cluster"]
    assert "infra.backends.common" in edges["infra.backends.aws.settings"]
    assert (
        "aragora_redis.settings" in edges["infra.outputs"]
        or "aragora_redis" in edges["infra.outputs"]
    )
    assert any(m.startswith("aragora_redis.") for m in edges["aragora_redis"])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(graph()) == []
