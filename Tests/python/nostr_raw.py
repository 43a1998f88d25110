"""Raw Nostr helpers for the probes: NIP-01 event signing with coincurve and a small websocket client."""
import asyncio
import hashlib
import json
import os
import time

import coincurve
import websockets


class Signer:
    """A secp256k1 key that signs NIP-01 events (BIP-340 Schnorr)."""

    def __init__(self, secret: bytes | None = None):
        self.key = coincurve.PrivateKey(secret or os.urandom(32))
        self.pubkey = self.key.public_key_xonly.format().hex()

    @property
    def secret_hex(self) -> str:
        return self.key.secret.hex()

    def event(self, kind=1, content="", tags=None, created_at=None) -> dict:
        tags = tags or []
        created_at = int(time.time()) if created_at is None else created_at
        event_id = canonical_id(self.pubkey, created_at, kind, tags, content)
        sig = self.key.sign_schnorr(bytes.fromhex(event_id), os.urandom(32)).hex()
        return {"id": event_id, "pubkey": self.pubkey, "created_at": created_at, "kind": kind, "tags": tags,
                "content": content, "sig": sig}


def canonical_id(pubkey, created_at, kind, tags, content) -> str:
    # NIP-01 serialisation; Python's json escapes exactly \" \\ \n \r \t \b \f and other controls as \u00xx.
    text = json.dumps([0, pubkey, created_at, kind, tags, content], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RawClient:
    """One websocket connection with bounded waits."""

    def __init__(self, ws):
        self.ws = ws

    @classmethod
    async def connect(cls, url: str, **kwargs) -> "RawClient":
        ws = await asyncio.wait_for(websockets.connect(url, max_size=None, open_timeout=5, **kwargs), 5)
        return cls(ws)

    async def close(self):
        await self.ws.close()

    async def send(self, message):
        await self.ws.send(message if isinstance(message, str) else json.dumps(message))

    async def recv(self, timeout=5.0):
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv_until(self, predicate, timeout=5.0, skip_auth=True):
        """Frames until one satisfies `predicate` (AUTH challenges skipped); returns (frame, skipped)."""
        deadline = time.monotonic() + timeout
        skipped = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching frame within {timeout}s; got {skipped}")
            frame = await self.recv(left)
            if predicate(frame):
                return frame, skipped
            if not (skip_auth and frame and frame[0] == "AUTH"):
                skipped.append(frame)

    async def publish(self, event, timeout=5.0):
        await self.send(["EVENT", event])
        frame, _ = await self.recv_until(lambda f: f[0] == "OK" and f[1] == event["id"], timeout)
        return frame

    async def query(self, sub_id, *filters, timeout=5.0):
        """Sends REQ and returns (events, frames after EOSE are not read)."""
        await self.send(["REQ", sub_id, *filters])
        events = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no EOSE")
            frame = await self.recv(left)
            if frame[0] == "EVENT" and frame[1] == sub_id:
                events.append(frame[2])
            elif frame[0] == "EOSE" and frame[1] == sub_id:
                return events
            elif frame[0] == "CLOSED" and frame[1] == sub_id:
                raise AssertionError(f"subscription closed: {frame}")
