"""Baseline for RelayBench: rust-nostr's in-memory relay (nostr-sdk 0.45.1 LocalRelay) on 127.0.0.1:<port>,
with rate limits raised so that it measures throughput, not its limiter."""
import asyncio
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
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
