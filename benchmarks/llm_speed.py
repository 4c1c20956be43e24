"""LLM speed: prompt and decode tokens/s of each installed llama.cpp build, by thread count, idle and contended, and
the project's chat path against raw llama.cpp on the same messages.

    .venv/bin/python benchmarks/llm_speed.py [--models qwen2.5-coder-0.5b-instruct,qwen2.5-coder-1.5b-instruct]
                                             [--prompt-tokens 900] [--decode-tokens 64] [--out FILE.json]

1. Raw llama.cpp, one fresh subprocess per measurement (LLAMA_CPP_LIB_PATH picks the build): `Llama.eval` of a
   prompt of real passages in 512-token batches, then single-token decode steps. "contended" runs a second
   llama.cpp process (2 threads) decoding on the same cores at the same time (what a 2-core laptop running two jobs
   sees), with a 128-token prompt and 16 decode steps.
2. The project path: the chat messages of real `naive` questions sent through `LLMGateway` (no response cache)
   against `Llama.create_chat_completion` on the same loaded model with the same messages; the ratio is the
   project's overhead (target <= 1.1).
3. `--parts grammar`: the JSON-schema calls of the demo questions (`--mode`, agent by default) replayed raw with the
   grammar run over the whole vocabulary at every step (llama-cpp-python's chain) and on the chosen token only
   (`llm.grammar_check=chosen`, the default), interleaved: seconds, and how many replies are identical.
A build that dies by a signal is reported as such (the table says SIGILL), not taken down with the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kgsolver.connectors.llms.gguf_files import resolve_gguf
from kgsolver.connectors.llms.llama_build import BASE, LIB_ENV, REQUIRED_FLAGS, cpu_flags, installed_variants
from kgsolver.connectors.llms.registry import MODELS
from kgsolver.pipeline.config import KGSolverConfig


def worker(model: str, threads: int, prompt_tokens: int, decode_tokens: int, loop: bool) -> None:
    """Runs in the subprocess: print one JSON line of raw llama.cpp rates (or decode forever, with --loop)."""
    from llama_cpp import Llama

    from kgsolver.pipeline.serve.cli import demo_corpus_dir

    llama = Llama(model_path=model, n_ctx=prompt_tokens + decode_tokens + 64, n_threads=threads,
                  n_threads_batch=threads, n_batch=512, verbose=False)
    text = " ".join(json.loads(line)["text"] for line in (demo_corpus_dir() / "corpus.jsonl").open())
    tokens = llama.tokenize(text.encode("utf-8"))[:prompt_tokens]
    if loop:  # the competing process: decode until killed
        while True:
            llama.reset()
            llama.eval(tokens[:8])
            for _ in range(prompt_tokens):
                llama.eval([tokens[0]])
    started = time.perf_counter()
    llama.eval(tokens)
    prompt_s = time.perf_counter() - started
    started = time.perf_counter()
    for i in range(decode_tokens):
        llama.eval([tokens[i % len(tokens)]])
    decode_s = time.perf_counter() - started
    print(json.dumps({"prompt_tok_s": len(tokens) / prompt_s, "decode_tok_s": decode_tokens / decode_s,
                      "prompt_tokens": len(tokens)}))


def measure(lib_dir: str | None, model: Path, threads: int, args, contended: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != LIB_ENV}
    if lib_dir:
        env[LIB_ENV] = lib_dir
    # Contended runs are short: with a spinning thread pool they can be 50x slower than idle ones.
    prompt, decode = (128, 16) if contended else (args.prompt_tokens, args.decode_tokens)
    cmd = [sys.executable, __file__, "--worker", str(model), "--threads", str(threads),
           "--prompt-tokens", str(prompt), "--decode-tokens", str(decode)]
    rival = None
    if contended:
        rival = subprocess.Popen(cmd[:4] + ["--threads", "2", "--loop"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        time.sleep(3.0)  # let it load and start decoding
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {args.timeout}s"}
    finally:
        if rival is not None:
            rival.kill()
            rival.wait()
    if proc.returncode < 0:
        return {"error": signal.Signals(-proc.returncode).name}
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def builds() -> dict[str, str | None]:
    flags = cpu_flags()
    found: dict[str, str | None] = {BASE: None}
    for variant, path in installed_variants().items():
        if REQUIRED_FLAGS[variant] <= flags:
            found[variant] = str(path)
    return found


def raw_table(models: dict[str, Path], args) -> list[dict]:
    rows = []
    for name, path in models.items():
        for variant, lib_dir in builds().items():
            for contended in (False, True):
                for threads in (1, 2):
                    result = measure(lib_dir, path, threads, args, contended)
                    row = {"model": name, "build": variant, "threads": threads,
                           "load": "contended" if contended else "idle", **result}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
    return rows


def recorded_calls(model_name: str, questions: int, mode: str = "naive"):
    """The demo questions asked in `mode` through the project's gateway (no response cache), after one warm-up
    question: the chat backend, the config, the seconds per question and each LLM call's (messages, kwargs)."""
    import tempfile

    from kgsolver.connectors.llms.factory import build_chat_backend
    from kgsolver.connectors.llms.gateway import LLMGateway
    from kgsolver.pipeline.kb.ingest import ingest
    from kgsolver.pipeline.serve.cli import demo_corpus_dir
    from kgsolver.pipeline.solver import Solver

    config = KGSolverConfig()
    config.llm.name = model_name
    config.llm_cache = False
    backend = build_chat_backend(config.llm, config.cache_dir)
    recorded: list[tuple] = []
    original = backend.model._generate

    def recording(messages, *a, **kw):
        recorded.append((messages, kw))
        return original(messages, *a, **kw)

    object.__setattr__(backend.model, "_generate", recording)
    gateway = LLMGateway(backend, None, default_max_tokens=config.llm.max_tokens)
    demo = [json.loads(line) for line in (demo_corpus_dir() / "questions.jsonl").open()][:questions]
    with tempfile.TemporaryDirectory() as kb:
        ingest(demo_corpus_dir() / "corpus.jsonl", Path(kb), config, show_progress=False)
        solver = Solver(kb, config, gateway=gateway)
        solver.ask(demo[0]["question"], mode=mode)  # warm: model loaded, first-call costs paid
        recorded.clear()
        started = time.perf_counter()
        for q in demo:
            solver.ask(q["question"], mode=mode)
        project_s = (time.perf_counter() - started) / len(demo)
    return backend, config, project_s, recorded


