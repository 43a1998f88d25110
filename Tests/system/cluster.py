"""The processes of a system test: one hypertuna-gateway and N hypertuna-worker, each with its own data directory
under one scratch folder, all on 127.0.0.1, every one stopped by its pid at the end (also on failure)."""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("HYPERTUNA_BIN", os.path.join(ROOT, ".build", "debug"))
GATEWAY_BIN = os.path.join(BIN, "hypertuna-gateway")
WORKER_BIN = os.path.join(BIN, "hypertuna-worker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` seconds pass (TimeoutError)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - polled conditions may fail until ready
            last_error = e
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s" + (f" (last error: {last_error})" if last_error else ""))


class Proc:
    """One child process with its log file; every instance is remembered so `Proc.stop_all` can end it."""

    everyone: list["Proc"] = []

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: str):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.proc: subprocess.Popen | None = None
        Proc.everyone.append(self)

    def start(self):
        log = open(self.log_path, "ab")
        log.write(f"\n===== start {time.strftime('%H:%M:%S')}: {' '.join(self.argv)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else -1

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)

    def stop(self, timeout: float = 20.0):
        """SIGTERM, wait, then SIGKILL (a SIGSTOPped process is continued first so it can exit)."""
        if not self.running():
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def kill9(self):
        if self.running():
            self.proc.kill()
            self.proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    @classmethod
    def stop_all(cls):
        for p in cls.everyone:
            try:
                p.stop(timeout=10)
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass

    @classmethod
    def print_tails(cls, lines: int = 40):
        for p in cls.everyone:
            print(f"\n----- last {lines} lines of {p.name} ({p.log_path}) -----")
            print(p.tail(lines))


def http_json(url: str, timeout: float = 5.0, method: str = "GET", body: bytes | None = None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode())


class Gateway(Proc):
    def __init__(self, root: str, env_extra: dict[str, str], port: int | None = None, swarm_port: int | None = None):
        self.port = port or free_port()
        self.swarm_port = swarm_port or free_port()
        self.data = os.path.join(root, "gateway")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        env.update({
            "PORT": str(self.port), "GATEWAY_HOST": "127.0.0.1", "GATEWAY_RELAY_STORAGE": self.data,
            "GATEWAY_SWARM_HOST": "127.0.0.1", "GATEWAY_SWARM_PORT": str(self.swarm_port),
        })
        env.update(env_extra)
        super().__init__("gateway", [GATEWAY_BIN, "serve"], env, os.path.join(root, "gateway.log"))

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def health(self):
        return http_json(self.http + "/health", timeout=2)

    def wait_healthy(self, timeout: float = 60):
        def ok():
            if not self.running():
                raise RuntimeError(f"gateway exited with {self.proc.returncode}")
            return self.health().get("status") == "ok"
        wait_until(ok, timeout, what="gateway /health")
        return self

    def metrics(self) -> str:
        with urllib.request.urlopen(self.http + "/metrics", timeout=5) as r:
            return r.read().decode()

    def admin(self, *args: str, key_file: str, timeout: float = 20.0):
        """`hypertuna-gateway admin VERB ... --json` against this gateway; returns the parsed JSON answer."""
        argv = [GATEWAY_BIN, "admin", *args, "--url", self.http, "--key-file", key_file, "--json"]
        out = subprocess.run(argv, capture_output=True, timeout=timeout, env=self.env)
        if out.returncode != 0:
            raise RuntimeError(f"admin {' '.join(args)} failed ({out.returncode}): {out.stderr.decode()[-2000:]}")
        return json.loads(out.stdout.decode())


class Worker(Proc):
    def __init__(self, root: str, index: int, gateway: Gateway, extra_args: list[str] | None = None):
        self.index = index
        self.data = os.path.join(root, f"worker-{index}")
        self.gateway = gateway
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "WORKER_"))}
        argv = [WORKER_BIN, "run", "--gateway", gateway.http, "--data", self.data, *(extra_args or [])]
        super().__init__(f"worker-{index}", argv, env, os.path.join(root, f"worker-{index}.log"))

    def status(self, timeout: float = 10.0) -> dict:
        out = subprocess.run([WORKER_BIN, "status", "--data", self.data, "--json"], capture_output=True,
                             timeout=timeout, env=self.env)
        if out.returncode != 0:
            raise RuntimeError(f"status of {self.name} failed ({out.returncode}): {out.stderr.decode()[-500:]}")
        return json.loads(out.stdout.decode())
