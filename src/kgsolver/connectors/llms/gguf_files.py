"""Locate, assemble and verify GGUF files shipped in PyPI packages.

The part packages come from an anonymous uploader, so they are never imported: their data files are found through
`importlib.metadata`, concatenated in order into the user cache, and accepted only with the pinned size and sha256.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from pathlib import Path
from typing import BinaryIO, NamedTuple

from tqdm import tqdm

from kgsolver.connectors import MissingModelError, ModelIntegrityError
from kgsolver.connectors.llms.registry import GGUFModel

_CHUNK = 8 << 20


def _distribution(model: GGUFModel, dist_name: str) -> importlib.metadata.Distribution:
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise MissingModelError(
            f"model {model.name!r} needs package {dist_name}=={model.version}, which is not installed; "
            f"run: {model.pip_command()}"
        ) from exc
    if dist.version != model.version:
        raise MissingModelError(
            f"model {model.name!r} needs {dist_name}=={model.version} but {dist.version} is installed; "
            f"run: {model.pip_command()}"
        )
    return dist


def _data_files(model: GGUFModel, dist_name: str, suffix: str) -> list[Path]:
    dist = _distribution(model, dist_name)
    files = sorted(Path(str(dist.locate_file(f))) for f in dist.files or [] if f.name.endswith(suffix))
    if not files:
        raise MissingModelError(f"package {dist_name} carries no {suffix} file; reinstall it: {model.pip_command()}")
    return files


def source_files(model: GGUFModel) -> list[Path]:
    """The files whose concatenation, in order, is the model."""
    if not model.is_split:
        return _data_files(model, model.distributions[0], ".gguf")[:1]
    return [path for dist in model.distributions for path in _data_files(model, dist, ".bin")]


def hash_into(sources: list[Path], sink: BinaryIO | None, label: str) -> tuple[int, str]:
    """Size and sha256 of the sources read in order (written to `sink` too, where given): the one file hasher of
    packaged models, the LLM parts here and the embedder's weights (connectors/embedder_gguf_convert.py)."""
    digest, size = hashlib.sha256(), 0
    total = sum(p.stat().st_size for p in sources)
    with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False) as bar:
        for path in sources:
            with path.open("rb") as handle:
                while block := handle.read(_CHUNK):
                    digest.update(block)
                    size += len(block)
                    if sink is not None:
                        sink.write(block)
                    bar.update(len(block))
    return size, digest.hexdigest()


def _check(model: GGUFModel, size: int, sha256: str, where: str) -> None:
    if size != model.size or sha256 != model.sha256:
        raise ModelIntegrityError(
            f"{where}: model {model.name!r} has size {size} and sha256 {sha256}, expected size {model.size} and "
            f"sha256 {model.sha256}; refusing to load it. Reinstall the packages: {model.pip_command()}"
        )


def _stamp_matches(stamp: Path, target: Path, model: GGUFModel) -> bool:
    """A verified file is re-hashed only if it changed since (size or mtime), not on every load."""
    try:
        record: dict[str, object] = json.loads(stamp.read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return record == {"sha256": model.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _write_stamp(stamp: Path, target: Path, model: GGUFModel) -> None:
    stat = target.stat()
    stamp.write_text(json.dumps({"sha256": model.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))


class PreparedModel(NamedTuple):
    path: Path
    action: str  # what was done to accept the file, in words


def resolve_gguf(model: GGUFModel, cache_dir: Path) -> Path:
    """Path of the verified GGUF file, assembling it once into `cache_dir` when it ships in parts."""
    return prepare_gguf(model, cache_dir).path


def _verified_now(model: GGUFModel, target: Path, stamp: Path) -> bool:
    size, sha = hash_into([target], None, f"verify {model.name}")
    if size != model.size or sha != model.sha256:
        return False
    _write_stamp(stamp, target, model)
    return True


def prepare_gguf(model: GGUFModel, cache_dir: Path, *, recheck: bool = False) -> PreparedModel:
    """The verified file and what it took. A file verified before and unchanged since (size, mtime) is trusted unless
    `recheck`, which hashes it again (`kgsolver models install`); an assembled file that fails is assembled anew."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    stamp = cache_dir / f"{model.filename}.verified.json"
    if not model.is_split:
        target = source_files(model)[0]
        if not recheck and _stamp_matches(stamp, target, model):
            return PreparedModel(target, "verified before, unchanged since")
        size, sha = hash_into([target], None, f"verify {model.name}")
        _check(model, size, sha, str(target))
        _write_stamp(stamp, target, model)
        return PreparedModel(target, "sha256 verified")
    target = cache_dir / model.filename
    if target.exists() and not recheck and _stamp_matches(stamp, target, model):
        return PreparedModel(target, "verified before, unchanged since")
    if target.exists() and recheck and _verified_now(model, target, stamp):
        return PreparedModel(target, "sha256 verified")
    sources = source_files(model)
    partial = cache_dir / f".{model.filename}.{os.getpid()}.partial"
    try:
        with partial.open("wb") as sink:
            size, sha = hash_into(sources, sink, f"assemble {model.name}")
        _check(model, size, sha, f"assembled from {len(sources)} parts")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_stamp(stamp, target, model)
    return PreparedModel(target, f"assembled from {len(sources)} parts, sha256 verified")
