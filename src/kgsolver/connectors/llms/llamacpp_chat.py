"""A LangChain chat model over llama-cpp-python, with JSON-schema constrained decoding.

llama.cpp applies the chat template embedded in the GGUF file, and turns `response_format={"type": "json_object",
"schema": ...}` into a grammar, so small models produce valid JSON by construction.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from kgsolver.connectors.llms.llama_grammar import GrammarCheck, lazy_grammar
from kgsolver.connectors.llms.llama_prefix import PrefixCache

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}
# One llama.cpp context per (file, settings) per process, with its one lock: a context is not re-entrant, and two
# chat models sharing it from two threads must queue on the same lock (two locks aborted the process, issue 19).
_LOADED: dict[tuple[str, int, int, int], tuple[Any, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()
# The prompt heads kept for each loaded context, by its id (stable: a loaded context lives as long as the process),
# used under the context's lock.
_PREFIXES: dict[int, PrefixCache] = {}
_FORMATTERS: dict[int, Any] = {}  # each loaded context's chat template, compiled once


def _load_llama(model_path: str, n_ctx: int, n_threads: int, seed: int) -> tuple[Any, threading.Lock]:
    key = (model_path, n_ctx, n_threads, seed)
    with _LOAD_LOCK:
        if key not in _LOADED:
            from llama_cpp import Llama

            # n_threads_batch too: llama-cpp-python otherwise prefills on every core of the machine, whatever
            # n_threads says, and a spinning pool on busy cores collapses (issue 15).
            llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, n_threads_batch=n_threads,
                          seed=seed, verbose=False, n_batch=512)
            _LOADED[key] = (llama, threading.Lock())
        return _LOADED[key]


@atexit.register
def _free_loaded() -> None:
    """Free the loaded contexts at exit, before the interpreter tears its modules down: freed during that teardown,
    by `Llama.__del__`, a context can find llama_cpp's functions already gone and print "Exception ignored in
    Llama.__del__ ... TypeError" (llama-cpp-python issue 2002; seen once at the end of `make test`). A context still
    generating in a daemon thread is left alone: freeing it under the generation would crash the process."""
    with _LOAD_LOCK:
        for key, (llama, lock) in list(_LOADED.items()):
            if lock.acquire(timeout=1.0):
                try:
                    llama.close()
                    del _LOADED[key]
                finally:
                    lock.release()


def default_threads(requested: int) -> int:
    """`requested`, or with 0 one thread per core this process may run on: its CPU set (sched_getaffinity: a
    container's or taskset's), capped by OMP_NUM_THREADS where set (Ray sets it to each actor's CPUs). Measured on 2
    cores (docs/RESULTS.md): 2 threads prefill 1.6-1.9x faster than 1 on an idle machine, but collapse when another
    process competes for the cores; such a machine wants KGSOLVER_LLM__N_THREADS=1."""
    if requested > 0:
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and int(omp) > 0:
        cores = min(cores, int(omp))
    return max(1, cores)


@contextmanager
def _counting_tokens(client: Any) -> Iterator[dict[str, int]]:
    """Count the prompt and completion tokens of one streamed completion, as the non-streamed reply's `usage` does.

    llama-cpp-python's stream chunks carry no usage, so its `generate` is wrapped for this one call (the caller holds
    the context's lock): the prompt is what generate is given, the completion every token it yields except an
    end-of-generation token, which the completion loop drops too."""
    import llama_cpp

    counts, original = {"prompt_tokens": 0, "completion_tokens": 0}, client.generate

    def generate(tokens: list[int], *args: Any, **kwargs: Any) -> Iterator[int]:
        counts["prompt_tokens"] = len(tokens)
        for token in original(tokens, *args, **kwargs):
            if not llama_cpp.llama_vocab_is_eog(client._model.vocab, token):
                counts["completion_tokens"] += 1
            yield token

    client.generate = generate
    try:
        yield counts
    finally:
        del client.generate  # the class's method again


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}


class ChatLlamaCpp(BaseChatModel):
    """Local GGUF chat model. One llama.cpp context is shared per process and guarded by its lock (not re-entrant)."""

    model_path: str
    model_name: str = "local-gguf"
    n_ctx: int = 4096
    n_threads: int = 0
    seed: int = 0
    temperature: float = 0.0
    max_tokens: int = 384
    prefix_cache_mb: int = 0  # >0: each call's prompt head (system prompt, fixed turns) is evaluated once per process
    grammar_check: GrammarCheck = "chosen"  # llama_grammar.py
    supports_json_schema: bool = True
    _llama: Any = PrivateAttr(default=None)
    _lock: threading.Lock | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "n_ctx": self.n_ctx, "seed": self.seed}

    def _client(self) -> tuple[Any, threading.Lock]:
        if self._llama is None:
            self._llama, self._lock = _load_llama(self.model_path, self.n_ctx, default_threads(self.n_threads),
                                                  self.seed)
        assert self._lock is not None, "loaded together with the model"
        return self._llama, self._lock

    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "messages": [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages],
            "temperature": kwargs.get("temperature", self.temperature),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "seed": self.seed,
            "stop": stop,
        }
        if kwargs.get("response_format"):
            params["response_format"] = kwargs["response_format"]
        return params

    def _grammar(self, client: Any) -> AbstractContextManager[Any]:
        return lazy_grammar(client) if self.grammar_check == "chosen" else nullcontext()

    def _prime(self, client: Any, chat: list[dict[str, str]]) -> None:
        """The context ready for `chat`: empty, or with the chat's prompt head in it (llama_prefix.py) when the prefix
        cache is on. The caller holds the context's lock."""
        if self.prefix_cache_mb <= 0 or len(chat) < 2:
            client.reset()
            return
        # the head: what the prompt shares with the same chat without its last message (the template then opens an
        # assistant turn instead), up to a line end
        full, before_last = (_chat_tokens(client, messages) for messages in (chat, chat[:-1]))
        head = shared_head([full, before_last], lambda token: b"\n" in client.detokenize([token], special=True))
        _PREFIXES.setdefault(id(client), PrefixCache()).prime(client, full[:head], self.prefix_cache_mb << 20)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self._request(messages, stop, kwargs)
        client, lock = self._client()
        with lock, self._grammar(client):
            self._prime(client, params["messages"])
            response = client.create_chat_completion(**params)
        usage = response.get("usage") or {}
        message = AIMessage(
            content=response["choices"][0]["message"].get("content") or "",
            usage_metadata=_usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
            response_metadata={"finish_reason": response["choices"][0].get("finish_reason")},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        """The reply piece by piece as llama.cpp generates it; the last chunk carries the usage."""
        params = self._request(messages, stop, kwargs)
        client, lock = self._client()
        finish = None
        with lock, _counting_tokens(client) as counts, self._grammar(client):
            self._prime(client, params["messages"])
            for part in client.create_chat_completion(stream=True, **params):
                choice = part["choices"][0]
                finish = choice.get("finish_reason") or finish
                text = choice.get("delta", {}).get("content") or ""
                if text:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                    if run_manager:
                        run_manager.on_llm_new_token(text, chunk=chunk)
                    yield chunk
        yield ChatGenerationChunk(message=AIMessageChunk(
            content="", usage_metadata=_usage(counts["prompt_tokens"], counts["completion_tokens"]),
            response_metadata={"finish_reason": finish}))


    def next_token_logprobs(self, prompts: Sequence[list[BaseMessage]], candidates: Sequence[str],
                            prefix: str = "") -> tuple[list[dict[str, float]], int]:
        """The log-probability of each candidate (its first token) as the next token of each prompt's reply, after the
        chat prompt and `prefix` (the reply's start, e.g. '{"answer": "'); and the number of prompt tokens evaluated.
        The prompts' shared head (`shared_head`: the lines they all begin with) is evaluated once and each prompt's
        rest after it, so rotations of one question's options cost about one pass. The split depends only on the
        group, never on what the context held before, so a score is the same whatever ran earlier. llama-cpp-python
        returns logprobs only for a context built with logits_all (a score row per context position, 2.4 GB for
        Qwen's vocabulary at 4096), so the last position's logits are read from the shared context directly."""
        client, lock = self._client()
        tokens = [_chat_tokens(client, [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)}
                                        for m in messages], prefix) for messages in prompts]
        ids = {c: client.tokenize(c.encode("utf-8"), add_bos=False, special=False)[0] for c in candidates}
        head = shared_head(tokens, lambda token: b"\n" in client.detokenize([token], special=True))
        scores, evaluated = [], head
        with lock:
            client.reset()
            client.eval(tokens[0][:head])
            for prompt_tokens in tokens:
                if client._ctx.kv_cache_seq_rm(-1, head, -1):  # the cells past the head go, the head stays
                    client.n_tokens = head
                    rest = prompt_tokens[head:]
                else:  # a context that cannot drop cells (a recurrent model): each prompt whole
                    client.reset()
                    rest = prompt_tokens
                client.eval(rest)
                evaluated += len(rest)
                scores.append(_logprobs(client, ids))
            client.reset()
        return scores, evaluated


