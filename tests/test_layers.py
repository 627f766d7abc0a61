"""The one direction of imports (docs: architecture): a module imports from its own layer or lower."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "caregate"

LAYERS = {
    "errors": 1, "clock": 1, "config": 1,
    "fhir": 2, "synth": 2,
    "search": 3,
    "storage": 4, "policy": 4,
    "audit": 5,
    "interactions": 6,
    "bulkload": 7, "subscriptions": 7, "check": 7, "auth": 7,
    "web": 8,
    "app": 9,
    "cli": 10, "__main__": 10,
}


def _part(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "caregate" or len(parts) < 2:
        return None
    return parts[1]


def test_imports_point_down() -> None:
    violations = []
    checked = 0
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        own = rel.parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        assert own in LAYERS, f"{rel}: new part {own!r} needs a layer in this test and in the architecture"
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                target = _part(name)
                if target is None or target == own or target == "__init__":
                    continue
                checked += 1
                if LAYERS.get(target, 99) > LAYERS[own]:
                    violations.append(f"{rel} imports {name}")
    assert checked > 50
    assert violations == []
