#!/usr/bin/env bash
# Real-client tests: builds hypertuna-gateway, then drives it with nostr-sdk 0.45.1 (rust-nostr) and raw websocket
# probes (pytest). Every gateway the tests start binds 127.0.0.1 on a free port with a temporary data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import nostr_sdk, websockets, coincurve, pytest' 2>/dev/null \
    || [ "$("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("nostr-sdk"))')" != "0.45.1" ]; then
    "$VENV/bin/pip" install -q --disable-pip-version-check nostr-sdk==0.45.1 websockets coincurve pytest
fi
swift build --product hypertuna-gateway
export HYPERTUNA_GATEWAY_BIN="$PWD/.build/debug/hypertuna-gateway"
cd Tests/python
exec "../../$VENV/bin/python" -m pytest -q "$@"
