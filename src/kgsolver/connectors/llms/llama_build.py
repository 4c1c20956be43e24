"""Which llama.cpp CPU build a process loads: chosen from the CPU's flags, proven in a subprocess before first use.

`.ci/build-llama.sh` installs one portable llama-cpp-python (GGML_NATIVE=OFF, AVX2/FMA/F16C/BMI2) and, beside it in
`<sys.prefix>/share/kgsolver/llama-cpu/avx512/`, the same libraries with an AVX-512 CPU backend. Nothing is tuned to
the build host, and there is no AMX build at all: AMX tiles trap on VMs that advertise them.

The choice is made before `llama_cpp` is imported (it reads `LLAMA_CPP_LIB_PATH` once, at import). A build other
than the base one is used only after a subprocess has loaded a model with it and generated tokens; if that
subprocess dies by a signal, the process falls back to the base build and says so. Results are remembered per CPU
and library file in the cache folder, so the probe runs once per machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from kgsolver.connectors import KGSolverError

log = logging.getLogger(__name__)

BASE = "base"
# What each build was compiled for (the -m flags .ci/build-llama.sh passes), as /proc/cpuinfo names them. The kernel
# lists a flag only when the CPU has it and the OS saves its register state.
REQUIRED_FLAGS: dict[str, frozenset[str]] = {
    BASE: frozenset({"avx", "avx2", "fma", "f16c", "bmi2"}),
}
REQUIRED_FLAGS["avx512"] = REQUIRED_FLAGS[BASE] | {
    "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512vbmi", "avx512_vnni", "avx512_bf16"}
PREFERENCE = ("avx512", BASE)  # fastest first
LIB_ENV = "LLAMA_CPP_LIB_PATH"


@dataclass(frozen=True)
class LlamaBuild:
    variant: str  # "base", "avx512", or "env" when the user set LLAMA_CPP_LIB_PATH
    lib_dir: str | None  # None: the llama_cpp package's own lib/ folder (the base build)
    reason: str


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str  # the generated text, or how the subprocess died


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def variants_dir() -> Path:
    return Path(sys.prefix) / "share" / "kgsolver" / "llama-cpu"


def installed_variants(root: Path | None = None) -> dict[str, Path]:
    root = root or variants_dir()
    return {v: root / v for v in PREFERENCE if v != BASE and (root / v / "libllama.so").is_file()}


def candidates(flags: frozenset[str], available: dict[str, Path], requested: str = "auto") -> list[LlamaBuild]:
    """The builds to try, best first; the base build is always last. Raises when the CPU cannot run even that."""
    if requested not in ("auto", *PREFERENCE):
        raise KGSolverError(f"llm.cpu_build={requested!r}: use auto, {', '.join(PREFERENCE)}")
    base = LlamaBuild(BASE, None, "portable AVX2 build")
    if flags and not REQUIRED_FLAGS[BASE] <= flags:
        missing = ", ".join(sorted(REQUIRED_FLAGS[BASE] - flags))
        raise KGSolverError(f"this CPU lacks {missing}, which the portable llama.cpp build needs; use an "
                            "OpenAI-compatible server (--llm openai:MODEL) or rebuild llama-cpp-python for this CPU")
    if requested == BASE:
        return [base]
    out = []
    for variant in PREFERENCE[:-1]:
        if requested not in ("auto", variant):
            continue
        if variant not in available:
            log.debug("llama.cpp %s build not installed", variant)
        elif REQUIRED_FLAGS[variant] <= flags:
            out.append(LlamaBuild(variant, str(available[variant]), f"CPU has {variant}"))
        elif requested == variant:
            missing = ", ".join(sorted(REQUIRED_FLAGS[variant] - flags))
            raise KGSolverError(f"llm.cpu_build={variant}: this CPU lacks {missing}")
    return out + [base]


def probe(build: LlamaBuild, model_path: str | Path, *, timeout_s: float = 120.0) -> ProbeResult:
    """Load `model_path` with `build` in a subprocess and generate a few tokens; a crash there names its signal."""
    env = dict(os.environ)
    env.pop(LIB_ENV, None)
    if build.lib_dir:
        env[LIB_ENV] = build.lib_dir
    cmd = [sys.executable, "-m", "kgsolver.connectors.llms.llama_probe", str(model_path)]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, f"{build.variant} build: no answer in {timeout_s:.0f}s")
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return ProbeResult(False, f"{build.variant} build ({build.lib_dir or 'llama_cpp/lib'}) died by {name}")
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return ProbeResult(False, f"{build.variant} build exited {proc.returncode}: {tail[0][:300]}")
    return ProbeResult(True, proc.stdout.strip()[-200:])


def _probe_key(build: LlamaBuild, flags: frozenset[str]) -> str:
    lib = Path(build.lib_dir or ".") / "libggml-cpu.so"
    stamp = f"{lib.stat().st_size}:{lib.stat().st_mtime_ns}" if lib.is_file() else "-"
    return hashlib.sha256(f"{build.variant}|{stamp}|{' '.join(sorted(flags))}".encode()).hexdigest()[:24]


def _proven(build: LlamaBuild, flags: frozenset[str], model_path: Path, cache_dir: Path) -> ProbeResult:
    record = cache_dir / "llama-build-probes.json"
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    key = _probe_key(build, flags)
    if key in known:
        return ProbeResult(**known[key])
    result = probe(build, model_path)
    known[key] = asdict(result)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = record.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known, indent=1), encoding="utf-8")
    os.replace(tmp, record)
    return result


_ACTIVE: LlamaBuild | None = None


def activate(model_path: Path, cache_dir: Path, requested: str = "auto") -> LlamaBuild:
    """Choose the build for this process (once) and point llama-cpp-python at it, before its first import."""
    global _ACTIVE
    if _ACTIVE is not None:
        return _ACTIVE
    if os.environ.get(LIB_ENV):
        _ACTIVE = LlamaBuild("env", os.environ[LIB_ENV], f"{LIB_ENV} is set")
        return _ACTIVE
    if "llama_cpp" in sys.modules:  # imported by someone else first: whatever it loaded is what runs
        _ACTIVE = LlamaBuild(BASE, None, "llama_cpp was imported before the build was chosen")
        return _ACTIVE
    flags = cpu_flags()
    for build in candidates(flags, installed_variants(), requested):
        if build.variant == BASE:
            _ACTIVE = build
            break
        result = _proven(build, flags, model_path, cache_dir)
        if result.ok:
            os.environ[LIB_ENV] = str(build.lib_dir)
            _ACTIVE = build
            break
        log.warning("llama.cpp %s build failed its probe (%s); using the portable base build", build.variant,
                    result.detail)
    assert _ACTIVE is not None, "candidates() always ends with the base build, which is never probed"
    log.info("llama.cpp build: %s (%s)", _ACTIVE.variant, _ACTIVE.reason)
    return _ACTIVE
