"""The portable llama.cpp build: which build a CPU gets, and a real model generating tokens in a subprocess with
the build this machine chose (a crash there names its signal and the build instead of taking pytest down)."""

import os
import subprocess
import sys

import pytest

from kgsolver.connectors import KGSolverError
from kgsolver.connectors.llms import llama_build
from kgsolver.connectors.llms.llama_build import BASE, REQUIRED_FLAGS, LlamaBuild, candidates, cpu_flags, probe

AVX512_CPU = REQUIRED_FLAGS["avx512"] | {"sse4_2", "amx_tile", "amx_int8"}  # a Sapphire Rapids VM's flags
AVX2_CPU = REQUIRED_FLAGS[BASE] | {"sse4_2"}
# An AMD Zen 4 (EPYC Genoa) VM's SIMD flags as /proc/cpuinfo lists them: AVX-512 with VNNI and BF16, no AVX-VNNI
ZEN4_CPU = frozenset({"sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512cd", "avx512bw", "avx512dq",
                      "avx512vl", "avx512vbmi", "avx512_vnni", "avx512_bf16", "avx512_vpopcntdq", "avx512_bitalg"})


def test_avx512_cpu_tries_avx512_then_base(tmp_path):
    builds = candidates(AVX512_CPU, {"avx512": tmp_path})
    assert [b.variant for b in builds] == ["avx512", BASE]
    assert builds[0].lib_dir == str(tmp_path) and builds[-1].lib_dir is None


def test_zen4_without_avx_vnni_gets_the_avx512_build(tmp_path):
    assert [b.variant for b in candidates(ZEN4_CPU, {"avx512": tmp_path})] == ["avx512", BASE]


def test_avx2_cpu_or_missing_variant_gets_base_only(tmp_path):
    assert [b.variant for b in candidates(AVX2_CPU, {"avx512": tmp_path})] == [BASE]
    assert [b.variant for b in candidates(AVX512_CPU, {})] == [BASE]
    # one AVX-512 extension missing (an AVX-512 CPU without VBMI, e.g. Skylake-X) is not enough
    assert [b.variant for b in candidates(AVX512_CPU - {"avx512vbmi"}, {"avx512": tmp_path})] == [BASE]


def test_forced_builds_and_cpus_below_the_floor_are_clear_errors(tmp_path):
    assert [b.variant for b in candidates(AVX512_CPU, {"avx512": tmp_path}, "base")] == [BASE]
    with pytest.raises(KGSolverError, match="lacks avx512"):
        candidates(AVX2_CPU, {"avx512": tmp_path}, "avx512")
    with pytest.raises(KGSolverError, match="lacks avx2"):
        candidates(frozenset({"sse4_2", "avx"}), {})
    with pytest.raises(KGSolverError, match="cpu_build"):
        candidates(AVX2_CPU, {}, "amx")


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma\nbugs\t\t: spectre_v1\n")
    assert cpu_flags(info) == {"fpu", "avx2", "fma"}
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_a_build_that_cannot_load_is_reported_not_fatal(tmp_path):
    (tmp_path / "libllama.so").write_bytes(b"not a library")
    result = probe(LlamaBuild("avx512", str(tmp_path), "test"), tmp_path / "none.gguf", timeout_s=60)
    assert not result.ok and "avx512 build" in result.detail


@pytest.mark.llm
def test_every_usable_build_generates_tokens_in_a_subprocess(config):
    from kgsolver.connectors.llms.gguf_files import resolve_gguf
    from kgsolver.connectors.llms.registry import MODELS

    model = resolve_gguf(MODELS["qwen2.5-coder-0.5b-instruct"], config.cache_dir / "models")
    flags = cpu_flags()
    for build in candidates(flags, llama_build.installed_variants()):
        result = probe(build, model)
        assert result.ok, f"{build.variant} build ({build.lib_dir or 'llama_cpp/lib'}): {result.detail}"
        assert result.detail.strip() and result.detail != "(empty)"


def test_thread_default_follows_the_cpu_set_and_omp_num_threads(monkeypatch):
    from kgsolver.connectors.llms.llamacpp_chat import default_threads

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert default_threads(0) == 4 and default_threads(3) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # a Ray actor with 2 CPUs
    assert default_threads(0) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "")
    assert default_threads(0) == 4


@pytest.mark.llm
def test_two_solvers_in_two_threads_share_the_model_safely(demo_kb, demo_questions, config, embedder, run_cache,
                                                           tmp_path):
    """Issue 19: two Solvers (two KBs) called from two threads share one llama.cpp context; with a lock per Solver
    this aborted the process (GGML_ASSERT). Now the context's one lock serialises them."""
    import shutil
    import threading

    from kgsolver.pipeline.solver import Solver

    cfg = config.model_copy(deep=True)
    cfg.llm_cache_path = run_cache / "threads.sqlite"
    solvers = []
    for name in ("a", "b"):
        shutil.copytree(demo_kb, tmp_path / name)
        solvers.append(Solver(tmp_path / name, cfg, embedder=embedder))
    results, errors = {}, []

    def ask(i):
        try:
            results[i] = solvers[i].ask(demo_questions[i]["question"] + f" ({i})")
        except Exception as exc:  # collected and reported below, with the thread it came from
            errors.append((i, exc))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not errors and len(results) == 2, errors
    assert all(r.usage.llm_calls >= 1 and r.answer for r in results.values())
    assert solvers[0].gateway.backend.model._client()[1] is solvers[1].gateway.backend.model._client()[1]


@pytest.mark.llm
def test_a_question_encoded_on_llama_cpp_leaves_the_llm_its_build(demo_kb, config):
    """The query embedder imports llama_cpp before the first LLM call; the Solver must choose the LLM's build first,
    else the process keeps the portable base build (a fresh process, since a build is chosen once per process)."""
    code = ("import sys; from kgsolver.pipeline.solver import Solver; from kgsolver.connectors.llms import llama_build;"
            f" from kgsolver.connectors.llms import Budget; s = Solver({str(demo_kb)!r});"
            " s.ask('Who drummed for Rush?', budget=Budget(max_llm_calls=0));"
            " print(llama_build._ACTIVE.variant if llama_build._ACTIVE else 'none', '|',"
            " llama_build._ACTIVE.reason if llama_build._ACTIVE else '')")
    env = {**os.environ, "KGSOLVER_LLM__NAME": config.llm.name}
    env.pop(llama_build.LIB_ENV, None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    variant, reason = (part.strip() for part in out.stdout.strip().splitlines()[-1].split("|"))
    expected = candidates(cpu_flags(), llama_build.installed_variants())[0].variant
    assert "imported before" not in reason and variant == expected, out.stdout
