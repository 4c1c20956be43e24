"""Cold start: `kgsolver --help` and the first answer of a fresh process, against `python -c pass` and a warm answer
in the same process, all measured in this run.

    .venv/bin/python benchmarks/cold_start.py [--kb DIR] [--repeats 5] [--runtimes gguf,torch] [--mode naive]
        [--out FILE.json]

- `python -c pass` and `kgsolver --help`: the median of --repeats fresh processes (target: --help <= 1 s);
- first vs warm answer: one fresh process opens a Solver on the demo knowledge base (ingested into --kb once) and
  answers a first demo question in --mode (`make demo` asks in agent mode), timed from the process's start (imports
  included), then a second one, warm. With
  the LLM (default model, response cache off) and without (budget 0), for each query embedder runtime
  (`embedder.query_runtime`: gguf, the default, never imports torch; torch, the sentence-transformers path before it).
  Target (issue 33): first <= 1.5x warm, with the LLM.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kgsolver.pipeline.serve.cli import demo_corpus_dir

CHILD = """
import sys, time, json
started = time.perf_counter()
from kgsolver.connectors.llms import Budget
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.solver import Solver
kb, calls, runtime, mode, first, second = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], *sys.argv[5:7]
config = KGSolverConfig(llm_cache=False)
config.embedder.query_runtime = runtime
solver = Solver(kb, config)
budget = Budget(max_llm_calls=calls)
solver.ask(first, mode=mode, budget=budget)
first_s = time.perf_counter() - started
started = time.perf_counter()
solver.ask(second, mode=mode, budget=budget)
print(json.dumps({"first_s": first_s, "warm_s": time.perf_counter() - started, "torch": "torch" in sys.modules}))
"""


def median_seconds(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def first_and_warm(kb: Path, calls: int, runtime: str, mode: str, questions: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(kb), str(calls), runtime, mode, *questions],
                          capture_output=True, text=True, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["ratio"] = result["first_s"] / result["warm_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=Path, default=Path(".kgsolver/demo-kb"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runtimes", default="gguf,torch", help="query embedder runtimes to compare")
    parser.add_argument("--mode", default="naive", help="the answering mode of both questions")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not (args.kb / "manifest.json").exists():
        subprocess.run([sys.executable, "-m", "kgsolver.pipeline", "ingest", str(demo_corpus_dir() / "corpus.jsonl"),
                        "--kb", str(args.kb)], check=True, capture_output=True)
    questions = [json.loads(line)["question"] for line in (demo_corpus_dir() / "questions.jsonl").open()][:2]
    kgsolver = str(Path(sys.executable).with_name("kgsolver"))
    report = {"mode": args.mode, "python_pass_s": median_seconds([sys.executable, "-c", "pass"], args.repeats),
              "help_s": median_seconds([kgsolver, "--help"], args.repeats),
              "runtimes": {runtime: {"with_llm": first_and_warm(args.kb, 6, runtime, args.mode, questions),
                                     "llm_budget_0": first_and_warm(args.kb, 0, runtime, args.mode,
                                                                     questions)}
                           for runtime in args.runtimes.split(",")}}
    print(f"python -c pass {report['python_pass_s']:.2f} s; kgsolver --help {report['help_s']:.2f} s "
          f"(target <= 1 s)")
    for runtime, runs in report["runtimes"].items():
        for name, r in runs.items():
            print(f"{runtime:5} {args.mode} {name}: first answer {r['first_s']:.2f} s (from process start), warm "
                  f"{r['warm_s']:.2f} s, ratio {r['ratio']:.2f}; torch imported: {r['torch']}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