def replay(backend, config, messages, kw, lazy_grammar: bool = False) -> dict:
    """One recorded call sent to raw `create_chat_completion` on the same loaded model, from an empty context."""
    from contextlib import nullcontext

    from kgsolver.connectors.llms.llama_grammar import lazy_grammar as checking_chosen_token

    client, lock = backend.model._client()
    payload = [{"role": {"human": "user", "ai": "assistant"}.get(m.type, m.type), "content": str(m.content)}
               for m in messages]
    params = {"temperature": 0.0, "max_tokens": kw.get("max_tokens", config.llm.max_tokens), "seed": 0}
    if kw.get("response_format"):
        params["response_format"] = kw["response_format"]
    with lock, (checking_chosen_token(client) if lazy_grammar else nullcontext()):
        client.reset()
        started = time.perf_counter()
        response = client.create_chat_completion(messages=payload, **params)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "text": response["choices"][0]["message"]["content"],
            "prompt_tokens": response["usage"]["prompt_tokens"],
            "completion_tokens": response["usage"]["completion_tokens"]}


def chat_overhead(model_name: str, questions: int) -> dict:
    """Seconds per question through the project's gateway vs raw create_chat_completion, same model and messages."""
    backend, config, project_s, recorded = recorded_calls(model_name, questions)
    raw_s = sum(replay(backend, config, messages, kw)["seconds"] for messages, kw in recorded) / questions
    # What llama.cpp's prompt cache could reuse: the prefix each call shares with the call before it.
    texts = ["\n".join(str(m.content) for m in messages) for messages, _ in recorded]
    shared = sum(len(os.path.commonprefix([a, b])) for a, b in zip(texts, texts[1:], strict=False))
    return {"model": model_name, "questions": questions, "llm_calls": len(recorded),
            "prompt_chars": sum(map(len, texts)), "prefix_shared_with_previous_call_chars": shared,
            "project_s_per_question": project_s, "raw_llm_s_per_question": raw_s, "ratio": project_s / raw_s}


def grammar_check(model_name: str, questions: int, mode: str) -> dict:
    """The JSON-schema calls of the demo questions in `mode`, replayed raw with llama-cpp-python's sampler chain (the
    grammar over the whole vocabulary at every step) and with the grammar checking the chosen token only
    (connectors/llms/llama_grammar.py), interleaved call by call: seconds, and whether every reply is the same."""
    backend, config, _, recorded = recorded_calls(model_name, questions, mode)
    schema_calls = [(m, kw) for m, kw in recorded if kw.get("response_format")]
    rows = [(replay(backend, config, m, kw), replay(backend, config, m, kw, lazy_grammar=True))
            for m, kw in schema_calls]
    vocabulary_s, chosen_s = (sum(pair[i]["seconds"] for pair in rows) for i in (0, 1))
    completion = sum(full["completion_tokens"] for full, _ in rows)
    return {"model": model_name, "mode": mode, "questions": questions, "schema_calls": len(rows),
            "all_calls": len(recorded), "completion_tokens": completion,
            "prompt_tokens": sum(full["prompt_tokens"] for full, _ in rows),
            "replies_identical": sum(full["text"] == lazy["text"] for full, lazy in rows),
            "vocabulary_s": round(vocabulary_s, 2), "chosen_s": round(chosen_s, 2),
            "ratio": round(chosen_s / vocabulary_s, 3),
            "ms_saved_per_completion_token": round(1000 * (vocabulary_s - chosen_s) / max(completion, 1), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="qwen2.5-coder-0.5b-instruct,qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--prompt-tokens", type=int, default=900)
    parser.add_argument("--decode-tokens", type=int, default=64)
    parser.add_argument("--questions", type=int, default=4, help="demo questions for the chat-path comparison")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--parts", default="raw,chat", help="raw (tokens/s per build and threads), chat (overhead), "
                        "grammar (JSON-schema calls: grammar on the chosen token vs the whole vocabulary)")
    parser.add_argument("--mode", default="agent", help="the mode whose calls the grammar part replays")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per measurement")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--loop", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.threads, args.prompt_tokens, args.decode_tokens, args.loop)
    cache = KGSolverConfig().cache_dir / "models"
    models = {}
    for name in args.models.split(","):
        try:
            models[name] = resolve_gguf(MODELS[name], cache)
        except Exception as exc:  # a model whose packages are not installed is reported and skipped
            print(f"skipped {name}: {exc}", file=sys.stderr)
    parts = set(args.parts.split(","))
    report = {"cpu": sorted(cpu_flags() & set().union(*REQUIRED_FLAGS.values()))}
    if "raw" in parts:
        report["raw"] = raw_table(models, args)
    if "chat" in parts:
        report["chat_path"] = [chat_overhead(name, args.questions) for name in models]
        print(json.dumps(report["chat_path"], indent=1))
    if "grammar" in parts:
        report["grammar"] = [grammar_check(name, args.questions, args.mode) for name in models]
        print(json.dumps(report["grammar"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
