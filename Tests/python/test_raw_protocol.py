"""Raw websocket probes: the exact NIP-01 frames and wording the gateway sends."""
import asyncio
import json
import time
import uuid

import websockets

from nostr_raw import RawClient, Signer


def run(coro, limit=30):
    return asyncio.run(asyncio.wait_for(coro, limit))


async def client(gateway):
    c = await RawClient.connect(gateway.url)
    first = await c.recv()
    assert first[0] == "AUTH" and isinstance(first[1], str) and len(first[1]) >= 16, first
    return c


def test_accepts_a_valid_event_and_refuses_a_copy(gateway):
    async def body():
        c = await client(gateway)
        e = Signer().event(1, "probe")
        assert await c.publish(e) == ["OK", e["id"], True, ""]
        again = await c.publish(e)
        # NIP-01 (and strfry): a duplicate is OK true with the duplicate: prefix, so retrying clients stop.
        assert again == ["OK", e["id"], True, "duplicate: already have this event"], again
        await c.close()

    run(body())


def test_invalid_events_get_ok_false_with_invalid_prefix(gateway):
    async def body():
        c = await client(gateway)
        s = Signer()
        tampered = dict(s.event(1, "original"), content="changed")
        assert await c.publish(tampered) == ["OK", tampered["id"], False, "invalid: event id does not match its content"]
        e = s.event(1, "bad sig")
        forged = dict(e, sig=("00" * 64))
        assert await c.publish(forged) == ["OK", e["id"], False, "invalid: bad signature"]
        expired = s.event(1, "old", [["expiration", str(int(time.time()) - 10)]])
        assert await c.publish(expired) == ["OK", expired["id"], False, "invalid: event has expired"]
        future = s.event(1, "later", created_at=int(time.time()) + 3600)
        assert await c.publish(future) == ["OK", future["id"], False, "invalid: created_at is too far in the future"]
        await c.close()

    run(body())


def test_req_sends_stored_events_newest_first_then_one_eose_then_live(gateway):
    async def body():
        c = await client(gateway)
        s = Signer()
        base = int(time.time()) - 100
        events = [s.event(1, f"n{i}", created_at=base + i) for i in range(5)]
        for e in events:
            assert (await c.publish(e))[2] is True
        got = await c.query("q1", {"authors": [s.pubkey], "limit": 3})
        assert [e["id"] for e in got] == [e["id"] for e in reversed(events)][:3]
        # A live event is pushed to the open subscription, with no second EOSE.
        live = s.event(1, "live")
        reader = RawClient(await websockets.connect(gateway.url))
        await reader.recv()  # AUTH
        await reader.send(["REQ", "live", {"authors": [s.pubkey], "since": int(time.time()) - 5}])
        frame, _ = await reader.recv_until(lambda f: f[0] == "EOSE")
        assert frame == ["EOSE", "live"]
        assert (await c.publish(live))[2] is True
        frame, skipped = await reader.recv_until(lambda f: f[0] == "EVENT")
        assert frame == ["EVENT", "live", live] and skipped == []
        # The client's own CLOSE gets no CLOSED (NIP-01: CLOSED is for subscriptions the relay ends): nothing
        # arrives for "live" after it, and a later REQ on the same connection is answered normally.
        await reader.send(["CLOSE", "live"])
        await reader.send(["REQ", "after", {"ids": [live["id"]]}])
        frame, skipped = await reader.recv_until(lambda f: f[0] == "EOSE")
        assert frame == ["EOSE", "after"]
        assert [f for f in skipped if f[1] == "live"] == [], skipped
        await reader.close()
        await c.close()

    run(body())


