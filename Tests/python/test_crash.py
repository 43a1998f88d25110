"""kill -9 during an ingest stream: after restart every event that got OK true is there."""
import asyncio
import time

import pytest

from nostr_raw import RawClient, Signer

CONNECTIONS = 4
RUN_SECONDS = 2.0


async def ingest(url, signer, accepted, stop):
    client = await RawClient.connect(url)
    pending = {}

    async def reader():
        try:
            while True:
                frame = await client.recv(timeout=10)
                if frame[0] == "OK" and frame[2] is True:
                    accepted.add(frame[1])
        except Exception:
            return

    task = asyncio.create_task(reader())
    i = 0
    try:
        while not stop.is_set() and i < 100_000:
            event = signer.event(1, f"crash test {i}", created_at=1_700_000_000 + i)
            pending[event["id"]] = event
            await client.send(["EVENT", event])
            i += 1
            if i % 50 == 0:
                await asyncio.sleep(0.005)
    except Exception:
        pass
    await asyncio.wait([task], timeout=5)
    return i


@pytest.mark.parametrize("store", ["hypertree", "lmdb"])
def test_kill_9_loses_no_acknowledged_event(make_gateway, store):
    gw = make_gateway({"GATEWAY_RATELIMIT_ENABLED": "false", "GATEWAY_RELAY_STORE": store}).start()
    signers = [Signer() for _ in range(CONNECTIONS)]
    accepted: set[str] = set()

    async def stream_then_kill():
        stop = asyncio.Event()
        tasks = [asyncio.create_task(ingest(gw.url, s, accepted, stop)) for s in signers]
        deadline = time.monotonic() + 20
        await asyncio.sleep(RUN_SECONDS)
        while len(accepted) < 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        gw.kill()  # SIGKILL while the senders are still streaming
        stop.set()
        return sum(await asyncio.wait_for(asyncio.gather(*tasks), 30))

    sent = asyncio.run(stream_then_kill())
    acknowledged = set(accepted)
    assert len(acknowledged) >= 200, f"only {len(acknowledged)} OKs before the kill (sent {sent})"
    assert sent > len(acknowledged) or sent == len(acknowledged)

    gw.start()

    async def read_back():
        client = await RawClient.connect(gw.url)
        found = set()
        ids = sorted(acknowledged)
        for n in range(0, len(ids), 400):
            chunk = ids[n : n + 400]
            events = await client.query(f"back{n}", {"ids": chunk, "limit": len(chunk)}, timeout=30)
            found.update(e["id"] for e in events)
        await client.close()
        return found

    found = asyncio.run(asyncio.wait_for(read_back(), 60))
    missing = acknowledged - found
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged events lost after kill -9"
