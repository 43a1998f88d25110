"""The REQ workload of the system test: a reproducible set of mixed NIP-01 REQs, and a raw websocket client that
records every answer exactly as it arrived (event ids in order, EOSE count, late frames)."""
import asyncio
import json
import random
import threading
import time

import websockets


def make_reqs(events: list[dict], count: int, until: int, seed: int = 5) -> list[list[dict]]:
    """`count` REQs (each a list of filters) over the published `events`: authors, kinds, tags, time ranges, limits
    and several filters per REQ. Every filter carries `until` so events published later never match."""
    rng = random.Random(seed)
    authors = sorted({e["pubkey"] for e in events})
    kinds = sorted({e["kind"] for e in events})
    topics = sorted({t[1] for e in events for t in e["tags"] if t and t[0] == "t"})
    refs = sorted({t[1] for e in events for t in e["tags"] if t and t[0] == "p"})
    times = sorted(e["created_at"] for e in events)
    lo, hi = times[0], min(times[-1], until)

    def one() -> dict:
        f: dict = {}
        shape = rng.randrange(7)
        if shape in (0, 5):
            f["authors"] = rng.sample(authors, rng.randint(1, 3))
        if shape in (1, 5, 6):
            f["kinds"] = rng.sample(kinds, rng.randint(1, min(2, len(kinds))))
        if shape == 2:
            f["#t"] = rng.sample(topics, rng.randint(1, 2))
        if shape == 3 and refs:
            f["#p"] = rng.sample(refs, 1)
        if shape in (4, 6) or rng.random() < 0.3:
            since = rng.randint(lo, hi)
            f["since"] = since
            f["until"] = min(until, since + rng.randint(3600, 5 * 86400))
        f.setdefault("until", until)
        if rng.random() < 0.8:
            f["limit"] = rng.choice([1, 5, 20, 50, 100, 300])
        return f

    return [[one() for _ in range(1 if rng.random() < 0.6 else rng.randint(2, 3))] for _ in range(count)]


class Answer:
    """What one REQ got: event ids in arrival order, how many EOSE, CLOSED reason, latency to EOSE."""

    def __init__(self, index: int):
        self.index = index
        self.ids: list[str] = []
        self.eose = 0
        self.closed: str | None = None
        self.error: str | None = None
        self.late = 0
        self.started = time.monotonic()
        self.seconds: float | None = None

    def complete(self) -> bool:
        return self.eose >= 1 and self.closed is None and self.error is None


async def run_stream(url: str, reqs: list[list[dict]], order: list[int], answers: list[Answer], stop: threading.Event,
                     timeout: float, pause: float, tag: str):
    """Sends the REQs at `order` one after another on one connection (a new one after an error), keeping each
    subscription open so a second EOSE or a late duplicate is seen, then CLOSEs them."""
    ws = None
    open_subs: dict[str, Answer] = {}

    async def read_until(answer: Answer, sub: str):
        deadline = time.monotonic() + timeout
        while answer.eose == 0 and answer.closed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                answer.error = f"no EOSE within {timeout:.0f} s"
                return
            frame = json.loads(await asyncio.wait_for(ws.recv(), left))
            dispatch(frame)

    def dispatch(frame):
        if not isinstance(frame, list) or len(frame) < 2:
            return
        kind, sub = frame[0], frame[1]
        a = open_subs.get(sub)
        if a is None:
            return
        if kind == "EVENT":
            if a.eose:
                a.late += 1
            a.ids.append(frame[2]["id"])
        elif kind == "EOSE":
            a.eose += 1
            if a.seconds is None:
                a.seconds = time.monotonic() - a.started
        elif kind == "CLOSED":
            a.closed = frame[2] if len(frame) > 2 else ""

    for n, i in enumerate(order):
        if stop.is_set():
            break
        a = Answer(i)
        answers.append(a)
        sub = f"{tag}-{n}"
        try:
            if ws is None:
                ws = await asyncio.wait_for(websockets.connect(url, max_size=None, open_timeout=5), 10)
            open_subs[sub] = a
            a.started = time.monotonic()
            await ws.send(json.dumps(["REQ", sub, *reqs[i]]))
            await read_until(a, sub)
            # Close subscriptions older than a few REQs; later frames for them still count as late.
            for old in [s for s in open_subs if s != sub][:-4]:
                await ws.send(json.dumps(["CLOSE", old]))
                del open_subs[old]
        except Exception as e:  # noqa: BLE001 - any failure is recorded on the answer
            a.error = a.error or f"{type(e).__name__}: {e}"
            if ws is not None:
                try:
                    await ws.close()
                except Exception:  # noqa: BLE001
                    pass
            ws = None
            open_subs.clear()
        if pause:
            await asyncio.sleep(pause)
    if ws is not None:
        try:
            end = time.monotonic() + 1.0  # late frames of the last subscriptions
            while time.monotonic() < end:
                frame = json.loads(await asyncio.wait_for(ws.recv(), end - time.monotonic()))
                dispatch(frame)
        except Exception:  # noqa: BLE001 - timeout ends the drain
            pass
        await ws.close()


