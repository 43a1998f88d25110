#!/usr/bin/env bash
# Relay load benchmark (release): ingest rate, REQ latency, bulk import and peak RSS of hypertuna-gateway vs strfry
# (../shared/strfry, when present) and the nostr-sdk built-in relay,
# with the single-core libsecp256k1 verify rate, all in one run. Extra arguments go to RelayBench
# (e.g. --events 20000 --queries 100). Needs nostr-sdk 0.45.1 in .venv (scripts/client-tests.sh creates it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c 'import nostr_sdk' 2>/dev/null || "$VENV/bin/pip" install -q nostr-sdk==0.45.1
swift build -c release --product hypertuna-gateway
swift build -c release --product RelayBench
exec .build/release/RelayBench --gateway .build/release/hypertuna-gateway --python "$VENV/bin/python" --stores hypertree,lmdb "$@"
