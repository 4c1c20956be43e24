"""The layout's rules, checked on the source: dependencies point one way (connectors <- graphs <- pipeline <- evals),
and pyproject's package list names every package folder (a missing one would install without that code)."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "kgsolver"
LAYERS = ["connectors", "graphs", "pipeline", "evals"]
# The command line is the composition root: it wires the eval runner into `kgsolver eval`.
ENTRY_POINTS = {"pipeline/serve/cli.py", "pipeline/serve/cli_eval.py"}


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
        for path in sorted((PACKAGE / layer).rglob("*.py")):
            rel = str(path.relative_to(PACKAGE))
            bad = imported_layers(path) & above
            if bad and rel not in ENTRY_POINTS:
                wrong.append(f"{rel} imports {sorted(bad)}")
    assert not wrong, "\n".join(wrong)


def test_every_folder_of_code_is_a_regular_package():
    """setuptools finds src/kgsolver's packages; a folder of code without __init__.py would install as a namespace
    package, which mypy and the import-graph tools then read differently from Python."""
    missing = sorted(str(folder.relative_to(REPO)) for folder in {p.parent for p in PACKAGE.rglob("*.py")}
                     if not (folder / "__init__.py").exists())
    assert not missing, f"folders of code without __init__.py: {missing}"