def run_reqs(url: str, reqs: list[list[dict]], indices: list[int], streams: int = 2, timeout: float = 30.0,
             pause: float = 0.0, tag: str = "q") -> list[Answer]:
    """Runs the REQs at `indices` over `streams` concurrent connections; returns one Answer per REQ sent."""
    answers: list[Answer] = []
    stop = threading.Event()

    async def main():
        parts = [indices[k::streams] for k in range(streams)]
        await asyncio.gather(*(run_stream(url, reqs, p, answers, stop, timeout, pause, f"{tag}{k}")
                               for k, p in enumerate(parts)))

    asyncio.run(main())
    return answers


class Background:
    """REQs streamed continuously in a thread while a scenario acts; `finish()` returns the answers."""

    def __init__(self, url: str, reqs: list[list[dict]], streams: int = 2, pause: float = 0.02, tag: str = "bg",
                 seed: int = 1):
        self.answers: list[Answer] = []
        self.stop = threading.Event()
        rng = random.Random(seed)
        order = [rng.randrange(len(reqs)) for _ in range(100_000)]

        def body():
            async def main():
                parts = [order[k::streams] for k in range(streams)]
                await asyncio.gather(*(run_stream(url, reqs, p, self.answers, self.stop, 30.0, pause, f"{tag}{k}")
                                       for k, p in enumerate(parts)))
            asyncio.run(main())

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def finish(self, timeout: float = 60.0) -> list[Answer]:
        self.stop.set()
        self.thread.join(timeout)
        return list(self.answers)


def compare(answers: list[Answer], reference: dict[int, list[str]]) -> dict:
    """Scores answers against the gateway-only reference: exact (same ids, same order, one EOSE, nothing late),
    duplicates, gaps (reference ids missing), extra ids, failures (CLOSED, error, no EOSE)."""
    out = {"issued": len(answers), "exact": 0, "duplicates": 0, "gaps": 0, "extra": 0, "failed": 0,
           "max_seconds": 0.0, "first_problem": None}
    for a in answers:
        want = reference[a.index]
        if a.seconds:
            out["max_seconds"] = max(out["max_seconds"], a.seconds)
        if not a.complete():
            out["failed"] += 1
            out["first_problem"] = out["first_problem"] or f"REQ {a.index}: {a.error or a.closed or 'no EOSE'}"
            continue
        dups = len(a.ids) - len(set(a.ids))
        gaps = len(set(want) - set(a.ids))
        extra = len(set(a.ids) - set(want))
        out["duplicates"] += dups
        out["gaps"] += gaps
        out["extra"] += extra
        if a.ids == want and a.eose == 1 and a.late == 0:
            out["exact"] += 1
        else:
            out["first_problem"] = out["first_problem"] or (
                f"REQ {a.index}: {len(a.ids)} ids vs {len(want)} expected, {dups} duplicate, {gaps} missing, "
                f"{extra} extra, {a.eose} EOSE, {a.late} late, order {'same' if a.ids == want else 'differs'}")
    return out
