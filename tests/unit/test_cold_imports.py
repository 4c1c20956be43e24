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
