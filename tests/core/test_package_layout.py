"""The package's shape: every module imports on its own, and no two modules import each other
(directly or around a circle), so the path of an image reads top-down through the folders."""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "photomapd"
# Imported only in tray mode: pystray (and Tk) need a display.
NEEDS_A_DISPLAY = {"photomapd.desktop.tray", "photomapd.desktop.x11", "photomapd.desktop.popup"}
MAX_DEPTH = 10


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path, module_level_only: bool) -> set[str]:
    """photomapd modules this module imports (absolute or relative, `from X import module`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _module_level(tree.body) if module_level_only else ast.walk(tree)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, *([node.module] if node.module else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


def _module_level(body: list[ast.stmt]):
    """Statements run at import: not function bodies, not `if TYPE_CHECKING:` blocks."""
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        if isinstance(node, ast.Try | ast.If):
            yield from _module_level(node.body)
            yield from _module_level(node.orelse)
            continue
        yield node


def graph(module_level_only: bool) -> dict[str, set[str]]:
    return {
        name: imported_modules(name, path, module_level_only) for name, path in MODULES.items()
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in done:
            return None
        visiting.append(name)
        for target in sorted(edges[name]):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(name)
        return None

    for name in sorted(edges):
        cycle = visit(name)
        if cycle:
            return cycle
    return None


def longest_chain(edges: dict[str, set[str]]) -> list[str]:
    memo: dict[str, list[str]] = {}

    def chain(name: str) -> list[str]:
        if name not in memo:
            memo[name] = [name]  # a cycle ends here (the cycle test reports it)
            below = [chain(target) for target in edges[name]]
            memo[name] = [name, *max(below, key=len, default=[])]
        return memo[name]

    return max((chain(name) for name in edges), key=len)


# Run in a fresh interpreter: each photomapd module is imported with no other photomapd module
# loaded (third-party packages stay cached, so this takes seconds), so an import that only works
# after another module was loaded, the symptom of a cycle, fails here.
IMPORT_EACH_ALONE = """
import importlib, sys, traceback
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "photomapd" or m.startswith("photomapd.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name + ": " + traceback.format_exc(limit=-3))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_each_module_imports_on_its_own():
    import subprocess

    names = sorted(set(MODULES) - NEEDS_A_DISPLAY)
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH_ALONE, *names],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_import_cycle_anywhere_in_the_package():
    """Function-level imports count too: a circle hidden in a function is still a circle."""
    cycle = find_cycle(graph(module_level_only=False))
    assert cycle is None, " -> ".join(cycle or [])


def test_import_graph_is_shallow():
    chain = longest_chain(graph(module_level_only=True))
    assert len(chain) <= MAX_DEPTH, " -> ".join(chain)


def test_the_checks_see_a_cycle_and_a_deep_chain():
    """The helpers above must be able to fail."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert longest_chain({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"c"}}) == ["a", "b", "c"]


def test_the_importer_sees_from_package_import_module():
    edges = graph(module_level_only=False)
    assert "photomapd.daemon" in edges["photomapd.cli"]
    assert importlib.util.find_spec("photomapd.daemon") is not None