def _chat_tokens(client: Any, chat: list[dict[str, str]], reply_start: str = "") -> list[int]:
    """The prompt tokens of `chat` as the GGUF's chat template writes them, with the reply's start after them."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    if id(client) not in _FORMATTERS:  # compiling the template costs more than formatting with it
        model = client._model
        _FORMATTERS[id(client)] = Jinja2ChatFormatter(template=client.metadata["tokenizer.chat_template"],
                                                      eos_token=model.token_get_text(client.token_eos()),
                                                      bos_token=model.token_get_text(client.token_bos()))
    prompt = _FORMATTERS[id(client)](messages=chat).prompt + reply_start
    tokens: list[int] = client.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
    return tokens


def shared_head(tokens: Sequence[Sequence[int]], ends_line: Callable[[int], bool]) -> int:
    """How many leading tokens a group of prompts evaluates once: their common prefix cut back to its last line end
    (a token holding a newline), and 0 for a single prompt. Cut at a line, the head is the same for any two or more
    of one question's option rotations (they differ from the first option's line on), so scores read from a subset of
    the rotations equal the subset's own run. Each prompt keeps at least its last token, whose logits are read."""
    if len(tokens) < 2:
        return 0
    common = 0
    for column in zip(*tokens, strict=False):
        if any(token != column[0] for token in column):
            break
        common += 1
    common = min(common, min(len(t) for t in tokens) - 1)
    while common > 0 and not ends_line(tokens[0][common - 1]):
        common -= 1
    return common


def _logprobs(client: Any, ids: dict[str, int]) -> dict[str, float]:
    """The candidates' log-probabilities from the context's last logits row (a log-softmax over the vocabulary)."""
    import numpy as np

    logits = np.ctypeslib.as_array(client._ctx.get_logits(), shape=(client.n_vocab(),)).astype(np.float64)
    shifted = logits - logits.max()
    logprobs = shifted - np.log(np.exp(shifted).sum())
    return {c: float(logprobs[i]) for c, i in ids.items()}
