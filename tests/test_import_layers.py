"""The packages import each other without circles: lower layers never import higher ones.

Read from the source (every `import`, including those inside functions), so a
lazy import that closes a circle counts too. A package's `__init__` gathers its
modules for users and is left out: nothing inside the package imports it.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("autograd_core", "nn")


def _modules() -> dict[str, Path]:
    found = {}
    for top in PACKAGES:
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                continue
            found[".".join(parts)] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        out.update(n for n in names if n in modules)
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    for start in sorted(graph):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(graph[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child) :] + [child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(graph[child]))))
    return []


def test_no_module_imports_itself_through_others() -> None:
    modules = _modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert "autograd_core.engine" in graph and "nn.train" in graph
    assert _cycle(graph) == []


def test_the_core_imports_nothing_above_it() -> None:
    modules = _modules()
    for core in ("autograd_core.ops", "autograd_core.errors", "autograd_core.engine"):
        above = {m for m in _imports(modules[core], modules)}
        assert above <= {"autograd_core.ops", "autograd_core.errors", "autograd_core.symbolic"}, (
            core,
            above,
        )
    for name, path in modules.items():
        if name.startswith("autograd_core."):
            assert not {m for m in _imports(path, modules) if m.startswith("nn.")}, name


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