def test_ephemeral_events_are_delivered_live_but_not_stored(gateway):
    async def body():
        s = Signer()
        listener = await client(gateway)
        await listener.send(["REQ", "eph", {"kinds": [20001], "authors": [s.pubkey]}])
        assert (await listener.recv_until(lambda f: f[0] == "EOSE"))[0] == ["EOSE", "eph"]
        c = await client(gateway)
        e = s.event(20001, "ephemeral")
        assert await c.publish(e) == ["OK", e["id"], True, ""]
        frame, _ = await listener.recv_until(lambda f: f[0] == "EVENT")
        assert frame == ["EVENT", "eph", e]
        assert await c.query("after", {"ids": [e["id"]]}) == []
        await c.close()
        await listener.close()

    run(body())


def test_count_and_closed_wording(gateway):
    async def body():
        c = await client(gateway)
        s = Signer()
        tag = uuid.uuid4().hex
        for i in range(4):
            assert (await c.publish(s.event(1, f"c{i}", [["t", tag]])))[2] is True
        await c.send(["COUNT", "n", {"#t": [tag]}])
        assert (await c.recv_until(lambda f: f[0] == "COUNT"))[0] == ["COUNT", "n", {"count": 4}]
        await c.send(["REQ", "bad", {"authors": ["abc"]}])
        frame, _ = await c.recv_until(lambda f: f[0] == "CLOSED")
        assert frame == ["CLOSED", "bad", "invalid: authors must be 64-character lowercase hex strings"]
        await c.send(["REQ", "many", *([{"kinds": [1]}] * 17)])
        frame, _ = await c.recv_until(lambda f: f[0] == "CLOSED")
        assert frame == ["CLOSED", "many", "invalid: too many filters (max 16)"]
        await c.send(["REQ", "none"])
        frame, _ = await c.recv_until(lambda f: f[0] == "CLOSED")
        assert frame == ["CLOSED", "none", "invalid: REQ needs at least one filter"]
        await c.close()

    run(body())


def test_malformed_frames_get_a_notice_and_the_connection_stays_usable(gateway):
    async def body():
        c = await client(gateway)
        await c.send("this is not json")
        frame = await c.recv()
        assert frame[0] == "NOTICE" and frame[1].startswith("error: invalid JSON"), frame
        await c.send(json.dumps({"EVENT": 1}))
        assert await c.recv() == ["NOTICE", "error: a message must be a JSON array starting with its type"]
        await c.send(json.dumps(["HELLO"]))
        assert await c.recv() == ["NOTICE", 'error: unknown message type "HELLO"']
        e = Signer().event(1, "still works")
        assert await c.publish(e) == ["OK", e["id"], True, ""]
        await c.close()

    run(body())


def test_oversized_message_is_refused(gateway):
    async def body():
        c = await client(gateway)
        e = Signer().event(1, "x" * 140_000)
        await c.send(["EVENT", e])
        frame = await c.recv()
        assert frame == ["NOTICE", "error: message too large (max 131072 bytes)"]
        ok = Signer().event(1, "small")
        assert await c.publish(ok) == ["OK", ok["id"], True, ""]
        # Far past the limit the websocket layer closes with 1009 instead of buffering it.
        await c.send(json.dumps(["EVENT", Signer().event(1, "y" * 300_000)]))
        try:
            await c.recv()
            raise AssertionError("connection stayed open")
        except websockets.exceptions.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code == 1009

    run(body())


def test_protected_event_needs_its_author_authenticated(gateway):
    async def body():
        c = await client(gateway)
        s = Signer()
        e = s.event(1, "mine only", [["-"]])
        assert await c.publish(e) == ["OK", e["id"], False, "auth-required: this event may only be published by its author"]
        await c.close()
        # Authenticate as the author, then the same event is accepted.
        c = await RawClient.connect(gateway.url)
        challenge = (await c.recv())[1]
        auth = s.event(22242, "", [["relay", gateway.url], ["challenge", challenge]])
        await c.send(["AUTH", auth])
        assert (await c.recv_until(lambda f: f[0] == "OK"))[0] == ["OK", auth["id"], True, ""]
        assert await c.publish(e) == ["OK", e["id"], True, ""]
        await c.close()

    run(body())
