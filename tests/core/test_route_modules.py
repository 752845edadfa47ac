"""Route modules share code through helper modules (filters.py, hits.py, params.py, ...),
never by importing one another, so each feature's routes can change or be left out alone."""

from __future__ import annotations

import ast
from pathlib import Path

API = Path(__file__).resolve().parents[2] / "photomapd" / "api"


def _imported_modules(path: Path) -> set[str]:
    """Every module an import statement in the file names, relative ones made absolute."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = ["photomapd", "api"][: 3 - node.level]
                base = ".".join([*package, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_route_modules_do_not_import_each_other() -> None:
    route_modules = sorted(API.glob("routes_*.py"))
    assert len(route_modules) > 5
    module_names = {f"photomapd.api.{path.stem}" for path in route_modules}
    found = {
        path.name: sorted(_imported_modules(path) & (module_names - {f"photomapd.api.{path.stem}"}))
        for path in route_modules
    }
    assert {name: imports for name, imports in found.items() if imports} == {}
