"""The layout's rules, checked on the source: dependencies point one way (connectors <- graphs <- pipeline <- evals),
inside the pipeline each sub-package imports only the ones its rule names (PIPELINE_RULES, no cycle),
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


# Inside the pipeline, sub-packages by role, each allowed to import only those listed (connectors and graphs are
# open to all; evals only to the CLI's entry points above). Lowest first: the order is the layering.
PIPELINE_RULES: dict[str, set[str]] = {
    "config": set(),  # the configuration and its settings blocks: a leaf everyone reads
    "kb": {"config"},  # the knowledge base and what writes it: ingest, segments, compaction, graph build, atomize
    "retrieval": {"config", "kb"},  # retrievers, their fusion, the query vectors
    "answer": {"config", "kb", "retrieval"},  # the answer step: filters, preference policies, generation, results
    "multihop": {"config", "kb", "retrieval", "answer"},  # the multi-hop tools, decomposition, KG walk, evidence
    "modes": {"config", "kb", "retrieval", "answer", "multihop"},  # one answering strategy per module
    "solver": {"config", "kb", "retrieval", "answer", "modes"},  # the Python entry point (solver.py)
    "serve": {"config", "kb", "retrieval", "answer", "modes", "solver"},  # the CLI and the HTTP API
    "__main__": {"serve"},
}


def pipeline_graph():
    """The import graph of the checkout's source (grimp counts imports inside functions and under TYPE_CHECKING)."""
    import importlib.util
    import sys

    import grimp

    if str(REPO / "src") not in sys.path:
        sys.path.insert(0, str(REPO / "src"))
    origin = Path(importlib.util.find_spec("kgsolver").origin).resolve()
    assert origin.is_relative_to(PACKAGE), f"kgsolver resolves to {origin}, not this checkout"
    return grimp.build_graph("kgsolver")


def _part(module: str) -> str | None:
    """The pipeline sub-package (or top module) a module belongs to; None outside the pipeline."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["kgsolver", "pipeline"] else None


def test_every_pipeline_module_has_a_rule():
    graph = pipeline_graph()
    parts = {_part(m) for m in graph.modules} - {None}
    missing = sorted(parts - set(PIPELINE_RULES))
    assert not missing, f"pipeline modules without an import rule: {missing}"


def test_pipeline_subpackages_import_only_what_their_rule_allows():
    graph = pipeline_graph()
    wrong = []
    for module in sorted(graph.modules):
        part = _part(module)
        if part is None:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            target = _part(imported)
            if target is not None and target != part and target not in PIPELINE_RULES.get(part, set()):
                wrong.append(f"{module} imports {imported} ({part} may import {sorted(PIPELINE_RULES[part])})")
    assert not wrong, "\n".join(wrong)


def test_pipeline_subpackages_form_layers_without_cycles():
    """No chain of imports, direct or not, leads from a lower sub-package up to a higher one, and the rules
    themselves form no cycle (each names only sub-packages listed before it)."""
    order = list(PIPELINE_RULES)
    for rank, (part, allowed) in enumerate(PIPELINE_RULES.items()):
        assert allowed <= set(order[:rank]), f"{part} may import {sorted(allowed - set(order[:rank]))}, listed later"
    graph = pipeline_graph()
    layers = [f"kgsolver.pipeline.{part}" for part in reversed(order) if part != "__main__"]
    illegal = graph.find_illegal_dependencies_for_layers(layers=layers)
    assert not illegal, "\n".join(f"{d.importer} -> {d.imported}: {len(d.routes)} routes" for d in illegal)


def test_no_import_cycle_inside_the_pipeline():
    """No module of the pipeline reaches itself through imports (lazy and TYPE_CHECKING ones included): inside a
    sub-package the shared piece sits below both users (kb/engine.py under ingest and ingest_ray, kb/merge.py under
    knowledge_base and compact), never a module importing one that imports it back."""
    import networkx as nx

    graph = pipeline_graph()
    imports = nx.DiGraph()
    for module in graph.modules:
        if _part(module) is not None:
            imports.add_edges_from((module, imported) for imported in graph.find_modules_directly_imported_by(module)
                                   if _part(imported) is not None)
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(imports) if len(c) > 1)
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)
