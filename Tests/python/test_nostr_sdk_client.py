"""A real Nostr client (rust-nostr's nostr-sdk 0.45.1) drives the real gateway over loopback."""
import asyncio
import uuid
from datetime import timedelta

import nostr_sdk as n

from nostr_raw import Signer

TIMEOUT = timedelta(seconds=5)


def run(coro, limit=30):
    return asyncio.run(asyncio.wait_for(coro, limit))


async def connected(url, authenticator=None):
    builder = n.ClientBuilder()
    if authenticator is not None:
        builder = builder.authenticator(authenticator)
    client = builder.build()
    await client.add_relay(n.RelayUrl.parse(url))
    await client.connect()
    await client.try_connect(TIMEOUT)
    return client


async def fetch(client, flt):
    return await client.fetch_events(n.ReqTarget.auto([flt]), TIMEOUT)


def built(keys, kind, content="", tags=None, created_at=None):
    b = n.EventBuilder(n.Kind(kind), content)
    if tags:
        b = b.tags(tags)
    if created_at is not None:
        b = b.custom_created_at(n.Timestamp.from_secs(created_at))
    return b.finalize(keys)


def test_publish_then_read_back(gateway):
    async def body():
        keys = n.Keys.generate()
        client = await connected(gateway.url)
        event = built(keys, 1, "hello from nostr-sdk \u2028 \u00e9\n\"quoted\"")
        out = await client.send_event(event)
        assert out.failed == {}, out.failed
        assert [u.__str__() for u in out.success] != []
        got = await fetch(client, n.Filter().author(keys.public_key()).kind(n.Kind(1)))
        assert [e.id().to_hex() for e in got] == [event.id().to_hex()]
        assert got[0].content() == event.content()
        assert got[0].verify()
        await client.shutdown()

    run(body())


async def counted(relay, flt, attempts=3):
    """nostr-sdk's `count_events`, asked again if the client times out.

    nostr-sdk 0.45 can miss a COUNT answer that arrives within about a millisecond of the request (it starts
    listening after sending), so a fast relay sometimes sees a client-side timeout. A wrong count still fails at
    once, and a relay that never answers still fails after `attempts` timeouts; test_raw_protocol.py checks the
    answer frame itself without this client.
    """
    for attempt in range(attempts):
        try:
            return await relay.count_events(flt, TIMEOUT)
        except Exception as err:  # nostr-sdk raises its own error type for a timeout
            if "timeout" not in str(err).lower() or attempt == attempts - 1:
                raise


def test_count_matches_stored_events(gateway):
    async def body():
        keys = n.Keys.generate()
        topic = "count-" + uuid.uuid4().hex[:8]
        client = await connected(gateway.url)
        for i in range(3):
            out = await client.send_event(built(keys, 1, f"note {i}", [n.Tag.hashtag(topic)]))
            assert out.failed == {}
        relay = await client.relay(n.RelayUrl.parse(gateway.url))
        assert await counted(relay, n.Filter().hashtag(topic)) == 3
        assert await counted(relay, n.Filter().hashtag(topic).kind(n.Kind(7))) == 0
        await client.shutdown()

    run(body())


def test_replaceable_event_keeps_only_the_newest(gateway):
    async def body():
        keys = n.Keys.generate()
        client = await connected(gateway.url)
        older = built(keys, 0, '{"name":"old"}', created_at=1_700_000_000)
        newer = built(keys, 0, '{"name":"new"}', created_at=1_700_000_100)
        assert (await client.send_event(older)).failed == {}
        assert (await client.send_event(newer)).failed == {}
        # An even older version arriving late must not replace the newest.
        await client.send_event(built(keys, 0, '{"name":"late"}', created_at=1_600_000_000))
        got = await fetch(client, n.Filter().author(keys.public_key()).kind(n.Kind(0)))
        assert [e.content() for e in got] == ['{"name":"new"}']
        await client.shutdown()

    run(body())


