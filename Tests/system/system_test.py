"""The system as users run it: the real hypertuna-gateway (all three feature flags on, default rate limits) and three
real hypertuna-worker processes on 127.0.0.1, a real Nostr client (nostr-sdk 0.45.1) publishing, mixed REQs compared
with the gateway-only answer, then the chaos scenarios. Prints one table; exits 1 on any failed check.

    python3 Tests/system/system_test.py [--events 5000] [--reqs 200] [--scenario NAME ...] [--keep]

Scenarios: kill9, sigstop, slow-telemetry, revoke, gateway-restart, churn (default: all, in that order)."""
import argparse
import asyncio
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from datetime import timedelta

import nostr_sdk as n

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Gateway, Proc, Worker, wait_until  # noqa: E402
from reqs import Background, compare, make_reqs, run_reqs  # noqa: E402

SCENARIOS = ["kill9", "sigstop", "slow-telemetry", "revoke", "gateway-restart", "churn"]

# Timers shortened for the test (the defaults are documented in Docs/dispatcher.md and Docs/worker.md).
GATEWAY_TEST_ENV = {
    "GATEWAY_FEATURE_HYPERBEE_RELAY": "true",
    "GATEWAY_FEATURE_RELAY_DISPATCHER": "true",
    "GATEWAY_FEATURE_RELAY_TOKEN_ENFORCEMENT": "true",
    "GATEWAY_DISPATCHER_HEARTBEAT_TIMEOUT_MS": "3000",
    "GATEWAY_DISPATCHER_ATTEMPT_TIMEOUT_MS": "3000",
    "GATEWAY_LOG_LEVEL": "info",
}
WORKER_ARGS = ["--heartbeat-interval", "1"]
PEER_LEAVES_WITHIN = 5.0  # seconds: a dead peer must leave the Dispatcher within this (heartbeat timeout + tick)


