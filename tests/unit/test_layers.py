"""The layout's rules, checked on the source: dependencies point one way (connectors <- graphs <- pipeline <- evals),
and pyproject's package list names every package folder (a missing one would install without that code)."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYERS = ["connectors", "graphs", "pipeline", "evals"]
# The command line is the composition root: it wires the eval runner into `kgsolver eval`.
ENTRY_POINTS = {"pipeline/cli.py", "pipeline/cli_eval.py"}


def imported_layers(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
            [a.name for a in node.names] if isinstance(node, ast.Import) else []
        for name in names:
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "kgsolver" and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def test_dependencies_point_one_way():
    wrong = []
    for rank, layer in enumerate(LAYERS):
        above = set(LAYERS[rank + 1:])
        for path in sorted((REPO / layer).rglob("*.py")):
            rel = str(path.relative_to(REPO))
            bad = imported_layers(path) & above
            if bad and rel not in ENTRY_POINTS:
                wrong.append(f"{rel} imports {sorted(bad)}")
    assert not wrong, "\n".join(wrong)


def test_pyproject_lists_every_package():
    pyproject = (REPO / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(kgsolver(?:\.\w+)+)"', pyproject.split("packages = [", 1)[1].split("]", 1)[0]))
    present = {"kgsolver." + ".".join(p.parent.relative_to(REPO).parts)
               for layer in LAYERS for p in (REPO / layer).rglob("__init__.py")}
    assert present <= listed, f"pyproject.toml's packages list misses {sorted(present - listed)}"
