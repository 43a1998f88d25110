#!/usr/bin/env bash
# Runs only the JavaScript interop suite (Tests/InteropTests driving Tests/interop/peer.js): Swift <-> real
# hypercore 10.38.2 / hyperbee 2.21.3 peers over secret-stream on 127.0.0.1. Needs node and the Holepunch tree at
# ../shared/js-holepunch (or HYPERTUNA_JS_HOLEPUNCH); without them the suite prints one line saying it was skipped.
# `scripts/test.sh` runs the same suite as part of `swift test`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-deps.sh
swift build --build-tests
swift test --skip-build --filter InteropTests