def test_addressable_events_replace_per_d_tag(gateway):
    async def body():
        keys = n.Keys.generate()
        client = await connected(gateway.url)
        for created, d, content in [(1_700_000_000, "a", "a1"), (1_700_000_050, "b", "b1"), (1_700_000_100, "a", "a2")]:
            out = await client.send_event(built(keys, 30023, content, [n.Tag.identifier(d)], created))
            assert out.failed == {}
        got = await fetch(client, n.Filter().author(keys.public_key()).kind(n.Kind(30023)))
        assert sorted(e.content() for e in got) == ["a2", "b1"]
        only_a = await fetch(client, n.Filter().author(keys.public_key()).kind(n.Kind(30023)).identifier("a"))
        assert [e.content() for e in only_a] == ["a2"]
        await client.shutdown()

    run(body())


def test_deletion_by_e_and_a_tags(gateway):
    async def body():
        keys = n.Keys.generate()
        client = await connected(gateway.url)
        note = built(keys, 1, "to be deleted")
        article = built(keys, 30023, "article", [n.Tag.identifier("gone")])
        keep = built(keys, 1, "kept")
        for e in (note, article, keep):
            assert (await client.send_event(e)).failed == {}
        coordinate = n.Coordinate(n.Kind(30023), keys.public_key(), "gone")
        deletion = built(keys, 5, "cleanup", [n.Tag.event(note.id()), n.Tag.coordinate(coordinate)])
        assert (await client.send_event(deletion)).failed == {}
        assert await fetch(client, n.Filter().id(note.id())) == []
        assert await fetch(client, n.Filter().author(keys.public_key()).kind(n.Kind(30023))) == []
        remaining = await fetch(client, n.Filter().author(keys.public_key()).kind(n.Kind(1)))
        assert [e.id().to_hex() for e in remaining] == [keep.id().to_hex()]
        # Someone else cannot delete the kept note.
        other = n.Keys.generate()
        await client.send_event(built(other, 5, "", [n.Tag.event(keep.id())]))
        assert len(await fetch(client, n.Filter().id(keep.id()))) == 1
        await client.shutdown()

    run(body())


class KeyAuthenticator(n.Authenticator):
    """Answers NIP-42 challenges with a kind-22242 event signed by `keys`."""

    def __init__(self, keys):
        super().__init__()
        self.keys = keys
        self.calls = 0

    async def make_auth_event(self, relay_url, challenge):
        self.calls += 1
        tags = [n.Tag.parse(["relay", relay_url.__str__()]), n.Tag.parse(["challenge", challenge])]
        return built(self.keys, 22242, "", tags)


def test_auth_lets_an_authenticated_peer_publish(make_gateway):
    admin = Signer()
    gw = make_gateway({"GATEWAY_RELAY_WRITE_POLICY": "admins", "GATEWAY_RELAY_ADMIN_PUBLIC_KEY": admin.pubkey}).start()

    async def body():
        # The authenticator is a Python callback invoked from rust-nostr's threads: give it this loop.
        n.uniffi_set_event_loop(asyncio.get_running_loop())
        peer = n.Keys.generate()
        # Without AUTH the peer is refused with the standard prefix.
        anonymous = await connected(gw.url)
        out = await anonymous.send_event(built(peer, 1, "before auth"))
        assert out.success == []
        reasons = list(out.failed.values())
        assert len(reasons) == 1 and reasons[0].startswith("auth-required:"), reasons
        await anonymous.shutdown()
        # With an authenticator the client answers the challenge and the same kind of event is accepted.
        authenticator = KeyAuthenticator(peer)
        client = await connected(gw.url, authenticator)
        event = built(peer, 1, "after auth")
        out = await client.send_event(event)
        assert out.failed == {}, out.failed
        assert authenticator.calls >= 1
        got = await fetch(client, n.Filter().id(event.id()))
        assert len(got) == 1
        await client.shutdown()

    run(body())
