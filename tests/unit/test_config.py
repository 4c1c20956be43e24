"""The configuration (pipeline/config.py), its `ray` block: the connect check before Ray joins a cluster (issue 17).
An address where nothing listens fails at once, naming it; one that accepts connections passes; addresses Ray resolves
itself are left to it."""

from __future__ import annotations

import socket
import time

import pytest

from kgsolver.pipeline.config import _endpoint, check_reachable


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_endpoints_of_the_address_forms():
    assert _endpoint("ray://head:10001") == ("head", 10001)
    assert _endpoint("10.0.0.5:6379") == ("10.0.0.5", 6379)
    assert _endpoint("ray://[::1]:10001/") == ("::1", 10001)
    assert _endpoint("auto") is None and _endpoint("local") is None and _endpoint("head") is None


def test_a_listening_port_passes_and_a_closed_one_fails_at_once_naming_it():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_reachable(f"127.0.0.1:{server.getsockname()[1]}", 5.0)
        check_reachable(f"ray://127.0.0.1:{server.getsockname()[1]}", 5.0)
    port = _unused_port()
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port} within 5 s"):
        check_reachable(f"ray://127.0.0.1:{port}", 5.0)
    assert time.monotonic() - started < 5
    check_reachable("auto", 5.0)  # Ray finds the cluster itself