class Check(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Check(message)


# ---------------------------------------------------------------- publishing


def make_keys(count: int, seed: int) -> list[n.Keys]:
    rng = random.Random(seed)
    return [n.Keys.parse(rng.randbytes(32).hex()) for _ in range(count)]


async def publish(url: str, keys: list[n.Keys], count: int, base_time: int, span: int, seed: int,
                  created_now: bool = False) -> list[dict]:
    """Publishes `count` events signed by `keys` (admins) with nostr-sdk; returns them as NIP-01 dicts.
    Every event must be acknowledged with OK true."""
    rng = random.Random(seed)
    pubkeys = [k.public_key().to_hex() for k in keys]
    client = n.ClientBuilder().build()
    await client.add_relay(n.RelayUrl.parse(url))
    await client.connect()
    await client.try_connect(timedelta(seconds=10))
    out: list[dict] = []
    pending = []
    for i in range(count):
        k = rng.randrange(len(keys))
        kind = rng.choice([1, 1, 1, 1, 7, 6, 1111])
        tags = [n.Tag.parse(["t", f"topic{rng.randrange(40)}"])]
        if kind != 1:
            tags.append(n.Tag.parse(["p", pubkeys[rng.randrange(len(pubkeys))]]))
        created = int(time.time()) if created_now else base_time + (i * span) // max(count, 1)
        b = n.EventBuilder(n.Kind(kind), f"system test event {seed}-{i}").tags(tags)
        b = b.custom_created_at(n.Timestamp.from_secs(created))
        ev = b.sign_with_keys(keys[k])
        out.append(json.loads(ev.as_json()))
        pending.append(client.send_event(ev))
        if len(pending) >= 100:
            await _settle(pending)
            pending = []
    await _settle(pending)
    await client.shutdown()
    return out


async def _settle(pending):
    results = await asyncio.gather(*pending)
    for r in results:
        if r.failed:
            raise Check(f"publish refused: {r.failed}")


# ---------------------------------------------------------------- figures read from the processes


def worker_jobs(w: Worker) -> int:
    st = w.status()
    return int(st["jobs"]["served"])


def worker_share(w: Worker) -> tuple[int, int]:
    st = w.status()["replica"]
    return int(st["blocksHeld"]), int(st["length"])


def worker_lag(w: Worker) -> int:
    return int(w.status()["replica"]["lag"])


def dispatcher_peers(gw: Gateway, key_file: str) -> dict[str, dict]:
    snap = gw.admin("peers", key_file=key_file)
    return {p["peerKey"]: p for p in snap["peers"]}


def worker_key(w: Worker) -> str:
    return w.status()["peerKey"]


# ---------------------------------------------------------------- the run


class Run:
    def __init__(self, args, root):
        self.args, self.root = args, root
        self.admins = make_keys(20, seed=11)
        self.admin_key_file = os.path.join(root, "admin.key")
        with open(self.admin_key_file, "w") as f:
            f.write(self.admins[0].secret_key().to_hex() + "\n")
        os.chmod(self.admin_key_file, 0o600)
        env = dict(GATEWAY_TEST_ENV)
        env["GATEWAY_RELAY_ADMIN_PUBLIC_KEY"] = ",".join(k.public_key().to_hex() for k in self.admins)
        self.gateway_env = env
        self.gw = Gateway(root, env)
        self.workers: list[Worker] = []
        self.rows: list[tuple] = []
        self.events: list[dict] = []
        self.reqs: list[list[dict]] = []
        self.recorded: list = []  # (scenario, answers) scored against the reference at the end
        self.acknowledged_later: list[dict] = []

    def start_workers(self, count: int):
        for i in range(count):
            w = Worker(self.root, len(self.workers), self.gw, WORKER_ARGS)
            self.workers.append(w.start())

    def wait_workers_ready(self, workers, timeout=120):
        for w in workers:
            wait_until(lambda w=w: w.status().get("ready") is True, timeout, 0.5, f"{w.name} ready")

    def setup(self):
        print(f"scratch folder: {self.root}")
        self.gw.start().wait_healthy()
        self.start_workers(3)
        self.wait_workers_ready(self.workers)
        regs = self.gw.admin("peers", key_file=self.admin_key_file)
        print(f"registrations seen by the admin API: {len(regs['peers'])}")
        check(len(regs["peers"]) >= 3, f"admin peers lists {len(regs['peers'])} registrations, expected 3")

        now = int(time.time())
        self.until = now - 120
        span = 30 * 86400
        t0 = time.monotonic()
        self.events = asyncio.run(publish(self.gw.ws, self.admins, self.args.events, self.until - span, span, seed=3))
        print(f"published {len(self.events)} events with nostr-sdk in {time.monotonic() - t0:.1f} s (all OK true)")
        self.reqs = make_reqs(self.events, max(self.args.reqs, 200), self.until)
        # Workers must see the log before the first delegated REQ (they may also wait for the snapshot).
        length = self.gw.health()["relay"]["length"]
        for w in self.workers:
            wait_until(lambda w=w: w.status()["replica"]["remoteLength"] >= length, 60, 0.5, f"{w.name} update")

    def base_run(self):
        before = {w.name: worker_jobs(w) for w in self.workers}
        t0 = time.monotonic()
        answers = run_reqs(self.gw.ws, self.reqs, list(range(len(self.reqs))), streams=2)
        print(f"{len(answers)} REQs in {time.monotonic() - t0:.1f} s")
        self.recorded.append(("baseline (no faults)", answers, None))
        served = {w.name: worker_jobs(w) - before[w.name] for w in self.workers}
        print("jobs served per worker (hypertuna-worker status):", served)
        check(sum(served.values()) > 0, "no job was served by a worker")
        check(all(v > 0 for v in served.values()), f"a worker served no job: {served}")
        metrics = self.gw.metrics()
        lines = [ln for ln in metrics.splitlines() if ln.startswith("gateway_dispatcher_jobs_total")]
        print("gateway metrics:", *lines, sep="\n  ")
        check(any(not ln.rstrip().endswith(" 0") for ln in lines), "gateway metrics show no dispatched job")
        for w in self.workers:
            held, length = worker_share(w)
            print(f"{w.name}: holds {held} of {length} blocks ({100.0 * held / max(length, 1):.1f}%)")
            check(held < length, f"{w.name} holds every block: not sparse")
        stats = self.gw.admin("stats", key_file=self.admin_key_file)
        queue = self.gw.admin("queue", key_file=self.admin_key_file)
        print(f"admin stats: log length {stats['log']['length']}, admin queue: {len(queue.get('queued', []))} queued")

    # ---------------------------------------------------------------- scenarios

    def busiest_worker(self) -> Worker:
        live = [w for w in self.workers if w.running()]
        return max(live, key=worker_jobs)

    def scenario(self, name, body):
        print(f"\n== scenario {name}")
        t0 = time.monotonic()
        bg = Background(self.gw.ws, self.reqs, streams=2, tag=name.replace("-", ""))
        note = None
        try:
            time.sleep(1.0)
            note = body()
        finally:
            answers = bg.finish()
        self.recorded.append((name, answers, note))
        print(f"   {len(answers)} REQs during {time.monotonic() - t0:.1f} s; {note or ''}")

    def s_kill9(self):
        w = self.busiest_worker()
        key = worker_key(w)
        time.sleep(1.0)
        t = time.monotonic()
        w.kill9()
        gone = wait_until(lambda: key not in dispatcher_peers(self.gw, self.admin_key_file) or
                          not dispatcher_peers(self.gw, self.admin_key_file)[key].get("connected", True),
                          30, 0.1, "killed peer leaves the Dispatcher")
        left = time.monotonic() - t
        check(gone and left <= PEER_LEAVES_WITHIN, f"dead peer left the Dispatcher after {left:.1f} s")
        time.sleep(2.0)
        w.start()
        self.wait_workers_ready([w])
        return f"peer left the Dispatcher {left:.2f} s after kill -9"

    def s_sigstop(self):
        w = self.busiest_worker()
        w.signal(signal.SIGSTOP)
        time.sleep(10)
        w.signal(signal.SIGCONT)
        t = time.monotonic()
        wait_until(lambda: worker_lag(w) == 0 and w.status().get("ready"), 60, 0.5, f"{w.name} catches up")
        return f"{w.name} back to lag 0 {time.monotonic() - t:.1f} s after SIGCONT"

    def s_slow_telemetry(self):
        w = self.busiest_worker()
        w.stop()
        slow = Worker(self.root, w.index, self.gw, WORKER_ARGS + ["--heartbeat-delay", "6"])
        slow.data = w.data
        self.workers[self.workers.index(w)] = slow
        slow.start()
        before = worker_jobs(slow) if slow.running() else 0
        time.sleep(12)
        others = [x for x in self.workers if x is not slow]
        served_slow = worker_jobs(slow) - before
        slow.stop()
        back = Worker(self.root, slow.index, self.gw, WORKER_ARGS)
        self.workers[self.workers.index(slow)] = back
        back.start()
        self.wait_workers_ready([back])
        return f"delayed-heartbeat worker served {served_slow} jobs in 12 s (others: {[worker_jobs(o) for o in others]} total)"

    def s_revoke(self):
        w = self.busiest_worker()
        key = worker_key(w)
        t = time.monotonic()
        self.gw.admin("revoke", key, "--reason", "system test", key_file=self.admin_key_file)
        wait_until(lambda: (not w.running()) or w.status().get("state") == "revoked", 10, 0.05,
                   "revoked worker stops")
        disconnected = wait_until(lambda: not dispatcher_peers(self.gw, self.admin_key_file).get(key, {}).get(
            "connected", False), 10, 0.05, "revoked worker disconnected")
        took = time.monotonic() - t
        check(disconnected and took <= 1.5, f"revoked worker disconnected after {took:.2f} s (want < 1 s)")
        w.stop()
        self.workers.remove(w)
        self.start_workers(1)
        self.wait_workers_ready(self.workers[-1:])
        return f"revoked worker disconnected {took:.2f} s after `admin revoke`"

    def s_gateway_restart(self):
        later = asyncio.run(publish(self.gw.ws, self.admins, 100, 0, 0, seed=99, created_now=True))
        self.acknowledged_later += later
        self.gw.stop()
        time.sleep(1.0)
        self.gw.start().wait_healthy()
        t = time.monotonic()
        wait_until(lambda: len(self.gw.admin("peers", key_file=self.admin_key_file)["peers"]) >= len(
            [w for w in self.workers if w.running()]), 60, 0.5, "workers re-register")
        self.wait_workers_ready([w for w in self.workers if w.running()])
        return f"workers registered again {time.monotonic() - t:.1f} s after the restart"

    def s_churn(self):
        end = time.monotonic() + 60
        rng = random.Random(8)
        cycles = 0
        while time.monotonic() < end:
            extra = Worker(self.root, 100 + cycles, self.gw, WORKER_ARGS).start()
            time.sleep(rng.uniform(2, 4))
            if rng.random() < 0.5:
                extra.kill9()
            else:
                extra.stop()
            cycles += 1
        return f"{cycles} workers joined and left"

    # ---------------------------------------------------------------- reference and report

    def reference(self) -> dict[int, list[str]]:
        """The gateway-only answers: the same REQs with the dispatcher flag off, on the same data."""
        self.gw.stop()
        env = dict(self.gateway_env, GATEWAY_FEATURE_RELAY_DISPATCHER="false")
        ref_gw = Gateway(self.root, env, port=self.gw.port, swarm_port=self.gw.swarm_port)
        ref_gw.name = "gateway (dispatcher off)"
        ref_gw.start().wait_healthy()
        answers = run_reqs(ref_gw.ws, self.reqs, list(range(len(self.reqs))), streams=2)
        bad = [a for a in answers if not a.complete()]
        check(not bad, f"gateway-only REQ failed: {bad[0].error if bad else ''}")
        # Nothing acknowledged may be lost.
        ids = {e["id"] for e in self.events + self.acknowledged_later}
        probe = [[{"ids": sorted(ids)[i:i + 500]}] for i in range(0, len(ids), 500)]
        got = run_reqs(ref_gw.ws, probe, list(range(len(probe))), streams=1)
        found = {i for a in got for i in a.ids}
        check(found == ids, f"{len(ids - found)} acknowledged events missing from the log")
        print(f"all {len(ids)} acknowledged events are in the log")
        ref_gw.stop()
        return {a.index: a.ids for a in answers}

    def report(self, reference):
        rows = []
        ok = True
        for name, answers, note in self.recorded:
            s = compare(answers, reference)
            good = s["failed"] == 0 and s["exact"] == s["issued"] and s["issued"] > 0
            ok = ok and good
            rows.append((name, s, good, note))
        print("\n| scenario | REQs issued | complete and exact | duplicates | gaps | extra | failed | max REQ->EOSE s | result |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, s, good, _ in rows:
            print(f"| {name} | {s['issued']} | {s['exact']} | {s['duplicates']} | {s['gaps']} | {s['extra']} | "
                  f"{s['failed']} | {s['max_seconds']:.2f} | {'ok' if good else 'FAIL'} |")
        for name, s, good, note in rows:
            if note:
                print(f"{name}: {note}")
            if not good:
                print(f"{name}: first problem: {s['first_problem']}")
        return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=5000)
    p.add_argument("--reqs", type=int, default=200)
    p.add_argument("--scenario", action="append", choices=SCENARIOS)
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = p.parse_args()
    root = tempfile.mkdtemp(prefix="hypertuna-system-")
    run = Run(args, root)
    failed = False
    try:
        run.setup()
        run.base_run()
        for name in args.scenario or SCENARIOS:
            run.scenario(name, getattr(run, "s_" + name.replace("-", "_")))
        reference = run.reference()
        failed = not run.report(reference)
    except Exception as e:  # noqa: BLE001 - report, print logs, fail
        failed = True
        print(f"\nSYSTEM TEST FAILED: {e}")
        traceback.print_exc()
    finally:
        Proc.stop_all()
    if failed:
        Proc.print_tails()
        print(f"\nlogs kept in {root}")
        sys.exit(1)
    if not args.keep:
        import shutil
        shutil.rmtree(root, ignore_errors=True)
    print("\nsystem test passed")


if __name__ == "__main__":
    main()
