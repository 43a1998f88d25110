"""HTTP side of the gateway: NIP-11, CORS, /health, /metrics, the key file, configuration errors."""
import json
import os
import stat
import subprocess
import urllib.request

from conftest import BINARY, Gateway


def get(url, headers=None, method="GET"):
    req = urllib.request.Request(url, headers=headers or {}, method=method)
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read().decode()


def test_nip11_document_with_cors_headers(gateway):
    status, headers, body = get(gateway.http + "/", {"Accept": "application/nostr+json"})
    assert status == 200
    assert headers["content-type"].startswith("application/nostr+json")
    assert headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-headers" in headers
    assert "GET" in headers["access-control-allow-methods"]
    doc = json.loads(body)
    for nip in (1, 9, 11, 40, 42, 45, 70):
        assert nip in doc["supported_nips"]
    limitation = doc["limitation"]
    assert limitation["max_message_length"] == 131072
    assert limitation["max_subscriptions"] > 0 and limitation["max_filters"] > 0 and limitation["max_limit"] > 0
    assert limitation["restricted_writes"] is False


def test_cors_preflight_and_plain_page(gateway):
    status, headers, _ = get(gateway.http + "/", method="OPTIONS")
    assert status == 204 and headers["access-control-allow-origin"] == "*"
    status, headers, body = get(gateway.http + "/")
    assert status == 200 and headers["content-type"].startswith("text/plain") and "Nostr" in body


def test_health_and_metrics(gateway):
    status, _, body = get(gateway.http + "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, headers, body = get(gateway.http + "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert "gateway_active_sessions" in body


def test_key_pair_file_is_private_and_policy_is_logged(gateway):
    path = os.path.join(gateway.data_dir, "gateway.key")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600
    assert len(open(path).read().strip()) == 128
    assert "write policy: open" in gateway.log()


def test_key_pair_survives_restart(make_gateway):
    gw = make_gateway().start()
    first = open(os.path.join(gw.data_dir, "gateway.key")).read()
    gw.restart()
    assert open(os.path.join(gw.data_dir, "gateway.key")).read() == first
    assert gw.stop() == 0


def test_bad_configuration_is_refused_with_a_clear_error(tmp_root):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    cases = {
        "PORT": ("http", "PORT: expected an integer"),
        "GATEWAY_RELAY_WRITE_POLICY": ("everyone", "GATEWAY_RELAY_WRITE_POLICY: unknown policy"),
        "GATEWAY_RELAY_ADMIN_PUBLIC_KEY": ("npub1xyz", "is not a 64-character hex public key"),
        "GATEWAY_FEATURE_HYPERBEE_RELAY": ("maybe", "expected true or false"),
    }
    for variable, (value, message) in cases.items():
        e = dict(env, GATEWAY_RELAY_STORAGE=os.path.join(tmp_root, "bad"), **{variable: value})
        p = subprocess.run([BINARY, "serve"], env=e, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0, variable
        assert message in p.stderr + p.stdout, (variable, p.stderr, p.stdout)


def test_import_then_serve_then_export(make_gateway):
    import asyncio

    from nostr_raw import RawClient, Signer

    gw = make_gateway()
    signer = Signer()
    events = [signer.event(1, f"seed {i}", created_at=1_700_000_000 + i) for i in range(300)]
    path = gw.data_dir + ".jsonl"
    with open(path, "w") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
        f.write("not an event\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    p = subprocess.run([BINARY, "import", path, "--data", gw.data_dir], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "301 lines: 300 stored, 0 rejected, 1 invalid" in p.stderr
    gw.start()

    async def count():
        c = await RawClient.connect(gw.url)
        await c.send(["COUNT", "n", {"authors": [signer.pubkey]}])
        frame, _ = await c.recv_until(lambda f: f[0] == "COUNT")
        await c.close()
        return frame[2]["count"]

    assert asyncio.run(asyncio.wait_for(count(), 20)) == 300
    gw.stop()
    p = subprocess.run([BINARY, "export", "--data", gw.data_dir], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    exported = [json.loads(line) for line in p.stdout.splitlines()]
    assert sorted(e["id"] for e in exported) == sorted(e["id"] for e in events)


def test_sigterm_closes_connections_and_exits_cleanly(make_gateway):
    import asyncio
    import signal
    import time

    import websockets

    from nostr_raw import RawClient, Signer

    gw = make_gateway().start()
    signer = Signer()

    async def body():
        c = await RawClient.connect(gw.url)
        await c.recv()  # AUTH challenge
        stored = signer.event(1, "before shutdown")
        assert (await c.publish(stored))[2] is True
        await c.send(["REQ", "open", {"kinds": [1]}])
        await c.recv_until(lambda f: f[0] == "EOSE")
        started = time.monotonic()
        gw.proc.send_signal(signal.SIGTERM)
        try:
            while True:
                await c.recv(timeout=10)
        except websockets.exceptions.ConnectionClosed as closed:
            assert closed.rcvd is not None and closed.rcvd.code in (1000, 1001)
        return stored, time.monotonic() - started

    stored, _ = asyncio.run(asyncio.wait_for(body(), 30))
    assert gw.proc.wait(15) == 0
    assert "flushing and closing the relay log" in gw.log()
    gw.start()

    async def check():
        c = await RawClient.connect(gw.url)
        got = await c.query("after", {"ids": [stored["id"]]})
        await c.close()
        return got

    assert [e["id"] for e in asyncio.run(asyncio.wait_for(check(), 20))] == [stored["id"]]
