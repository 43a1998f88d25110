#!/usr/bin/env bash
# Installs the Debian packages Hypertuna needs, only when something is missing. Safe to run repeatedly.
set -euo pipefail
need=()
for pkg in libsodium-dev liblmdb-dev libsecp256k1-dev libjemalloc-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ "${HYPERTUNA_PYTHON:-0}" = 1 ]; then
    # The real-client tests need python3 with a working venv (Debian splits ensurepip into python3-venv).
    command -v python3 >/dev/null 2>&1 || need+=(python3)
    python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
fi
# The JavaScript interop suite (Tests/InteropTests) runs when the Holepunch tree is beside the clone: it needs node.
js_tree="${HYPERTUNA_JS_HOLEPUNCH:-$(cd "$(dirname "$0")/.." && pwd)/../shared/js-holepunch}"
if [ -d "$js_tree/node_modules" ] && [ -z "${HYPERTUNA_NODE:-}" ]; then
    command -v node >/dev/null 2>&1 || command -v nodejs >/dev/null 2>&1 || need+=(nodejs)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "ensure-deps: installing ${need[*]}" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "ensure-deps: the Swift 6.1+ toolchain is required (swift not on PATH)" >&2; exit 1; }
