"""Starts the real hypertuna-gateway binary on 127.0.0.1 with a free port and a temporary data directory."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("HYPERTUNA_GATEWAY_BIN", os.path.join(ROOT, ".build", "debug", "hypertuna-gateway"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gateway:
    """A gateway process; `restart` keeps the data directory and port."""

    def __init__(self, data_dir: str, env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.port = free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(data_dir + ".log")

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update({"PORT": str(self.port), "GATEWAY_HOST": "127.0.0.1", "GATEWAY_RELAY_STORAGE": self.data_dir})
        env.update({"GATEWAY_FEATURE_HYPERBEE_RELAY": "true", "GATEWAY_SWARM_PORT": "0"})  # host the relay (issue 11)
        env.update(self.extra_env)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BINARY, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.http + "/health", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"gateway did not become healthy within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait: a graceful shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise RuntimeError("gateway ignored SIGTERM for %ss" % timeout)
        return self.proc.returncode if self.proc else 0

    def kill(self):
        """kill -9."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self):
        self.stop()
        return self.start()


@pytest.fixture(scope="module")
def tmp_root():
    with tempfile.TemporaryDirectory(prefix="hypertuna-gw-") as d:
        yield d


@pytest.fixture(scope="module")
def gateway(tmp_root):
    """An open-policy gateway with no configuration beyond port and data directory."""
    gw = Gateway(os.path.join(tmp_root, "data")).start()
    yield gw
    gw.stop()


@pytest.fixture
def make_gateway(tmp_root):
    """Factory for gateways with extra environment; all are stopped at the end of the test."""
    made = []

    def make(env=None, name=None):
        gw = Gateway(os.path.join(tmp_root, name or f"data-{len(made)}-{time.monotonic_ns()}"), env)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.kill()
