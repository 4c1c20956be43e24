"""`kgsolver --help` and reading the configuration stay fast (issue 15): the CLI module imports no model or LLM
library. A settings module that imports a tool module for its registry (hop policies, extractors) must not drag
LangChain in with it; this failed once, through pipeline/multihop/hop_policy.py."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("langchain_core", "torch", "sentence_transformers", "llama_cpp", "spacy", "faiss", "transformers")


def test_the_cli_and_the_configuration_import_no_heavy_library():
    code = ("import sys, kgsolver.pipeline.serve.cli, kgsolver.pipeline.config; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"imported at CLI start: {loaded}"


def test_reading_the_configuration_imports_no_query_path_code():
    """Validating settings needs names only: no multi-hop, answer, graph-reading or LLM-backend module."""
    code = ("import sys; from kgsolver.pipeline.config import KGSolverConfig; KGSolverConfig(); "
            "print(','.join(sorted(m for m in sys.modules if m.startswith('kgsolver.'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split(",")
    unneeded = ("kgsolver.pipeline.multihop", "kgsolver.pipeline.answer", "kgsolver.pipeline.modes",
                "kgsolver.graphs.kg_facts", "kgsolver.graphs.linking", "kgsolver.graphs.view",
                "kgsolver.connectors.llms.factory")
    assert not [m for m in loaded if m.strip().startswith(unneeded)]
