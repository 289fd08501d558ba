"""Run a real ``shikra run`` in its own process group and always reap it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, TypeVar

import msgspec
import zmq

from engine.config import Config
from engine.status_file import read_status
from ipc import codec
from ipc.messages import DaemonStatus, Message
from ipc.transport import Endpoints
from tests.support.config import config_toml
from tests.support.wait import Hopeless, eventually

T = TypeVar("T")


def short_tmpdir(prefix: str = "sk-") -> Path:
    """Unix socket paths must stay short; pytest's tmp_path can be long."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


class Daemon:
    def __init__(self, root: Path, config: Config, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.config = config
        self.data_dir = root / "data"
        self.run_dir = self.data_dir / "run"
        self.config_path = root / "shikra.toml"
        self.config_path.write_text(config_toml(config))
        self.log_path = root / "daemon.log"
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Daemon":
        test = os.environ.get("PYTEST_CURRENT_TEST", "tests/daemon/")
        assert test.startswith("tests/daemon/"), f"{test} starts a daemon: it belongs in tests/daemon/"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", "run", "--config", str(self.config_path),
             "--data-dir", str(self.data_dir)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, env=self.env)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def status(self) -> DaemonStatus | None:
        return read_status(self.run_dir)

    def describe(self) -> str:
        """The daemon's exit code if it exited, and the tail of its log: what a failed wait shows."""
        exited = self.proc is not None and self.proc.poll() is not None
        return (f"daemon exited with {self.proc.returncode}\n" if exited else "") + self.log()[-4000:]

    def eventually(self, probe: Callable[[], T | None], what: str, timeout_s: float = 60.0) -> T:
        """``eventually`` while the daemon runs: its exit ends the wait at once, and a failed wait
        shows the log's tail."""
        def alive_probe() -> T | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise Hopeless(f"{what}: the daemon exited\n{self.describe()}")
            return probe()
        return eventually(alive_probe, what, timeout_s, self.describe)

    def wait_for(self, predicate: Callable[[DaemonStatus], bool], timeout_s: float = 30.0,
                 what: str = "condition") -> DaemonStatus:
        """Until the status file satisfies ``predicate``; returns that status."""
        return self.eventually(lambda: (s := self.status()) is not None and predicate(s) and s, what, timeout_s)

    def wait_running(self, timeout_s: float = 60.0) -> DaemonStatus:
        return self.wait_for(lambda s: s.state == "running", timeout_s, "running")

    def actor(self, name: str) -> "msgspec.Struct":
        status = self.status()
        assert status is not None
        return next(a for a in status.actors if a.name == name)

    def stop(self, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)

    def reap(self) -> None:
        """Kill the whole process group (supervisor and every actor) and wait."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()

    def endpoints(self, names: tuple[str, ...]) -> Endpoints:
        return Endpoints(self.run_dir, "ipc", names=names)


class Watcher:
    """A SUB socket on some actors' publishers, decoding what arrives."""

    def __init__(self, endpoints: list[str], prefixes: list[bytes]) -> None:
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        for ep in endpoints:
            self.sock.connect(ep)
        for p in prefixes:
            self.sock.setsockopt(zmq.SUBSCRIBE, p)

    def collect(self, predicate: Callable[[list[Message]], bool], timeout_s: float = 20.0) -> list[Message]:
        """Messages as they arrive until ``predicate`` holds for the list so far; returns the list."""
        got: list[Message] = []

        def arrived() -> list[Message] | None:
            for _ in range(1000):  # then back to eventually's clock, even on a feed that never pauses
                if not self.sock.poll(100):
                    return None
                _topic, payload = self.sock.recv_multipart()
                got.append(codec.decode(payload))
                if predicate(got):
                    return got
            return None

        def seen() -> str:
            return f"{len(got)} messages: {sorted({type(m).__name__ for m in got})}"

        return eventually(arrived, "the messages looked for", timeout_s, seen, poll_s=0)

    def close(self) -> None:
        self.sock.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); look at its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
