#!/usr/bin/env bash
# Real-client tests: builds hypertuna-gateway, then drives it with nostr-sdk 0.45.1 (rust-nostr) and raw websocket
# probes (pytest). Every gateway the tests start binds 127.0.0.1 on a free port with a temporary data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
# Pinned so that every run drives the gateway with the same clients.
PACKAGES=(nostr-sdk==0.45.1 websockets==17.4 coincurve==21.0.0 pytest==9.2.0)
if ! "$VENV/bin/python" - "${PACKAGES[@]}" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, want = spec.split("==")
    if version(name) != want:
        sys.exit(1)
PY
    "$VENV/bin/pip" install -q --disable-pip-version-check "${PACKAGES[@]}"
fi
swift build --product hypertuna-gateway
export HYPERTUNA_GATEWAY_BIN="$PWD/.build/debug/hypertuna-gateway"
cd Tests/python
exec "../../$VENV/bin/python" -m pytest -q "$@"
