"""connectors/llms/factory.py: the local GGUF file a model name runs on, for the backend and the build choice alike."""

from types import SimpleNamespace

import pytest

from kgsolver.connectors import MissingModelError
from kgsolver.connectors.llms import factory, llama_build


def test_a_gguf_name_gives_its_file_and_a_cache_id_that_changes_with_the_file(tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(8))
    path, model_id = factory._local_gguf(f"gguf:{model}", tmp_path)
    assert path == model and model_id.startswith("gguf:m.gguf:12:")
    model.write_bytes(b"GGUF" + bytes(16))
    assert factory._local_gguf(f"gguf:{model}", tmp_path)[1].startswith("gguf:m.gguf:20:")
    with pytest.raises(MissingModelError, match="missing.gguf"):
        factory._local_gguf(f"gguf:{tmp_path / 'missing.gguf'}", tmp_path)


@pytest.mark.parametrize("name", ["openai:gpt-4o-mini", "transformers:/models/x", "gguf:"])
def test_backends_without_a_local_gguf_have_none(tmp_path, name):
    assert factory._local_gguf(name, tmp_path) is None


def test_the_build_is_chosen_for_the_file_the_backend_loads_and_skipped_without_one(tmp_path, monkeypatch):
    activated = []
    monkeypatch.setattr(llama_build, "activate", lambda path, cache_dir, build: activated.append((path, build)))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    for name in ("openai:gpt-4o-mini", f"gguf:{tmp_path / 'missing.gguf'}", f"gguf:{model}"):
        factory.choose_llama_build(SimpleNamespace(name=name, cpu_build="auto"), tmp_path)
    assert activated == [(model, "auto")]
