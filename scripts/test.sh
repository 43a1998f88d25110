#!/usr/bin/env bash
# Runs every test: installs missing system packages, builds, runs the Swift suites, then the real-client suite
# (nostr-sdk 0.45.1 and raw websocket probes against a running gateway, in a venv under .venv). The Swift suites
# include the JavaScript Hypercore interop suite when ../shared/js-holepunch is present (scripts/interop-tests.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
HYPERTUNA_PYTHON=1 scripts/ensure-deps.sh
swift build --build-tests
swift test --skip-build --parallel
scripts/client-tests.sh
