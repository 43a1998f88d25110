"""Baseline for RelayBench: rust-nostr's in-memory relay (nostr-sdk 0.45.1 LocalRelay) on 127.0.0.1:<port>,
with rate limits raised so that it measures throughput, not its limiter."""
import asyncio
import os
import signal
import sys

import nostr_sdk as n


async def main(port: int):
    relay = (
        n.LocalRelayBuilder()
        .addr("127.0.0.1")
        .port(port)
        .rate_limit(n.RateLimit(max_reqs=1_000_000, notes_per_minute=100_000_000))
        .max_filter_limit(5000)
        .default_filter_limit(500)
        .build()
    )
    await relay.run()
    print("READY", await relay.url(), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    while not stop.is_set() and os.getppid() == parent:  # also end when RelayBench is gone
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except asyncio.TimeoutError:
            pass
    relay.shutdown()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
