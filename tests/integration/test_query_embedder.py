"""The query path's embedder: the packaged MiniLM converted to GGUF once and run by llama.cpp, never importing torch,
giving the vectors sentence-transformers gives (the `embedder` fixture, which ingest uses)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kgsolver.connectors import KnowledgeBaseError, ModelIntegrityError
from kgsolver.connectors.embedder_gguf_convert import cached_gguf
from kgsolver.connectors.embedders import DEFAULT_EMBEDDER_NAME, load_query_embedder, packaged_model_dir
from kgsolver.pipeline.solver import Solver


@pytest.fixture(scope="module")
def gguf_embedder(config):
    return load_query_embedder(runtime="gguf", cache_dir=config.cache_dir)


def test_the_gguf_vectors_are_the_torch_vectors(gguf_embedder, embedder, demo_corpus):
    records = [json.loads(line) for line in demo_corpus.read_text().splitlines()[:40]]
    long_text = " ".join(r["text"] for r in records)  # far past the 256 word pieces both runtimes keep
    texts = ["Which Canadian rock band released a song called Counterparts?", "  spaces around  ", long_text,
             *[f"{r['title']}\n{r['text']}" for r in records[:20]]]
    ours, theirs = gguf_embedder.encode(texts), embedder.encode(texts)
    assert ours.shape == theirs.shape == (len(texts), 384) and ours.dtype == np.float32
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() > 0.99999, cosines
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert [gguf_embedder.count_tokens(t) for t in texts] == [embedder.count_tokens(t) for t in texts]
    assert gguf_embedder.encode([]).shape == (0, 384)
    assert gguf_embedder.name == embedder.name == DEFAULT_EMBEDDER_NAME


def test_the_gguf_is_made_once_and_never_from_other_weights(tmp_path, config):
    model = packaged_model_dir()
    made = cached_gguf(model, config.cache_dir / "embedders", name=DEFAULT_EMBEDDER_NAME)
    stamp = made.stat().st_mtime_ns
    again = cached_gguf(model, config.cache_dir / "embedders", name=DEFAULT_EMBEDDER_NAME)
    assert again == made and again.stat().st_mtime_ns == stamp  # reused, not converted again
    with pytest.raises(ModelIntegrityError, match="is not the pinned 0000"):
        cached_gguf(model, tmp_path / "cache", name=DEFAULT_EMBEDDER_NAME, expected_sha256="0" * 64)
    assert not (tmp_path / "cache").exists()  # nothing written from weights that are not the pinned ones


@pytest.mark.llm
@pytest.mark.parametrize("mode", ["naive", "agent"])  # agent links entities against the KB's graph (make demo's mode)
def test_a_question_from_the_command_line_never_imports_torch(demo_kb, demo_questions, run_cache, mode):
    env = {**os.environ, "KGSOLVER_LLM_CACHE_PATH": str(run_cache / "torch-free.sqlite")}
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "kgsolver.pipeline.serve.cli", "ask",
                           demo_questions[0]["question"], "--kb", str(demo_kb), "--llm",
                           "qwen2.5-coder-0.5b-instruct", "--mode", mode, "--json"], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["evidence"]
    imported = set(re.findall(r"^import time:.*\|\s+([\w.]+)$", proc.stderr, re.M))
    assert "llama_cpp" in imported and "kgsolver.connectors.embedder_gguf" in imported  # the log is the real one
    assert not {"torch", "sentence_transformers", "transformers"} & imported


def test_a_knowledge_base_of_another_embedder_is_refused(demo_kb, tmp_path, gguf_embedder, config):
    kb = shutil.copytree(demo_kb, tmp_path / "kb")
    manifest = json.loads((kb / "manifest.json").read_text())
    manifest["embedder"]["name"] = "BAAI/bge-small-en-v1.5"
    (kb / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(KnowledgeBaseError, match=r"built with embedder BAAI/bge-small-en-v1.5 \(384 dimensions\), "
                                                 r"not sentence-transformers/all-MiniLM-L6-v2"):
        Solver(Path(kb), config, embedder=gguf_embedder).retriever().invoke("Who drummed for Rush?")


_EXIT = """
import atexit, json, sys
from pathlib import Path

held = {}


def report():  # registered before kgsolver's exit hooks, so it runs after them (atexit runs last in, first out)
    print(json.dumps({"chat_freed": held["chat"]._model.model is None,
                      "embedder_closed": held["embedder"]._batch is None}))


atexit.register(report)
from kgsolver.connectors.embedders import load_query_embedder
from kgsolver.connectors.llms.factory import build_chat_backend
from kgsolver.pipeline.config import LLMSettings

cache = Path(sys.argv[1])
held["embedder"] = load_query_embedder(runtime="gguf", cache_dir=cache)
held["embedder"].encode(["Which band recorded Moving Pictures?"])
held["chat"] = build_chat_backend(LLMSettings(name=sys.argv[2]), cache).model._client()[0]
"""


def test_exit_frees_the_llama_cpp_models_while_llama_cpp_is_whole(config):
    """The process-wide query embedder and chat context are freed by exit hooks, not by `__del__` during the
    interpreter's teardown, where llama_cpp's functions may already be gone ("Exception ignored in Llama.__del__ ...
    TypeError", seen once at the end of `make test`)."""
    done = subprocess.run([sys.executable, "-c", _EXIT, str(config.cache_dir), config.llm.name], capture_output=True,
                          text=True, check=True, timeout=300)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"chat_freed": True, "embedder_closed": True}
    assert "Exception ignored" not in done.stderr
