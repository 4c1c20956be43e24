"""Sentence vectors from a BERT GGUF through llama.cpp, the same vectors as sentence-transformers' without torch.

The query path's embedder (`load_query_embedder`): it loads in a fraction of a second where torch takes seconds.
Texts are tokenised here with the `tokenizers` library on the model's own `tokenizer.json`, and the ids are fed to
llama.cpp's batch API: `Llama.embed()` takes only strings and truncates by cutting the tail, [SEP] included.
Feeding ids reproduces sentence-transformers exactly: [CLS], the first max_seq_length - 2 word pieces, [SEP], mean
pooling over all of them, L2 normalisation. Measured against torch: cosine >= 0.9999975 (docs/RESULTS.md).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from kgsolver.connectors.embedder_gguf_convert import read_max_seq_length

_MAX_DEFAULT_THREADS = 8  # a 6-layer, 384-wide model gains little from more
# Every embedder not yet closed, so that exit frees them while llama_cpp is still whole (`_close_open`).
_OPEN: weakref.WeakSet[GGUFEmbedder] = weakref.WeakSet()


def _default_threads() -> int:
    # Half the logical CPUs (llama-cpp-python's own default): ggml threads spin at barriers
    # between ops, so when the cores are shared (tests, other workers) every extra thread can
    # stall each op for a scheduler slice. Measured: 2 threads on a busy 2-core box was ~20x
    # slower per query than 1.
    return max(1, min((os.cpu_count() or 2) // 2, _MAX_DEFAULT_THREADS))


class GGUFEmbedder:
    """Sentence embeddings from a BERT GGUF via llama.cpp, matching sentence-transformers.

    ``max_batch_tokens`` is how many tokens go into one llama.cpp decode (default: one
    max-length sequence). llama.cpp computes attention over every token of a decode at once,
    masked per sequence, so packing more is quadratic waste: on 200 passages, a 2048-token
    budget ran ~4x slower than 256.
    """

    def __init__(
        self,
        gguf_path: Path,
        model_dir: Path,
        *,
        n_threads: int | None = None,
        max_seq_length: int | None = None,
        max_batch_tokens: int | None = None,
        batch_size: int = 32,
        name: str | None = None,
    ) -> None:
        import llama_cpp
        from tokenizers import Tokenizer

        self._llama_cpp = llama_cpp
        self.max_seq_length = max_seq_length or read_max_seq_length(Path(model_dir))
        self.batch_size = batch_size
        # n_ctx above the trained 512 also makes llama.cpp print an overflow warning.
        self._n_batch = max(max_batch_tokens or self.max_seq_length, self.max_seq_length)
        threads = n_threads or _default_threads()
        self._llm = llama_cpp.Llama(
            model_path=str(gguf_path),
            embedding=True,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
            # Non-causal models need the whole decode in one ubatch: n_ctx = n_batch = n_ubatch.
            n_ctx=self._n_batch,
            n_batch=self._n_batch,
            n_ubatch=self._n_batch,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        _OPEN.add(self)
        self._n_seq_max = int(self._llm.context_params.n_seq_max)
        self.dimensions = int(self._llm.n_embd())
        self.name = name or str(self._llm.metadata.get("general.name", Path(gguf_path).stem))

        # Two tokenizers: one truncating like sentence-transformers, one counting the full text.
        # tokenizer.json ships with padding to 128 and truncation at 128; both are overridden.
        tok_file = str(Path(model_dir) / "tokenizer.json")
        self._tokenizer = Tokenizer.from_file(tok_file)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_seq_length)
        self._counter = Tokenizer.from_file(tok_file)
        self._counter.no_padding()
        self._counter.no_truncation()

        self._batch: Any = llama_cpp.llama_batch_init(self._n_batch, 0, 1)

    # ---- public API

    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` without [CLS]/[SEP] and without truncation."""
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids exactly as sentence-transformers feeds them (stripped, truncated)."""
        # sentence-transformers strips surrounding whitespace before tokenising.
        encodings = self._tokenizer.encode_batch([t.strip() for t in texts])
        return [e.ids for e in encodings]

    def encode(self, texts: Sequence[str] | str, *, batch_size: int | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, shape (len(texts), dimensions)."""
        if isinstance(texts, str):
            texts = [texts]
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        per_decode = max(1, min(batch_size or self.batch_size, self._n_seq_max))
        start = 0
        while start < len(ids):
            stop = self._pack(ids, start, per_decode)
            out[start:stop] = self._decode(ids[start:stop])
            start = stop
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)  # as torch.nn.functional.normalize
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """LangChain ``Embeddings`` interface."""
        vectors: list[list[float]] = self.encode(texts).tolist()  # numpy types tolist() as Any
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """LangChain ``Embeddings`` interface."""
        vector: list[float] = self.encode([text])[0].tolist()
        return vector

    def close(self) -> None:
        """Free the llama.cpp batch, context and model; safe to call twice."""
        if getattr(self, "_batch", None) is None:  # never built, or already closed
            return
        self._llama_cpp.llama_batch_free(self._batch)
        self._batch = None
        self._llm.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    # ---- llama.cpp plumbing

    def _pack(self, ids: list[list[int]], start: int, per_decode: int) -> int:
        """End index of the next run of sequences that fits one decode."""
        stop, used = start, 0
        while stop < len(ids) and stop - start < per_decode:
            if used + len(ids[stop]) > self._n_batch and stop > start:
                break
            used += len(ids[stop])
            stop += 1
        return stop

    def _decode(self, seqs: Iterable[list[int]]) -> np.ndarray:
        """Mean-pooled (unnormalised) vectors of ``seqs`` from one llama_decode call."""
        lc, batch, ctx = self._llama_cpp, self._batch, self._llm.ctx
        n = 0
        rows = 0
        for seq_id, seq in enumerate(seqs):
            for pos, tok in enumerate(seq):
                batch.token[n] = tok
                batch.pos[n] = pos
                batch.n_seq_id[n] = 1
                batch.seq_id[n][0] = seq_id
                # Every token must be an output in embedding mode, or llama.cpp warns per call.
                batch.logits[n] = True
                n += 1
            rows = seq_id + 1
        batch.n_tokens = n
        memory = lc.llama_get_memory(ctx)
        if memory:  # non-causal embedding contexts may have no KV memory at all
            lc.llama_memory_clear(memory, True)
        rc = lc.llama_decode(ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        vecs = np.empty((rows, self.dimensions), dtype=np.float32)
        for i in range(rows):
            ptr = lc.llama_get_embeddings_seq(ctx, i)
            if not ptr:
                raise RuntimeError(f"llama.cpp returned no embedding for sequence {i}")
            vecs[i] = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(self.dimensions,))
        return vecs


@atexit.register
def _close_open() -> None:
    """Close the embedders still open at exit (the query path keeps one per process), before the interpreter tears its
    modules down: closed during that teardown, their llama.cpp handles can find llama_cpp's functions already gone
    ("Exception ignored in ... __del__ ... TypeError", llama-cpp-python issue 2002)."""
    for embedder in list(_OPEN):
        embedder.close()
