"""requirements.lock agrees with pyproject.toml, and every install path reads it.

The lock is what `make lock` resolved (uv pip compile); this test says when it is due again: a dependency added to
pyproject.toml, or a range that no longer admits the locked version."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Installed by their own pinned steps, not from the lock: torch (the CPU wheel, .ci/constraints.txt) and
# llama-cpp-python (built from source by .ci/build-llama.sh).
OWN_STEPS = {"torch", "llama-cpp-python"}


def locked() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def declared() -> list[Requirement]:
    """The core dependencies and those of every extra that `all` names: what the lock resolves (`make lock`)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    (everything,) = [Requirement(text) for text in extras["all"]]
    texts = list(project["dependencies"])
    for name in sorted(everything.extras):
        texts += extras[name]
    return [Requirement(text) for text in texts]


def test_every_declared_dependency_is_locked_at_a_version_its_range_admits() -> None:
    pins = locked()
    stale = []
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name in OWN_STEPS:
            continue
        if name not in pins:
            stale.append(f"{requirement} is not in requirements.lock")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            stale.append(f"{requirement} does not admit the locked {name}=={pins[name]}")
    assert not stale, "run `make lock`: " + "; ".join(stale)


def test_the_lock_leaves_out_what_is_installed_by_its_own_step_and_pins_those_steps_exactly() -> None:
    assert not OWN_STEPS & set(locked())
    constraints = (ROOT / ".ci" / "constraints.txt").read_text()
    torch_pin = re.search(r"^torch==([\w.]+)$", constraints, re.M)
    assert torch_pin
    build = (ROOT / ".ci" / "build-llama.sh").read_text()
    llama_pin = re.search(r"^VERSION=([\w.]+)$", build, re.M)
    assert llama_pin
    by_name = {canonicalize_name(r.name): r for r in declared()}
    assert by_name["torch"].specifier.contains(torch_pin.group(1))
    assert by_name["llama-cpp-python"].specifier.contains(llama_pin.group(1))


def test_the_makefile_the_dockerfile_and_the_llama_build_install_with_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "LOCK := requirements.lock" in makefile
    assert "$(PIP) install -q -c $(CONSTRAINTS) -c $(LOCK) -e" in makefile
    assert "-c $(LOCK) torch==" in makefile
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements.lock" in dockerfile
    assert re.search(r'pip install -c \.ci/constraints\.txt -c requirements\.lock "\.\[', dockerfile)
    assert '-c "$LOCK"' in (ROOT / ".ci" / "build-llama.sh").read_text()
